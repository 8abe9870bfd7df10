package train

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"goodnet/nn"
	"goodnet/nn/ref"
)

// oddModel exercises what DeepID does not: "same" padding with an extra bottom/right pad,
// strides, a "same" max-pool, Dropout, an Activation layer and a linear Dense before the output.
func oddModel(t testing.TB) *nn.Model {
	layers := []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{11, 9, 2}},
		{Name: "c1", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{4, 2}, Strides: [2]int{1, 1}, Padding: nn.Same, Filters: 5, Act: nn.ReLU, UseBias: true},
		{Name: "c2", Kind: nn.Conv2D, InputNames: []string{"c1"}, Size: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: nn.Same, Filters: 6, Act: nn.Linear, UseBias: true},
		{Name: "p1", Kind: nn.MaxPool2D, InputNames: []string{"c2"}, Size: [2]int{2, 3}, Strides: [2]int{2, 2}, Padding: nn.Same},
		{Name: "c3", Kind: nn.Conv2D, InputNames: []string{"c1"}, Size: [2]int{3, 2}, Strides: [2]int{3, 2}, Filters: 4, Act: nn.ReLU},
		{Name: "p2", Kind: nn.MaxPool2D, InputNames: []string{"c3"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1}},
		{Name: "f1", Kind: nn.Flatten, InputNames: []string{"p1"}},
		{Name: "f2", Kind: nn.Flatten, InputNames: []string{"p2"}},
		{Name: "d1", Kind: nn.Dense, InputNames: []string{"f1"}, Units: 7, UseBias: true},
		{Name: "d2", Kind: nn.Dense, InputNames: []string{"f2"}, Units: 7, UseBias: true, Act: nn.ReLU},
		{Name: "add", Kind: nn.Add, InputNames: []string{"d1", "d2"}},
		{Name: "relu", Kind: nn.Act, InputNames: []string{"add"}, Act: nn.ReLU},
		{Name: "drop", Kind: nn.Dropout, InputNames: []string{"relu"}, Rate: 0.5},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"drop"}, Units: 4, Act: nn.Softmax, UseBias: true},
	}
	m, err := nn.New("odd", layers, "in", "out")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randInput(m *nn.Model, n int, seed int64, lo, hi float32) []float32 {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, n*m.InputShape().Size())
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

// compareRef checks the training engine's outputs of every layer against nn/ref's:
// |a-b| ≤ 1e-4 · max|ref| per image and layer (for the output layer: the logits).
func compareRef(t *testing.T, m *nn.Model, x []float32, n int, scale float32) {
	t.Helper()
	names, want := refOutputs(t, m, x, n, scale)
	compareOutputs(t, m, x, n, scale, names, want)
}

// refOutputs are nn/ref's outputs of every layer but the input.
func refOutputs(t *testing.T, m *nn.Model, x []float32, n int, scale float32) ([]string, [][]float64) {
	t.Helper()
	var names []string
	for _, l := range m.Layers[1:] {
		names = append(names, l.Name)
	}
	xs := ref.Widen(x)
	for i := range xs {
		xs[i] *= float64(scale)
	}
	want, err := ref.Run(m, map[string][]float64{m.Input.Name: xs}, n, names...)
	if err != nil {
		t.Fatal(err)
	}
	return names, want
}

func compareOutputs(t *testing.T, m *nn.Model, x []float32, n int, scale float32, names []string, want [][]float64) {
	t.Helper()
	got, err := Run(m, x, n, scale, names...)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := Forward(m, x, n, scale)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, logits)
	want = append(want[:len(want):len(want)], want[len(want)-1])
	names = append(names[:len(names):len(names)], "Forward")
	for li := range names {
		k := len(want[li]) / n
		if len(got[li]) != len(want[li]) {
			t.Fatalf("%s: layer %s: %d values, want %d", m.Name, names[li], len(got[li]), len(want[li]))
		}
		for i := 0; i < n; i++ {
			scl := 0.0
			for _, v := range want[li][i*k : (i+1)*k] {
				scl = math.Max(scl, math.Abs(v))
			}
			for j := 0; j < k; j++ {
				a, b := float64(got[li][i*k+j]), want[li][i*k+j]
				if math.Abs(a-b) > 1e-4*scl+1e-6 {
					t.Fatalf("%s: layer %s: image %d value %d: engine %g, ref %g (scale %g)", m.Name, names[li], i, j, a, b, scl)
				}
			}
		}
	}
}

