// Package nn holds the network graph that every other part of goodnet shares: layers, shapes,
// float32 weights, parameter and FLOP counts, and the Backend interface that the CPU (host/)
// and GPU (gpu/) engines implement.
//
// Conventions (those of Keras, channels-last):
//   - activations are float32, NHWC, row-major; one sample's activation of a layer has
//     Layer.OutShape.Size() elements;
//   - a Conv2D kernel is (kh, kw, cin, cout), a Dense kernel (in, out);
//   - Flatten is the identity on NHWC memory;
//   - backends do not apply softmax: the output of a softmax layer is its logits (the
//     argmax, all that predictions need, is the same).
package nn

import (
	"fmt"
	"strings"
)

// Kind is a layer type; its string is the Keras class name.
type Kind int

const (
	Input Kind = iota
	Conv2D
	MaxPool2D
	Flatten
	Dense
	Add
	Act
	Dropout
)

var kindNames = [...]string{"InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Add", "Activation", "Dropout"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Activation is an element-wise activation function.
type Activation int

const (
	Linear Activation = iota
	ReLU
	Softmax
)

func (a Activation) String() string {
	switch a {
	case Linear:
		return "linear"
	case ReLU:
		return "relu"
	case Softmax:
		return "softmax"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation maps a Keras activation name to an Activation.
func ParseActivation(s string) (Activation, error) {
	switch s {
	case "linear", "":
		return Linear, nil
	case "relu":
		return ReLU, nil
	case "softmax":
		return Softmax, nil
	}
	return 0, fmt.Errorf("unsupported activation %q (supported: linear, relu, softmax)", s)
}

// Padding is a Keras padding mode.
type Padding int

const (
	Valid Padding = iota
	Same
)

func (p Padding) String() string {
	if p == Same {
		return "same"
	}
	return "valid"
}

// ParsePadding maps a Keras padding name to a Padding.
func ParsePadding(s string) (Padding, error) {
	switch s {
	case "valid":
		return Valid, nil
	case "same":
		return Same, nil
	}
	return 0, fmt.Errorf("unsupported padding %q (supported: valid, same)", s)
}

// Shape is the shape of one sample's activation: (H, W, C) for images, (D) for vectors.
type Shape []int

// Size is the number of elements.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Equal reports whether two shapes are the same.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Layer is one node of the graph. Which fields matter depends on Kind.
type Layer struct {
	Name string
	Kind Kind
	// InputNames are the inbound layers, in order (Add has two or more, Input none).
	InputNames []string
	// Inputs are the resolved inbound layers (set by New).
	Inputs []*Layer

	// Conv2D: kernel size; MaxPooling2D: pool size.
	Size [2]int
	// Conv2D, MaxPooling2D.
	Strides [2]int
	Padding Padding
	// Conv2D: output channels.
	Filters int
	// Dense: output units.
	Units int
	// Conv2D, Dense, Activation.
	Act Activation
	// Conv2D, Dense.
	UseBias bool
	// Dropout rate (identity at inference).
	Rate float64

	// Weights. W: Conv2D (kh, kw, cin, cout), Dense (in, out). B: (cout) or (units); nil
	// without bias.
	W, B []float32

	// InShape is the shape of the (first) input; OutShape of the output (set by New).
	// For InputLayer both are the declared input shape.
	InShape, OutShape Shape
}

// HasWeights reports whether the layer type carries weights.
func (l *Layer) HasWeights() bool { return l.Kind == Conv2D || l.Kind == Dense }

// WeightShapes are the shapes Keras stores for the layer: kernel, then bias if used.
// Valid once shapes are inferred (after New).
func (l *Layer) WeightShapes() [][]int {
	switch l.Kind {
	case Conv2D:
		s := [][]int{{l.Size[0], l.Size[1], l.InShape[2], l.Filters}}
		if l.UseBias {
			s = append(s, []int{l.Filters})
		}
		return s
	case Dense:
		s := [][]int{{l.InShape[0], l.Units}}
		if l.UseBias {
			s = append(s, []int{l.Units})
		}
		return s
	}
	return nil
}

// Params is the number of weights of the layer.
func (l *Layer) Params() int {
	n := 0
	for _, s := range l.WeightShapes() {
		n += Shape(s).Size()
	}
	return n
}

// FLOPs per sample: 2 per multiply-add of Conv2D and Dense; comparisons and additions of the
// other layers are not counted (they are < 1 % for DeepID).
func (l *Layer) FLOPs() int64 {
	switch l.Kind {
	case Conv2D:
		return 2 * int64(l.OutShape.Size()) * int64(l.Size[0]*l.Size[1]*l.InShape[2])
	case Dense:
		return 2 * int64(l.InShape[0]) * int64(l.Units)
	}
	return 0
}

// Pads returns the zero (Conv2D) or ignored (MaxPooling2D) padding before the first row and
// column, as Keras/TensorFlow compute it for "same" (the extra one goes after); 0 for "valid".
func (l *Layer) Pads() (top, left int) {
	if l.Padding != Same {
		return 0, 0
	}
	return samePad(l.InShape[0], l.Size[0], l.Strides[0]), samePad(l.InShape[1], l.Size[1], l.Strides[1])
}

func samePad(in, k, s int) int {
	out := (in + s - 1) / s
	total := (out-1)*s + k - in
	if total < 0 {
		total = 0
	}
	return total / 2
}

// outDim is the spatial output size of a window layer.
func outDim(in, k, s int, p Padding) int {
	if p == Same {
		return (in + s - 1) / s
	}
	if in < k {
		return 0
	}
	return (in-k)/s + 1
}

func (l *Layer) String() string {
	switch l.Kind {
	case Conv2D:
		return fmt.Sprintf("%s %s %d %dx%d/%dx%d %s %s", l.Name, l.Kind, l.Filters, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], l.Padding, l.Act)
	case MaxPool2D:
		return fmt.Sprintf("%s %s %dx%d/%dx%d %s", l.Name, l.Kind, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], l.Padding)
	case Dense:
		return fmt.Sprintf("%s %s %d %s", l.Name, l.Kind, l.Units, l.Act)
	case Act:
		return fmt.Sprintf("%s %s %s", l.Name, l.Kind, l.Act)
	}
	return fmt.Sprintf("%s %s", l.Name, l.Kind)
}
