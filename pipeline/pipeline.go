// Package pipeline holds the jobs behind the CLI's subcommands — load the files, run the
// library, write the outputs — so that `goodnet` itself only parses flags, and the demo and
// the benchmarks run exactly what users run.
package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"goodnet/dataset"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/report"
)

// LoadModel reads B: the architecture (and weights) from a full Keras model file, then, if
// weights is not "", the weights from that file (weights-only or full), replacing the first.
func LoadModel(model, weights string) (*nn.Model, error) {
	m, err := keras.LoadModel(model)
	if err != nil {
		return nil, err
	}
	if weights != "" {
		if err := keras.LoadWeights(m, weights); err != nil {
			return nil, err
		}
		m.Source = weights
	}
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("%s: %w", model, err)
	}
	return m, nil
}

// BprimePath resolves --pruned_bad_model_weights: a file as given, or, for the output
// directory of `goodnet prune`, its bprime_<threshold>.h5.
func BprimePath(path string, threshold float64) (string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return path, nil // the loader reports a missing file
	}
	if threshold <= 0 {
		return "", fmt.Errorf("%s is a directory: give --threshold T to pick its bprime_T.h5", path)
	}
	p := filepath.Join(path, report.BprimeName(threshold))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: no B' for the %g %% threshold in %s (was it reached?)", p, threshold, path)
	}
	return p, nil
}

// LoadBprime reads B' from path (a weights-only or a full Keras model file of B's
// architecture) into a copy of b.
func LoadBprime(b *nn.Model, path string) (*nn.Model, error) {
	bp := b.Clone()
	if err := keras.LoadWeights(bp, path); err != nil {
		return nil, err
	}
	bp.Source = path
	return bp, nil
}

// LoadSet reads a lab h5 set and checks it fits the model's input.
func LoadSet(path string, scale float32, m *nn.Model) (*nn.Set, error) {
	s, err := dataset.Load(path, scale)
	if err != nil {
		return nil, err
	}
	if err := s.CheckShape(m.InputShape()); err != nil {
		return nil, err
	}
	return s, nil
}
