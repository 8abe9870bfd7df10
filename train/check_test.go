package train

import (
	"strings"
	"testing"

	"goodnet/nn"
)

// Check names the first layer on the way to the output that the engine cannot train, in one
// line; Train refuses the same model with the same reason, the model left as it was.
func TestCheck(t *testing.T) {
	model := func(mid *nn.Layer) *nn.Model {
		layers := []*nn.Layer{
			{Name: "in", Kind: nn.Input, InShape: nn.Shape{4, 4, 2}},
			{Name: "c", Kind: nn.Conv2D, InputNames: []string{"in"}, Filters: 3, Size: [2]int{2, 2}, Strides: [2]int{1, 1}, UseBias: true},
		}
		prev := "c"
		if mid != nil {
			mid.InputNames = []string{"c"}
			layers = append(layers, mid)
			prev = mid.Name
		}
		layers = append(layers, &nn.Layer{Name: "f", Kind: nn.Flatten, InputNames: []string{prev}},
			&nn.Layer{Name: "out", Kind: nn.Dense, InputNames: []string{"f"}, Units: 2, UseBias: true, Act: nn.Softmax})
		m, err := nn.New("m", layers, "in", "out")
		if err != nil {
			t.Fatal(err)
		}
		nn.RandomWeights(m, 1)
		return m
	}
	if err := Check(model(nil)); err != nil {
		t.Fatal(err)
	}
	if err := Check(model(&nn.Layer{Name: "r", Kind: nn.Act, Act: nn.ReLU})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mid  *nn.Layer
		want string
	}{
		{&nn.Layer{Name: "bn", Kind: nn.BatchNorm, Eps: 1e-3, Scale: true, Center: true,
			Gamma: []float32{1, 1, 1}, Beta: []float32{0, 0, 0}, Mean: []float32{0, 0, 0}, Var: []float32{1, 1, 1}},
			`layer "bn" (BatchNormalization): the trainer has no backward pass for it (it trains Conv2D, Dense`},
		{&nn.Layer{Name: "lr", Kind: nn.Act, Act: nn.LeakyReLU, Alpha: 0.1}, `layer "lr" (leaky_relu activation): the trainer has no backward pass for it`},
		{&nn.Layer{Name: "sm", Kind: nn.Act, Act: nn.Softmax}, `layer "sm": softmax is supported on the output layer only`},
		{&nn.Layer{Name: "ap", Kind: nn.AvgPool2D, Size: [2]int{2, 2}, Strides: [2]int{1, 1}}, `layer "ap" (AveragePooling2D): the trainer has no backward pass`},
	} {
		m := model(c.mid)
		err := Check(m)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Check says %v, want %q", c.mid.Name, err, c.want)
		}
		x := make([]float32, 2*m.InputShape().Size())
		if _, err := Train(m, x, []int32{0, 1}, 2, Options{Epochs: 1}); err == nil || !strings.Contains(err.Error(), "train: "+c.want) {
			t.Errorf("%s: Train says %v", c.mid.Name, err)
		}
	}
}
