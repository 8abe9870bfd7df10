package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"goodnet/onnx/pb"
)

// maxElems bounds a tensor's declared element count (2^31: beyond what a protobuf file can
// hold as float32).
const maxElems = 1 << 31

// tensor is a decoded TensorProto: float data widened to float64, or integers.
type tensor struct {
	name string
	typ  pb.TensorProto_DataType
	dims []int
	f    []float64 // FLOAT, DOUBLE
	i    []int64   // INT64, INT32
}

func (t *tensor) size() int {
	n := 1
	for _, d := range t.dims {
		n *= d
	}
	return n
}

func dimsString(d []int) string { return fmt.Sprint(d) }

// decodeTensor checks and decodes t: dims non-negative and small enough, the data of exactly
// their size, float values finite.
func decodeTensor(t *pb.TensorProto) (*tensor, error) {
	out := &tensor{name: t.GetName(), typ: pb.TensorProto_DataType(t.GetDataType())}
	if t.GetDataLocation() == pb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("stored in an external file (external data is not supported)")
	}
	if t.GetSegment() != nil {
		return nil, fmt.Errorf("a segment of a tensor (not supported)")
	}
	n := 1
	for _, d := range t.GetDims() {
		if d < 0 || d > maxElems {
			return nil, fmt.Errorf("dimension %d in %v (want 0..%d)", d, t.GetDims(), maxElems)
		}
		out.dims = append(out.dims, int(d))
		n *= int(d)
		if n > maxElems {
			return nil, fmt.Errorf("dims %v: %s elements, too large", t.GetDims(), bigProduct(t.GetDims()))
		}
	}
	raw := t.GetRawData()
	width := 0
	switch out.typ {
	case pb.TensorProto_FLOAT:
		width = 4
	case pb.TensorProto_DOUBLE, pb.TensorProto_INT64:
		width = 8
	case pb.TensorProto_INT32:
		width = 4
	case pb.TensorProto_BOOL:
		width = 1
	default:
		return nil, fmt.Errorf("data type %s is not supported (float32, float64; int64, int32, bool for shapes and flags)", typeName(out.typ))
	}
	var have int
	switch {
	case raw != nil:
		have = len(raw) / width
		if len(raw)%width != 0 {
			return nil, fmt.Errorf("raw_data has %d bytes, not a multiple of %d", len(raw), width)
		}
	case out.typ == pb.TensorProto_FLOAT:
		have = len(t.GetFloatData())
	case out.typ == pb.TensorProto_DOUBLE:
		have = len(t.GetDoubleData())
	case out.typ == pb.TensorProto_INT64:
		have = len(t.GetInt64Data())
	case out.typ == pb.TensorProto_INT32, out.typ == pb.TensorProto_BOOL:
		have = len(t.GetInt32Data())
	}
	if have != n {
		return nil, fmt.Errorf("dims %v need %d values, the data has %d", t.GetDims(), n, have)
	}
	switch out.typ {
	case pb.TensorProto_FLOAT, pb.TensorProto_DOUBLE:
		out.f = make([]float64, n)
		for k := range out.f {
			switch {
			case raw != nil && width == 4:
				out.f[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])))
			case raw != nil:
				out.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			case out.typ == pb.TensorProto_FLOAT:
				out.f[k] = float64(t.GetFloatData()[k])
			default:
				out.f[k] = t.GetDoubleData()[k]
			}
			if math.IsNaN(out.f[k]) || math.IsInf(out.f[k], 0) {
				return nil, fmt.Errorf("value %d is %v (not finite)", k, out.f[k])
			}
		}
	default:
		out.i = make([]int64, n)
		for k := range out.i {
			switch {
			case raw != nil && width == 8:
				out.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			case raw != nil && width == 1:
				out.i[k] = int64(raw[k])
			case raw != nil:
				out.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
			case out.typ == pb.TensorProto_INT64:
				out.i[k] = t.GetInt64Data()[k]
			default:
				out.i[k] = int64(t.GetInt32Data()[k])
			}
		}
	}
	return out, nil
}

func bigProduct(d []int64) string {
	p := 1.0
	for _, v := range d {
		p *= float64(v)
	}
	return fmt.Sprintf("%.3g", p)
}

func typeName(t pb.TensorProto_DataType) string {
	if s, ok := pb.TensorProto_DataType_name[int32(t)]; ok {
		return s
	}
	return fmt.Sprintf("type %d", int32(t))
}

// encodeFloats replaces t's data by v in t's float type (raw_data, little-endian).
func encodeFloats(t *pb.TensorProto, v []float64) {
	var raw []byte
	if pb.TensorProto_DataType(t.GetDataType()) == pb.TensorProto_DOUBLE {
		raw = make([]byte, 8*len(v))
		for k, x := range v {
			binary.LittleEndian.PutUint64(raw[8*k:], math.Float64bits(x))
		}
	} else {
		raw = make([]byte, 4*len(v))
		for k, x := range v {
			binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(float32(x)))
		}
	}
	t.RawData = raw
	t.FloatData, t.DoubleData = nil, nil
}
