package onnx

// A builder of ONNX graphs for tests, and an independent float64 interpreter of them in ONNX's
// own NCHW semantics (written from the operator specifications, sharing nothing with the
// converter), so that the NCHW → NHWC mapping is checked, not assumed.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"

	"google.golang.org/protobuf/proto"

	"goodnet/onnx/pb"
)

type builder struct {
	g    *pb.GraphProto
	r    *rand.Rand
	k    int
	skip map[string]bool
}

func newBuilder(seed int64) *builder {
	return &builder{g: &pb.GraphProto{Name: proto.String("test")}, r: rand.New(rand.NewSource(seed))}
}

func (b *builder) fresh(p string) string { b.k++; return fmt.Sprintf("%s_%d", p, b.k) }

func floatTensor(name string, dims []int, v []float32) *pb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	d := make([]int64, len(dims))
	for i, x := range dims {
		d[i] = int64(x)
	}
	return &pb.TensorProto{Name: proto.String(name), Dims: d, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), RawData: raw}
}

func intTensor(name string, v []int64) *pb.TensorProto {
	return &pb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(v))}, DataType: proto.Int32(int32(pb.TensorProto_INT64)), Int64Data: v}
}

// rand adds a random float initializer (values in ±lim, or in [lo, lo+lim) with lo > 0).
func (b *builder) rand(lo, lim float64, dims ...int) string {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		if lo > 0 {
			v[i] = float32(lo + lim*b.r.Float64())
		} else {
			v[i] = float32((2*b.r.Float64() - 1) * lim)
		}
	}
	name := b.fresh("w")
	b.g.Initializer = append(b.g.Initializer, floatTensor(name, dims, v))
	return name
}

func (b *builder) ints(v ...int64) string {
	name := b.fresh("shape")
	b.g.Initializer = append(b.g.Initializer, intTensor(name, v))
	return name
}

func aInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}
func aInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}
func aFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}
func aStr(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// node adds a node; its output is returned.
func (b *builder) node(op string, ins []string, attrs ...*pb.AttributeProto) string {
	out := b.fresh(op)
	b.g.Node = append(b.g.Node, &pb.NodeProto{OpType: proto.String(op), Name: proto.String("/" + out), Input: ins,
		Output: []string{out}, Attribute: attrs})
	return out
}

func valueInfo(name string, dims ...int64) *pb.ValueInfoProto {
	var ds []*pb.TensorShapeProto_Dimension
	for i, d := range dims {
		if i == 0 {
			ds = append(ds, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "n"}})
			continue
		}
		ds = append(ds, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &pb.ValueInfoProto{Name: proto.String(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(pb.TensorProto_FLOAT)), Shape: &pb.TensorShapeProto{Dim: ds}}}}}
}

