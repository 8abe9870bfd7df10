package train

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"goodnet/nn"
	"goodnet/nn/ref"
)

// forEachISA runs f once per kernel variant this CPU supports.
func forEachISA(t *testing.T, f func(t *testing.T)) {
	for _, i := range supportedISAs() {
		t.Run(i.String(), func(t *testing.T) {
			old := kernelISA
			kernelISA = func() isa { return i }
			defer func() { kernelISA = old }()
			f(t)
		})
	}
}

// asymModel exercises "same" padding whose extra row and column come after (even kernels),
// strided "same" convolutions, a linear conv feeding a pool (the pool routes without a ReLU),
// a ReLU conv read by a pool and by another layer (its ReLU gradient is not left to the pool),
// overlapping pools, and an Add of three branches, one of which passes a pooled map through
// a Flatten that another Dense also reads.
func asymModel(t testing.TB) *nn.Model {
	conv := func(name, in string, f, kh, kw, sh, sw int, pad nn.Padding, act nn.Activation, bias bool) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.Conv2D, InputNames: []string{in}, Size: [2]int{kh, kw},
			Strides: [2]int{sh, sw}, Padding: pad, Filters: f, Act: act, UseBias: bias}
	}
	layers := []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{10, 13, 3}},
		conv("a", "in", 4, 2, 4, 1, 1, nn.Same, nn.ReLU, true),  // pads (0,1) rows, (1,2) columns
		conv("b", "a", 5, 4, 3, 3, 2, nn.Same, nn.Linear, true), // strided, same
		{Name: "pb", Kind: nn.MaxPool2D, InputNames: []string{"b"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1}},
		conv("c", "a", 3, 3, 3, 1, 1, nn.Valid, nn.ReLU, false),
		{Name: "pc", Kind: nn.MaxPool2D, InputNames: []string{"c"}, Size: [2]int{3, 2}, Strides: [2]int{2, 2}, Padding: nn.Same},
		{Name: "rc", Kind: nn.Act, InputNames: []string{"c"}, Act: nn.ReLU}, // c's second reader
		conv("d", "rc", 2, 2, 2, 2, 2, nn.Valid, nn.ReLU, true),
		{Name: "fb", Kind: nn.Flatten, InputNames: []string{"pb"}},
		{Name: "fc", Kind: nn.Flatten, InputNames: []string{"pc"}},
		{Name: "fd", Kind: nn.Flatten, InputNames: []string{"d"}},
		{Name: "db", Kind: nn.Dense, InputNames: []string{"fb"}, Units: 6, UseBias: true, Act: nn.ReLU},
		{Name: "db2", Kind: nn.Dense, InputNames: []string{"fb"}, Units: 6},
		{Name: "dc", Kind: nn.Dense, InputNames: []string{"fc"}, Units: 6, UseBias: true},
		{Name: "dd", Kind: nn.Dense, InputNames: []string{"fd"}, Units: 6, UseBias: true},
		{Name: "sum", Kind: nn.Add, InputNames: []string{"db", "dc", "dd", "db2"}},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"sum"}, Units: 5, UseBias: true, Act: nn.Softmax},
	}
	m, err := nn.New("asym", layers, "in", "out")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pooledModel: ReLU convs each read only by a max pool whose windows tile it (run fused),
