package keras

import (
	"fmt"
	"strings"

	"goodnet/internal/atomicfile"
	"goodnet/internal/h5"
	"goodnet/nn"
)

// DefaultKerasVersion is the keras_version written to full model files (their Functional
// config needs Keras ≥ 2.4) and to weights-only files of models not read from a Keras 2 file.
const DefaultKerasVersion = "2.4.0"

// SaveWeights writes m's weights in Keras' weights-only layout (save_weights), like the lab's
// bd_weights.h5: root attributes layer_names (fixed-length strings, every layer in m's order,
// weightless ones included), backend and keras_version; per layer a group with attribute
// weight_names ("conv_1/kernel:0", "conv_1/bias:0" as fixed-length strings, or an empty
// float64 array) and the float32 datasets <layer>/<layer>/kernel:0 and bias:0.
// The file is written to a temporary file in the same directory and renamed.
func SaveWeights(m *nn.Model, path string) error {
	return SaveWeightsIn(nil, m, path)
}

// SaveWeightsIn is SaveWeights staged in b (goodnet/internal/atomicfile): the file appears
// when b is committed, together with the other outputs of the run.
func SaveWeightsIn(b *atomicfile.Batch, m *nn.Model, path string) error {
	version := m.KerasVersion
	if !strings.HasPrefix(version, "2.") {
		version = DefaultKerasVersion
	}
	return h5.WriteIn(b, path, func(f *h5.File) error {
		return writeWeights(f, m, "/", version)
	})
}

// SaveModel writes a full model file as Keras 2.4's model.save does: root attributes
// model_config (MarshalConfig), keras_version and backend, and the group model_weights with
// the weights-only layout inside. Written atomically like SaveWeights.
func SaveModel(m *nn.Model, path string) error {
	js, err := MarshalConfig(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return h5.WriteAtomic(path, func(f *h5.File) error {
		// h5py writes str attributes as UTF-8 and bytes as ASCII; Keras 2.4 passes
		// model_config as bytes and the versions as str.
		if err := f.SetString("/", "backend", "tensorflow", true); err != nil {
			return err
		}
		if err := f.SetString("/", "keras_version", DefaultKerasVersion, true); err != nil {
			return err
		}
		if err := f.SetString("/", "model_config", string(js), false); err != nil {
			return err
		}
		if err := f.CreateGroup("model_weights"); err != nil {
			return err
		}
		return writeWeights(f, m, "model_weights", DefaultKerasVersion)
	})
}

func writeWeights(f *h5.File, m *nn.Model, g, version string) error {
	return WriteLayers(f, m, g, version, nil)
}

// WeightTensor is one weight tensor as WriteLayers writes it.
type WeightTensor struct {
	Name string // as listed in weight_names, relative to the layer's group: "conv_1/kernel:0"
	Elem string // the dataset's element type (h5.Float32, h5.Float64, h5.Int64, ...)
	Dims []int
	Data any // written into the dataset: a slice of Elem's Go type; nil: never written
	// NoDataset: listed in weight_names, but no dataset is made. Unlisted: neither.
	NoDataset, Unlisted bool
}

// WriteLayers writes m's weights in Keras' weights-only layout into the open file f under the
// group g: attributes backend, keras_version and layer_names (fixed-length strings, every
// layer in m's order, weightless ones included); per layer a group with attribute
// weight_names ("conv_1/kernel:0", "conv_1/bias:0" as fixed-length strings, or an empty
// float64 array) and the float32 datasets <layer>/<layer>/kernel:0 and bias:0. SaveWeights
// and SaveModel write through it.
//
// edit, when not nil, is called for every layer in order with its tensors (none for a
// weightless layer) before anything of the layer is written; it may change any tensor, and
// returning false leaves the layer's group out. Tools and tests that build unusual or broken
// Keras files use it.
func WriteLayers(f *h5.File, m *nn.Model, g, version string, edit func(layer string, ts []*WeightTensor) bool) error {
	if err := m.CheckWeights(); err != nil {
		return err
	}
	names := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		if !validName(l.Name) {
			return fmt.Errorf("layer %q: the name cannot be an HDF5 group name", l.Name)
		}
		names[i] = l.Name
	}
	if err := f.SetString(g, "backend", "tensorflow", false); err != nil {
		return err
	}
	if err := f.SetString(g, "keras_version", version, false); err != nil {
		return err
	}
	if err := f.SetStrings(g, "layer_names", names); err != nil {
		return err
	}
	for _, l := range m.Layers {
		var ts []*WeightTensor
		for _, w := range l.Weights() {
			ts = append(ts, &WeightTensor{Name: l.Name + "/" + w.Name + ":0", Elem: h5.Float32, Dims: w.Shape, Data: *w.Data})
		}
		if edit != nil && !edit(l.Name, ts) {
			continue
		}
		lg := h5.Join(g, l.Name)
		if err := f.CreateGroup(lg); err != nil {
			return err
		}
		var wn []string
		for _, t := range ts {
			if !t.Unlisted {
				wn = append(wn, t.Name)
			}
		}
		if len(wn) == 0 {
			if err := f.SetEmptyFloats(lg, "weight_names"); err != nil {
				return err
			}
			continue
		}
		if err := f.SetStrings(lg, "weight_names", wn); err != nil {
			return err
		}
		if err := f.CreateGroup(h5.Join(lg, l.Name)); err != nil {
			return err
		}
		for _, t := range ts {
			if t.Unlisted || t.NoDataset {
				continue
			}
			q := h5.Join(lg, t.Name)
			if err := f.CreateDataset(q, t.Elem, t.Dims); err != nil {
				return err
			}
			if t.Data != nil {
				if err := f.Write(q, t.Data, 0, 0); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
