package host

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"

	"goodnet/nn"
	"goodnet/nn/ref"
)

const tol = 1e-4

// backends returns one backend per kernel variant this CPU runs (so that the portable and
// every SIMD path are tested here), with an odd thread count to exercise uneven chunks.
func backends(t *testing.T) []*Backend {
	t.Helper()
	var bs []*Backend
	for _, i := range supportedISAs() {
		bs = append(bs, newISA(3, i))
	}
	if len(bs) < 1 {
		t.Fatal("no kernel variant supported")
	}
	return bs
}

func build(t *testing.T, seed int64, in nn.Shape, layers []*nn.Layer, out string) *nn.Model {
	t.Helper()
	all := append([]*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}}, layers...)
	m, err := nn.New("test", all, "input", out)
	if err != nil {
		t.Fatal(err)
	}
	nn.RandomWeights(m, seed)
	return m
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

// relErr is max |got-want| / max |want| (or the absolute error when want is all zero).
func relErr(got []float32, want []float64) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		s = math.Max(s, math.Abs(want[i]))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// check runs m on count random inputs with every backend and compares outs with nn/ref.
func check(t *testing.T, name string, m *nn.Model, count int, seed int64, outs ...string) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	x := uniform(r, count*m.InputShape().Size(), -1, 1)
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x)}, count, outs...)
	if err != nil {
		t.Fatalf("%s: ref: %v", name, err)
	}
	for _, b := range backends(t) {
		net, err := b.Compile(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := net.Run(map[string][]float32{"input": x}, count, outs...)
		if err != nil {
			t.Fatalf("%s %s: %v", name, b.isa, err)
		}
		for i, o := range outs {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("%s %s: %s has %d values, want %d", name, b.isa, o, len(got[i]), len(want[i]))
			}
			if e := relErr(got[i], want[i]); !(e <= tol) {
				t.Errorf("%s %s: %s relative error %.3g", name, b.isa, o, e)
			}
		}
		net.Close()
	}
}

var batches = []int{1, 3, 16, 17, 37, 70}

func randConv(r *rand.Rand, name, in string, inShape nn.Shape) *nn.Layer {
	l := &nn.Layer{Name: name, Kind: nn.Conv2D, InputNames: []string{in}, Filters: 1 + r.Intn(40),
		Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, UseBias: r.Intn(2) == 0}
	if r.Intn(2) == 0 {
		l.Act = nn.ReLU
	}
	if r.Intn(2) == 0 {
		l.Padding = nn.Same
		l.Size = [2]int{1 + r.Intn(5), 1 + r.Intn(5)}
	} else {
		l.Size = [2]int{1 + r.Intn(min(5, inShape[0])), 1 + r.Intn(min(5, inShape[1]))}
	}
	return l
}

func randImage(r *rand.Rand) nn.Shape {
	return nn.Shape{1 + r.Intn(14), 1 + r.Intn(14), 1 + r.Intn(8)}
}

func TestConv2D(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for it := 0; it < 40; it++ {
		in := randImage(r)
		c := randConv(r, "conv", "input", in)
		m := build(t, int64(it), in, []*nn.Layer{c}, "conv")
		check(t, fmt.Sprintf("%v→%s", in, c), m, batches[it%len(batches)], int64(it), "conv")
	}
}

// TestConvPool covers the fused Conv2D→MaxPool2D path (only the pool requested) and the
// unfused one (both requested), with every pool size, stride and padding.
func TestConvPool(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for it := 0; it < 40; it++ {
		in := nn.Shape{3 + r.Intn(14), 3 + r.Intn(14), 1 + r.Intn(6)}
		c := randConv(r, "conv", "input", in)
		c.Padding, c.Size = nn.Same, [2]int{1 + r.Intn(4), 1 + r.Intn(4)}
		p := &nn.Layer{Name: "pool", Kind: nn.MaxPool2D, InputNames: []string{"conv"},
			Size: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}}
		if it%4 == 0 {
			p.Size, p.Strides = [2]int{2, 2}, [2]int{2, 2}
		}
		if r.Intn(2) == 0 {
			p.Padding = nn.Same
		}
		m, err := nn.New("t", []*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}, c, p}, "input", "pool")
		if err != nil { // the pool window does not fit the conv output
			continue
		}
		nn.RandomWeights(m, int64(it))
		name := fmt.Sprintf("%v→%s→%s", in, c, p)
		check(t, name, m, batches[it%len(batches)], int64(it), "pool")
		check(t, name, m, batches[(it+1)%len(batches)], int64(it), "pool", "conv")
	}
}

