package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"goodnet/nn"
	"goodnet/onnx/pb"
)

// maxFileSize bounds what Load reads: a protobuf message cannot exceed 2 GiB.
const maxFileSize = 2 << 30

// Sniff reports whether head, the first bytes of a file, can begin a serialized ONNX model:
// its first field is one of ModelProto's, with that field's wire type (the exporters write
// ir_version first). HDF5 (Keras) files, zip archives, images and text never pass.
func Sniff(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n <= 0 {
		return false
	}
	switch num {
	case 1, 5: // ir_version, model_version
		return typ == protowire.VarintType
	case 2, 3, 4, 6, 7, 8, 14, 20, 25: // strings, graph, opset_import, metadata, training, functions
		return typ == protowire.BytesType
	}
	return false
}

// SniffFile is Sniff on the start of the file at path (false when it cannot be read).
func SniffFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	return Sniff(head[:n])
}

// Load reads an ONNX model file into an nn.Model (see the package doc). Errors name the file,
// and the node, initializer or input where there is one:
// `model.onnx: node "/layers/layers.0/conv1/Conv" (Conv): group 2 is not supported (only 1: no grouped or depthwise convolutions)`.
func Load(path string) (*nn.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, unwrapPath(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an ONNX file", path)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %d bytes, larger than an ONNX protobuf can be (2 GiB)", path, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, unwrapPath(err))
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Source = path
	return m, nil
}

// Decode parses a serialized ONNX model and converts it.
func Decode(data []byte) (*nn.Model, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file, not an ONNX model")
	}
	if len(data) > maxFileSize {
		return nil, errors.New("larger than an ONNX protobuf can be (2 GiB)")
	}
	mp := &pb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (truncated or corrupt protobuf: %v)", err)
	}
	return convert(mp, "")
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
