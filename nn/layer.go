// Package nn holds the network graph that every other part of goodnet shares: layers, shapes,
// float32 weights, parameter and FLOP counts, and the Backend interface that the CPU (host/)
// and GPU (gpu/) engines implement.
//
// Conventions (those of Keras, channels-last):
//   - activations are float32, NHWC, row-major; one sample's activation of a layer has
//     Layer.OutShape.Size() elements; "channel" always means the last axis;
//   - a Conv2D kernel is (kh, kw, cin, cout), a Dense kernel (in, out);
//   - Flatten is the identity on NHWC memory;
//   - backends do not apply softmax: the output of a softmax layer is its logits (the
//     argmax, all that predictions need, is the same).
//
// The layer kinds and what each computes (nn/ref is the executable definition):
//
//	InputLayer              the images (or feature vectors) fed in
//	Conv2D                  out = bias + Σ taps·kernel, zero padding (valid, same, or explicit
//	                        Pad), then the layer's activation (linear or relu)
//	MaxPooling2D            window maximum; padded positions are ignored
//	AveragePooling2D        window mean; padded positions count in the divisor only with
//	                        CountPad (ONNX count_include_pad = 1), else the divisor is the
//	                        number of positions inside the input (Keras)
//	GlobalAveragePooling2D  (H, W, C) → (C), or (1, 1, C) with KeepDims: the mean over rows and
//	                        columns
//	ZeroPadding2D           Pad zero rows/columns (top, bottom, left, right)
//	BatchNormalization      inference form, per channel: Gamma·(x − Mean)/√(Var + Eps) + Beta
//	Flatten, Dropout        the identity (Dropout at inference)
//	Dense                   out = bias + in·kernel, then the activation (linear, relu, softmax)
//	Add                     element-wise sum of ≥ 2 inputs of one shape
//	Concatenate             inputs joined along the channel axis (equal other dimensions)
//	Activation              relu, leaky relu (slope Alpha below 0), softmax (not applied), linear
package nn

import (
	"fmt"
	"math"
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
	BatchNorm
	GlobalAvgPool
	AvgPool2D
	ZeroPad2D
	Concat
)

var kindNames = [...]string{"InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Add", "Activation", "Dropout",
	"BatchNormalization", "GlobalAveragePooling2D", "AveragePooling2D", "ZeroPadding2D", "Concatenate"}

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
	// LeakyReLU is x for x ≥ 0, Alpha·x below (Activation layers only).
	LeakyReLU
)

