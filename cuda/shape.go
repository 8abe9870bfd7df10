package cuda

// This file is in every build (no build tag): the launch geometries and their checks are plain
// Go, shared by the launchers (cuda builds), cuda/hostcheck and the tests of gpu/.

import (
	"fmt"
	"math"

	"goodnet/nn"
)

// ConvShape is the geometry of one convolution (kernel k_conv2d), per sample: input H×W×C, output
// OH×OW×O, kernel KH×KW with strides SH×SW, and PT/PL zero rows/columns before the input
// (Keras "same" padding; 0 for "valid").
type ConvShape struct {
	H, W, C   int
	OH, OW, O int
	KH, KW    int
	SH, SW    int
	PT, PL    int
	ReLU      bool
}

// ConvShapeOf is the geometry of a Conv2D layer.
func ConvShapeOf(l *nn.Layer) (ConvShape, error) {
	if l.Kind != nn.Conv2D {
		return ConvShape{}, fmt.Errorf("layer %q is a %s, not a Conv2D", l.Name, l.Kind)
	}
	if l.Act != nn.ReLU && l.Act != nn.Linear {
		return ConvShape{}, fmt.Errorf("layer %q: activation %s is not supported on a Conv2D", l.Name, l.Act)
	}
	pt, pl := l.Pads()
	s := ConvShape{
		H: l.InShape[0], W: l.InShape[1], C: l.InShape[2],
		OH: l.OutShape[0], OW: l.OutShape[1], O: l.OutShape[2],
		KH: l.Size[0], KW: l.Size[1], SH: l.Strides[0], SW: l.Strides[1],
		PT: pt, PL: pl, ReLU: l.Act == nn.ReLU,
	}
	return s, s.valid()
}

// In, Out are the values per sample; Taps the kernel rows (KH·KW·C); Weights the kernel size.
func (s ConvShape) In() int      { return s.H * s.W * s.C }
func (s ConvShape) Out() int     { return s.OH * s.OW * s.O }
func (s ConvShape) Taps() int    { return s.KH * s.KW * s.C }
func (s ConvShape) Weights() int { return s.Taps() * s.O }

func (s ConvShape) valid() error {
	for _, d := range []int{s.H, s.W, s.C, s.OH, s.OW, s.O, s.KH, s.KW, s.SH, s.SW} {
		if d <= 0 {
			return fmt.Errorf("conv2d: non-positive dimension in %+v", s)
		}
	}
	if s.PT < 0 || s.PL < 0 || s.PT >= s.KH || s.PL >= s.KW {
		return fmt.Errorf("conv2d: padding %d,%d outside kernel %dx%d", s.PT, s.PL, s.KH, s.KW)
	}
	// every element index of a sample, and of the kernel, fits the kernels' int arithmetic
	for _, v := range []int{s.In(), s.Out(), s.Weights()} {
		if v <= 0 || v > math.MaxInt32 {
			return fmt.Errorf("conv2d: %+v is too large", s)
		}
	}
	return nil
}

// Check validates a launch on n samples with buffers of the given lengths (bias 0: no bias).
func (s ConvShape) Check(n, out, x, w, b int) error {
	if err := s.valid(); err != nil {
		return err
	}
	if err := checkN("conv2d", n); err != nil {
		return err
	}
	return lens("conv2d", []lenCheck{
		{"output", out, n * s.Out()}, {"input", x, n * s.In()}, {"kernel", w, s.Weights()},
	}, b, s.O)
}

// DenseShape is the geometry of one dense layer (kernel k_dense): K inputs, O outputs.
type DenseShape struct {
	K, O int
	ReLU bool
}

// DenseShapeOf is the geometry of a Dense layer (softmax is not applied: logits).
func DenseShapeOf(l *nn.Layer) (DenseShape, error) {
	if l.Kind != nn.Dense {
		return DenseShape{}, fmt.Errorf("layer %q is a %s, not a Dense", l.Name, l.Kind)
	}
	s := DenseShape{K: l.InShape[0], O: l.Units, ReLU: l.Act == nn.ReLU}
	return s, s.valid()
}

