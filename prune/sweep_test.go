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
// of the incremental sweep with the float64 brute force: the output layer fused here on the
// engine's GEMM (the CPU's, or a fake engine's plain one) or the engine's logits (an engine
// that is no nn.Gemmer), a linear or a ReLU output (never fused), sets larger than the output
// chunk.
func TestIncrementalPredictionsMatchBruteForce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend nn.Backend
		reluOut bool
		n       int
	}{
		{"fused", host.New(0), false, 300},
		{"fused-fake", nntest.New(host.New(0), nntest.Options{Gemm: true}), false, 90},
		{"engine", nntest.New(host.New(0), nntest.Options{}), false, 90},
		{"relu-output", host.New(0), true, 90},
	} {
		for seed := int64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
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
				if want := strings.HasPrefix(tc.name, "fused"); (inc.gemm != nil) != want {
					t.Fatalf("fused %v, want %v", inc.gemm != nil, want)
				}
				order := ChannelOrder(inc.means())
				want := runBruteRef(t, m, conv.Name, cut.Name, sets, len(order))
				if fmt.Sprint(order) != fmt.Sprint(want.order) {
					t.Fatalf("order %v, want %v", order, want.order)
				}
				check := func(k int, p preds) {
					for i := range p {
						for j := range p[i] {
							if p[i][j] != want.steps[k][i][j] {
								t.Fatalf("step %d, set %d, image %d: predicted %d, brute force %d", k, i, j, p[i][j], want.steps[k][i][j])
							}
						}
					}
				}
				check(0, inc.predictions())
				for k, ch := range order {
					p, err := inc.prune(ch)
					if err != nil {
						t.Fatal(err)
					}
					check(k+1, p)
				}
				if fake, ok := tc.backend.(interface {
					Gemm(int, int, int, []float32, []float32, []float32, bool)
				}); ok && tc.name == "fused-fake" {
					if nntest.CallsOf(tc.backend).Gemm.Load() == 0 {
						t.Fatalf("the fused head did not use the engine's GEMM (%T)", fake)
					}
				}
				st := inc.stats()
				if st.Images != 4*tc.n || len(st.Active) != len(order) {
					t.Fatalf("stats %+v", st)
				}
				skipped := 0
				for k := range st.Active {
					if st.Refreshed[k] > st.Active[k] && st.Refreshed[k] != st.Images {
						t.Errorf("step %d: %d recomputed of %d active", k+1, st.Refreshed[k], st.Active[k])
					}
					skipped += st.Active[k] - st.Refreshed[k]
				}
				t.Logf("%d of %d active images kept their prediction by the certificate", skipped, sum(st.Active))
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

// TestTop checks the argmax and slack kernel, each variant the CPU runs, against float64 Go: the first index of the
// largest logit, and a slack never above the exact one (ε = 1e-5·(|z_t| + |z_j|) + 1e-6),
// and not below the exact one with ε 20 % wider.
func TestTop(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, k := range []int{1, 2, 17, 1283} {
		n := 50
		z := make([]float32, n*k)
		for i := range z {
			z[i] = float32(r.NormFloat64() * 5)
		}
		// ties with the top, equal rows, large values
		copy(z[k:2*k], z[:k])
		if k > 2 {
			z[2*k+1] = 9
			z[2*k+2] = 9
			for j := 3 * k; j < 4*k; j++ {
				z[j] = 1e6 + float32(j%7)
			}
			// margins about ε: the numerator cancels
			for row := 4; row < 30; row++ {
				base := float32(math.Pow(10, float64(row%8)-2))
				for j := row * k; j < (row+1)*k; j++ {
					z[j] = base * float32(1+3e-5*r.Float64())
				}
			}
		}
		bias := make([]float32, k)
		norm := make([]float32, k)
		for j := range bias {
			bias[j] = float32(r.NormFloat64())
			norm[j] = float32(0.5 + r.Float64())
		}
		for _, isa := range simd.Supported() {
			for _, withBias := range []bool{false, true} {
				zz := append([]float32(nil), z...)
				idx := make([]int32, n)
				for i := range idx {
					idx[i] = int32(n - 1 - i) // scattered destinations
				}
				preds := make([]int32, n)
				slack := make([]float64, n)
				b := bias
				if !withBias {
					b = nil
				}
				top(isa, idx, zz, k, b, norm, preds, slack)
				for row := 0; row < n; row++ {
					v := append([]float32(nil), z[row*k:(row+1)*k]...)
					for j := range v {
						if withBias {
							v[j] += bias[j]
						}
					}
					best := nn.Argmax(v, 1, k)[0]
					s, s2 := math.Inf(1), math.Inf(1)
					for j := range v {
						if j == int(best) {
							continue
						}
						zt, zj := float64(v[best]), float64(v[j])
						a := math.Abs(zt) + math.Abs(zj)
						den := float64(norm[best]) + float64(norm[j])
						s = math.Min(s, (zt-zj-(1e-5*a+1e-6))/den)
						s2 = math.Min(s2, (zt-zj-(1.2e-5*a+1.2e-6))/den)
					}
					i := idx[row]
					if preds[i] != best {
						t.Fatalf("%s k=%d row %d: argmax %d, want %d", isa, k, row, preds[i], best)
					}
					got := slack[i]
					if k == 1 {
						if !(got > 1e30) {
							t.Errorf("one class: slack %g, want huge", got)
						}
						continue
					}
					if got > s || got < s2 {
						t.Errorf("%s k=%d row %d: slack %g, exact %g (with ε 20 %% wider: %g)", isa, k, row, got, s, s2)
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
			got, want := activeByMask(mask, n, words, ch), activeImages(p, n, S, c, ch)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("C=%d channel %d: %v, want %v", c, ch, got, want)
			}
		}
	}
}

// TestCapabilities runs the sweep on a fake engine with and without the capabilities it may
// ask for: the fused head uses an nn.Gemmer engine's GEMM, the brute-force sweep takes the
// channel means from an nn.ChannelSummer net, and either way the results are the float64
// brute force's.
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
		{Incremental, nntest.Options{Gemm: true, Sums: true}},
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
		if got := calls.Gemm.Load() > 0; got != (tc.opts.Gemm && tc.method == Incremental) {
			t.Errorf("%s %+v: engine GEMM used: %v", tc.method, tc.opts, got)
		}
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
