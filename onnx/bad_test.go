package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"goodnet/onnx/pb"
)

// small is a valid model: conv → relu → GAP → flatten → Gemm.
func small() (*builder, *pb.ModelProto) {
	b := newBuilder(1)
	x := b.node("Conv", []string{"input", b.rand(0, 0.5, 4, 3, 3, 3), b.rand(0, 0.1, 4)}, aInts("pads", 1, 1, 1, 1))
	x = b.node("Relu", []string{x})
	x = b.node("GlobalAveragePool", []string{x})
	x = b.node("Flatten", []string{x})
	x = b.node("Gemm", []string{x, b.rand(0, 0.5, 3, 4), b.rand(0, 0.1, 3)}, aInt("transB", 1))
	return b, b.model(x, 1, 3, 8, 8)
}

// TestBadFiles: every broken ONNX file is one error line naming the problem (and the node,
// initializer or input), never a panic.
func TestBadFiles(t *testing.T) {
	_, good := small()
	if _, err := Decode(marshal(good)); err != nil {
		t.Fatalf("the good model: %v", err)
	}
	edit := func(f func(b *builder, mp *pb.ModelProto)) []byte {
		b, mp := small()
		f(b, mp)
		return marshal(mp)
	}
	fixture, err := os.ReadFile(onnxFixture(t, "preact_resnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", fixture[:len(fixture)*2/5], "not a valid ONNX model (truncated or corrupt protobuf"},
		{"truncated-small", marshal(good)[:40], "truncated or corrupt protobuf"},
		{"unknown-op", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Node[1].OpType = proto.String("Sin") }),
			`node "/Relu_4" (Sin): operator Sin is not supported`},
		{"missing-initializer", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Initializer = mp.Graph.Initializer[1:] }),
			`node "/Conv_3" (Conv): input "w_1" is missing: it is neither the graph input, an initializer nor a node's output`},
		{"wrong-dtype-initializer", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Initializer[0].DataType = proto.Int32(int32(pb.TensorProto_FLOAT16))
		}), `initializer "w_1": data type FLOAT16 is not supported`},
		{"wrong-dtype-input", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().ElemType = proto.Int32(int32(pb.TensorProto_UINT8))
		}), `input "input" is UINT8; goodnet needs float32 images`},
		{"weights-not-float", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Initializer[0] = intTensor("w_1", make([]int64, 108))
			mp.Graph.Initializer[0].Dims = []int64{4, 3, 3, 3}
		}), `node "/Conv_3" (Conv): weight "w_1" is not a float tensor`},
		{"cycle", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Node[0].Input[0] = mp.Graph.Node[1].Output[0] // conv reads relu, relu reads conv
		}), "the graph has a cycle through this node"},
		{"giant-initializer-dims", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 20, 3, 3}
		}), `initializer "w_1": dims [1048576 1048576 3 3]: 9.9e+12 elements, too large`},
		{"negative-dim", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Initializer[0].Dims = []int64{-4, 3, 3, 3} }),
			`initializer "w_1": dimension -4`},
		{"dims-data-mismatch", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Initializer[0].Dims = []int64{5, 3, 3, 3} }),
			`initializer "w_1": dims [5 3 3 3] need 135 values, the data has 108`},
		{"giant-input", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().Shape.Dim[2].Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: 1 << 40}
		}), `input "input": dimension 2 is 1099511627776`},
		{"huge-activation", edit(func(b *builder, mp *pb.ModelProto) {
			for _, d := range mp.Graph.Input[0].Type.GetTensorType().Shape.Dim[2:] {
				d.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: 1 << 19}
			}
		}), "too large"},
		{"symbolic-input", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().Shape.Dim[3].Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: "w"}
		}), `input "input": dimension 3 is not a number ("w")`},
		{"nan-weight", edit(func(b *builder, mp *pb.ModelProto) {
			raw := mp.Graph.Initializer[1].RawData
			copy(raw, []byte{0, 0, 0xc0, 0x7f})
		}), `initializer "w_2": value 0 is NaN (not finite)`},
		{"external-data", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Initializer[0].DataLocation = pb.TensorProto_EXTERNAL.Enum()
		}), "external data is not supported"},
		{"opset-9", edit(func(b *builder, mp *pb.ModelProto) { mp.OpsetImport[0].Version = proto.Int64(9) }), "opset 9 is not supported (11–17)"},
		{"group-2", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute, aInt("group", 2))
		}), "group 2 is not supported"},
		{"dilations", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute, aInts("dilations", 2, 2))
		}), "dilations [2 2] are not supported"},
		{"conv-channels", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().Shape.Dim[1].Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: 5}
		}), `weight "w_1" has 3 input channels, the input has 5`},
		{"two-producers", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Node[2].Output[0] = mp.Graph.Node[1].Output[0] }),
			`output "Relu_4" is also produced by another node`},
		{"no-graph", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph = nil }), "the model has no graph"},
		{"two-outputs", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Output = append(mp.Graph.Output, valueInfo("Relu_4", 0, 0))
		}), "2 outputs"},
		{"unknown-attribute", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Node[1].Attribute = append(mp.Graph.Node[1].Attribute, aInt("frobnicate", 1))
		}), `node "/Relu_4" (Relu): attribute "frobnicate" is not supported`},
		{"attribute-type", edit(func(b *builder, mp *pb.ModelProto) {
			mp.Graph.Node[0].Attribute[0] = aInt("pads", 1)
		}), `attribute "pads" is INT, want INTS`},
		{"other-domain", edit(func(b *builder, mp *pb.ModelProto) { mp.Graph.Node[1].Domain = proto.String("com.microsoft") }),
			`operator domain "com.microsoft" is not supported`},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, c.name+".onnx")
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if testing.Verbose() {
			t.Log(err)
		}
		switch {
		case err == nil:
			t.Errorf("%s: loaded", c.name)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q, want %q", c.name, err, c.want)
		case !strings.HasPrefix(err.Error(), p+": ") || strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: error %q is not one line naming the file", c.name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "nothing.onnx")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

func TestSniff(t *testing.T) {
	fixture, err := os.ReadFile(onnxFixture(t, "deepid.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, mp := small()
	for _, ok := range [][]byte{fixture, marshal(mp)} {
		if !Sniff(ok[:16]) {
			t.Errorf("an ONNX file not recognised: % x", ok[:16])
		}
	}
	for _, bad := range [][]byte{nil, []byte("\x89HDF\r\n\x1a\n\x00\x00"), []byte("PK\x03\x04"), []byte("\x89PNG\r\n\x1a\n"),
		[]byte("this is text"), []byte("{\"class_name\": 1}"), {0xff, 0xff}} {
		if Sniff(bad) {
			t.Errorf("%q taken for ONNX", bad)
		}
	}
}
