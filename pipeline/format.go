package pipeline

import (
	"fmt"

	"goodnet/keras"
	"goodnet/nn"
	"goodnet/onnx"
)

// Model files are recognised by their content: ONNX (onnx.Sniff), a Keras 3 .keras archive
// (a zip), else Keras HDF5 (whose loader names a file that is neither).

// loadModelFile reads a full model file: architecture and weights.
func loadModelFile(path string) (*nn.Model, error) {
	switch {
	case onnx.SniffFile(path):
		return onnx.Load(path)
	case keras.IsArchive(path):
		return keras.LoadArchive(path)
	}
	return keras.LoadModel(path)
}

// wholeModel reports whether the file at path holds a whole model that replaces another's
// weights (ONNX, a .keras archive), rather than Keras weights to load into one.
func wholeModel(path string) bool { return onnx.SniffFile(path) || keras.IsArchive(path) }

// loadWeightsInto gives m the weights of the file at path: a Keras weights-only or full model
// file for a Keras model; an ONNX file or a .keras archive of the same architecture (which
// then replaces m, so that B' is written in its format). It returns the model with the
// weights.
func loadWeightsInto(m *nn.Model, path string) (*nn.Model, error) {
	if wholeModel(path) {
		w, err := loadModelFile(path)
		if err != nil {
			return nil, err
		}
		if err := m.SameArchitecture(w); err != nil {
			return nil, fmt.Errorf("%s: not the architecture of %s: %w", path, m.Source, err)
		}
		return w, nil
	}
	if onnx.FromONNX(m) {
		return nil, fmt.Errorf("%s: not an ONNX file: the weights of an ONNX model (%s) come from an ONNX file of the same graph", path, m.Source)
	}
	if err := keras.LoadWeights(m, path); err != nil {
		return nil, err
	}
	m.Source = path
	return m, nil
}