func (a Activation) String() string {
	switch a {
	case Linear:
		return "linear"
	case ReLU:
		return "relu"
	case Softmax:
		return "softmax"
	case LeakyReLU:
		return "leaky_relu"
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
	// Explicit padding is Layer.Pad (ONNX pads, which may be asymmetric).
	Explicit
)

func (p Padding) String() string {
	switch p {
	case Same:
		return "same"
	case Explicit:
		return "explicit"
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
	// Conv2D, MaxPooling2D, AveragePooling2D.
	Strides [2]int
	Padding Padding
	// Zero (Conv2D, ZeroPadding2D) or ignored (pools) rows and columns: top, bottom, left,
	// right. ZeroPadding2D, and the other window layers when Padding is Explicit.
	Pad [4]int
	// AveragePooling2D: divide by the whole window, padded positions included (ONNX
	// count_include_pad = 1), instead of by the positions inside the input (Keras).
	CountPad bool
	// GlobalAveragePooling2D: output (1, 1, C) instead of (C).
	KeepDims bool
	// Activation with Act LeakyReLU: the slope below 0.
	Alpha float64
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

	// BatchNormalization: the per-channel statistics and affine parameters, and ε. Gamma is
	// present when Scale is set (else 1), Beta when Center is set (else 0), as Keras' scale
	// and center options.
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
	Scale, Center          bool

	// InShape is the shape of the (first) input; OutShape of the output (set by New).
	// For InputLayer both are the declared input shape.
	InShape, OutShape Shape
}

// HasWeights reports whether the layer type carries weights.
func (l *Layer) HasWeights() bool { return l.Kind == Conv2D || l.Kind == Dense || l.Kind == BatchNorm }

// Weight is one weight tensor of a layer.
type Weight struct {
	// Name is Keras' name of the tensor: kernel, bias, gamma, beta, moving_mean,
	// moving_variance.
	Name  string
	Shape Shape
	// Data points at the layer's field holding the values (nil until loaded).
	Data *[]float32
}

// Weights lists the layer's weight tensors in the order Keras stores them: kernel, then bias
// if used; gamma (if Scale), beta (if Center), moving mean, moving variance. Valid once
// shapes are inferred (after New).
func (l *Layer) Weights() []Weight {
	switch l.Kind {
	case Conv2D, Dense:
		var k Shape
		n := l.Units
		if l.Kind == Conv2D {
			k, n = Shape{l.Size[0], l.Size[1], l.InShape[2], l.Filters}, l.Filters
		} else {
			k = Shape{l.InShape[0], l.Units}
		}
		ws := []Weight{{"kernel", k, &l.W}}
		if l.UseBias {
			ws = append(ws, Weight{"bias", Shape{n}, &l.B})
		}
		return ws
	case BatchNorm:
		c := Shape{l.InShape[len(l.InShape)-1]}
		var ws []Weight
		if l.Scale {
			ws = append(ws, Weight{"gamma", c, &l.Gamma})
		}
		if l.Center {
			ws = append(ws, Weight{"beta", c, &l.Beta})
		}
		return append(ws, Weight{"moving_mean", c, &l.Mean}, Weight{"moving_variance", c, &l.Var})
	}
	return nil
}

// WeightShapes are the shapes of Weights().
func (l *Layer) WeightShapes() [][]int {
	var s [][]int
	for _, w := range l.Weights() {
		s = append(s, w.Shape)
	}
	return s
}

// BNAffine is a BatchNormalization layer as y = scale·x + shift per channel (float64).
func (l *Layer) BNAffine() (scale, shift []float64) {
	c := len(l.Mean)
	scale, shift = make([]float64, c), make([]float64, c)
	for i := 0; i < c; i++ {
		g, b := 1.0, 0.0
		if l.Gamma != nil {
			g = float64(l.Gamma[i])
		}
		if l.Beta != nil {
			b = float64(l.Beta[i])
		}
		scale[i] = g / math.Sqrt(float64(l.Var[i])+l.Eps)
		shift[i] = b - scale[i]*float64(l.Mean[i])
	}
	return scale, shift
}

// Params is the number of weights of the layer.
func (l *Layer) Params() int {
	n := 0
	for _, s := range l.WeightShapes() {
		n += Shape(s).Size()
	}
	return n
}

// FLOPs per sample: 2 per multiply-add of Conv2D and Dense, 2 per element of
// BatchNormalization (a multiply-add, free once folded into a conv); comparisons and
// additions of the other layers are not counted (< 1 % for DeepID and the PreAct-ResNets).
func (l *Layer) FLOPs() int64 {
	switch l.Kind {
	case Conv2D:
		return 2 * int64(l.OutShape.Size()) * int64(l.Size[0]*l.Size[1]*l.InShape[2])
	case Dense:
		return 2 * int64(l.InShape[0]) * int64(l.Units)
	case BatchNorm:
		return 2 * int64(l.OutShape.Size())
	}
	return 0
}

// Pads returns the zero (Conv2D, ZeroPadding2D) or ignored (pools) padding before the first
// row and column: Pad's for explicit padding and ZeroPadding2D, Keras/TensorFlow's for "same"
// (the extra one goes after), 0 for "valid".
func (l *Layer) Pads() (top, left int) {
	p := l.AllPads()
	return p[0], p[2]
}

// AllPads is the padding (top, bottom, left, right) of a window layer or ZeroPadding2D,
// "same" resolved as Keras/TensorFlow do for the layer's input shape.
func (l *Layer) AllPads() [4]int {
	if l.Kind == ZeroPad2D || l.Padding == Explicit {
		return l.Pad
	}
	if l.Padding != Same {
		return [4]int{}
	}
	t, b := samePads(l.InShape[0], l.Size[0], l.Strides[0])
	le, r := samePads(l.InShape[1], l.Size[1], l.Strides[1])
	return [4]int{t, b, le, r}
}

func samePads(in, k, s int) (before, after int) {
	out := (in + s - 1) / s
	total := max((out-1)*s+k-in, 0)
	return total / 2, total - total/2
}

func samePad(in, k, s int) int {
	b, _ := samePads(in, k, s)
	return b
}

// outDim is the spatial output size of a window layer (before, after: explicit padding).
func outDim(in, k, s int, p Padding, before, after int) int {
	if p == Same {
		return (in + s - 1) / s
	}
	if p == Explicit {
		in += before + after
	}
	if in < k {
		return 0
	}
	return (in-k)/s + 1
}

func (l *Layer) String() string {
	switch l.Kind {
	case Conv2D:
		return fmt.Sprintf("%s %s %d %dx%d/%dx%d %s %s", l.Name, l.Kind, l.Filters, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], l.padString(), l.Act)
	case MaxPool2D:
		return fmt.Sprintf("%s %s %dx%d/%dx%d %s", l.Name, l.Kind, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], l.padString())
	case AvgPool2D:
		s := fmt.Sprintf("%s %s %dx%d/%dx%d %s", l.Name, l.Kind, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], l.padString())
		if l.CountPad {
			s += " count_pad"
		}
		return s
	case Dense:
		return fmt.Sprintf("%s %s %d %s", l.Name, l.Kind, l.Units, l.Act)
	case Act:
		if l.Act == LeakyReLU {
			return fmt.Sprintf("%s %s %s %g", l.Name, l.Kind, l.Act, l.Alpha)
		}
		return fmt.Sprintf("%s %s %s", l.Name, l.Kind, l.Act)
	case ZeroPad2D:
		return fmt.Sprintf("%s %s %v", l.Name, l.Kind, l.Pad)
	case BatchNorm:
		return fmt.Sprintf("%s %s eps=%g", l.Name, l.Kind, l.Eps)
	case GlobalAvgPool:
		if l.KeepDims {
			return fmt.Sprintf("%s %s keepdims", l.Name, l.Kind)
		}
	}
	return fmt.Sprintf("%s %s", l.Name, l.Kind)
}

func (l *Layer) padString() string {
	if l.Padding == Explicit {
		return fmt.Sprintf("pads %v", l.Pad)
	}
	return l.Padding.String()
}
