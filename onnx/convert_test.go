package onnx

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"google.golang.org/protobuf/proto"

	"goodnet/host"
	"goodnet/nn"
	"goodnet/nn/ref"
	"goodnet/onnx/pb"
)

func (b *builder) scalar(v int64) string {
	name := b.fresh("idx")
	b.g.Initializer = append(b.g.Initializer, &pb.TensorProto{Name: proto.String(name),
		DataType: proto.Int32(int32(pb.TensorProto_INT64)), Int64Data: []int64{v}})
	return name
}

// graphs builds the test graphs: each exercises a part of the NCHW → NHWC mapping.
var graphs = []struct {
	name string
	make func(b *builder) (out string, in []int64)
}{
	{"conv asymmetric pads, maxpool pads, channels-first flatten, Gemm transB 0 alpha beta", func(b *builder) (string, []int64) {
		x := b.node("Conv", []string{"input", b.rand(0, 0.5, 6, 3, 3, 2), b.rand(0, 0.1, 6)},
			aInts("pads", 1, 0, 2, 1), aInts("strides", 2, 1), aInts("kernel_shape", 3, 2))
		x = b.node("Relu", []string{x})
		x = b.node("MaxPool", []string{x}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1))
		x = b.node("Flatten", []string{x}, aInt("axis", 1))
		// 11×10 input: conv → 6×(ceil) ... the Gemm's K is read from the graph below
		return x, []int64{1, 3, 11, 10}
	}},
	{"auto_pad, BN, LeakyRelu, AveragePool with and without pads counted, Pad, Concat, GAP, MatMul + Add", func(b *builder) (string, []int64) {
		a := b.node("Conv", []string{"input", b.rand(0, 0.5, 5, 2, 3, 3)}, aStr("auto_pad", "SAME_UPPER"), aInts("strides", 2, 2))
		a = b.node("BatchNormalization", []string{a, b.rand(0.5, 1, 5), b.rand(0, 0.2, 5), b.rand(0, 0.5, 5), b.rand(0.5, 1.5, 5)},
			aFloat("epsilon", 1e-3))
		a = b.node("LeakyRelu", []string{a}, aFloat("alpha", 0.2))
		a1 := b.node("AveragePool", []string{a}, aInts("kernel_shape", 3, 3), aInts("strides", 1, 1), aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1))
		a2 := b.node("AveragePool", []string{a}, aInts("kernel_shape", 2, 3), aInts("strides", 1, 1), aInts("pads", 0, 0, 0, 1))
		a2 = b.node("Pad", []string{a2, b.ints(0, 0, 0, 1, 0, 0, 1, 0)}, aStr("mode", "constant"))
		c := b.node("Conv", []string{"input", b.rand(0, 0.5, 4, 2, 2, 2)}, aStr("auto_pad", "SAME_LOWER"), aInts("strides", 2, 2))
		x := b.node("Concat", []string{a1, a2, c}, aInt("axis", 1))
		x = b.node("GlobalAveragePool", []string{x})
		x = b.node("Flatten", []string{x})
		x = b.node("MatMul", []string{x, b.rand(0, 0.5, 14, 7)})
		x = b.node("Add", []string{x, b.rand(0, 0.5, 7)})
		return b.node("Softmax", []string{x}, aInt("axis", 1)), []int64{1, 2, 9, 7}
	}},
	{"transpose (0,2,3,1) + flatten, x.view(x.size(0), -1), residual add, Gemm transB 1", func(b *builder) (string, []int64) {
		c := b.node("Conv", []string{"input", b.rand(0, 0.5, 4, 3, 3, 3), b.rand(0, 0.1, 4)}, aInts("pads", 1, 1, 1, 1))
		d := b.node("Conv", []string{c, b.rand(0, 0.5, 4, 4, 3, 3)}, aInts("pads", 1, 1, 1, 1))
		s := b.node("Add", []string{d, c})
		t := b.node("Transpose", []string{s}, aInts("perm", 0, 2, 3, 1))
		f1 := b.node("Flatten", []string{t})
		shape := b.node("Shape", []string{s})
		n := b.node("Gather", []string{shape, b.scalar(0)}, aInt("axis", 0))
		n = b.node("Unsqueeze", []string{n, b.ints(0)})
		tgt := b.node("Concat", []string{n, b.ints(-1)}, aInt("axis", 0))
		f2 := b.node("Reshape", []string{s, tgt})
		g1 := b.node("Gemm", []string{f1, b.rand(0, 0.2, 6, 4*5*6), b.rand(0, 0.1, 6)}, aInt("transB", 1))
		g2 := b.node("Gemm", []string{f2, b.rand(0, 0.2, 6, 4*5*6), b.rand(0, 0.1, 6)}, aInt("transB", 1), aFloat("alpha", 2))
		x := b.node("Add", []string{g1, g2})
		x = b.node("Relu", []string{x})
		return b.node("Gemm", []string{x, b.rand(0, 0.5, 5, 6), b.rand(0, 0.1, 5)}, aInt("transB", 1)), []int64{1, 3, 5, 6}
	}},
}