// TestForwardMatchesRef compares every layer's output with nn/ref on nets covering every
// layer kind and option, for each kernel variant.
func TestForwardMatchesRef(t *testing.T) {
	type input struct {
		m     *nn.Model
		x     []float32
		n     int
		scale float32
		names []string
		want  [][]float64
	}
	var cases []*input
	add := func(m *nn.Model, seed int64, n int, lo, hi, scale float32) {
		nn.RandomWeights(m, seed)
		c := &input{m: m, x: randInput(m, n, seed+1, lo, hi), n: n, scale: scale}
		c.names, c.want = refOutputs(t, m, c.x, n, scale)
		cases = append(cases, c)
	}
	add(oddModel(t), 3, 5, -1, 1, 1)
	add(asymModel(t), 4, 21, -1, 1, 1)
	add(pooledModel(t), 4, 21, -1, 1, 1)
	add(vectorModel(t), 4, 21, -1, 1, 1)
	add(nn.DeepID(33, 31, 6), 5, 3, 0, 255, 1.0/255)
	add(nn.DeepID(31, 31, 3), 7, 16*9+3, 0, 1, 1) // many blocks of 16, the last one partial
	forEachISA(t, func(t *testing.T) {
		for _, c := range cases {
			compareOutputs(t, c.m, c.x, c.n, c.scale, c.names, c.want)
		}
	})
}

// toyData: n samples of k classes, each class a fixed random template plus noise; the
// templates depend on the model only, the samples on seed.
func toyData(m *nn.Model, n int, seed int64) ([]float32, []int32) {
	in, k := m.InputShape().Size(), m.NumClasses()
	tr := rand.New(rand.NewSource(int64(in*1000 + k)))
	tmpl := make([]float32, k*in)
	for i := range tmpl {
		tmpl[i] = tr.Float32()
	}
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, n*in)
	y := make([]int32, n)
	for i := 0; i < n; i++ {
		c := r.Intn(k)
		y[i] = int32(c)
		for j := 0; j < in; j++ {
			x[i*in+j] = tmpl[c*in+j] + 0.3*float32(r.NormFloat64())
		}
	}
	return x, y
}

