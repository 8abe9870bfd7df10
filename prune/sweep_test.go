package prune

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"goodnet/host"
	"goodnet/internal/simd"
	"goodnet/nn"
	"goodnet/nn/nntest"
	"goodnet/nn/ref"
)

// TestIncrementalPredictionsMatchBruteForce compares every image's prediction at every step
// of the incremental sweep with the float64 brute force: on the CPU engine and on a fake one,
// with a linear or a ReLU output, sets streamed in chunks and swept in sub-blocks of several
// sizes (a partial last one included).
func TestIncrementalPredictionsMatchBruteForce(t *testing.T) {
	defer func(c, b int) { chunk, subBlock = c, b }(chunk, subBlock)
	for _, tc := range []struct {
		name            string
		backend         nn.Backend
		reluOut         bool
		n               int
		chunk, subBlock int
	}{
		{"cpu", host.New(0), false, 300, 2048, 128},
		{"cpu-chunks", host.New(0), false, 300, 70, 16},
		{"fake", nntest.New(host.New(0), nntest.Options{}), false, 90, 40, 7},
		{"relu-output", host.New(0), true, 90, 2048, 128},
	} {
		for seed := int64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				chunk, subBlock = tc.chunk, tc.subBlock
				r := rand.New(rand.NewSource(seed + 10))
				m := smallNet(r, "deepid", 2)
				if tc.reluOut {
					m.Output.Act = nn.ReLU
				}
				sets := randomSets(t, m, r, tc.n)
				cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3], Backend: tc.backend}
				conv, cut, err := Target(m, "c2")
				if err != nil {
					t.Fatal(err)
				}
				plan, why := planIncremental(m, cut)
				if plan == nil {
					t.Fatal(why)
				}
				inc, err := newIncremental(&cfg, cut, plan)
				if err != nil {
					t.Fatal(err)
				}
				defer inc.close()
				order := ChannelOrder(inc.means())
				want := runBruteRef(t, m, conv.Name, cut.Name, sets, len(order))
				if fmt.Sprint(order) != fmt.Sprint(want.order) {
					t.Fatalf("order %v, want %v", order, want.order)
				}
				tr := newTrace(&cfg, len(order))
				calls := 0
				if err := inc.run(order, tr, func(done, total int) {
					calls++
					if total != 4*tc.n || done > total {
						t.Errorf("progress %d of %d", done, total)
					}
				}); err != nil {
					t.Fatal(err)
				}
				if calls == 0 {
					t.Errorf("no progress reported")
				}
				for k := range tr.preds {
					for i := range tr.preds[k] {
						for j, p := range tr.preds[k][i] {
							if p != want.steps[k][i][j] {
								t.Fatalf("step %d, set %d, image %d: predicted %d, brute force %d", k, i, j, p, want.steps[k][i][j])
							}
						}
					}
				}
				st := inc.stats()
				if st.Images != 4*tc.n || len(st.Active) != len(order) {
					t.Fatalf("stats %+v", st)
				}
				for k := range st.Active {
					if st.Active[k] > st.Images {
						t.Errorf("step %d: %d active of %d", k+1, st.Active[k], st.Images)
					}
				}
			})
		}
	}
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// TestArgmax checks the argmax kernel, each variant the CPU runs, against nn.Argmax: ties,
// NaNs (first or later), infinities, signed zeros, rows shorter and longer than a vector.
func TestArgmax(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, k := range []int{1, 2, 7, 17, 33, 1283} {
		n := 40
		z := make([]float32, n*k)
		for i := range z {
			z[i] = float32(r.NormFloat64() * 5)
		}
		row := func(i int) []float32 { return z[i*k : (i+1)*k] }
		copy(row(1), row(0)) // equal rows
		for j := range row(2) {
			row(2)[j] = 3 // all tied
		}
		row(3)[0] = nan
		row(4)[k-1] = nan
		row(5)[k/2] = inf
		row(6)[k/2], row(6)[k-1] = inf, inf
		for j := range row(7) {
			row(7)[j] = float32(math.Copysign(0, float64(j%2)-0.5))
		}
		for j := range row(8) {
			row(8)[j] = -inf
		}
		for i := 9; i < 20; i++ { // a tie of the top with a later value
			a, b := r.Intn(k), r.Intn(k)
			row(i)[a], row(i)[b] = 100, 100
		}
		want := nn.Argmax(z, n, k)
		ld := k + 5 // rows with more values than the k compared
		zl := make([]float32, n*ld)
		for i := 0; i < n; i++ {
			copy(zl[i*ld:], row(i))
			for j := k; j < ld; j++ {
				zl[i*ld+j] = 1e30
			}
		}
		for _, isa := range simd.Supported() {
			got := make([]int32, n)
			argmax(isa, n, z, k, k, got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s k=%d: %v, want %v", isa, k, got, want)
			}
			argmax(isa, n, zl, k, ld, got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s k=%d, rows of %d: %v, want %v", isa, k, ld, got, want)
			}
		}
	}
}