func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for it := 0; it < 30; it++ {
		in := randImage(r)
		p := &nn.Layer{Name: "pool", Kind: nn.MaxPool2D, InputNames: []string{"input"},
			Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}}
		if r.Intn(2) == 0 {
			p.Padding = nn.Same
			p.Size = [2]int{1 + r.Intn(4), 1 + r.Intn(4)}
		} else {
			p.Size = [2]int{1 + r.Intn(min(4, in[0])), 1 + r.Intn(min(4, in[1]))}
		}
		m := build(t, int64(it), in, []*nn.Layer{p}, "pool")
		check(t, fmt.Sprintf("%v→%s", in, p), m, batches[it%len(batches)], int64(it), "pool")
	}
}

func TestDense(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for it := 0; it < 30; it++ {
		k := 1 + r.Intn(300)
		d := &nn.Layer{Name: "dense", Kind: nn.Dense, InputNames: []string{"input"}, Units: 1 + r.Intn(200),
			UseBias: r.Intn(2) == 0, Act: []nn.Activation{nn.Linear, nn.ReLU, nn.Softmax}[r.Intn(3)]}
		m := build(t, int64(it), nn.Shape{k}, []*nn.Layer{d}, "dense")
		n := batches[it%len(batches)]
		if it%5 == 0 {
			n = 200 + it // several chunks per thread
		}
		check(t, fmt.Sprintf("%d→%s", k, d), m, n, int64(it), "dense")
	}
}

// TestFlattenAddActDropout: Flatten, Dropout and linear Activation share buffers; Add of
// three inputs; ReLU Activation.
func TestFlattenAddActDropout(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for it := 0; it < 6; it++ {
		in := randImage(r)
		ls := []*nn.Layer{
			{Name: "flat", Kind: nn.Flatten, InputNames: []string{"input"}},
			{Name: "drop", Kind: nn.Dropout, InputNames: []string{"flat"}, Rate: 0.5},
			{Name: "relu", Kind: nn.Act, InputNames: []string{"flat"}, Act: nn.ReLU},
			{Name: "lin", Kind: nn.Act, InputNames: []string{"drop"}, Act: nn.Linear},
			{Name: "add", Kind: nn.Add, InputNames: []string{"drop", "relu", "lin"}},
			{Name: "add2", Kind: nn.Add, InputNames: []string{"add", "flat"}},
			{Name: "out", Kind: nn.Dense, InputNames: []string{"add2"}, Units: 7, UseBias: true},
		}
		m := build(t, int64(it), in, ls, "out")
		check(t, fmt.Sprint(in), m, batches[it%len(batches)], int64(it), "flat", "drop", "relu", "lin", "add", "add2", "out")
	}
}

func deepID(t *testing.T) *nn.Model {
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 7)
	return m
}

func pixels(r *rand.Rand, m *nn.Model, n int) []float32 {
	return uniform(r, n*m.InputShape().Size(), 0, 255)
}

