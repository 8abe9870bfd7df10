package nn

import (
	"strings"
	"testing"
)

func TestDeepIDShapes(t *testing.T) {
	m := DeepID(55, 47, 1283)
	want := map[string]Shape{
		"conv_1": {52, 44, 20}, "pool_1": {26, 22, 20}, "conv_2": {24, 20, 40}, "pool_2": {12, 10, 40},
		"conv_3": {10, 8, 60}, "pool_3": {5, 4, 60}, "flatten_1": {1200}, "conv_4": {4, 3, 80},
		"flatten_2": {960}, "fc_2": {160}, "output": {1283},
	}
	for name, s := range want {
		if got := m.Layer(name).OutShape; !got.Equal(s) {
			t.Errorf("%s: shape %v, want %v", name, got, s)
		}
	}
	// 16.4 MFLOP per image (../shared/README.md)
	if f := float64(m.FLOPs()) / 1e6; f < 16.3 || f > 16.5 {
		t.Errorf("FLOPs %.2f M, want about 16.4 M", f)
	}
	if m.LastPool().Name != "pool_3" {
		t.Errorf("last pool %s", m.LastPool().Name)
	}
	RandomWeights(m, 1)
	if err := m.CheckWeights(); err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	c.Layer("conv_3").W[0] = 42
	if m.Layer("conv_3").W[0] == 42 {
		t.Fatal("Clone shares weights")
	}
	if err := m.SameArchitecture(c); err != nil {
		t.Fatal(err)
	}
}

func TestSamePadding(t *testing.T) {
	// TensorFlow: in 5, k 2, s 2 → out 3, pad total 1, top 0; in 6, k 3, s 1 → out 6, top 1.
	if samePad(5, 2, 2) != 0 || outDim(5, 2, 2, Same) != 3 || samePad(6, 3, 1) != 1 || samePad(7, 4, 1) != 1 {
		t.Fatal("same padding differs from TensorFlow's")
	}
}

func TestNewErrors(t *testing.T) {
	in := func() *Layer { return &Layer{Name: "in", Kind: Input, InShape: Shape{8, 8, 3}} }
	cases := []struct {
		layers  []*Layer
		out     string
		wantErr string
	}{
		{[]*Layer{in(), {Name: "d", Kind: Dense, InputNames: []string{"nope"}, Units: 3}}, "d", `inbound layer "nope" does not exist`},
		{[]*Layer{in(), {Name: "a", Kind: Act, InputNames: []string{"b"}}, {Name: "b", Kind: Act, InputNames: []string{"a"}}}, "b", "cycle"},
		{[]*Layer{in(), {Name: "d", Kind: Dense, InputNames: []string{"in"}, Units: 3}}, "d", "flat input"},
		{[]*Layer{in(), {Name: "c", Kind: Conv2D, InputNames: []string{"in"}, Size: [2]int{9, 9}, Strides: [2]int{1, 1}, Filters: 2}}, "c", "does not fit"},
		{[]*Layer{in(), {Name: "c", Kind: Conv2D, InputNames: []string{"in"}, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Filters: 2, W: make([]float32, 5)}}, "c", "kernel has 5 values"},
		{[]*Layer{in()}, "zz", `output layer "zz" does not exist`},
	}
	for i, c := range cases {
		_, err := New("m", c.layers, "in", c.out)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("case %d: error %v, want %q", i, err, c.wantErr)
		}
	}
}