// TestDense checks the dense kernel (zeros of x skipped), each variant, against float64 on
// rows mostly zero, some all zero, with and without bias and ReLU, widths around the
// vector and tile sizes.
func TestDense(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, n := range []int{1, 3, 16, 31, 127, 128, 160, 257, 1283} {
		for _, k := range []int{1, 9, 160} {
			m := 11
			x := make([]float32, m*k)
			for i := range x {
				if r.Intn(5) == 0 && i/k != 3 {
					x[i] = float32(r.NormFloat64())
				}
			}
			w := make([]float32, k*n)
			for i := range w {
				w[i] = float32(r.NormFloat64())
			}
			b := make([]float32, n)
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			for _, isa := range simd.Supported() {
				for _, bias := range [][]float32{nil, b} {
					for _, act := range []int{actNone, actReLU} {
						y := make([]float32, m*n)
						dense(isa, m, x, k, w, n, bias, y, act, make([]int32, m*k+16), make([]float32, m*k+16), make([]int32, m+1))
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								s, a := 0.0, 0.0
								if bias != nil {
									s, a = float64(b[j]), math.Abs(float64(b[j]))
								}
								for q := 0; q < k; q++ {
									v := float64(x[i*k+q]) * float64(w[q*n+j])
									s += v
									a += math.Abs(v)
								}
								if act == actReLU && s < 0 {
									s = 0
								}
								if got := float64(y[i*n+j]); math.Abs(got-s) > 1e-6*(a+1e-30)+1e-30 {
									t.Fatalf("%s n=%d k=%d bias %v act %d: y[%d,%d] = %g, want %g", isa, n, k, bias != nil, act, i, j, got, s)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestMasks checks the per-image channel masks against a scan of the features.
func TestMasks(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, c := range []int{3, 64, 70} {
		n, S := 37, 5
		p := make([]float32, n*S*c)
		for i := range p {
			if r.Intn(4) == 0 {
				p[i] = float32(r.Float64())
			}
		}
		for i := 0; i < n; i += 3 { // some images with a channel all zero
			for s := 0; s < S; s++ {
				p[(i*S+s)*c+i%c] = 0
			}
		}
		words := (c + 63) / 64
		mask := make([]uint64, n*words)
		channelMasks(p, n, S, c, mask)
		for ch := 0; ch < c; ch++ {
			got, want := activeByMask(mask, n, words, ch, make([]int32, n)), activeImages(p, n, S, c, ch)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("C=%d channel %d: %v, want %v", c, ch, got, want)
			}
		}
	}
}

// TestCapabilities runs the sweep on a fake engine with and without the capabilities it may
// ask for: the brute-force sweep takes the channel means from an nn.ChannelSummer net, and
// either way the results are the float64 brute force's.
func TestCapabilities(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	m := smallNet(r, "deepid", 2)
	sets := randomSets(t, m, r, 40)
	want := runBruteRef(t, m, "c2", "p2", sets, 12)
	for _, tc := range []struct {
		method Method
		opts   nntest.Options
	}{
		{Incremental, nntest.Options{}},
		{Incremental, nntest.Options{Sums: true}},
		{Brute, nntest.Options{}},
		{Brute, nntest.Options{Sums: true, Pair: true}},
	} {
		b := nntest.New(host.New(0), tc.opts)
		cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
			Backend: b, Method: tc.method, Thresholds: []float64{2, 5, 10, 30}}
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainst(t, res, want, cfg)
		calls := nntest.CallsOf(b)
		// the incremental sweep needs the features on the host anyway: no sums asked
		if got := calls.Sums.Load() > 0; got != (tc.opts.Sums && tc.method == Brute) {
			t.Errorf("%s %+v: engine channel sums used: %v", tc.method, tc.opts, got)
		}
	}
}

func TestSweepISAs(t *testing.T) {
	if got, want := fmt.Sprint(kernelISAs()), fmt.Sprint(simd.All); got != want {
		t.Fatalf("sweep.h's variants %v, simd's %v", got, want)
	}
}

// GOODNET_CPU_KERNEL picks the sweep's kernel variant as it picks the engine's: with each
// variant this CPU runs named, the dispatch reaches that variant (and no other), and the sweep
// gives the float64 brute force's results.
func TestCPUKernelReachesSweep(t *testing.T) {
	r := rand.New(rand.NewSource(31))
	m := smallNet(r, "deepid", 2)
	sets := randomSets(t, m, r, 50)
	want := runBruteRef(t, m, "c2", "p2", sets, 12)
	for _, isa := range simd.Supported() {
		t.Setenv(simd.Env, isa.String())
		var before [3]uint64
		for _, i := range simd.All {
			before[i] = sweepCalls(i)
		}
		cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
			Backend: host.New(0), Thresholds: []float64{2, 5, 10, 30}}
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainst(t, res, want, cfg)
		if !strings.Contains(res.Device, isa.String()) {
			t.Errorf("%s=%s: the engine runs %q", simd.Env, isa, res.Device)
		}
		for _, i := range simd.All {
			if n := sweepCalls(i) - before[i]; (n > 0) != (i == isa) {
				t.Errorf("%s=%s: %d calls of the %s sweep kernels", simd.Env, isa, n, i)
			}
		}
	}
}

// extremeNet is smallNet pushed to the edges of float32, as kind says:
//   - subnormal: a third of the weights of the pruned conv, the readers and the output layer
//     are subnormal (below 2⁻¹²⁶), and two output columns are subnormal throughout;
//   - huge, tiny: every bias scaled by s (1e25, 1e-30), as the images will be: the ReLU net
//     then computes s times its logits, activations of 1e25 or 1e-30;
//   - spread: a few channels of the pruned conv 1e6 times larger than the rest (pruned last:
//     their means are the largest), so that pruning them removes nearly all of the readers'
//     pre-activations;
//   - heavy: the readers' weights on a few channels of the cut 1e6 times larger than the
//     rest, so that pruning one of those (in the middle of the sweep) removes most of a
//     reader's pre-activation while others remain.
func extremeNet(r *rand.Rand, kind string) (m *nn.Model, scale float32) {
	m = smallNet(r, "deepid", 2)
	scale = 1
	sub := func(v []float32) {
		for i := range v {
			if r.Intn(3) == 0 {
				v[i] *= 1e-39
			}
		}
	}
	switch kind {
	case "subnormal":
		for _, n := range []string{"c2", "fc1", "c3", "out"} {
			sub(m.Layer(n).W)
		}
		out := m.Layer("out")
		for _, col := range []int{1, 4} {
			for i := col; i < len(out.W); i += out.Units {
				out.W[i] *= 1e-40
			}
		}
	case "huge", "tiny":
		scale = 1e25
		if kind == "tiny" {
			scale = 1e-30
		}
		for _, l := range m.Layers {
			for i := range l.B {
				l.B[i] *= scale
			}
		}
	case "spread":
		c2 := m.Layer("c2")
		for _, ch := range []int{0, 5, 7} {
			for i := ch; i < len(c2.W); i += c2.Filters {
				c2.W[i] *= 1e6
			}
			c2.B[ch] *= 1e6
		}
	case "heavy":
		fc1, c3 := m.Layer("fc1"), m.Layer("c3")
		C := m.Layer("p2").OutShape[2]
		for _, ch := range []int{1, 6, 9} {
			for row := ch; row < fc1.InShape[0]; row += C { // flatten: (s, c) rows
				for u := 0; u < fc1.Units; u++ {
					fc1.W[row*fc1.Units+u] *= 1e6
				}
			}
			for i := range c3.W { // (kh, kw, c, f)
				if (i/c3.Filters)%C == ch {
					c3.W[i] *= 1e6
				}
			}
		}
	}
	return m, scale
}

// TestSweepExtremeNets: on nets with subnormal weights, huge or tiny activations, or channels
// of very different sizes, every step of the incremental sweep (each kernel variant) predicts
// what the float64 brute force does — the certificate stays sound at the edges of float32.
func TestSweepExtremeNets(t *testing.T) {
	for _, kind := range []string{"subnormal", "huge", "tiny", "spread", "heavy"} {
		for seed := int64(1); seed <= 3; seed++ {
			r := rand.New(rand.NewSource(seed + 40))
			m, scale := extremeNet(r, kind)
			sets := randomSets(t, m, r, 60)
			for _, s := range sets {
				for i := range s.X {
					s.X[i] *= scale
				}
			}
			if scale != 1 { // the labels of the scaled images: B's own, where they were
				for i := 0; i < 4; i += 2 {
					cls, _, err := ref.Predict(m, ref.Widen(sets[i].X), sets[i].N)
					if err != nil {
						t.Fatal(err)
					}
					for j := range cls {
						if r.Intn(5) != 0 {
							sets[i].Y[j] = cls[j]
						}
					}
				}
			}
			want := runBruteRef(t, m, "c2", "p2", sets, 12)
			for _, isa := range simd.Supported() {
				t.Run(fmt.Sprintf("%s/%d/%s", kind, seed, isa), func(t *testing.T) {
					t.Setenv(simd.Env, isa.String())
					cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
						Backend: host.New(0), Thresholds: []float64{2, 5, 10, 30}}
					res, err := Run(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if res.Method != Incremental.String() {
						t.Fatalf("method %s", res.Method)
					}
					checkAgainst(t, res, want, cfg)
					// a channel outweighing the rest is rebased once it is pruned
					if (kind == "spread" || kind == "heavy") && res.Stats.Rebased == 0 {
						t.Errorf("no pre-activations recomputed")
					}
				})
			}
		}
	}
}

// memSource streams a set from memory (an nn.Source), counting the images read; failAt ≥ 0
// makes the read of a piece holding that image fail.
type memSource struct {
	x      []float32
	per    int
	read   int
	failAt int
}

func (m *memSource) Read(n0, n int, dst []float32) error {
	if m.failAt >= n0 && m.failAt < n0+n {
		return fmt.Errorf("set: image %d is unreadable", m.failAt)
	}
	copy(dst, m.x[n0*m.per:(n0+n)*m.per])
	m.read += n
	return nil
}

// streamed is s as a streamed set (X nil), and its source.
func streamed(s *nn.Set) (*nn.Set, *memSource) {
	src := &memSource{x: s.X, per: s.H * s.W * s.C, failAt: -1}
	return &nn.Set{Path: s.Path, Y: s.Y, N: s.N, H: s.H, W: s.W, C: s.C, Src: src}, src
}

// TestStreamedSetsSameResults runs every method on sets streamed from a source (X nil, as
// goodnet prune's) and on the same sets in memory: the same steps, order and saved B'. The
// incremental sweep reads each image once and never holds a streamed set; the others load
// it. A source that fails ends the run with its error.
func TestStreamedSetsSameResults(t *testing.T) {
	defer func(c int) { chunk = c }(chunk)
	chunk = 16 // several chunks per set, a partial last one
	for _, tc := range []struct {
		head   string
		method Method
	}{{"deepid", Incremental}, {"pool", HeadOnly}, {"skip", Brute}} {
		t.Run(tc.head, func(t *testing.T) {
			r := rand.New(rand.NewSource(5))
			m := smallNet(r, tc.head, 2)
			sets := randomSets(t, m, r, 41)
			cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
				Backend: host.New(0), Thresholds: []float64{2, 5, 10, 30}}
			want, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var srcs [4]*memSource
			sc := cfg
			sc.CleanValid, srcs[0] = streamed(sets[0])
			sc.BadValid, srcs[1] = streamed(sets[1])
			sc.CleanTest, srcs[2] = streamed(sets[2])
			sc.BadTest, srcs[3] = streamed(sets[3])
			got, err := Run(sc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tc.method.String() || want.Method != got.Method {
				t.Fatalf("methods %s and %s, want %s", want.Method, got.Method, tc.method)
			}
			if fmt.Sprint(got.Order) != fmt.Sprint(want.Order) || fmt.Sprint(got.Steps) != fmt.Sprint(want.Steps) ||
				fmt.Sprint(got.Unreached) != fmt.Sprint(want.Unreached) || len(got.Saved) != len(want.Saved) {
				t.Fatalf("streamed: order %v steps %v\nin memory: order %v steps %v", got.Order, got.Steps, want.Order, want.Steps)
			}
			for i := range want.Saved {
				g, w := got.Saved[i], want.Saved[i]
				if g.Step != w.Step || fmt.Sprint(g.Metrics, g.GoodNet) != fmt.Sprint(w.Metrics, w.GoodNet) ||
					fmt.Sprint(g.Model.Layer("c2").W) != fmt.Sprint(w.Model.Layer("c2").W) {
					t.Errorf("saved %d differs", i)
				}
			}
			for i, s := range []*nn.Set{sc.CleanValid, sc.BadValid, sc.CleanTest, sc.BadTest} {
				if tc.method == Incremental && (s.X != nil || srcs[i].read != s.N) {
					t.Errorf("set %d: X held %v, %d images read of %d", i, s.X != nil, srcs[i].read, s.N)
				}
				if tc.method != Incremental && s.X == nil {
					t.Errorf("set %d: not loaded for the %s sweep", i, tc.method)
				}
			}
			for i := range 4 {
				fc := cfg
				var ss [4]*nn.Set
				for j := range ss {
					ss[j], _ = streamed(sets[j])
				}
				ss[i].Src.(*memSource).failAt = 30
				fc.CleanValid, fc.BadValid, fc.CleanTest, fc.BadTest = ss[0], ss[1], ss[2], ss[3]
				if _, err := Run(fc); err == nil || !strings.Contains(err.Error(), "image 30 is unreadable") {
					t.Errorf("set %d failing: %v", i, err)
				}
			}
		})
	}
}