func TestLossGoesDown(t *testing.T) {
	for _, mk := range []func() *nn.Model{func() *nn.Model { return oddModel(t) }, func() *nn.Model { return nn.DeepID(33, 31, 4) }} {
		m := mk()
		nn.RandomWeights(m, 11)
		n := 120
		x, y := toyData(m, n, 12)
		var log bytes.Buffer
		h, err := Train(m, x, y, n, Options{Epochs: 12, BatchSize: 16, LR: 3e-3, Seed: 1, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Epochs) != 12 || h.Images != 12*112 {
			t.Fatalf("%s: %d epochs, %d images; want 12, %d", m.Name, len(h.Epochs), h.Images, 12*112)
		}
		first, last := h.Epochs[0], h.Epochs[len(h.Epochs)-1]
		t.Logf("%s: loss %.3f → %.3f, acc %.2f → %.2f", m.Name, first.Loss, last.Loss, first.Acc, last.Acc)
		if !(last.Loss < 0.5*first.Loss) || last.Acc < 0.9 {
			t.Errorf("%s: loss %.3f → %.3f, train acc %.2f: did not learn\n%s", m.Name, first.Loss, last.Loss, last.Acc, log.String())
		}
		if strings.Count(log.String(), "\n") != 12 {
			t.Errorf("log has not one line per epoch:\n%s", log.String())
		}
		// the trained weights, written back in Keras layouts, give the engine's function under nn/ref
		compareRef(t, m, x[:7*m.InputShape().Size()], 7, 1)
		// and they are good on fresh data from the same classes
		xt, yt := toyData(m, 60, 99)
		logits, err := Forward(m, xt, 60, 1)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for i, c := range nn.Argmax(logits, 60, m.NumClasses()) {
			if c == yt[i] {
				ok++
			}
		}
		if ok < 54 {
			t.Errorf("%s: %d/60 right after training", m.Name, ok)
		}
	}
}

func TestMask(t *testing.T) {
	m := nn.DeepID(33, 31, 4)
	nn.RandomWeights(m, 31)
	before := m.Clone()
	mask := map[string][]bool{"conv_3": make([]bool, 60), "fc_1": make([]bool, 160)}
	for _, c := range []int{0, 7, 59} {
		mask["conv_3"][c] = true
	}
	mask["fc_1"][3] = true
	n := 64
	x, y := toyData(m, n, 32)
	if _, err := Train(m, x, y, n, Options{Epochs: 2, BatchSize: 16, LR: 1e-2, Mask: mask}); err != nil {
		t.Fatal(err)
	}
	c3, f1 := m.Layer("conv_3"), m.Layer("fc_1")
	changed := 0
	for i, w := range c3.W {
		o := i % 60
		if mask["conv_3"][o] && w != 0 {
			t.Fatalf("conv_3 kernel %d (channel %d) = %g, want 0", i, o, w)
		}
		if !mask["conv_3"][o] && w != before.Layer("conv_3").W[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("unmasked conv_3 weights did not change")
	}
	for _, c := range []int{0, 7, 59} {
		if c3.B[c] != 0 {
			t.Fatalf("conv_3 bias %d = %g", c, c3.B[c])
		}
	}
	for i := 3; i < len(f1.W); i += 160 {
		if f1.W[i] != 0 {
			t.Fatalf("fc_1 kernel %d = %g, want 0", i, f1.W[i])
		}
	}
	if f1.B[3] != 0 || f1.B[4] == before.Layer("fc_1").B[4] {
		t.Fatalf("fc_1 bias 3 = %g (want 0), bias 4 unchanged: %v", f1.B[3], f1.B[4] == before.Layer("fc_1").B[4])
	}
}

func TestFreeze(t *testing.T) {
	m := nn.DeepID(33, 31, 4)
	nn.RandomWeights(m, 41)
	before := m.Clone()
	c1, f1 := m.Layer("conv_1"), m.Layer("fc_1")
	fz := map[string]Frozen{
		"conv_1": {Kernel: make([]bool, len(c1.W)), Bias: make([]bool, len(c1.B))},
		"fc_1":   {Kernel: make([]bool, len(f1.W))},
		"output": {Bias: make([]bool, 4)},
	}
	for i := range c1.W {
		fz["conv_1"].Kernel[i] = i%20 < 10 // output channels 0..9
	}
	for c := 0; c < 10; c++ {
		fz["conv_1"].Bias[c] = true
	}
	for i := range f1.W {
		fz["fc_1"].Kernel[i] = i%3 == 0
	}
	fz["output"].Bias[2] = true
	n := 64
	x, y := toyData(m, n, 42)
	// L2 would move frozen weights if they were only cut off from their gradients
	if _, err := Train(m, x, y, n, Options{Epochs: 2, BatchSize: 16, LR: 1e-2, L2: 1e-2, Freeze: fz}); err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, was []float32, frozen []bool) {
		moved := 0
		for i := range got {
			switch {
			case frozen != nil && frozen[i] && got[i] != was[i]:
				t.Fatalf("%s[%d] is frozen but moved: %g → %g", name, i, was[i], got[i])
			case (frozen == nil || !frozen[i]) && got[i] != was[i]:
				moved++
			}
		}
		if moved == 0 {
			t.Fatalf("%s: no free weight moved", name)
		}
	}
	check("conv_1 kernel", c1.W, before.Layer("conv_1").W, fz["conv_1"].Kernel)
	check("conv_1 bias", c1.B, before.Layer("conv_1").B, fz["conv_1"].Bias)
	check("fc_1 kernel", f1.W, before.Layer("fc_1").W, fz["fc_1"].Kernel)
	check("fc_1 bias", f1.B, before.Layer("fc_1").B, nil)
	check("output bias", m.Layer("output").B, before.Layer("output").B, fz["output"].Bias)
}

// TestAllFrozen: with every weight frozen or masked nothing is trained, nothing moves, and the
// epochs still report their loss.
func TestAllFrozen(t *testing.T) {
	m := nn.DeepID(33, 31, 4)
	nn.RandomWeights(m, 8)
	before := m.Clone()
	fz := map[string]Frozen{}
	for _, l := range m.Layers {
		if l.HasWeights() && l.Name != "conv_2" {
			fz[l.Name] = Frozen{Kernel: trues(len(l.W)), Bias: trues(len(l.B))}
		}
	}
	mask := map[string][]bool{"conv_2": trues(40)}
	x, y := toyData(m, 40, 9)
	h, err := Train(m, x, y, 40, Options{Epochs: 2, BatchSize: 16, L2: 0.1, Freeze: fz, Mask: mask})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Epochs) != 2 || !(h.Epochs[1].Loss > 0) {
		t.Fatalf("history %+v", h.Epochs)
	}
	for i, l := range m.Layers {
		for j, w := range l.W {
			want := before.Layers[i].W[j]
			if l.Name == "conv_2" {
				want = 0
			}
			if w != want {
				t.Fatalf("%s kernel[%d] = %g, want %g", l.Name, j, w, want)
			}
		}
	}
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func TestErrors(t *testing.T) {
	m := nn.DeepID(33, 31, 4)
	nn.RandomWeights(m, 1)
	x, y := toyData(m, 8, 1)
	cases := map[string]func() error{
		"input values": func() error { _, err := Train(m, x[:10], y, 8, Options{}); return err },
		"labels for":   func() error { _, err := Train(m, x, y[:3], 8, Options{}); return err },
		"outside 0..3": func() error {
			bad := append([]int32(nil), y...)
			bad[2] = 4
			_, err := Train(m, x, bad, 8, Options{})
			return err
		},
		"not a Conv2D or Dense": func() error {
			_, err := Train(m, x, y, 8, Options{Mask: map[string][]bool{"pool_1": make([]bool, 20)}})
			return err
		},
		"has 3 entries": func() error {
			_, err := Train(m, x, y, 8, Options{Mask: map[string][]bool{"conv_1": make([]bool, 3)}})
			return err
		},
		"weights missing": func() error {
			_, err := Train(nn.DeepID(33, 31, 4), x, y, 8, Options{})
			return err
		},
		"must not be negative": func() error { _, err := Train(m, x, y, 8, Options{Epochs: -1}); return err },
		"has 5 kernel entries": func() error {
			_, err := Train(m, x, y, 8, Options{Freeze: map[string]Frozen{"conv_2": {Kernel: make([]bool, 5)}}})
			return err
		},
		"freeze names layer": func() error {
			_, err := Train(m, x, y, 8, Options{Freeze: map[string]Frozen{"flatten_1": {}}})
			return err
		},
		`output layer "nope" does not exist`: func() error { _, err := Run(m, x, 8, 1, "nope"); return err },
	}
	before := m.Clone()
	for want, f := range cases {
		err := f()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q, got %v", want, err)
		}
	}
	// a model the engine refuses, with a mask: refused before anything is zeroed
	v := vectorModel(t)
	v.Layer("h2").Act = nn.Softmax
	nn.RandomWeights(v, 2)
	vb := v.Clone()
	vx, vy := toyData(v, 8, 1)
	if _, err := Train(v, vx, vy, 8, Options{Mask: map[string][]bool{"h1": trues(19)}}); err == nil || !strings.Contains(err.Error(), "softmax is supported on the output layer only") {
		t.Errorf("hidden softmax: %v", err)
	}
	for _, p := range []struct{ a, b *nn.Model }{{m, before}, {v, vb}} {
		for i, l := range p.a.Layers {
			if fmt.Sprint(l.W, l.B) != fmt.Sprint(p.b.Layers[i].W, p.b.Layers[i].B) {
				t.Fatalf("%s: layer %s changed by a refused call", p.a.Name, l.Name)
			}
		}
	}
}