func TestDeepID(t *testing.T) {
	m := deepID(t)
	const n = 19
	x := pixels(rand.New(rand.NewSource(8)), m, n)
	outs := []string{"output", "pool_3", "conv_4"}
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x)}, n, outs...)
	if err != nil {
		t.Fatal(err)
	}
	wantCls := nn.Argmax(toF32(want[0]), n, m.NumClasses())
	for _, b := range backends(t) {
		net, err := b.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := net.Run(map[string][]float32{"input": x}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if e := relErr(got[i], want[i]); !(e <= tol) {

				t.Errorf("%s: %s relative error %.3g", b.isa, o, e)
			}
		}
		cls, err := nn.Predict(net, x, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cls {
			if cls[i] != wantCls[i] {
				t.Errorf("%s: image %d class %d, ref %d", b.isa, i, cls[i], wantCls[i])
			}
		}
		// the fused path (output only) and the unfused path (pool_3 and conv_4 requested) agree
		only, err := net.Run(map[string][]float32{"input": x}, n, "output")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(only[0], ref.Widen(got[0])); e > 1e-6 {
			t.Errorf("%s: fused and unfused logits differ by %.3g", b.isa, e)
		}
		// feeding pool_3 gives the same logits as the full run
		head, err := net.Run(map[string][]float32{"pool_3": got[1]}, n, "output")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(head[0], ref.Widen(got[0])); e > 1e-6 {
			t.Errorf("%s: logits from fed pool_3 differ by %.3g", b.isa, e)
		}
		// feeding conv_4 and pool_3 (fc_2's branch starts from the feed)
		head2, err := net.Run(map[string][]float32{"pool_3": got[1], "conv_4": got[2]}, n, "output", "fc_2")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(head2[0], ref.Widen(got[0])); e > 1e-6 {
			t.Errorf("%s: logits from fed pool_3, conv_4 differ by %.3g", b.isa, e)
		}
		net.Close()
	}
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestCompileCopiesWeights: changing the model after Compile does not change the Net.
func TestCompileCopiesWeights(t *testing.T) {
	m := deepID(t)
	x := pixels(rand.New(rand.NewSource(9)), m, 5)
	net, err := New(2).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := net.Run(map[string][]float32{"input": x}, 5, "output")
	for _, l := range m.Layers {
		for i := range l.W {
			l.W[i] = 0
		}
	}
	b, _ := net.Run(map[string][]float32{"input": x}, 5, "output")
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			t.Fatal("the Net changed with the model's weights")
		}
	}
	if net.Model() == m {
		t.Error("Model() is the caller's model, not the compiled copy")
	}
}

