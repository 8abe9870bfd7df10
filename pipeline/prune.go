package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"goodnet/internal/atomicfile"
	"goodnet/internal/strict"
	"goodnet/nn"
	"goodnet/prune"
	"goodnet/report"
)

// The pruning job: goodnet prune.

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

	// FineTuneEpochs > 0 fine-tunes every saved B' on the clean validation set after the sweep
	// (the thresholds are chosen before, on B'; the test sets choose nothing) and writes B''
	// as bprime_<t>_ft.h5 beside bprime_<t>.h5, in the same batch. FineTuneLR is Adam's initial
	// rate (0: the recipe's, finetune.DefaultLR), FineTuneSeed seeds the shuffling and
	// augmentation; FineTuneProgress is called after each epoch (of all the B's together).
	FineTuneEpochs   int
	FineTuneLR       float64
	FineTuneSeed     int64
	FineTuneProgress func(done, total int)
}

// PruneOutcome is a finished pruning run.
type PruneOutcome struct {
	Result  *prune.Result
	Written []string
	Timings map[string]float64
	// FineTuned are the fine-tuned B'' (with FineTuneEpochs), one per saved B'.
	FineTuned []report.FineTuned
}

// Prune runs the defense and writes its outputs into o.Out.
func Prune(o PruneOptions) (*PruneOutcome, error) {
	// Nothing is created before the inputs are read: a failed run leaves no new directory.
	if err := atomicfile.CheckOutDir(o.Out); err != nil {
		return nil, err
	}
	timings := map[string]float64{}
	t0 := time.Now()
	b, err := LoadModelToRun(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	if err := checkFineTune(o, b); err != nil {
		return nil, err
	}
	cfg := prune.Config{Model: b, Layer: o.Layer, Thresholds: o.Thresholds, MaxSteps: o.MaxSteps,
		Backend: o.Backend, Progress: o.Progress, Method: o.Method}
	sets := map[string]report.SetInfo{}
	for _, s := range []struct {
		name, path string
		dst        **nn.Set
	}{
		{"clean_valid", o.CleanValid, &cfg.CleanValid}, {"bad_valid", o.BadValid, &cfg.BadValid},
		{"clean_test", o.CleanTest, &cfg.CleanTest}, {"bad_test", o.BadTest, &cfg.BadTest},
	} {
		if s.path == "" {
			continue
		}
		// streamed: the sweep reads each set a chunk at a time, just before the engine runs it
		var closeSet func() error
		if *s.dst, closeSet, err = OpenSetNorm(s.path, o.Scale, o.Mean, o.Std, b, prune.Chunk); err != nil {
			return nil, err
		}
		defer closeSet()
		sets[s.name] = report.SetInfo{Path: s.path, Images: (*s.dst).N}
	}
	timings["read"] = time.Since(t0).Seconds() // the model and the sets' descriptions and labels
	// The directory is made and locked for the whole run: a second run into it fails at
	// once; a run that fails removes what it made.
	out, err := atomicfile.OpenOutDir(o.Out)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	res, err := prune.Run(cfg)
	if err != nil {
		return nil, err
	}
	var ft []report.FineTuned
	if o.FineTuneEpochs > 0 {
		tf := time.Now()
		for _, s := range []*nn.Set{cfg.CleanValid, cfg.BadValid, cfg.CleanTest, cfg.BadTest} {
			if s != nil {
				if err := s.Load(); err != nil { // fine-tuning holds the sets whole
					return nil, err
				}
			}
		}
		if ft, err = fineTuneSaved(b, res, &cfg, o); err != nil {
			return nil, err
		}
		timings["finetune"] = time.Since(tf).Seconds()
	}
	t1 := time.Now()
	written, err := report.WriteAll(o.Out, res, sets, timings, ft...)
	if err != nil {
		return nil, err
	}
	timings["write"] = time.Since(t1).Seconds()
	timings["total"] = time.Since(t0).Seconds()
	for k, v := range res.Timings {
		timings[k] = v
	}
	return &PruneOutcome{Result: res, Written: written, Timings: timings, FineTuned: ft}, nil
}

// ParseThresholds parses "2,4,10": each a decimal number in (0, 100) (a % sign after it
// may stay), none given twice ("2,2.0" is refused: it would save the same B' twice).
func ParseThresholds(s string) ([]float64, error) {
	var out []float64
	var given []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "%")); f == "" {
			continue
		}
		v, err := strict.Float(f)
		if err != nil || !(v > 0 && v < 100) {
			return nil, fmt.Errorf("threshold %q: want a number in (0, 100)", f)
		}
		if i := slices.Index(out, v); i >= 0 {
			return nil, fmt.Errorf("threshold %q is given twice (as %q too)", f, given[i])
		}
		out, given = append(out, v), append(given, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no thresholds in %q", s)
	}
	return out, nil
}
