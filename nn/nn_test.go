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
	if samePad(5, 2, 2) != 0 || outDim(5, 2, 2, Same, 0, 0) != 3 || samePad(6, 3, 1) != 1 || samePad(7, 4, 1) != 1 {
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

// PreAct-ResNet-18 for CIFAR-10: the parameter count of BackdoorBench's PyTorch model
// (11,172,170: kuangliu's 11,171,146 plus the final BN's gamma and beta; Params counts the BN
// statistics too, as Keras does) and 0.56 G multiply-adds.
func TestPreActResNet18(t *testing.T) {
	m := PreActResNet(32, 32, 10, []int{64, 128, 256, 512}, []int{2, 2, 2, 2})
	bnStats := 0
	for _, l := range m.Layers {
		if l.Kind == BatchNorm {
			bnStats += 2 * l.InShape[2]
		}
	}
	if got := m.Params() - bnStats; got != 11172170 {
		t.Errorf("params %d (without BN statistics), want 11172170", got)
	}
	if macs := float64(m.FLOPs()) / 2e9; macs < 0.55 || macs > 0.57 {
		t.Errorf("%.3f G multiply-adds, want about 0.56", macs)
	}
	if s := m.Layer("layer4.1.add").OutShape; !s.Equal(Shape{4, 4, 512}) {
		t.Errorf("last block %v", s)
	}
	if s := m.Layer("avgpool").OutShape; !s.Equal(Shape{512}) {
		t.Errorf("avgpool %v", s)
	}
	RandomWeights(m, 1)
	if err := m.CheckWeights(); err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	c.Layer("bn").Gamma[0] = 42
	if m.Layer("bn").Gamma[0] == 42 {
		t.Fatal("Clone shares BN weights")
	}
	if err := m.SameArchitecture(c); err != nil {
		t.Fatal(err)
	}
}

func TestNewLayerShapesAndErrors(t *testing.T) {
	in := func() *Layer { return &Layer{Name: "in", Kind: Input, InShape: Shape{8, 8, 3}} }
	ok := []struct {
		l    *Layer
		want Shape
	}{
		{&Layer{Kind: Conv2D, Size: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: Explicit, Pad: [4]int{1, 1, 1, 1}, Filters: 4}, Shape{4, 4, 4}},
		{&Layer{Kind: Conv2D, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: Explicit, Pad: [4]int{0, 2, 1, 0}, Filters: 4}, Shape{8, 7, 4}},
		{&Layer{Kind: MaxPool2D, Size: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: Explicit, Pad: [4]int{1, 1, 1, 1}}, Shape{4, 4, 3}},
		{&Layer{Kind: AvgPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: Same}, Shape{4, 4, 3}},
		{&Layer{Kind: AvgPool2D, Size: [2]int{3, 3}, Strides: [2]int{3, 3}}, Shape{2, 2, 3}},
		{&Layer{Kind: GlobalAvgPool}, Shape{3}},
		{&Layer{Kind: GlobalAvgPool, KeepDims: true}, Shape{1, 1, 3}},
		{&Layer{Kind: ZeroPad2D, Pad: [4]int{1, 2, 3, 4}}, Shape{11, 15, 3}},
		{&Layer{Kind: BatchNorm, Eps: 1e-3, Scale: true}, Shape{8, 8, 3}},
		{&Layer{Kind: Act, Act: LeakyReLU, Alpha: 0.01}, Shape{8, 8, 3}},
	}
	for i, c := range ok {
		c.l.Name, c.l.InputNames = "l", []string{"in"}
		m, err := New("m", []*Layer{in(), c.l}, "in", "l")
		if err != nil {
			t.Errorf("case %d (%s): %v", i, c.l.Kind, err)
			continue
		}
		if !m.Output.OutShape.Equal(c.want) {
			t.Errorf("case %d (%s): shape %v, want %v", i, c.l.Kind, m.Output.OutShape, c.want)
		}
	}
	bad := []struct {
		l       *Layer
		wantErr string
	}{
		{&Layer{Kind: MaxPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: Explicit, Pad: [4]int{2, 0, 0, 0}}, "smaller than the window"},
		{&Layer{Kind: Conv2D, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: Explicit, Pad: [4]int{-1, 0, 0, 0}, Filters: 2}, "padding"},
		{&Layer{Kind: Conv2D, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Pad: [4]int{1, 1, 1, 1}, Filters: 2}, "given with valid padding"},
		{&Layer{Kind: Conv2D, Size: [2]int{3, 3}, Strides: [2]int{1, 1}, Filters: 2, Act: LeakyReLU}, "not supported"},
		{&Layer{Kind: BatchNorm, Eps: -1}, "epsilon"},
		{&Layer{Kind: BatchNorm, Eps: 1e-3, Var: []float32{1, 1}}, "moving_variance has 2 values"},
		{&Layer{Kind: BatchNorm, Eps: 1e-3, Gamma: []float32{1, 1, 1}}, "scale is false"},
		{&Layer{Kind: BatchNorm, Eps: 0, Var: []float32{1, 0, 1}}, "variance + epsilon must be positive"},
		{&Layer{Kind: Concat}, "at least 2 inbound"},
		{&Layer{Kind: GlobalAvgPool, W: []float32{1}}, "has no weights"},
	}
	for i, c := range bad {
		c.l.Name, c.l.InputNames = "l", []string{"in"}
		_, err := New("m", []*Layer{in(), c.l}, "in", "l")
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("case %d (%s): error %v, want %q", i, c.l.Kind, err, c.wantErr)
		}
	}
	// Concatenate: channels add up; other dimensions must agree
	a := &Layer{Name: "a", Kind: Conv2D, InputNames: []string{"in"}, Size: [2]int{1, 1}, Strides: [2]int{1, 1}, Filters: 5}
	b := &Layer{Name: "b", Kind: MaxPool2D, InputNames: []string{"in"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}}
	cat := &Layer{Name: "cat", Kind: Concat, InputNames: []string{"in", "a"}}
	m, err := New("m", []*Layer{in(), a, cat}, "in", "cat")
	if err != nil || !m.Output.OutShape.Equal(Shape{8, 8, 8}) {
		t.Errorf("concat: %v %v", err, m)
	}
	cat = &Layer{Name: "cat", Kind: Concat, InputNames: []string{"in", "b"}}
	if _, err := New("m", []*Layer{in(), b, cat}, "in", "cat"); err == nil || !strings.Contains(err.Error(), "differ in more than the channel axis") {
		t.Errorf("concat of different sizes: %v", err)
	}
}