// with rows and columns past the last window, "same" padding, a 3×1 window and a stride-2
// conv under a pool.
func pooledModel(t testing.TB) *nn.Model {
	layers := []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{13, 12, 2}},
		{Name: "a", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: nn.Same, Filters: 5, Act: nn.ReLU, UseBias: true},
		{Name: "pa", Kind: nn.MaxPool2D, InputNames: []string{"a"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}}, // 13×12 → 6×6: row 12 unpooled
		{Name: "b", Kind: nn.Conv2D, InputNames: []string{"pa"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1}, Filters: 6, Act: nn.ReLU, UseBias: true},
		{Name: "pb", Kind: nn.MaxPool2D, InputNames: []string{"b"}, Size: [2]int{3, 1}, Strides: [2]int{3, 1}}, // 5×5 → 1×5
		{Name: "c", Kind: nn.Conv2D, InputNames: []string{"pa"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, Filters: 3, Act: nn.ReLU},
		{Name: "pc", Kind: nn.MaxPool2D, InputNames: []string{"c"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}}, // 3×3 → 1×1
		{Name: "fb", Kind: nn.Flatten, InputNames: []string{"pb"}},
		{Name: "fc", Kind: nn.Flatten, InputNames: []string{"pc"}},
		{Name: "db", Kind: nn.Dense, InputNames: []string{"fb"}, Units: 8, UseBias: true},
		{Name: "dc", Kind: nn.Dense, InputNames: []string{"fc"}, Units: 8, UseBias: true},
		{Name: "sum", Kind: nn.Add, InputNames: []string{"db", "dc"}},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"sum"}, Units: 4, UseBias: true, Act: nn.Softmax},
	}
	m, err := nn.New("pooled", layers, "in", "out")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// vectorModel: a flat input, Dense layers only, a Dropout, Add of a layer with itself, and a
// softmax Activation as the output layer.
func vectorModel(t testing.TB) *nn.Model {
	layers := []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{23}},
		{Name: "h1", Kind: nn.Dense, InputNames: []string{"in"}, Units: 19, UseBias: true, Act: nn.ReLU},
		{Name: "drop", Kind: nn.Dropout, InputNames: []string{"h1"}, Rate: 0.3},
		{Name: "h2", Kind: nn.Dense, InputNames: []string{"drop"}, Units: 17, UseBias: true},
		{Name: "twice", Kind: nn.Add, InputNames: []string{"h2", "h2"}},
		{Name: "r", Kind: nn.Act, InputNames: []string{"twice"}, Act: nn.ReLU},
		{Name: "logits", Kind: nn.Dense, InputNames: []string{"r"}, Units: 7, UseBias: true},
		{Name: "out", Kind: nn.Act, InputNames: []string{"logits"}, Act: nn.Softmax},
	}
	m, err := nn.New("vector", layers, "in", "out")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refLoss is the mean softmax cross-entropy of m's logits on (x, y) in float64 (nn/ref).
func refLoss(t testing.TB, m *nn.Model, x []float64, y []int32, n int) float64 {
	return refLossFed(t, m, map[string][]float64{m.Input.Name: x}, y, n)
}