// BenchmarkTrainDeepID measures training throughput (images/s, Adam) of the lab's DeepID
// (55×47×3) with its 1283 classes and with the demo's 32: one epoch of 32 minibatches per
// iteration.
func BenchmarkTrainDeepID(b *testing.B) {
	for _, classes := range []int{1283, 32} {
		for _, bs := range []int{32, 64} {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("classes%d/batch%d/workers%d", classes, bs, workers), func(b *testing.B) {
					m := nn.DeepID(55, 47, classes)
					nn.RandomWeights(m, 1)
					n := 32 * bs
					x, y := toyData(m, n, 2)
					var imgs int
					var secs float64
					for i := 0; i < b.N; i++ {
						h, err := Train(m, x, y, n, Options{Epochs: 1, BatchSize: bs, Workers: workers, LR: 1e-4})
						if err != nil {
							b.Fatal(err)
						}
						imgs += h.Images
						secs += h.Time.Seconds()
					}
					b.ReportMetric(float64(imgs)/secs, "img/s")
				})
			}
		}
	}
}

// TestAugmentedTrainingDeterministic: augmentation draws come from the seed, so two runs with
// the same seed give the same weights — with any number of workers — and a different seed
// other weights.
func TestAugmentedTrainingDeterministic(t *testing.T) {
	run := func(seed int64, workers int) *nn.Model {
		m := nn.DeepID(33, 31, 4)
		nn.RandomWeights(m, 5)
		x, y := toyData(m, 48, 9)
		if _, err := Train(m, x, y, 48, Options{Epochs: 2, BatchSize: 40, LR: 3e-3, Seed: seed, Workers: workers,
			Schedule: Cosine, Augment: Augment{Flip: true, Shift: 2, Erase: 0.5}, WeightDecay: 0.1}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c, d := run(1, 2), run(1, 2), run(2, 2), run(1, 3)
	same := func(p, q *nn.Model) bool {
		for i, l := range p.Layers {
			for j, w := range l.W {
				if q.Layers[i].W[j] != w {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed and workers gave different weights")
	}
	if !same(a, d) {
		t.Fatal("same seed, 2 and 3 workers gave different weights")
	}
	if same(a, c) {
		t.Fatal("another seed gave the same weights")
	}
	m := nn.DeepID(33, 31, 4)
	nn.RandomWeights(m, 5)
	x, y := toyData(m, 8, 9)
	if _, err := Train(m, x, y, 8, Options{Epochs: 1, Augment: Augment{Shift: -1}}); err == nil {
		t.Fatal("a negative shift was accepted")
	}
}
