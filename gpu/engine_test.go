package gpu

import (
	"errors"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"goodnet/host"
	"goodnet/nn"
	"goodnet/nn/ref"
)

func fakeCore(free int64) (*core, *fakeDevice) {
	d := newFake(free)
	return &core{dev: d}, d
}

func images(r *rand.Rand, n int, s nn.Shape, lim float64) []float32 {
	x := make([]float32, n*s.Size())
	for i := range x {
		x[i] = float32(r.Float64() * lim)
	}
	return x
}

// closeRows checks got against the float64 reference within tol of each sample's largest
// |value| (float32 against float64 through a deep net).
func closeRows(t *testing.T, what string, got []float32, want []float64, n int, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	k := len(want) / n
	for s := 0; s < n; s++ {
		scale := 1e-6
		for _, v := range want[s*k : (s+1)*k] {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := s * k; i < (s+1)*k; i++ {
			if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
				t.Fatalf("%s: sample %d value %d is %g, want %g (|diff| %g > %g·%g)", what, s, i-s*k, got[i], want[i], d, tol, scale)
			}
		}
	}
}

func deepID(seed int64) *nn.Model {
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, seed)
	return m
}

func compileT(t *testing.T, c *core, m *nn.Model) *Net {
	t.Helper()
	n, err := compile(c, m)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeepIDAgainstRefAndHost(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	m := deepID(1)
	const n = 6
	x := images(r, n, m.InputShape(), 255)
	c, d := fakeCore(1 << 30)
	net := compileT(t, c, m)
	outs := []string{"output", "pool_3", "fc_1", "conv_1"}
	got, err := net.Run(map[string][]float32{"input": x}, n, outs...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x)}, n, outs...)
	if err != nil {
		t.Fatal(err)
	}
	hn, err := host.New(1).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer hn.Close()
	cpu, err := hn.Run(map[string][]float32{"input": x}, n, outs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		closeRows(t, o+" vs nn/ref", got[i], want[i], n, 1e-5)
		closeRows(t, o+" vs host/", got[i], ref.Widen(cpu[i]), n, 1e-5)
	}
	// Predict: argmax of the same logits, on the device
	cls, err := net.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	if w := nn.Argmax(got[0], n, 1283); !equal(cls, w) {
		t.Fatalf("Predict = %v, argmax of Run's logits %v", cls, w)
	}
	if err := net.Close(); err != nil {
		t.Fatal(err)
	}
	if len(d.mem) != 0 {
		t.Fatalf("%d allocations left after Close", len(d.mem))
	}
	if _, err := net.Run(map[string][]float32{"input": x}, n, "output"); err == nil {
		t.Fatal("Run on a closed Net succeeded")
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// Batches: a device with memory for only a few samples, or a low MaxBatch, gives the same
// bits as one batch.
func TestBatching(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	m := deepID(2)
	const n = 11
	x := images(r, n, m.InputShape(), 255)
	outs := []string{"output", "pool_3"}
	run := func(c *core) ([][]float32, []int32) {
		net := compileT(t, c, m)
		defer net.Close()
		res, err := net.Run(map[string][]float32{"input": x}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		cls, err := net.Predict(x, n)
		if err != nil {
			t.Fatal(err)
		}
		return res, cls
	}
	big, _ := fakeCore(1 << 30)
	want, wantCls := run(big)

	weights := int64(4 * m.Params())
	perSample := int64(0)
	for _, l := range m.Layers {
		if l.Kind != nn.Flatten {
			perSample += 4 * int64(l.OutShape.Size())
		}
	}
	small, _ := fakeCore(weights + 2*3*perSample + perSample/2) // 3 samples fit in half
	capped, _ := fakeCore(1 << 30)
	capped.maxBatch = 4
	for name, c := range map[string]*core{"small memory": small, "MaxBatch 4": capped} {
		got, cls := run(c)
		for i := range outs {
			if !equalF(got[i], want[i]) {
				t.Fatalf("%s: %s differs from one batch", name, outs[i])
			}
		}
		if !equal(cls, wantCls) {
			t.Fatalf("%s: Predict %v, one batch %v", name, cls, wantCls)
		}
	}
	tiny, _ := fakeCore(weights + perSample/4)
	net := compileT(t, tiny, m)
	if _, err := net.Run(map[string][]float32{"input": x}, n, "output"); err == nil || !strings.Contains(err.Error(), "out of GPU memory") {
		t.Fatalf("no room for one sample: err = %v", err)
	}
}

// The head of the pruning sweep: feeding pool_3 computes only what follows it.
func TestFeedIntermediate(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	m := deepID(3)
	const n = 5
	p := images(r, n, m.Layer("pool_3").OutShape, 50)
	c, d := fakeCore(1 << 30)
	net := compileT(t, c, m)
	defer net.Close()
	before := d.launches
	got, err := net.Run(map[string][]float32{"pool_3": p}, n, "output", "add_1")
	if err != nil {
		t.Fatal(err)
	}
	// conv_4, fc_1, fc_2, add_1, activation_1, output
	if l := d.launches - before; l != 6 {
		t.Fatalf("head-only run launched %d kernels, want 6", l)
	}
	want, err := ref.Run(m, map[string][]float64{"pool_3": ref.Widen(p)}, n, "output", "add_1")
	if err != nil {
		t.Fatal(err)
	}
	closeRows(t, "output", got[0], want[0], n, 1e-5)
	closeRows(t, "add_1", got[1], want[1], n, 1e-5)
	if _, err := net.Run(map[string][]float32{"pool_3": p[1:]}, n, "output"); err == nil {
		t.Fatal("short feed accepted")
	}
	if _, err := net.Run(map[string][]float32{"pool_3": p}, n, "conv_1"); err == nil {
		t.Fatal("conv_1 computed without the input")
	}
	if res, err := net.Run(map[string][]float32{"pool_3": nil}, 0, "output"); err != nil || len(res[0]) != 0 {
		t.Fatalf("zero samples: %v, %v", res, err)
	}
}

// Every layer option: same padding, strides, no bias, linear conv, Add of three, linear and
// relu activations, Dropout, a dense ReLU.
func TestOtherGraphs(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for it := 0; it < 20; it++ {
		pad := nn.Padding(r.Intn(2))
		layers := []*nn.Layer{
			{Name: "in", Kind: nn.Input, InShape: nn.Shape{7 + r.Intn(6), 6 + r.Intn(6), 1 + r.Intn(3)}},
			{Name: "c1", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, Strides: [2]int{1 + r.Intn(2), 1 + r.Intn(2)}, Padding: pad, Filters: 1 + r.Intn(5), Act: nn.Activation(r.Intn(2)), UseBias: r.Intn(2) == 0},
			{Name: "p1", Kind: nn.MaxPool2D, InputNames: []string{"c1"}, Size: [2]int{2, 2}, Strides: [2]int{1 + r.Intn(2), 2}, Padding: nn.Padding(r.Intn(2))},
			{Name: "f", Kind: nn.Flatten, InputNames: []string{"p1"}},
			{Name: "drop", Kind: nn.Dropout, InputNames: []string{"f"}, Rate: 0.5},
			{Name: "d1", Kind: nn.Dense, InputNames: []string{"drop"}, Units: 9, Act: nn.ReLU, UseBias: true},
			{Name: "d2", Kind: nn.Dense, InputNames: []string{"f"}, Units: 9, UseBias: false},
			{Name: "d3", Kind: nn.Dense, InputNames: []string{"drop"}, Units: 9, UseBias: true},
			{Name: "sum", Kind: nn.Add, InputNames: []string{"d1", "d2", "d3"}},
			{Name: "lin", Kind: nn.Act, InputNames: []string{"sum"}, Act: nn.Linear},
			{Name: "act", Kind: nn.Act, InputNames: []string{"lin"}, Act: nn.ReLU},
			{Name: "out", Kind: nn.Dense, InputNames: []string{"act"}, Units: 4, Act: nn.Softmax, UseBias: true},
		}
		if it%3 == 2 { // explicit (ONNX) padding, asymmetric
			c1, p1 := layers[1], layers[2]
			c1.Padding, p1.Padding = nn.Explicit, nn.Explicit
			c1.Pad = [4]int{r.Intn(c1.Size[0]), r.Intn(c1.Size[0]), r.Intn(c1.Size[1]), r.Intn(c1.Size[1])}
			p1.Pad = [4]int{r.Intn(2), r.Intn(2), r.Intn(2), r.Intn(2)}
		}
		m, err := nn.New("g", layers, "in", "out")
		if err != nil {
			t.Fatal(err)
		}
		nn.RandomWeights(m, int64(it))
		m.Layer("d2").B = nil
		if !m.Layer("c1").UseBias {
			m.Layer("c1").B = nil
		}
		n := 1 + r.Intn(4)
		x := images(r, n, m.InputShape(), 2)
		c, d := fakeCore(1 << 28)
		net := compileT(t, c, m)
		outs := []string{"out", "sum", "act", "f", "lin"}
		got, err := net.Run(map[string][]float32{"in": x}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Run(m, map[string][]float64{"in": ref.Widen(x)}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			closeRows(t, o, got[i], want[i], n, 1e-5)
		}
		net.Close()
		if len(d.mem) != 0 {
			t.Fatalf("%d allocations left after Close", len(d.mem))
		}
	}
}

func TestGoodNet(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	m := deepID(5)
	const n = 20
	x := images(r, n, m.InputShape(), 255)
	c, _ := fakeCore(1 << 30)
	c.maxBatch = 8 // three batches
	b := compileT(t, c, m)
	defer b.Close()
	wb, err := b.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	// B' lowers the logit of image 0's class by the median margin of the images of that
	// class: they disagree on about half of those
	logits, err := b.Run(map[string][]float32{"input": x}, n, "output")
	if err != nil {
		t.Fatal(err)
	}
	var margins []float64
	for i := 0; i < n; i++ {
		row := logits[0][i*1283 : (i+1)*1283]
		if wb[i] != wb[0] {
			continue
		}
		second := math.Inf(-1)
		for j, v := range row {
			if int32(j) != wb[0] {
				second = math.Max(second, float64(v))
			}
		}
		margins = append(margins, float64(row[wb[0]])-second)
	}
	sort.Float64s(margins)
	if len(margins) < 2 {
		t.Fatalf("only %d images of class %d", len(margins), wb[0])
	}
	k := len(margins) / 2
	pm := m.Clone()
	pm.Layer("output").B[wb[0]] -= float32((margins[k-1] + margins[k]) / 2)
	bp := compileT(t, c, pm)
	defer bp.Close()
	cb, cp, merged, err := b.PredictPair(bp, x, n, 1283)
	if err != nil {
		t.Fatal(err)
	}
	wp, _ := bp.Predict(x, n)
	if !equal(cb, wb) || !equal(cp, wp) {
		t.Fatalf("GoodNet's B/B' classes differ from Predict")
	}
	disagree := 0
	for i := range merged {
		want := cb[i]
		if cb[i] != cp[i] {
			want = 1283
			disagree++
		}
		if merged[i] != want {
			t.Fatalf("image %d: B %d, B' %d, GoodNet %d", i, cb[i], cp[i], merged[i])
		}
	}
	if disagree == 0 || disagree == n {
		t.Fatalf("B and B' disagree on %d of %d images: the test does not test the merge", disagree, n)
	}
	// another flag value reaches the merge
	_, _, m7, err := b.PredictPair(bp, x, n, -7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m7 {
		if (cb[i] != cp[i]) != (m7[i] == -7) {
			t.Fatalf("flag -7: image %d: B %d, B' %d, merged %d", i, cb[i], cp[i], m7[i])
		}
	}
	// G(B, B) is B
	s1, s2, s3, err := b.PredictPair(b, x, n, 1283)
	if err != nil || !equal(s1, wb) || !equal(s2, wb) || !equal(s3, wb) {
		t.Fatalf("G(B, B) = %v %v %v (%v), want B's classes", s1, s2, s3, err)
	}
	other, _ := fakeCore(1 << 30)
	foreign := compileT(t, other, m)
	if _, _, _, err := b.PredictPair(foreign, x, n, 1283); err == nil {
		t.Fatal("PredictPair across backends accepted")
	}
	hn, err := host.New(1).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer hn.Close()
	if _, _, _, err := b.PredictPair(hn, x, n, 1283); err == nil {
		t.Fatal("PredictPair with a CPU net accepted")
	}
	small := nn.DeepID(55, 47, 10)
	nn.RandomWeights(small, 1)
	sn := compileT(t, c, small)
	if _, _, _, err := b.PredictPair(sn, x, n, 1283); err == nil {
		t.Fatal("PredictPair of different architectures accepted")
	}
}

func TestChannelSums(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	m := deepID(6)
	const n = 9
	x := images(r, n, m.InputShape(), 255)
	c, _ := fakeCore(1 << 30)
	c.maxBatch = 4
	net := compileT(t, c, m)
	defer net.Close()
	sums, err := net.ChannelSums(map[string][]float32{"input": x}, n, "pool_3")
	if err != nil {
		t.Fatal(err)
	}
	p, err := net.Run(map[string][]float32{"input": x}, n, "pool_3")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x)}, n, "pool_3")
	if err != nil {
		t.Fatal(err)
	}
	const C = 60
	for ch := 0; ch < C; ch++ {
		var s32, s64 float64
		for i := ch; i < len(p[0]); i += C {
			s32 += float64(p[0][i])
			s64 += want[0][i]
		}
		if d := math.Abs(sums[ch] - s32); d > 1e-12*math.Abs(s32) {
			t.Fatalf("channel %d: sum %.17g, sum of Run's pool_3 %.17g", ch, sums[ch], s32)
		}
		if d := math.Abs(sums[ch] - s64); d > 1e-5*math.Abs(s64)+1e-9 {
			t.Fatalf("channel %d: sum %g, nn/ref %g", ch, sums[ch], s64)
		}
	}
	// a flat layer: one row per sample
	fm, err := net.ChannelSums(map[string][]float32{"input": x}, n, "fc_1")
	if err != nil || len(fm) != 160 {
		t.Fatalf("fc_1 sums: %d values, %v", len(fm), err)
	}
	if z, err := net.ChannelSums(map[string][]float32{"input": nil}, 0, "pool_3"); err != nil || len(z) != C || z[0] != 0 {
		t.Fatalf("sums over no samples: %v, %v", z, err)
	}
	if _, err := net.ChannelSums(map[string][]float32{"input": x}, n, "nope"); err == nil {
		t.Fatal("sums of a layer that does not exist accepted")
	}
}

// pruned is m with the listed channels of a conv zeroed (kernel[..., c] and bias[c]).
func pruned(m *nn.Model, layer string, chans []int) *nn.Model {
	pm := m.Clone()
	l := pm.Layer(layer)
	for _, ch := range chans {
		for t := ch; t < len(l.W); t += l.Filters {
			l.W[t] = 0
		}
		l.B[ch] = 0
	}
	return pm
}

// TestRefusesUnsupported: a model with a layer the GPU engine does not run is refused with one
// error naming the layer, marked nn.ErrUnsupported (so that --device auto runs it on the CPU),
// and nothing stays allocated.
func TestRefusesUnsupported(t *testing.T) {
	m := nn.PreActResNet(32, 32, 10, []int{4, 8}, []int{1, 1})
	nn.RandomWeights(m, 1)
	c, d := fakeCore(1 << 30)
	_, err := compile(c, m)
	if err == nil || !errors.Is(err, nn.ErrUnsupported) || !strings.Contains(err.Error(), `layer "layer1.0.bn1": BatchNormalization layers are not supported on the GPU`) {
		t.Fatalf("error %v", err)
	}
	if len(d.mem) != 0 {
		t.Fatal("allocations left")
	}
}

func TestCompileErrors(t *testing.T) {
	m := nn.DeepID(55, 47, 1283) // no weights
	c, d := fakeCore(1 << 30)
	if _, err := compile(c, m); err == nil {
		t.Fatal("model without weights compiled")
	}
	nn.RandomWeights(m, 1)
	small, _ := fakeCore(int64(4 * m.Params() / 2))
	if _, err := compile(small, m); err == nil {
		t.Fatal("weights larger than the memory compiled")
	}
	net := compileT(t, c, m)
	if _, err := net.Predict(make([]float32, 10), 1); err == nil {
		t.Fatal("Predict with the wrong image size accepted")
	}
	net.Close()
	if len(d.mem) != 0 {
		t.Fatal("allocations left")
	}
}

// The engine on kernels.cu's __global__ kernels themselves (emulated on the CPU: tiles, warps,
// blocks) gives the bits of the per-element loops: Run, Predict, PredictPair and ChannelSums,
// in two batches.
func TestEmulatedKernels(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: thousands of threads per launch")
	}
	r := rand.New(rand.NewSource(8))
	m := deepID(8)
	const n = 3
	x := images(r, n, m.InputShape(), 255)
	type result struct {
		run       [][]float32
		b, bp, gm []int32
		sums      []float64
	}
	do := func(emulate bool) result {
		c, d := fakeCore(1 << 30)
		d.emulate = emulate
		c.maxBatch = 2
		net := compileT(t, c, m)
		defer net.Close()
		bp := compileT(t, c, pruned(m, "conv_3", []int{1, 5, 9, 40}))
		defer bp.Close()
		var res result
		var err error
		if res.run, err = net.Run(map[string][]float32{"input": x}, n, "output", "pool_3"); err != nil {
			t.Fatal(err)
		}
		if res.b, res.bp, res.gm, err = net.PredictPair(bp, x, n, 1283); err != nil {
			t.Fatal(err)
		}
		if res.sums, err = bp.ChannelSums(map[string][]float32{"input": x}, n, "pool_3"); err != nil {
			t.Fatal(err)
		}
		return res
	}
	loops, kernels := do(false), do(true)
	for i := range loops.run {
		if !equalF(kernels.run[i], loops.run[i]) {
			t.Fatalf("Run output %d differs between the kernels and the loops", i)
		}
	}
	if !equal(kernels.b, loops.b) || !equal(kernels.bp, loops.bp) || !equal(kernels.gm, loops.gm) {
		t.Fatalf("PredictPair: kernels %v %v %v, loops %v %v %v", kernels.b, kernels.bp, kernels.gm, loops.b, loops.bp, loops.gm)
	}
	for i := range loops.sums {
		if kernels.sums[i] != loops.sums[i] {
			t.Fatalf("channel sum %d: kernels %g, loops %g", i, kernels.sums[i], loops.sums[i])
		}
	}
}
