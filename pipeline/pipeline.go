// Package pipeline holds the jobs behind the CLI's subcommands — load the files, run the
// library, write the outputs — so that `goodnet` itself only parses flags, and the demo and
// the benchmarks run exactly what users run.
package pipeline

import (
	"fmt"
	"os"

	"goodnet/dataset"
	"goodnet/internal/resource"
	"goodnet/nn"
	"goodnet/report"
)

// LoadModel reads B: the architecture (and weights) from a full model file (Keras HDF5 or
// ONNX, recognised by content), then, if weights is not "", the weights from that file
// (Keras: weights-only or full; ONNX: a model of the same graph), replacing the first.
func LoadModel(model, weights string) (*nn.Model, error) {
	m, err := loadModelFile(model)
	if err != nil {
		return nil, err
	}
	if weights != "" {
		if m, err = loadWeightsInto(m, weights); err != nil {
			return nil, err
		}
	}
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("%s: %w", model, err)
	}
	return m, nil
}

// LoadModelToRun is LoadModel for a job that runs the model: its FLOPs per image are held to
// the resource policy's cap before anything else is read (resource.CheckModel).
func LoadModelToRun(model, weights string) (*nn.Model, error) {
	m, err := LoadModel(model, weights)
	if err != nil {
		return nil, err
	}
	if err := resource.CheckModel(m, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// BprimePath resolves --pruned_bad_model_weights: a file as given, or, for the output
// directory of `goodnet prune`, the B' at threshold t of the run that wrote it — read from
// its current generation as its report.json lists it (report.ReadOutput), so that a file an
// earlier run left is never taken for this run's.
func BprimePath(path string, threshold float64) (string, error) {
	return ResolveBprime(path, threshold, false)
}

// ResolveBprime is BprimePath, or with fineTuned the fine-tuned B' (bprime_<t>_ft.h5) that the
// current run's report.json lists for the threshold (saved[i].finetuned.file).
func ResolveBprime(path string, threshold float64, fineTuned bool) (string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return path, nil // the loader reports a missing file
	}
	if threshold <= 0 {
		return "", fmt.Errorf("%s is a directory: give --threshold T to pick its bprime_T.h5", path)
	}
	o, err := report.ReadOutput(path)
	if err != nil {
		return "", err
	}
	return o.Bprime(threshold, fineTuned)
}

// LoadBprime reads B' from path into a copy of b: Keras weights (weights-only or a full model
// file) for a Keras B; an ONNX file or a .keras archive of B's architecture.
func LoadBprime(b *nn.Model, path string) (*nn.Model, error) {
	return loadWeightsInto(b.Clone(), path)
}

// LoadSet reads a lab h5 set and checks it fits the model's input.
func LoadSet(path string, scale float32, m *nn.Model) (*nn.Set, error) {
	return LoadSetNorm(path, scale, nil, nil, m)
}

// OpenSetNorm opens a lab h5 set to stream (nn.Set.Src reads its images in pieces, each
// normalised as LoadSetNorm's; X stays nil): the file is parsed and its shape, labels and
// normalisation checked now, and that two pieces of up to piece images fit the memory limit;
// close releases it. A job that takes every image through the model once never holds the set
// whole as float32 (nn.Set.Load reads it whole, after the same check as LoadSetNorm's).
func OpenSetNorm(path string, scale float32, mean, std []float32, m *nn.Model, piece int) (s *nn.Set, close func() error, err error) {
	rd, err := dataset.Open(path, scale)
	if err != nil {
		return nil, nil, err
	}
	s = &nn.Set{Path: path, N: rd.N, H: rd.H, W: rd.W, C: rd.C, Y: rd.Y}
	if err = s.CheckShape(m.InputShape()); err == nil {
		if err = nn.CheckNormalization(mean, std, rd.C); err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	}
	if err == nil {
		k := min(rd.N, piece)
		what := fmt.Sprintf("its %d images of %d×%d×%d, read as float32 in two pieces of %d at a time,", rd.N, rd.H, rd.W, rd.C, k)
		if err = resource.Check(2*4*int64(k)*int64(rd.H*rd.W*rd.C), what); err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	}
	if err != nil {
		rd.Close()
		return nil, nil, err
	}
	s.Src = normSource{rd, s, mean, std}
	return s, rd.Close, nil
}

// normSource reads a set's images through a dataset.Reader and normalises them.
type normSource struct {
	rd        *dataset.Reader
	s         *nn.Set
	mean, std []float32
}

// Load reads the whole set, once the memory limit allows holding it.
func (n normSource) Load() ([]float32, error) {
	what := fmt.Sprintf("its %d images of %d×%d×%d, read as float32,", n.s.N, n.s.H, n.s.W, n.s.C)
	if err := resource.Check(4*int64(n.s.N)*int64(n.s.H*n.s.W*n.s.C), what); err != nil {
		return nil, fmt.Errorf("%s: %w", n.s.Path, err)
	}
	x := make([]float32, n.s.N*n.s.H*n.s.W*n.s.C)
	if err := n.Read(0, n.s.N, x); err != nil {
		return nil, err
	}
	return x, nil
}

func (n normSource) Read(n0, k int, dst []float32) error {
	if err := n.rd.Read(n0, k, dst); err != nil {
		return err
	}
	return (&nn.Set{Path: n.s.Path, X: dst, N: k, H: n.s.H, W: n.s.W, C: n.s.C}).Normalize(n.mean, n.std)
}

// LoadSetNorm is LoadSet, then torchvision's per-channel normalisation (x − mean)/std
// (nn.Set.Normalize; nil, nil: none).
func LoadSetNorm(path string, scale float32, mean, std []float32, m *nn.Model) (*nn.Set, error) {
	s, err := dataset.Load(path, scale)
	if err != nil {
		return nil, err
	}
	if err := s.CheckShape(m.InputShape()); err != nil {
		return nil, err
	}
	if err := s.Normalize(mean, std); err != nil {
		return nil, err
	}
	return s, nil
}
