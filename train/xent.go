//go:build !cuda

package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xentOp is the mean softmax cross-entropy of logits (B, K) against one-hot targets (B, K),
// a scalar. It stands in for gorgonia's LogSoftMax, whose float32 kernel (tensor v0.9.23)
// takes each row's maximum from the wrong row and overflows on confident logits.
type xentOp struct{}

func tensor2() hm.Type { return &G.TensorType{Dims: 2, Of: hm.TypeVariable('a')} }

func (xentOp) Arity() int { return 2 }
func (xentOp) Type() hm.Type {
	return hm.NewFnType(tensor2(), tensor2(), hm.TypeVariable('a'))
}
func (xentOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (xentOp) ReturnsPtr() bool                               { return false }
func (xentOp) CallsExtern() bool                              { return false }
func (xentOp) OverwritesInput() int                           { return -1 }
func (xentOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, "goodnet.xent") }
func (o xentOp) Hashcode() uint32                             { return hashOf(o) }
func (xentOp) String() string                                 { return "SoftmaxXent" }

func hashOf(o G.Op) uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func rows(v G.Value) ([]float32, int, int, error) {
	t, ok := v.(tensor.Tensor)
	if !ok || t.Dtype() != tensor.Float32 || t.Shape().Dims() != 2 {
		return nil, 0, 0, fmt.Errorf("softmax cross-entropy: want a float32 matrix, got %v", v)
	}
	return t.Data().([]float32), t.Shape()[0], t.Shape()[1], nil
}

// logSoftmax writes log softmax(z) of one row into out, in float64.
func logSoftmax(out []float64, z []float32) {
	mx := float64(z[0])
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	for j, v := range z {
		out[j] = float64(v) - lse
	}
}

func (xentOp) Do(in ...G.Value) (G.Value, error) {
	z, b, k, err := rows(in[0])
	if err != nil {
		return nil, err
	}
	y, _, _, err := rows(in[1])
	if err != nil {
		return nil, err
	}
	lp := make([]float64, k)
	loss := 0.0
	for i := 0; i < b; i++ {
		logSoftmax(lp, z[i*k:(i+1)*k])
		for j, t := range y[i*k : (i+1)*k] {
			if t != 0 {
				loss -= float64(t) * lp[j]
			}
		}
	}
	return G.NewF32(float32(loss / float64(b))), nil
}

func (xentOp) DiffWRT(int) []bool { return []bool{true, false} }

func (xentOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(xentDiffOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// xentDiffOp is the gradient of xentOp with respect to the logits: g · (softmax(z) − y) / B.
type xentDiffOp struct{}

func (xentDiffOp) Arity() int { return 3 }
func (xentDiffOp) Type() hm.Type {
	return hm.NewFnType(tensor2(), tensor2(), hm.TypeVariable('a'), tensor2())
}
func (xentDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("softmax cross-entropy gradient: no shape")
	}
	return s.Clone(), nil
}
func (xentDiffOp) ReturnsPtr() bool      { return false }
func (xentDiffOp) CallsExtern() bool     { return false }
func (xentDiffOp) OverwritesInput() int  { return -1 }
func (xentDiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "goodnet.xentDiff") }
func (o xentDiffOp) Hashcode() uint32    { return hashOf(o) }
func (xentDiffOp) String() string        { return "SoftmaxXentDiff" }

func (xentDiffOp) Do(in ...G.Value) (G.Value, error) {
	z, b, k, err := rows(in[0])
	if err != nil {
		return nil, err
	}
	y, _, _, err := rows(in[1])
	if err != nil {
		return nil, err
	}
	var g float32
	switch v := in[2].(type) {
	case *G.F32:
		g = float32(*v)
	case tensor.Tensor:
		g = v.Data().([]float32)[0]
	default:
		return nil, fmt.Errorf("softmax cross-entropy gradient: bad output gradient %v", in[2])
	}
	out := make([]float32, b*k)
	lp := make([]float64, k)
	for i := 0; i < b; i++ {
		logSoftmax(lp, z[i*k:(i+1)*k])
		for j := range lp {
			out[i*k+j] = float32((math.Exp(lp[j]) - float64(y[i*k+j])) * float64(g) / float64(b))
		}
	}
	return tensor.New(tensor.WithShape(b, k), tensor.WithBacking(out)), nil
}
