package ref

import (
	"math"
	"testing"

	"goodnet/nn"
)

// Hand-computed cases pin the reference itself.
func TestConvPoolDenseByHand(t *testing.T) {
	in := &nn.Layer{Name: "in", Kind: nn.Input, InShape: nn.Shape{3, 3, 1}}
	// 2×2 kernel of ones, stride 1, same padding: TF pads 0 before, 1 after.
	conv := &nn.Layer{Name: "c", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1},
		Padding: nn.Same, Filters: 1, UseBias: true, W: []float32{1, 1, 1, 1}, B: []float32{-10}, Act: nn.Linear}
	pool := &nn.Layer{Name: "p", Kind: nn.MaxPool2D, InputNames: []string{"c"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: nn.Same}
	fl := &nn.Layer{Name: "f", Kind: nn.Flatten, InputNames: []string{"p"}}
	d := &nn.Layer{Name: "d", Kind: nn.Dense, InputNames: []string{"f"}, Units: 2, UseBias: true,
		W: []float32{1, 0, 0, 1, 1, 0, 0, 1}, B: []float32{0.5, 0}, Act: nn.ReLU}
	m, err := nn.New("m", []*nn.Layer{in, conv, pool, fl, d}, "in", "d")
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	out, err := Run(m, map[string][]float64{"in": x}, 1, "c", "p", "d")
	if err != nil {
		t.Fatal(err)
	}
	// conv (window sums − 10): [12 16 9; 24 28 15; 15 17 9] − 10
	wantC := []float64{2, 6, -1, 14, 18, 5, 5, 7, -1}
	// pool 2×2/2 same on 3×3 → 2×2: max of {2,6,14,18}, {-1,5}, {5,7}, {-1}
	wantP := []float64{18, 5, 7, -1}
	// dense: [18+7+0.5, 5-1] → relu
	wantD := []float64{25.5, 4}
	for i, w := range [][]float64{wantC, wantP, wantD} {
		for j := range w {
			if out[i][j] != w[j] {
				t.Fatalf("output %d: %v, want %v", i, out[i], w)
			}
		}
	}
}

func mustModel(t *testing.T, layers ...*nn.Layer) *nn.Model {
	t.Helper()
	m, err := nn.New("m", layers, layers[0].Name, layers[len(layers)-1].Name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12*(1+math.Abs(b[i])) {
			return false
		}
	}
	return true
}

// The layers of issue 14, by hand: explicit asymmetric conv padding, batch normalisation,
// average pooling with and without the padded positions in the divisor, global average
// pooling, zero padding, concatenation and leaky relu.
func TestNewLayersByHand(t *testing.T) {
	in := &nn.Layer{Name: "in", Kind: nn.Input, InShape: nn.Shape{2, 2, 1}}
	x := []float64{1, 2, 3, 4}
	// conv 2×2 of ones, pads top 1, bottom 0, left 0, right 1, stride 1 → 2×2:
	// rows -1..0 and 0..1, columns 0..1 and 1..2
	conv := &nn.Layer{Name: "c", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1},
		Padding: nn.Explicit, Pad: [4]int{1, 0, 0, 1}, Filters: 1, W: []float32{1, 1, 1, 1}}
	m := mustModel(t, in, conv)
	if !m.Layer("c").OutShape.Equal(nn.Shape{2, 2, 1}) {
		t.Fatalf("conv shape %v", m.Layer("c").OutShape)
	}
	out, _ := Run(m, map[string][]float64{"in": x}, 1, "c")
	if want := []float64{3, 2, 10, 6}; !near(out[0], want) {
		t.Errorf("explicit-pad conv %v, want %v", out[0], want)
	}

	// avg pool 2×2 / 1, pads 1 on every side → 3×3; top-left window holds only x[0]
	for _, countPad := range []bool{false, true} {
		in := &nn.Layer{Name: "in", Kind: nn.Input, InShape: nn.Shape{2, 2, 1}}
		ap := &nn.Layer{Name: "a", Kind: nn.AvgPool2D, InputNames: []string{"in"}, Size: [2]int{2, 2}, Strides: [2]int{1, 1},
			Padding: nn.Explicit, Pad: [4]int{1, 1, 1, 1}, CountPad: countPad}
		out, _ := Run(mustModel(t, in, ap), map[string][]float64{"in": x}, 1, "a")
		want := []float64{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}
		if countPad {
			want = []float64{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}
		}
		if !near(out[0], want) {
			t.Errorf("avg pool (count_pad %v) %v, want %v", countPad, out[0], want)
		}
	}

	// 2 channels: BN, GAP, zero pad, concat, leaky relu
	in2 := &nn.Layer{Name: "in", Kind: nn.Input, InShape: nn.Shape{1, 2, 2}}
	x2 := []float64{1, -2, 3, -4} // (0,0): [1 -2], (0,1): [3 -4]
	bn := &nn.Layer{Name: "bn", Kind: nn.BatchNorm, InputNames: []string{"in"}, Eps: 0.5, Scale: true, Center: true,
		Gamma: []float32{2, 1}, Beta: []float32{1, 0}, Mean: []float32{1, 0}, Var: []float32{3.5, 0.5}}
	gap := &nn.Layer{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"in"}}
	zp := &nn.Layer{Name: "zp", Kind: nn.ZeroPad2D, InputNames: []string{"in"}, Pad: [4]int{0, 1, 1, 0}}
	cat := &nn.Layer{Name: "cat", Kind: nn.Concat, InputNames: []string{"in", "bn"}}
	lr := &nn.Layer{Name: "lr", Kind: nn.Act, Act: nn.LeakyReLU, Alpha: 0.1, InputNames: []string{"in"}}
	m = mustModel(t, in2, bn, gap, zp, cat, lr)
	if !m.Layer("zp").OutShape.Equal(nn.Shape{2, 3, 2}) || !m.Layer("cat").OutShape.Equal(nn.Shape{1, 2, 4}) || !m.Layer("gap").OutShape.Equal(nn.Shape{2}) {
		t.Fatalf("shapes %v %v %v", m.Layer("zp").OutShape, m.Layer("cat").OutShape, m.Layer("gap").OutShape)
	}
	out, err := Run(m, map[string][]float64{"in": x2}, 1, "bn", "gap", "zp", "cat", "lr")
	if err != nil {
		t.Fatal(err)
	}
	// bn: channel 0: 2·(x−1)/2 + 1 = x; channel 1: x/1 = x
	wantBN := []float64{1, -2, 3, -4}
	wantGAP := []float64{2, -3}
	wantZP := []float64{0, 0, 1, -2, 3, -4, 0, 0, 0, 0, 0, 0}
	wantCat := []float64{1, -2, 1, -2, 3, -4, 3, -4}
	wantLR := []float64{1, -0.2, 3, -0.4}
	for i, w := range [][]float64{wantBN, wantGAP, wantZP, wantCat, wantLR} {
		if !near(out[i], w) {
			t.Errorf("output %d: %v, want %v", i, out[i], w)
		}
	}
	// the BN as an affine map agrees
	sc, sh := m.Layer("bn").BNAffine()
	if !near(sc, []float64{1, 1}) || !near(sh, []float64{0, 0}) {
		t.Errorf("BNAffine %v %v", sc, sh)
	}
}
