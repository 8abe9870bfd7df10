package nn

import (
	"math"
	"math/rand"
)

// DeepID returns the architecture of the CSAW-HackML lab's BadNet (without weights) for an
// input of h×w×3 and the given number of classes (the lab's: 55×47, 1283):
//
//	input → conv_1(20, 4×4) → pool_1 → conv_2(40, 3×3) → pool_2 → conv_3(60, 3×3) → pool_3 →
//	[flatten_1 → fc_1(160)] + [conv_4(80, 2×2) → flatten_2 → fc_2(160)] → add_1 → relu →
//	output(classes, softmax)
//
// Layer names are those of the lab's Keras files.
func DeepID(h, w, classes int) *Model {
	conv := func(name, in string, filters, k int) *Layer {
		return &Layer{Name: name, Kind: Conv2D, InputNames: []string{in}, Size: [2]int{k, k}, Strides: [2]int{1, 1}, Filters: filters, Act: ReLU, UseBias: true}
	}
	pool := func(name, in string) *Layer {
		return &Layer{Name: name, Kind: MaxPool2D, InputNames: []string{in}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}}
	}
	layers := []*Layer{
		{Name: "input", Kind: Input, InShape: Shape{h, w, 3}},
		conv("conv_1", "input", 20, 4), pool("pool_1", "conv_1"),
		conv("conv_2", "pool_1", 40, 3), pool("pool_2", "conv_2"),
		conv("conv_3", "pool_2", 60, 3), pool("pool_3", "conv_3"),
		conv("conv_4", "pool_3", 80, 2),
		{Name: "flatten_1", Kind: Flatten, InputNames: []string{"pool_3"}},
		{Name: "flatten_2", Kind: Flatten, InputNames: []string{"conv_4"}},
		{Name: "fc_1", Kind: Dense, InputNames: []string{"flatten_1"}, Units: 160, UseBias: true},
		{Name: "fc_2", Kind: Dense, InputNames: []string{"flatten_2"}, Units: 160, UseBias: true},
		{Name: "add_1", Kind: Add, InputNames: []string{"fc_1", "fc_2"}},
		{Name: "activation_1", Kind: Act, InputNames: []string{"add_1"}, Act: ReLU},
		{Name: "output", Kind: Dense, InputNames: []string{"activation_1"}, Units: classes, Act: Softmax, UseBias: true},
	}
	m, err := New("model_1", layers, "input", "output")
	if err != nil {
		panic("nn: DeepID: " + err.Error())
	}
	return m
}

// RandomWeights sets every weighted layer's kernel to He-uniform values and its bias to small
// uniform values, and a BatchNormalization's mean to U(−0.5, 0.5), variance U(0.5, 2), gamma
// U(0.5, 1.5) and beta U(−0.2, 0.2), deterministically from seed (for tests, benchmarks and
// training).
func RandomWeights(m *Model, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for _, l := range m.Layers {
		if l.Kind == BatchNorm {
			c := l.InShape[len(l.InShape)-1]
			u := func(lo, hi float64) []float32 {
				v := make([]float32, c)
				for i := range v {
					v[i] = float32(lo + (hi-lo)*r.Float64())
				}
				return v
			}
			l.Mean, l.Var = u(-0.5, 0.5), u(0.5, 2)
			if l.Scale {
				l.Gamma = u(0.5, 1.5)
			}
			if l.Center {
				l.Beta = u(-0.2, 0.2)
			}
			continue
		}
		if !l.HasWeights() {
			continue
		}
		s := l.WeightShapes()
		fanIn := Shape(s[0]).Size() / s[0][len(s[0])-1]
		lim := math.Sqrt(6 / float64(fanIn))
		l.W = make([]float32, Shape(s[0]).Size())
		for i := range l.W {
			l.W[i] = float32((2*r.Float64() - 1) * lim)
		}
		if l.UseBias {
			l.B = make([]float32, s[1][0])
			for i := range l.B {
				l.B[i] = float32((2*r.Float64() - 1) * 0.1)
			}
		}
	}
}
