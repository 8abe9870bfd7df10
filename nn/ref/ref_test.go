package ref

import (
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