// TestConvertAgainstNCHW: each graph, loaded, computes in nn/ref (float64) what the NCHW
// interpreter computes from the ONNX graph itself, and the CPU engine within 1e-4.
func TestConvertAgainstNCHW(t *testing.T) {
	for gi, g := range graphs {
		b := newBuilder(int64(gi + 1))
		out, in := g.make(b)
		if gi == 0 {
			// Gemm over the flatten: its K from the interpreter's shape
			probe := interpret(b.model(out, in...), make([]float64, size(int64s(in))), int64s(in))
			k := probe.dims[1]
			out = b.node("Gemm", []string{out, b.rand(0, 0.3, k, 7), b.rand(0, 0.1, 7)}, aFloat("alpha", 0.5), aFloat("beta", 2))
		}
		mp := b.model(out, in...)
		m, err := Decode(marshal(mp))
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		const n = 5
		dims := int64s(in)
		dims[0] = n
		r := rand.New(rand.NewSource(int64(gi)))
		x := make([]float64, size(dims))
		for i := range x {
			x[i] = float64(float32(2*r.Float64() - 1))
		}
		want := interpret(mp, x, dims)
		// NCHW → NHWC input
		C, H, W := dims[1], dims[2], dims[3]
		xh := make([]float64, len(x))
		for b := 0; b < n; b++ {
			for c := 0; c < C; c++ {
				for h := 0; h < H; h++ {
					for w := 0; w < W; w++ {
						xh[((b*H+h)*W+w)*C+c] = x[((b*C+c)*H+h)*W+w]
					}
				}
			}
		}
		got, err := ref.Run(m, map[string][]float64{m.Input.Name: xh}, n, m.Output.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got[0]) != len(want.v) {
			t.Fatalf("%s: %d outputs, the interpreter %d", g.name, len(got[0]), len(want.v))
		}
		for i := range want.v {
			if math.Abs(got[0][i]-want.v[i]) > 1e-9*(1+math.Abs(want.v[i])) {
				t.Fatalf("%s: output %d is %v, the NCHW interpreter says %v", g.name, i, got[0][i], want.v[i])
			}
		}
		net, err := host.New(0).Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		f32 := make([]float32, len(xh))
		for i, v := range xh {
			f32[i] = float32(v)
		}
		res, err := net.Run(map[string][]float32{m.Input.Name: f32}, n, m.Output.Name)
		if err != nil {
			t.Fatal(err)
		}
		k := len(want.v) / n
		for i := 0; i < n; i++ {
			if e := relErr(res[0][i*k:(i+1)*k], want.v[i*k:(i+1)*k]); e > 1e-4 {
				t.Errorf("%s: image %d: CPU engine differs by %.3g relative", g.name, i, e)
			}
		}
		net.Close()
		if testing.Verbose() {
			fmt.Println(g.name)
			for _, l := range m.Layers {
				fmt.Println("   ", l, l.OutShape)
			}
		}
	}
}

func int64s(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

var _ = nn.Input
