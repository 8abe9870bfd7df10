// Package pipeline holds the jobs behind the CLI's subcommands — load the files, run the
// library, write the outputs — so that `goodnet` itself only parses flags, and the demo and
// the benchmarks run exactly what users run.
package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"goodnet/dataset"
	"goodnet/goodnet"
	"goodnet/nn"
	"goodnet/prune"
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
		return nil, fmt.Errorf("%s: %v", model, err)
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
		// B' of an ONNX model is ONNX, of a .keras archive an archive
		for _, ext := range []string{".onnx", ".keras"} {
			if q := strings.TrimSuffix(p, ".h5") + ext; fileExists(q) {
				return q, nil
			}
		}
		return "", fmt.Errorf("%s: no B' for the %g %% threshold in %s (was it reached?)", p, threshold, path)
	}
	return p, nil
}

// EvalOptions are the inputs of `goodnet eval`.
type EvalOptions struct {
	CleanSet, BadSet          string
	BadModel, BadModelWeights string
	Bprime                    string
	Threshold                 float64
	Scale                     float32
	Mean, Std                 []float32 // per-channel normalisation after the scale (nil: none)
	Backend                   nn.Backend
}

// EvalResult is what `goodnet eval` reports.
type EvalResult struct {
	goodnet.Metrics
	CleanSet   string           `json:"clean_set"`
	BadSet     string           `json:"bad_set"`
	BadModel   string           `json:"bad_model"`
	Bprime     string           `json:"pruned_bad_model"`
	Device     string           `json:"device"`
	Seconds    float64          `json:"seconds"`
	ZeroConvCh map[string][]int `json:"bprime_zero_channels"`
}

