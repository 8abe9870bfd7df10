package pipeline_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/pipeline"

	_ "goodnet/host" // the "cpu" backend
)

// A missing file is fs.ErrNotExist through every loader and the jobs above them
// (errors.Is), and the message still names the file and says "no such file".
func TestMissingFileIsErrNotExist(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.h5")
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 1)
	model := filepath.Join(dir, "b.h5")
	if err := keras.SaveModel(m, model); err != nil {
		t.Fatal(err)
	}
	cpu, err := nn.Open(nn.CPU)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"keras.LoadModel":   func() error { _, err := keras.LoadModel(missing); return err },
		"keras.LoadWeights": func() error { return keras.LoadWeights(m.Clone(), missing) },
		"keras.Inspect":     func() error { _, err := keras.Inspect(missing); return err },
		"dataset.Load":      func() error { _, err := dataset.Load(missing, 1); return err },
		"dataset.LoadImages": func() error {
			_, err := dataset.LoadImages([]string{filepath.Join(dir, "face.png")}, 1, nil)
			return err
		},
		"pipeline.LoadModel":         func() error { _, err := pipeline.LoadModel(missing, ""); return err },
		"pipeline.LoadModel weights": func() error { _, err := pipeline.LoadModel(model, missing); return err },
		"pipeline.LoadBprime":        func() error { _, err := pipeline.LoadBprime(m, missing); return err },
		"pipeline.LoadSet":           func() error { _, err := pipeline.LoadSet(missing, 1, m); return err },
		"pipeline.Inspect":           func() error { _, err := pipeline.Inspect(missing, ""); return err },
		"pipeline.Eval": func() error {
			_, err := pipeline.Eval(pipeline.EvalOptions{CleanSet: missing, BadSet: missing, BadModel: model, Bprime: model, Scale: 1, Backend: cpu})
			return err
		},
	} {
		err := f()
		if !errors.Is(err, fs.ErrNotExist) || !strings.HasSuffix(err.Error(), ": no such file") {
			t.Errorf("%s: %v (errors.Is fs.ErrNotExist: %v)", name, err, errors.Is(err, fs.ErrNotExist))
		}
	}
}