// refLossFed is refLoss from the given layers' outputs.
func refLossFed(t testing.TB, m *nn.Model, feeds map[string][]float64, y []int32, n int) float64 {
	out, err := ref.Run(m, feeds, n, m.Output.Name)
	if err != nil {
		t.Fatal(err)
	}
	k := m.NumClasses()
	s := 0.0
	for i := 0; i < n; i++ {
		row := out[0][i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		z := 0.0
		for _, v := range row {
			z += math.Exp(v - mx)
		}
		s += math.Log(z) + mx - row[y[i]]
	}
	return s / float64(n)
}

// engineGrad is the engine's loss and gradient (plan.params' layout) of the mean loss over the
// n samples, computed in blocks of at most 16 on the given number of workers.
func engineGrad(t testing.TB, m *nn.Model, x []float32, y []int32, n, workers int) (float64, []float32, *plan) {
	ar := &arena{}
	t.Cleanup(ar.free)
	p, err := compile(m, ar, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newStepper(p, n, workers)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	loss, _ := st.run(x, y, idx, nil, 1)
	g := make([]float32, len(p.params))
	for _, gb := range st.grads { // in block order, as Adam adds them
		for i, v := range gb {
			g[i] += v
		}
	}
	return loss, g, p
}

// TestGradients compares the engine's gradient with central differences of the float64
// reference loss, on nets that cover every layer kind and option, over several blocks (odd
// batch sizes) and workers, for each kernel variant: every weight of small tensors, 40 of
// each larger one.
func TestGradients(t *testing.T) {
	models := []struct {
		m            *nn.Model
		n, perTensor int
	}{
		{oddModel(t), 21, 40},
		{asymModel(t), 19, 40},
		{pooledModel(t), 23, 40},
		{vectorModel(t), 35, 40},
		{nn.DeepID(33, 31, 5), 9, 12},
	}
	for mi, c := range models {
		m := c.m
		t.Run(m.Name, func(t *testing.T) {
			nn.RandomWeights(m, int64(100+mi))
			x, y := toyData(m, c.n, int64(200+mi))
			fd := finiteDifferences(t, m, x, y, c.n, c.perTensor, rand.New(rand.NewSource(int64(mi))))
			forEachISA(t, func(t *testing.T) {
				for _, workers := range []int{1, 2} {
					t.Run(fmt.Sprintf("workers%d", workers), func(t *testing.T) {
						checkGradients(t, m, x, y, c.n, workers, fd)
					})
				}
			})
		})
	}
}

// fdCheck is one weight's central difference: tensor (layer name + "/kernel" or "/bias"),
// index, value.
type fdCheck struct {
	tensor string
	i      int
	fd     float64
}

func tensorsOf(l *nn.Layer) map[string][]float32 {
	ts := map[string][]float32{l.Name + "/kernel": l.W}
	if l.B != nil {
		ts[l.Name+"/bias"] = l.B
	}
	return ts
}

func finiteDifferences(t *testing.T, m *nn.Model, x []float32, y []int32, n, perTensor int, r *rand.Rand) []fdCheck {
	var names []string
	for _, l := range m.Layers[1:] {
		names = append(names, l.Name)
	}
	acts, err := ref.Run(m, map[string][]float64{m.Input.Name: ref.Widen(x)}, n, names...)
	if err != nil {
		t.Fatal(err)
	}
	var out []fdCheck
	for _, l := range m.Layers {
		if !l.HasWeights() {
			continue
		}
		// feed every layer that l does not affect: only l and what follows it are recomputed
		after := map[*nn.Layer]bool{l: true}
		for _, u := range m.Layers {
			for _, in := range u.Inputs {
				if after[in] {
					after[u] = true
				}
			}
		}
		feeds := map[string][]float64{m.Input.Name: ref.Widen(x)}
		for i, name := range names {
			if !after[m.Layer(name)] {
				feeds[name] = acts[i]
			}
		}
		for _, name := range []string{l.Name + "/kernel", l.Name + "/bias"} {
			w := tensorsOf(l)[name]
			if w == nil {
				continue
			}
			idx := r.Perm(len(w))
			if len(idx) > perTensor {
				idx = idx[:perTensor]
			}
			for _, i := range idx {
				// a tiny step: larger ones cross ReLU and max-pool kinks; the difference of the
				// float32 weights is exact in float64, the losses are float64
				old := w[i]
				eps := float32(1e-7) * max(1, float32(math.Abs(float64(old))))
				w[i] = old + eps
				hi := float64(w[i])
				lp := refLossFed(t, m, feeds, y, n)
				w[i] = old - eps
				lo := float64(w[i])
				lm := refLossFed(t, m, feeds, y, n)
				w[i] = old
				out = append(out, fdCheck{name, i, (lp - lm) / (hi - lo)})
			}
		}
	}
	return out
}

func checkGradients(t *testing.T, m *nn.Model, x []float32, y []int32, n, workers int, fds []fdCheck) {
	loss, g, p := engineGrad(t, m, x, y, n, workers)
	if want := refLoss(t, m, ref.Widen(x), y, n); math.Abs(loss-want) > 1e-5*math.Abs(want) {
		t.Fatalf("loss: engine %g, ref %g", loss, want)
	}
	grads := map[string][]float32{}
	for _, nd := range p.nodes {
		if nd.l.HasWeights() {
			grads[nd.l.Name+"/kernel"] = g[nd.wOff : nd.wOff+len(nd.l.W)]
			if nd.bOff >= 0 {
				grads[nd.l.Name+"/bias"] = g[nd.bOff : nd.bOff+len(nd.l.B)]
			}
		}
	}
	scale := map[string]float64{}
	for name, gs := range grads {
		for _, v := range gs {
			scale[name] = math.Max(scale[name], math.Abs(float64(v)))
		}
	}
	bad := 0
	for _, c := range fds {
		got := float64(grads[c.tensor][c.i])
		if d := math.Abs(c.fd - got); d > 2e-4*scale[c.tensor]+2e-3*math.Abs(c.fd)+1e-7 {
			bad++
			if bad <= 10 {
				t.Errorf("%s[%d]: engine gradient %.7g, finite difference %.7g (largest |gradient| of the tensor %.3g)",
					c.tensor, c.i, got, c.fd, scale[c.tensor])
			}
		}
	}
	if len(fds) < 50 {
		t.Fatalf("only %d gradients checked", len(fds))
	}
	if bad > 0 {
		t.Errorf("%d of %d gradients differ", bad, len(fds))
	}
}

// TestGradientsAcrossWorkers: which worker runs which block changes nothing, bit for bit.
func TestGradientsAcrossWorkers(t *testing.T) {
	m := nn.DeepID(35, 31, 9)
	nn.RandomWeights(m, 3)
	x, y := toyData(m, 50, 4)
	l1, g1, _ := engineGrad(t, m, x, y, 50, 1)
	for _, workers := range []int{2, 3, 4} {
		l, g, _ := engineGrad(t, m, x, y, 50, workers)
		if l != l1 {
			t.Fatalf("loss %g with 1 worker, %g with %d", l1, l, workers)
		}
		for i := range g1 {
			if g1[i] != g[i] {
				t.Fatalf("parameter %d: gradient %g with 1 worker, %g with %d", i, g1[i], g[i], workers)
			}
		}
	}
}

// TestAdam checks the Adam kernel against a float64 implementation of its definition over
// several steps: the blocks' gradients summed, coupled L2, decoupled weight decay, fixed
// parameters left alone; in one part and in three parallel ones.
func TestAdam(t *testing.T) {
	old := adamPart
	defer func() { adamPart = old }()
	forEachISA(t, func(t *testing.T) {
		for _, part := range []int{1 << 21, 333} {
			adamPart = part
			checkAdam(t)
		}
	})
}

func checkAdam(t *testing.T) {
	const n, blocks, steps = 1000, 4, 5
	r := rand.New(rand.NewSource(1))
	ar := &arena{}
	defer ar.free()
	p := &plan{isa: kernelISA(), ar: ar, params: ar.floats(n), fix: ar.bytes(n)}
	w64 := make([]float64, n)
	for i := range p.params {
		p.params[i] = float32(r.NormFloat64())
		w64[i] = float64(p.params[i])
		if r.Intn(7) == 0 {
			p.fix[i] = 1
		}
	}
	grads := make([][]float32, blocks)
	for i := range grads {
		grads[i] = ar.floats(n)
	}
	a := newAdam(p, grads, 3)
	if want := min(3, max(1, n/adamPart)); len(a.parts) != want {
		t.Fatalf("%d parts of %d parameters at most %d each, want %d", len(a.parts), n, adamPart, want)
	}
	m64, v64 := make([]float64, n), make([]float64, n)
	const l2, wd = 0.01, 0.5
	for s := 1; s <= steps; s++ {
		lr := 1e-2 / float64(s)
		g := make([]float64, n)
		for _, gb := range grads {
			for i := range gb {
				gb[i] = float32(r.NormFloat64())
				g[i] += float64(gb[i])
			}
		}
		a.step(lr, l2, wd)
		for i := range g {
			if p.fix[i] != 0 {
				continue
			}
			gi := g[i] + l2*w64[i]
			m64[i] = 0.9*m64[i] + 0.1*gi
			v64[i] = 0.999*v64[i] + 0.001*gi*gi
			mh, vh := m64[i]/(1-math.Pow(0.9, float64(s))), v64[i]/(1-math.Pow(0.999, float64(s)))
			w64[i] = (1-lr*wd)*w64[i] - lr*mh/(math.Sqrt(vh)+1e-8)
		}
		for i := range w64 {
			if p.fix[i] != 0 && float64(p.params[i]) != w64[i] {
				t.Fatalf("step %d: fixed parameter %d moved", s, i)
			}
			if d := math.Abs(float64(p.params[i]) - w64[i]); d > 1e-5 {
				t.Fatalf("step %d: parameter %d: %g, float64 reference %g", s, i, p.params[i], w64[i])
			}
		}
	}
}

// TestPlanFusion pins which layers the plan fuses or gates: a ReLU conv read only by a pool
// whose windows tile it runs fused with it; with overlapping windows the pool applies the
// ReLU's gradient; a conv with a second reader does both itself.
func TestPlanFusion(t *testing.T) {
	ar := &arena{}
	defer ar.free()
	cases := []struct {
		m            *nn.Model
		fused, gated []string
	}{
		{pooledModel(t), []string{"a", "b", "c"}, nil},
		{nn.DeepID(33, 31, 5), []string{"conv_1", "conv_2", "conv_3"}, nil},
		{oddModel(t), nil, []string{"c3"}},
		{asymModel(t), nil, nil},
	}
	for _, c := range cases {
		nn.RandomWeights(c.m, 1)
		p, err := compile(c.m, ar, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		var fused, gated []string
		for _, n := range p.nodes {
			if n.fusedPool >= 0 {
				fused = append(fused, n.l.Name)
				if q := p.nodes[n.fusedPool]; q.fusedConv < 0 || p.nodes[q.fusedConv] != n {
					t.Errorf("%s: %s and %s are not linked both ways", c.m.Name, n.l.Name, q.l.Name)
				}
			}
			if n.gated {
				gated = append(gated, n.l.Name)
			}
		}
		if fmt.Sprint(fused) != fmt.Sprint(c.fused) || fmt.Sprint(gated) != fmt.Sprint(c.gated) {
			t.Errorf("%s: fused %v, gated %v; want %v, %v", c.m.Name, fused, gated, c.fused, c.gated)
		}
	}
}

// TestLoss checks the softmax cross-entropy kernel against float64 on random logits of every
// size of range, confident ones (far apart: no overflow, no cancellation) and a partial block
// whose other lanes hold NaN (their gradient must be exactly 0).
func TestLoss(t *testing.T) {
	forEachISA(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		const k, batch = 37, 50
		for _, spread := range []float64{0.1, 3, 30, 300, 3000} {
			for _, nvalid := range []int{16, 11} {
				z := make([]float32, k*lanes)
				labels := make([]int32, nvalid)
				for i := range z {
					z[i] = float32(spread * r.NormFloat64())
					if i%lanes >= nvalid {
						z[i] = float32(math.NaN())
					}
				}
				for v := range labels {
					labels[v] = int32(r.Intn(k))
				}
				dz, loss, argmax, total := xentValues(kernelISA(), z, k, labels, batch)
				sum := 0.0
				for v := 0; v < lanes; v++ {
					if v >= nvalid {
						for o := 0; o < k; o++ {
							if dz[o*lanes+v] != 0 {
								t.Fatalf("lane %d (unused): gradient %g", v, dz[o*lanes+v])
							}
						}
						continue
					}
					mx, am := math.Inf(-1), 0
					for o := 0; o < k; o++ {
						if zv := float64(z[o*lanes+v]); zv > mx {
							mx, am = zv, o
						}
					}
					s := 0.0
					for o := 0; o < k; o++ {
						s += math.Exp(float64(z[o*lanes+v]) - mx)
					}
					want := mx + math.Log(s) - float64(z[int(labels[v])*lanes+v])
					if math.Abs(loss[v]-want) > 1e-6*math.Max(1, want) || argmax[v] != int32(am) {
						t.Fatalf("spread %g lane %d: loss %g argmax %d, want %g, %d", spread, v, loss[v], argmax[v], want, am)
					}
					sum += loss[v]
					for o := 0; o < k; o++ {
						p := math.Exp(float64(z[o*lanes+v])-mx) / s
						if o == int(labels[v]) {
							p--
						}
						g := p / batch
						if d := math.Abs(float64(dz[o*lanes+v]) - g); d > 1e-6*math.Abs(g)+1e-9/batch {
							t.Fatalf("spread %g lane %d logit %d: gradient %g, want %g", spread, v, o, dz[o*lanes+v], g)
						}
					}
				}
				if math.Abs(total-sum) > 1e-9*math.Max(1, sum) {
					t.Fatalf("total %g, lanes sum to %g", total, sum)
				}
			}
		}
	})
}