// TestConcurrentRuns: one Net used from several goroutines gives each the same result as a
// lone run.
func TestConcurrentRuns(t *testing.T) {
	m := deepID(t)
	r := rand.New(rand.NewSource(10))
	net, err := New(2).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	const g = 6
	xs := make([][]float32, g)
	want := make([][]float32, g)
	for i := range xs {
		xs[i] = pixels(r, m, 20+i)
		res, err := net.Run(map[string][]float32{"input": xs[i]}, 20+i, "output")
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res[0]
	}
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 3; rep++ {
				res, err := net.Run(map[string][]float32{"input": xs[i]}, 20+i, "output")
				if err != nil {
					t.Error(err)
					return
				}
				for j := range res[0] {
					if res[0][j] != want[i][j] {
						t.Errorf("goroutine %d: value %d differs", i, j)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestRunInto: RunInto writes exactly Run's outputs at the start of the caller's buffers
// (longer ones included, the rest untouched), reused across calls; short or missing buffers
// are refused.
func TestRunInto(t *testing.T) {
	m := deepID(t)
	r := rand.New(rand.NewSource(11))
	net, err := New(2).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ri := net.(nn.IntoRunner)
	outs := []string{"pool_3", "output"}
	dst := [][]float32{make([]float32, 40*1200), make([]float32, 40*1283+3)}
	for _, n := range []int{37, 5, 40} {
		x := pixels(r, m, n)
		want, err := net.Run(map[string][]float32{"input": x}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			for j := range dst[i] {
				dst[i][j] = -7
			}
		}
		if err := ri.RunInto(map[string][]float32{"input": x}, n, outs, dst); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j, v := range dst[i] {
				if j < len(want[i]) && v != want[i][j] || j >= len(want[i]) && v != -7 {
					t.Fatalf("n=%d output %s value %d: %g", n, outs[i], j, v)
				}
			}
		}
	}
	x := pixels(r, m, 3)
	if err := ri.RunInto(map[string][]float32{"input": x}, 3, outs, dst[:1]); err == nil {
		t.Error("a missing buffer accepted")
	}
	if err := ri.RunInto(map[string][]float32{"input": x}, 3, outs, [][]float32{dst[0], make([]float32, 3*1283-1)}); err == nil {
		t.Error("a short buffer accepted")
	}
}

func TestRunErrors(t *testing.T) {
	m := deepID(t)
	net, err := New(1).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Run(map[string][]float32{"input": make([]float32, 10)}, 1, "output"); err == nil {
		t.Error("short feed accepted")
	}
	if _, err := net.Run(map[string][]float32{"pool_3": make([]float32, 1200)}, 1, "conv_1"); err == nil {
		t.Error("unfed input accepted")
	}
	res, err := net.Run(map[string][]float32{"input": nil}, 0, "output")
	if err != nil || len(res) != 1 || len(res[0]) != 0 {
		t.Errorf("empty batch: %v %v", res, err)
	}
	net.Close()
	if _, err := net.Run(map[string][]float32{"input": make([]float32, 55*47*3)}, 1, "output"); err == nil {
		t.Error("Run after Close accepted")
	}
	bad := nn.DeepID(55, 47, 10) // no weights
	if _, err := New(1).Compile(bad); err == nil {
		t.Error("model without weights compiled")
	}
}

func TestRegistered(t *testing.T) {
	b, err := nn.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "cpu" {
		t.Errorf("name %q", b.Name())
	}
	t.Log(b.Describe())
}

// TestLargeBatch: a batch of many chunks (with a short last block and chunk) gives, for its
// last images, the logits of nn/ref, and for every image those of a batch of one.
func TestLargeBatch(t *testing.T) {
	m := deepID(t)
	const n, tail = 16*11 + 5, 21
	x := pixels(rand.New(rand.NewSource(12)), m, n)
	in := m.InputShape().Size()
	k := m.NumClasses()
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x[(n-tail)*in:])}, tail, "output")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends(t) {
		net, err := b.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := net.Run(map[string][]float32{"input": x}, n, "output")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(got[0][(n-tail)*k:], want[0]); !(e <= tol) {
			t.Errorf("%s: last %d images: relative error %.3g", b.isa, tail, e)
		}
		for i := 0; i < n; i += 7 {
			one, err := net.Run(map[string][]float32{"input": x[i*in : (i+1)*in]}, 1, "output")
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(one[0], ref.Widen(got[0][i*k:(i+1)*k])); e > 1e-6 {
				t.Errorf("%s: image %d alone differs from the batch by %.3g", b.isa, i, e)
			}
		}
		net.Close()
	}
}

// TestPredictArgmax: Net.Predict (the argmax taken in the packed blocks) gives exactly
// nn.Argmax of Run's logits, ties to the first, for counts that are not whole blocks.
func TestPredictArgmax(t *testing.T) {
	m, err := nn.New("ties", []*nn.Layer{
		{Name: "input", Kind: nn.Input, InShape: nn.Shape{5}},
		{Name: "out", Kind: nn.Dense, Units: 7, UseBias: true, InputNames: []string{"input"}},
	}, "input", "out")
	if err != nil {
		t.Fatal(err)
	}
	nn.RandomWeights(m, 3)
	l := m.Layer("out")
	for i := range l.W { // columns 2 and 5 equal: a tie between them on every input
		if i%7 == 5 {
			l.W[i] = l.W[i-3]
		}
	}
	l.B[5] = l.B[2]
	r := rand.New(rand.NewSource(9))
	for _, b := range backends(t) {
		net, err := b.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 15, 16, 37, 300} {
			x := uniform(r, n*5, -1, 1)
			logits, err := net.Run(map[string][]float32{"input": x}, n, "out")
			if err != nil {
				t.Fatal(err)
			}
			want := nn.Argmax(logits[0], n, 7)
			got, err := net.(nn.Predictor).Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: %d images: image %d class %d, Argmax %d", b.isa, n, i, got[i], want[i])
				}
			}
		}
		net.Close()
	}
}
