package pipeline

import (
	"fmt"

	"goodnet/goodnet"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/onnx"
)

// Model files are recognised by their content: ONNX (onnx.Sniff), else Keras HDF5 (whose
// loader names a file that is neither).

// loadModelFile reads a full model file: architecture and weights.
func loadModelFile(path string) (*nn.Model, error) {
	if onnx.SniffFile(path) {
		return onnx.Load(path)
	}
	return keras.LoadModel(path)
}

// loadWeightsInto gives m the weights of the file at path: a Keras weights-only or full model
// file for a Keras model; for an ONNX model, an ONNX file of the same architecture (which
// then replaces m, so that B' is written from it). It returns the model with the weights.
func loadWeightsInto(m *nn.Model, path string) (*nn.Model, error) {
	if onnx.SniffFile(path) {
		w, err := onnx.Load(path)
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

// goodNetOf makes G(B, B') with B' read from the file bp: an ONNX model of B's graph, or
// Keras weights (weights-only or a full model file).
func goodNetOf(b *nn.Model, bp string, be nn.Backend) (*goodnet.GoodNet, error) {
	if onnx.SniffFile(bp) || onnx.FromONNX(b) {
		bprime, err := loadWeightsInto(b, bp)
		if err != nil {
			return nil, err
		}
		g, err := goodnet.FromModels(b, bprime, be)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bp, err)
		}
		return g, nil
	}
	g := goodnet.New(b, be)
	if err := g.LoadWeights("", bp); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}
