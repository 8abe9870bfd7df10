//go:build !cuda

package finetune

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
)

func loadReal(t *testing.T) (b, bp *nn.Model, x []float32, y []int32, n int) {
	t.Helper()
	b, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	bp, err = keras.LoadModel(fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := dataset.Load(fixtures.Path(t, "cl_mini.h5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	return b, bp, s.X, s.Y, s.N
}

// The lab's real B' at 2 %: 45 channels of conv_3 are zero, nothing else is pruned.
func TestPrunedChannelsReal(t *testing.T) {
	b, bp, _, _, _ := loadReal(t)
	p, err := PrunedChannels(b, bp)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 1 || len(p["conv_3"]) != 45 {
		t.Fatalf("pruned channels %v, want 45 of conv_3 only", p)
	}
	// a channel zero in both is not pruned (it was never alive)
	b2 := bp.Clone()
	p, err = PrunedChannels(b2, bp)
	if err != nil || len(p) != 0 {
		t.Fatalf("B' against itself: %v, %v", p, err)
	}
}

// One epoch on the real files: the pruned channels of conv_3 stay exactly 0 (kernel slice and
// bias), the other weights move, and the inputs' 0–255 scale is folded back exactly.
func TestMaskHoldsOnRealFiles(t *testing.T) {
	b, bp, x, y, n := loadReal(t)
	before := bp.Clone()
	res, err := Run(Config{B: b, Bprime: bp, X: x, Y: y, N: n, Epochs: 1, BatchSize: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.InputScale != 1.0/256 {
		t.Fatalf("input scale %g, want 1/256 for 0–255 pixels", res.InputScale)
	}
	m := res.Model
	c3 := m.Layer("conv_3")
	pruned := map[int]bool{}
	for _, c := range res.Pruned["conv_3"] {
		pruned[c] = true
	}
	for i, w := range c3.W {
		if pruned[i%60] && w != 0 {
			t.Fatalf("conv_3 kernel %d (pruned channel %d) = %g after fine-tuning", i, i%60, w)
		}
	}
	for c := range pruned {
		if c3.B[c] != 0 {
			t.Fatalf("conv_3 bias of pruned channel %d = %g", c, c3.B[c])
		}
	}
	for _, l := range m.Layers {
		if !l.HasWeights() {
			continue
		}
		moved := 0
		for i, w := range l.W {
			if w != before.Layer(l.Name).W[i] {
				moved++
			}
		}
		if moved == 0 {
			t.Errorf("layer %s: no weight moved", l.Name)
		}
	}
	if err := bp.SameArchitecture(before); err != nil {
		t.Fatal(err)
	}
	for i, w := range bp.Layer("conv_1").W {
		if w != before.Layer("conv_1").W[i] {
			t.Fatal("Run modified the B' it was given")
		}
	}
}

func TestDeterministic(t *testing.T) {
	b, bp, x, y, n := loadReal(t)
	run := func(seed int64) *nn.Model {
		res, err := Run(Config{B: b, Bprime: bp, X: x, Y: y, N: n, Epochs: 2, BatchSize: 2, Seed: seed, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		return res.Model
	}
	m1, m2 := run(4), run(4)
	for _, l := range m1.Layers {
		for i, w := range l.W {
			if m2.Layer(l.Name).W[i] != w {
				t.Fatalf("same seed and workers: %s kernel %d differs", l.Name, i)
			}
		}
	}
}

// Layers limits what trains: the others stay bit-identical.
func TestLayers(t *testing.T) {
	b, bp, x, y, n := loadReal(t)
	res, err := Run(Config{B: b, Bprime: bp, X: x, Y: y, N: n, Epochs: 1, BatchSize: 3, Layers: []string{"fc_2", "output"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Model.Layers {
		if !l.HasWeights() {
			continue
		}
		same := true
		for i, w := range l.W {
			if w != bp.Layer(l.Name).W[i] {
				same = false
				break
			}
		}
		if trained := l.Name == "fc_2" || l.Name == "output"; same == trained {
			t.Errorf("layer %s: trained %v, unchanged %v", l.Name, trained, same)
		}
	}
}

func TestInputScale(t *testing.T) {
	for _, c := range []struct {
		max  float32
		want float64
	}{{255, 1.0 / 256}, {1, 1}, {0.5, 1}, {0, 1}, {256, 1.0 / 256}, {257, 1.0 / 512}, {3, 0.25}} {
		x := []float32{0, -c.max / 2, c.max}
		if got := inputScale(x); got != c.want {
			t.Errorf("max %g: scale %g, want %g", c.max, got, c.want)
		}
	}
	// unfolding and folding a power of two is exact
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		w := float32(r.NormFloat64() * 1e-3)
		s := 1.0 / 256
		if back := float32(float64(float32(float64(w)/s)) * s); back != w {
			t.Fatalf("%g → %g", w, back)
		}
	}
}

func TestErrors(t *testing.T) {
	b, bp, x, y, n := loadReal(t)
	other := nn.DeepID(55, 47, 10)
	nn.RandomWeights(other, 1)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{B: b, Bprime: other, X: x, Y: y, N: n}, "B' does not have B's architecture"},
		{Config{B: b, Bprime: bp, X: x, Y: y, N: n, Epochs: -1}, "epochs -1"},
		{Config{B: b, Bprime: bp, X: x, Y: y, N: n, LR: math.NaN()}, "learning rate NaN"},
		{Config{B: b, Bprime: bp, X: x, Y: y, N: 0}, "no training images"},
		{Config{B: b, Bprime: bp, X: x, Y: y, N: n, Layers: []string{"nosuch"}}, `layer "nosuch": no such layer`},
		{Config{B: b, Bprime: bp, X: x, Y: y, N: n, Layers: []string{"pool_1"}}, "has no weights to train"},
		{Config{B: b, Bprime: bp, X: x[:10], Y: y, N: n, Epochs: 1}, "input values"},
	} {
		_, err := Run(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.want, err)
		}
	}
}