func (s DenseShape) valid() error {
	if s.K <= 0 || s.O <= 0 || int64(s.K)*int64(s.O) > math.MaxInt32 {
		return fmt.Errorf("dense: bad geometry %+v", s)
	}
	return nil
}

// Check validates a launch on n samples with buffers of the given lengths (bias 0: no bias).
func (s DenseShape) Check(n, out, x, w, b int) error {
	if err := s.valid(); err != nil {
		return err
	}
	if err := checkN("dense", n); err != nil {
		return err
	}
	return lens("dense", []lenCheck{
		{"output", out, n * s.O}, {"input", x, n * s.K}, {"kernel", w, s.K * s.O},
	}, b, s.O)
}

// PoolShape is the geometry of one max pooling (kernel k_maxpool): input H×W×C, output OH×OW×C,
// window KH×KW, strides SH×SW, PT/PL ignored positions before the input ("same").
type PoolShape struct {
	H, W, C int
	OH, OW  int
	KH, KW  int
	SH, SW  int
	PT, PL  int
}

// PoolShapeOf is the geometry of a MaxPooling2D layer.
func PoolShapeOf(l *nn.Layer) (PoolShape, error) {
	if l.Kind != nn.MaxPool2D {
		return PoolShape{}, fmt.Errorf("layer %q is a %s, not a MaxPooling2D", l.Name, l.Kind)
	}
	pt, pl := l.Pads()
	s := PoolShape{
		H: l.InShape[0], W: l.InShape[1], C: l.InShape[2], OH: l.OutShape[0], OW: l.OutShape[1],
		KH: l.Size[0], KW: l.Size[1], SH: l.Strides[0], SW: l.Strides[1], PT: pt, PL: pl,
	}
	return s, s.valid()
}

// In, Out are the values per sample.
func (s PoolShape) In() int  { return s.H * s.W * s.C }
func (s PoolShape) Out() int { return s.OH * s.OW * s.C }

func (s PoolShape) valid() error {
	for _, d := range []int{s.H, s.W, s.C, s.OH, s.OW, s.KH, s.KW, s.SH, s.SW} {
		if d <= 0 {
			return fmt.Errorf("maxpool: non-positive dimension in %+v", s)
		}
	}
	if s.PT < 0 || s.PL < 0 || s.PT >= s.KH || s.PL >= s.KW {
		return fmt.Errorf("maxpool: padding %d,%d outside window %dx%d", s.PT, s.PL, s.KH, s.KW)
	}
	if int64(s.H)*int64(s.W)*int64(s.C) > math.MaxInt32 {
		return fmt.Errorf("maxpool: %+v is too large", s)
	}
	return nil
}

// Check validates a launch on n samples.
func (s PoolShape) Check(n, out, x int) error {
	if err := s.valid(); err != nil {
		return err
	}
	if err := checkN("maxpool", n); err != nil {
		return err
	}
	return lens("maxpool", []lenCheck{{"output", out, n * s.Out()}, {"input", x, n * s.In()}}, 0, 0)
}

// SumScratch is the float64 scratch a channel sum of rows × C values needs.
func SumScratch(rows, C int) int { return (rows + SumRows - 1) / SumRows * C }

type lenCheck struct {
	what      string
	got, want int
}

func lens(op string, cs []lenCheck, bias, wantBias int) error {
	for _, c := range cs {
		if c.got != c.want {
			return fmt.Errorf("%s: %s has %d values, want %d", op, c.what, c.got, c.want)
		}
	}
	if bias != 0 && bias != wantBias {
		return fmt.Errorf("%s: bias has %d values, want %d", op, bias, wantBias)
	}
	return nil
}

func checkN(op string, n int) error {
	if n < 0 {
		return fmt.Errorf("%s: negative sample count %d", op, n)
	}
	return nil
}