// Eval evaluates GoodNet(B, B') on a clean and a poisoned set.
func Eval(o EvalOptions) (*EvalResult, error) {
	t0 := time.Now()
	b, err := LoadModel(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	g, bp, err := openGoodNet(b, o.Bprime, o.Threshold, o.Backend)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	clean, err := LoadSetNorm(o.CleanSet, o.Scale, o.Mean, o.Std, b)
	if err != nil {
		return nil, err
	}
	bad, err := LoadSetNorm(o.BadSet, o.Scale, o.Mean, o.Std, b)
	if err != nil {
		return nil, err
	}
	m, err := g.Evaluate(clean, bad)
	if err != nil {
		return nil, err
	}
	return &EvalResult{Metrics: *m, CleanSet: o.CleanSet, BadSet: o.BadSet, BadModel: b.Source, Bprime: bp,
		Device: o.Backend.Describe(), Seconds: time.Since(t0).Seconds(), ZeroConvCh: ZeroChannels(g.Bprime)}, nil
}

// LoadSet reads a lab h5 set and checks it fits the model's input.
func LoadSet(path string, scale float32, m *nn.Model) (*dataset.Set, error) {
	return LoadSetNorm(path, scale, nil, nil, m)
}

// LoadSetNorm is LoadSet, then torchvision's per-channel normalisation (x − mean)/std
// (dataset.Set.Normalize; nil, nil: none).
func LoadSetNorm(path string, scale float32, mean, std []float32, m *nn.Model) (*dataset.Set, error) {
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

// PredictOptions are the inputs of `goodnet predict`.
type PredictOptions struct {
	BadModel, BadModelWeights string
	Bprime                    string // optional: GoodNet's predictions when given
	Threshold                 float64
	Set                       string
	Images                    []string
	Scale                     float32
	Mean, Std                 []float32 // per-channel normalisation after the scale (nil: none)
	Backend                   nn.Backend
}

// Predict returns one class per input, in input order: B's, or GoodNet's when B' is given
// (class N marks a flagged input).
func Predict(o PredictOptions) ([]int32, error) {
	b, err := LoadModel(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	var in *dataset.Set
	if o.Set != "" {
		in, err = LoadSetNorm(o.Set, o.Scale, o.Mean, o.Std, b)
	} else if in, err = dataset.LoadImages(o.Images, o.Scale, b.InputShape()); err == nil {
		err = in.Normalize(o.Mean, o.Std)
	}
	if err != nil {
		return nil, err
	}
	if o.Bprime == "" {
		net, err := o.Backend.Compile(b)
		if err != nil {
			return nil, err
		}
		defer net.Close()
		return nn.Predict(net, in.X, in.N)
	}
	g, _, err := openGoodNet(b, o.Bprime, o.Threshold, o.Backend)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	return g.Predict(in.X, in.N)
}

// openGoodNet makes G(B, B') with B' from bprime (a file, or prune's --out directory with a
// threshold); it returns the path of B' too.
func openGoodNet(b *nn.Model, bprime string, threshold float64, be nn.Backend) (*goodnet.GoodNet, string, error) {
	bp, err := BprimePath(bprime, threshold)
	if err != nil {
		return nil, "", err
	}
	g, err := goodNetOf(b, bp, be)
	if err != nil {
		return nil, "", err
	}
	return g, bp, nil
}

// ZeroChannels lists, for each Conv2D, the output channels whose kernel and bias are all
// zero, and for each BatchNormalization those whose gamma and beta are zero (a pruned
// channel, see prune).
func ZeroChannels(m *nn.Model) map[string][]int {
	out := map[string][]int{}
	for _, l := range m.Layers {
		switch {
		case l.Kind == nn.Conv2D:
			z := []int{}
			for c := 0; c < l.Filters; c++ {
				zero := l.B == nil || l.B[c] == 0
				for i := c; zero && i < len(l.W); i += l.Filters {
					zero = l.W[i] == 0
				}
				if zero {
					z = append(z, c)
				}
			}
			out[l.Name] = z
		case l.Kind == nn.BatchNorm && l.Gamma != nil && l.Beta != nil:
			z := []int{}
			for c := range l.Gamma {
				if l.Gamma[c] == 0 && l.Beta[c] == 0 {
					z = append(z, c)
				}
			}
			out[l.Name] = z
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// PruneOptions are the inputs of `goodnet prune`.
type PruneOptions struct {
	BadModel, BadModelWeights string
	CleanValid, BadValid      string
	CleanTest, BadTest        string
	Layer                     string
	Thresholds                []float64
	MaxSteps                  int
	Scale                     float32
	Mean, Std                 []float32 // per-channel normalisation after the scale (nil: none)
	Backend                   nn.Backend
	Out                       string
	Method                    prune.Method
	Progress                  func(done, total int)
}

// PruneOutcome is a finished pruning run.
type PruneOutcome struct {
	Result  *prune.Result
	Written []string
	Timings map[string]float64
}

// Prune runs the defense and writes its outputs into o.Out.
func Prune(o PruneOptions) (*PruneOutcome, error) {
	if err := checkOutDir(o.Out); err != nil {
		return nil, err
	}
	timings := map[string]float64{}
	t0 := time.Now()
	b, err := LoadModel(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	cfg := prune.Config{Model: b, Layer: o.Layer, Thresholds: o.Thresholds, MaxSteps: o.MaxSteps,
		Backend: o.Backend, Progress: o.Progress, Method: o.Method}
	sets := map[string]report.SetInfo{}
	for _, s := range []struct {
		name, path string
		dst        **dataset.Set
	}{
		{"clean_valid", o.CleanValid, &cfg.CleanValid}, {"bad_valid", o.BadValid, &cfg.BadValid},
		{"clean_test", o.CleanTest, &cfg.CleanTest}, {"bad_test", o.BadTest, &cfg.BadTest},
	} {
		if s.path == "" {
			continue
		}
		if *s.dst, err = LoadSetNorm(s.path, o.Scale, o.Mean, o.Std, b); err != nil {
			return nil, err
		}
		sets[s.name] = report.SetInfo{Path: s.path, Images: (*s.dst).N}
	}
	timings["read"] = time.Since(t0).Seconds()
	res, err := prune.Run(cfg)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	written, err := report.WriteAll(o.Out, res, sets, timings)
	if err != nil {
		return nil, err
	}
	timings["write"] = time.Since(t1).Seconds()
	timings["total"] = time.Since(t0).Seconds()
	for k, v := range res.Timings {
		timings[k] = v
	}
	return &PruneOutcome{Result: res, Written: written, Timings: timings}, nil
}

// checkOutDir makes sure the output directory exists (or can be made) and is writable before
// any work is done.
func checkOutDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no output directory (--out)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create the output directory: %v", dir, unwrapPathErr(err))
	}
	f, err := os.CreateTemp(dir, ".goodnet-write-check*")
	if err != nil {
		return fmt.Errorf("%s: output directory is not writable: %v", dir, unwrapPathErr(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// ParseThresholds parses "2,4,10".
func ParseThresholds(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.Trim(f, " %"); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v > 0 && v < 100) {
			return nil, fmt.Errorf("threshold %q: want a number in (0, 100)", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no thresholds in %q", s)
	}
	return out, nil
}