// model finishes the graph: input "input" of dims (batch first), output out.
func (b *builder) model(out string, inDims ...int64) *pb.ModelProto {
	b.g.Input = []*pb.ValueInfoProto{valueInfo("input", inDims...)}
	b.g.Output = []*pb.ValueInfoProto{valueInfo(out, 0, 0)}
	return &pb.ModelProto{IrVersion: proto.Int64(7), ProducerName: proto.String("goodnet-test"), Graph: b.g,
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
}

func marshal(mp *pb.ModelProto) []byte {
	data, err := proto.Marshal(mp)
	if err != nil {
		panic(err)
	}
	return data
}

// ---- the interpreter ----

type nd struct {
	dims []int
	v    []float64
	i    []int64 // integer tensors (shapes)
}

func (t nd) at(idx ...int) float64 {
	k := 0
	for i, x := range idx {
		k = k*t.dims[i] + x
	}
	return t.v[k]
}

func size(d []int) int {
	n := 1
	for _, x := range d {
		n *= x
	}
	return n
}

// interpret evaluates mp on x (N×dims of the input, row-major) and returns the output.
func interpret(mp *pb.ModelProto, x []float64, dims []int) nd {
	env := map[string]nd{}
	for _, t := range mp.GetGraph().GetInitializer() {
		d, err := decodeTensor(t)
		if err != nil {
			panic(err)
		}
		env[t.GetName()] = nd{dims: d.dims, v: d.f, i: d.i}
	}
	env[mp.GetGraph().GetInput()[0].GetName()] = nd{dims: dims, v: x}
	for _, n := range mp.GetGraph().GetNode() {
		at := map[string]*pb.AttributeProto{}
		for _, a := range n.GetAttribute() {
			at[a.GetName()] = a
		}
		ints := func(name string, def ...int64) []int64 {
			if a := at[name]; a != nil {
				return a.GetInts()
			}
			return def
		}
		intA := func(name string, def int64) int64 {
			if a := at[name]; a != nil {
				return a.GetI()
			}
			return def
		}
		fl := func(name string, def float64) float64 {
			if a := at[name]; a != nil {
				return float64(a.GetF())
			}
			return def
		}
		in := func(i int) nd { return env[n.GetInput()[i]] }
		var out nd
		switch n.GetOpType() {
		case "Conv", "MaxPool", "AveragePool":
			X := in(0)
			N, C, H, W := X.dims[0], X.dims[1], X.dims[2], X.dims[3]
			var Wt nd
			var KH, KW, O int
			if n.GetOpType() == "Conv" {
				Wt = in(1)
				O, KH, KW = Wt.dims[0], Wt.dims[2], Wt.dims[3]
			} else {
				k := ints("kernel_shape")
				KH, KW, O = int(k[0]), int(k[1]), C
			}
			st := ints("strides", 1, 1)
			p := ints("pads", 0, 0, 0, 0)
			pt, pl, pb2, pr := int(p[0]), int(p[1]), int(p[2]), int(p[3])
			switch string(at["auto_pad"].GetS()) {
			case "SAME_UPPER", "SAME_LOWER":
				tot := func(in, k, s int) int { return max(((in+s-1)/s-1)*s+k-in, 0) }
				th, tw := tot(H, KH, int(st[0])), tot(W, KW, int(st[1]))
				pt, pl = th/2, tw/2
				if string(at["auto_pad"].GetS()) == "SAME_LOWER" {
					pt, pl = th-th/2, tw-tw/2
				}
				pb2, pr = th-pt, tw-pl
			}
			OH := (H+pt+pb2-KH)/int(st[0]) + 1
			OW := (W+pl+pr-KW)/int(st[1]) + 1
			out = nd{dims: []int{N, O, OH, OW}, v: make([]float64, N*O*OH*OW)}
			cip := intA("count_include_pad", 0) != 0
			for b := 0; b < N; b++ {
				for o := 0; o < O; o++ {
					for i := 0; i < OH; i++ {
						for j := 0; j < OW; j++ {
							s, cnt, best := 0.0, 0, math.Inf(-1)
							if n.GetOpType() == "Conv" && len(n.GetInput()) > 2 {
								s = in(2).v[o]
							}
							for y := 0; y < KH; y++ {
								for z := 0; z < KW; z++ {
									r, c := i*int(st[0])+y-pt, j*int(st[1])+z-pl
									if r < 0 || r >= H || c < 0 || c >= W {
										continue
									}
									if n.GetOpType() == "Conv" {
										for ci := 0; ci < C; ci++ {
											s += X.at(b, ci, r, c) * Wt.at(o, ci, y, z)
										}
									} else {
										s += X.at(b, o, r, c)
										best = math.Max(best, X.at(b, o, r, c))
										cnt++
									}
								}
							}
							switch n.GetOpType() {
							case "MaxPool":
								s = best
							case "AveragePool":
								if cip {
									cnt = KH * KW
								}
								s /= float64(cnt)
							}
							out.v[((b*O+o)*OH+i)*OW+j] = s
						}
					}
				}
			}
		case "Relu", "LeakyRelu":
			X := in(0)
			out = nd{dims: X.dims, v: make([]float64, len(X.v))}
			alpha := 0.0
			if n.GetOpType() == "LeakyRelu" {
				alpha = fl("alpha", 0.01)
			}
			for i, v := range X.v {
				if v < 0 {
					v *= alpha
				}
				out.v[i] = v
			}
		case "BatchNormalization":
			X := in(0)
			sc, bi, mu, va := in(1), in(2), in(3), in(4)
			eps := fl("epsilon", 1e-5)
			out = nd{dims: X.dims, v: make([]float64, len(X.v))}
			C := X.dims[1]
			inner := size(X.dims[2:])
			for i, v := range X.v {
				c := (i / inner) % C
				out.v[i] = sc.v[c]*(v-mu.v[c])/math.Sqrt(va.v[c]+eps) + bi.v[c]
			}
		case "GlobalAveragePool":
			X := in(0)
			N, C, HW := X.dims[0], X.dims[1], X.dims[2]*X.dims[3]
			out = nd{dims: []int{N, C, 1, 1}, v: make([]float64, N*C)}
			for i := range out.v {
				for p := 0; p < HW; p++ {
					out.v[i] += X.v[i*HW+p]
				}
				out.v[i] /= float64(HW)
			}
		case "Add":
			A, B := in(0), in(1)
			out = nd{dims: A.dims, v: make([]float64, len(A.v))}
			if len(B.v) < len(A.v) { // a bias row broadcast
				for i := range out.v {
					out.v[i] = A.v[i] + B.v[i%len(B.v)]
				}
			} else {
				for i := range out.v {
					out.v[i] = A.v[i] + B.v[i]
				}
			}
		case "Gemm", "MatMul":
			A, B := in(0), in(1)
			tb := intA("transB", 0)
			alpha, beta := fl("alpha", 1), fl("beta", 1)
			N, K := A.dims[0], A.dims[1]
			O := B.dims[1]
			if tb != 0 {
				O = B.dims[0]
			}
			out = nd{dims: []int{N, O}, v: make([]float64, N*O)}
			for b := 0; b < N; b++ {
				for o := 0; o < O; o++ {
					s := 0.0
					for k := 0; k < K; k++ {
						w := B.v[k*O+o]
						if tb != 0 {
							w = B.v[o*K+k]
						}
						s += A.v[b*K+k] * w
					}
					s *= alpha
					if n.GetOpType() == "Gemm" && len(n.GetInput()) > 2 {
						s += beta * in(2).v[o]
					}
					out.v[b*O+o] = s
				}
			}
		case "Flatten", "Reshape", "Squeeze", "Identity", "Dropout", "Softmax", "LogSoftmax":
			X := in(0)
			out = nd{dims: []int{X.dims[0], size(X.dims[1:])}, v: X.v}
			if n.GetOpType() == "Identity" || n.GetOpType() == "Dropout" {
				out.dims = X.dims
			}
			if n.GetOpType() == "Softmax" || n.GetOpType() == "LogSoftmax" {
				// goodnet keeps the logits (same argmax); the interpreter does the same
			}
		case "Transpose": // (0, 2, 3, 1)
			X := in(0)
			N, C, H, W := X.dims[0], X.dims[1], X.dims[2], X.dims[3]
			out = nd{dims: []int{N, H, W, C}, v: make([]float64, len(X.v))}
			for b := 0; b < N; b++ {
				for c := 0; c < C; c++ {
					for h := 0; h < H; h++ {
						for w := 0; w < W; w++ {
							out.v[((b*H+h)*W+w)*C+c] = X.at(b, c, h, w)
						}
					}
				}
			}
		case "Concat": // along axis 1 of float tensors
			if in(0).i != nil || in(0).v == nil {
				var v []int64
				for i := range n.GetInput() {
					v = append(v, in(i).i...)
				}
				out = nd{dims: []int{len(v)}, i: v}
				break
			}
			N := in(0).dims[0]
			inner := size(in(0).dims[2:])
			C := 0
			for i := range n.GetInput() {
				C += in(i).dims[1]
			}
			out = nd{dims: append([]int{N, C}, in(0).dims[2:]...)}
			for b := 0; b < N; b++ {
				for i := range n.GetInput() {
					X := in(i)
					ci := X.dims[1]
					out.v = append(out.v, X.v[b*ci*inner:(b+1)*ci*inner]...)
				}
			}
		case "Pad":
			X := in(0)
			p := in(1).i
			N, C, H, W := X.dims[0], X.dims[1], X.dims[2], X.dims[3]
			OH, OW := H+int(p[2]+p[6]), W+int(p[3]+p[7])
			out = nd{dims: []int{N, C, OH, OW}, v: make([]float64, N*C*OH*OW)}
			for b := 0; b < N; b++ {
				for c := 0; c < C; c++ {
					for h := 0; h < H; h++ {
						for w := 0; w < W; w++ {
							out.v[((b*C+c)*OH+h+int(p[2]))*OW+w+int(p[3])] = X.at(b, c, h, w)
						}
					}
				}
			}
		case "Shape":
			d := in(0).dims
			v := make([]int64, len(d))
			for i, x := range d {
				v[i] = int64(x)
			}
			out = nd{dims: []int{len(v)}, i: v}
		case "Gather":
			out = nd{i: []int64{in(0).i[in(1).i[0]]}}
		case "Unsqueeze":
			out = nd{dims: []int{1}, i: in(0).i}
		default:
			panic("interpret: " + n.GetOpType())
		}
		env[n.GetOutput()[0]] = out
	}
	return env[mp.GetGraph().GetOutput()[0].GetName()]
}
