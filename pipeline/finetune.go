package pipeline

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"goodnet/finetune"
	"goodnet/goodnet"
	"goodnet/internal/resource"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/onnx"
	"goodnet/prune"
	"goodnet/report"
	"goodnet/train"
)

// The fine-tuning job: goodnet finetune, and goodnet prune --finetune-epochs (Fine-Pruning's
// second half: B' trained on clean data with its pruned channels held at zero, giving B'').

// FineTuneConfig is how B' is fine-tuned. Zero values take the recipe's defaults (package
// finetune: 40 epochs, Adam 3e-3 with a cosine decay, batch 32, decoupled weight decay 5,
// random flips and ±2-pixel shifts).
type FineTuneConfig struct {
	Epochs    int
	LR        float64
	BatchSize int
	Seed      int64
	Layers    []string // the layers that train (nil: every layer with weights)
	Workers   int      // train.Options.Workers
	// Backend evaluates B'' and GoodNet(B, B'') (training itself runs on the CPU).
	Backend nn.Backend
	// EvalOn names the evaluation sets in the lines and metrics ["test"].
	EvalOn string
	// Log, if set, gets one line per epoch: loss and accuracy on the training set, and
	// GoodNet(B, B'')'s clean accuracy, ASR and flagged share on the evaluation sets when
	// there are any; the first line (epoch 0) is GoodNet(B, B') before training.
	Log io.Writer
	// Progress, if set, is called after each epoch.
	Progress func(done, total int)
}

// FineTuned is B” and what it measured.
type FineTuned struct {
	*finetune.Result
	// GoodNet is G(B, B'') on the evaluation sets, Before G(B, B'); zero when there were none.
	GoodNet, Before prune.GoodNetMetrics
	// BCleanAcc and BASR are B's own numbers on the evaluation sets.
	BCleanAcc, BASR float64
	Seconds         float64 // training and evaluation
}

// FineTuneSets fine-tunes bp, a pruned copy of b, on the clean set train: every channel that is
// zero in bp and not in b (finetune.PrunedChannels) stays exactly zero. With evaluation sets
// (evalClean and evalBad, a clean and a poisoned set labelled with the attacker's target; both
// or neither) it measures GoodNet(B, B”) on them at the end, and after every epoch when
// c.Log is set. The sets hold the images as the models take them (scaled and normalised).
func FineTuneSets(b, bp *nn.Model, trainSet, evalClean, evalBad *nn.Set, c FineTuneConfig) (*FineTuned, error) {
	t0 := time.Now()
	if (evalClean == nil) != (evalBad == nil) {
		return nil, errors.New("fine-tuning: give both evaluation sets (clean and poisoned) or neither")
	}
	if c.Backend == nil {
		return nil, errors.New("fine-tuning: no backend to evaluate B'' with")
	}
	ev := &evaluator{b: b, clean: evalClean, bad: evalBad, backend: c.Backend, on_: c.EvalOn}
	if ev.on_ == "" {
		ev.on_ = "test"
	}
	if err := ev.init(); err != nil {
		return nil, err
	}
	out := &FineTuned{BCleanAcc: math.NaN(), BASR: math.NaN()}
	if ev.on() {
		out.BCleanAcc = goodnet.Percent(goodnet.Matches(ev.bPred[0], evalClean.Y), evalClean.N)
		out.BASR = goodnet.Percent(goodnet.Matches(ev.bPred[1], evalBad.Y), evalBad.N)
	}
	epochs := c.Epochs
	if epochs == 0 {
		epochs = finetune.DefaultEpochs
	}
	cfg := finetune.Config{B: b, Bprime: bp, X: trainSet.X, Y: trainSet.Y, N: trainSet.N, Epochs: c.Epochs, LR: c.LR,
		BatchSize: c.BatchSize, Seed: c.Seed, Workers: c.Workers, Layers: c.Layers}
	if ev.on() {
		before, err := ev.goodnet(bp)
		if err != nil {
			return nil, err
		}
		out.Before = before
		if c.Log != nil {
			fmt.Fprintf(c.Log, "epoch %2d/%d  %-40s  %s  (B', before fine-tuning)\n", 0, epochs, "", formatGoodNet(before))
		}
	}
	cfg.OnEpoch = func(e train.Epoch, bpp *nn.Model) error {
		if c.Log != nil {
			line := fmt.Sprintf("epoch %2d/%d  loss %.4f  train acc %6.2f %%", e.Epoch, epochs, e.Loss, 100*e.Acc)
			if ev.on() {
				g, err := ev.goodnet(bpp)
				if err != nil {
					return err
				}
				line += "  " + formatGoodNet(g)
			}
			fmt.Fprintf(c.Log, "%s  [%.0f img/s, %.1f s]\n", line, float64(e.Images)/e.Time.Seconds(), e.Time.Seconds())
		}
		if c.Progress != nil {
			c.Progress(e.Epoch, epochs)
		}
		return nil
	}
	res, err := finetune.Run(cfg)
	if err != nil {
		return nil, err
	}
	out.Result = res
	if ev.on() {
		if out.GoodNet, err = ev.goodnet(res.Model); err != nil {
			return nil, err
		}
	}
	out.Seconds = time.Since(t0).Seconds()
	return out, nil
}

func formatGoodNet(g prune.GoodNetMetrics) string {
	return fmt.Sprintf("GoodNet %s acc %6.2f %%  ASR %6.2f %%  flagged %6.2f %%", g.On, g.CleanAcc, g.ASR, g.Flagged)
}

// evaluator measures GoodNet(B, ·) on a clean and a poisoned set, B's predictions computed
// once.
type evaluator struct {
	b          *nn.Model
	clean, bad *nn.Set
	backend    nn.Backend
	on_        string // "test" or "validation"
	bPred      [2][]int32
}

func (e *evaluator) on() bool { return e.clean != nil }

func (e *evaluator) init() error {
	if !e.on() {
		return nil
	}
	for i, s := range []*nn.Set{e.clean, e.bad} {
		if err := s.CheckLabels(e.b.NumClasses()); err != nil {
			return err
		}
		p, err := predictWith(e.backend, e.b, s)
		if err != nil {
			return err
		}
		e.bPred[i] = p
	}
	return nil
}

func (e *evaluator) goodnet(bp *nn.Model) (prune.GoodNetMetrics, error) {
	n := int32(e.b.NumClasses())
	var g [2][]int32
	for i, s := range []*nn.Set{e.clean, e.bad} {
		p, err := predictWith(e.backend, bp, s)
		if err != nil {
			return prune.GoodNetMetrics{}, err
		}
		g[i] = goodnet.Merge(e.bPred[i], p, n)
	}
	return prune.GoodNetMetrics{
		CleanAcc: goodnet.Percent(goodnet.Matches(g[0], e.clean.Y), e.clean.N),
		ASR:      goodnet.Percent(goodnet.Matches(g[1], e.bad.Y), e.bad.N),
		Flagged:  goodnet.Percent(goodnet.Count(g[1], n), e.bad.N),
		On:       e.on_,
	}, nil
}

// predictWith is m's classes on s.
func predictWith(be nn.Backend, m *nn.Model, s *nn.Set) ([]int32, error) {
	net, err := be.Compile(m)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	p, err := nn.Predict(net, s.X, s.N)
	if err != nil && s.Path != "" {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return p, err
}

// FineTuneOptions are the inputs of `goodnet finetune`.
type FineTuneOptions struct {
	BadModel, BadModelWeights string
	// Bprime is B': a file, or the --out directory of goodnet prune with Threshold.
	Bprime    string
	Threshold float64
	CleanSet  string // the clean data B' is trained on
	// CleanTest and BadTest (both or neither) measure GoodNet(B, B'') after every epoch.
	CleanTest, BadTest string
	Scale              float32
	Mean, Std          []float32 // per-channel normalisation after the scale (nil: none)
	Out                string    // the file B'' is written to, in B's format
	FineTuneConfig
}

// FineTuneOutcome is a finished `goodnet finetune`.
type FineTuneOutcome struct {
	*FineTuned
	Bprime  string // the B' file
	Out     string
	Images  int // training images
	Timings map[string]float64
}

// ErrNothingPruned is the error for a B' in which no channel is pruned.
var ErrNothingPruned = errors.New("no channel is pruned in it")

// FineTune reads B, B' and the sets, fine-tunes B' and writes B” to o.Out, atomically: on an
// error or an interrupt nothing is written. Refused before any training: a B' of another
// architecture, one in which no channel is pruned (zero in B' and not in B: most likely B
// itself, or a file that is not B's pruned copy — fine-tuning it would not be Fine-Pruning), a
// model the trainer cannot train (BatchNormalization), an output that cannot be written.
func FineTune(o FineTuneOptions) (*FineTuneOutcome, error) {
	t0 := time.Now()
	timings := map[string]float64{}
	if err := checkOutFile(o.Out); err != nil {
		return nil, err
	}
	b, err := LoadModelToRun(o.BadModel, o.BadModelWeights) // the FLOP cap: fine-tuning runs it
	if err != nil {
		return nil, err
	}
	if err := train.Check(b); err != nil {
		return nil, fmt.Errorf("%s: cannot fine-tune this model: %w", b.Source, err)
	}
	bpPath, err := BprimePath(o.Bprime, o.Threshold)
	if err != nil {
		return nil, err
	}
	if err := checkNotAnInput(o.Out, map[string]string{"B": o.BadModel, "B's weights": o.BadModelWeights, "B'": bpPath,
		"the clean set": o.CleanSet, "the clean test set": o.CleanTest, "the poisoned test set": o.BadTest}); err != nil {
		return nil, err
	}
	bp, err := LoadBprime(b, bpPath)
	if err != nil {
		return nil, err
	}
	pruned, err := finetune.PrunedChannels(b, bp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bpPath, err)
	}
	if len(pruned) == 0 {
		return nil, fmt.Errorf("%s: %w (no output channel is zero in it and non-zero in B, %s): fine-tuning holds B''s pruned channels at zero; give the B' goodnet prune wrote", bpPath, ErrNothingPruned, b.Source)
	}
	if err := checkOutFormat(o.Out, bp); err != nil {
		return nil, err
	}
	trainSet, err := LoadSetNorm(o.CleanSet, o.Scale, o.Mean, o.Std, b)
	if err != nil {
		return nil, err
	}
	if err := trainSet.CheckLabels(b.NumClasses()); err != nil {
		return nil, err
	}
	var ct, bt *nn.Set
	if o.CleanTest != "" || o.BadTest != "" {
		if o.CleanTest == "" || o.BadTest == "" {
			return nil, errors.New("give both test sets (clean and poisoned) or neither")
		}
		if ct, err = LoadSetNorm(o.CleanTest, o.Scale, o.Mean, o.Std, b); err != nil {
			return nil, err
		}
		if bt, err = LoadSetNorm(o.BadTest, o.Scale, o.Mean, o.Std, b); err != nil {
			return nil, err
		}
	}
	timings["read"] = time.Since(t0).Seconds()
	t1 := time.Now()
	ft, err := FineTuneSets(b, bp, trainSet, ct, bt, o.FineTuneConfig)
	if errors.Is(err, resource.ErrTooLarge) { // the trainer's buffers: say which model
		return nil, fmt.Errorf("fine-tuning %s: %w", bpPath, err)
	}
	if err != nil {
		return nil, err
	}
	timings["finetune"] = time.Since(t1).Seconds()
	t2 := time.Now()
	if err := report.SaveModelIn(nil, ft.Model, o.Out); err != nil {
		return nil, err
	}
	timings["write"] = time.Since(t2).Seconds()
	timings["total"] = time.Since(t0).Seconds()
	return &FineTuneOutcome{FineTuned: ft, Bprime: bpPath, Out: o.Out, Images: trainSet.N, Timings: timings}, nil
}

// checkOutFile makes sure the B” file can be written: not a directory, in a directory that
// exists and is writable (nothing is created there).
func checkOutFile(path string) error {
	if path == "" {
		return errors.New("no output file (--out)")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory; give the file to write B'' to (such as %s)", path, filepath.Join(path, "bprime_ft.h5"))
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: cannot write there: %w", path, unwrapPathErr(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: cannot write there: %s is not a directory", path, dir)
	}
	f, err := os.CreateTemp(dir, ".goodnet-write-check*")
	if err != nil {
		return fmt.Errorf("%s: cannot write there: %w", path, unwrapPathErr(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkNotAnInput refuses an output file that is one of the inputs (B” would replace it).
func checkNotAnInput(out string, inputs map[string]string) error {
	so, err := os.Stat(out)
	if err != nil {
		return nil // a new file
	}
	for what, in := range inputs {
		if in == "" {
			continue
		}
		if si, err := os.Stat(in); err == nil && os.SameFile(so, si) {
			return fmt.Errorf("%s: is %s; write B'' to another file", out, what)
		}
	}
	return nil
}

// checkOutFormat checks that the name of the output file fits the format B” is written in
// (B's): .onnx for ONNX, .keras for a Keras 3 archive, anything else for Keras HDF5.
func checkOutFormat(path string, m *nn.Model) error {
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case onnx.FromONNX(m) && ext != ".onnx":
		return fmt.Errorf("%s: B is an ONNX model, so B'' is written as ONNX: name the file .onnx", path)
	case keras.FromArchive(m) && ext != ".keras":
		return fmt.Errorf("%s: B is a Keras 3 archive, so B'' is written as one: name the file .keras", path)
	case !onnx.FromONNX(m) && !keras.FromArchive(m) && (ext == ".onnx" || ext == ".keras"):
		return fmt.Errorf("%s: B is a Keras HDF5 model, so B'' is written as Keras HDF5 weights: name the file .h5", path)
	}
	return nil
}

// fineTuneSaved fine-tunes every B' of r on the clean validation set of cfg (goodnet prune
// --finetune-epochs) and measures each B”: its own metrics on the four sets and GoodNet(B,
// B”) on the test sets (the validation sets without them). B's that were saved at the same
// step (several thresholds reached at once) are fine-tuned once.
func fineTuneSaved(b *nn.Model, r *prune.Result, cfg *prune.Config, o PruneOptions) ([]report.FineTuned, error) {
	evalClean, evalBad := cfg.CleanTest, cfg.BadTest
	if evalClean == nil {
		evalClean, evalBad = cfg.CleanValid, cfg.BadValid
	}
	epochs := o.FineTuneEpochs
	done, total := 0, epochs*len(r.Saved)
	byStep := map[int]report.FineTuned{}
	var out []report.FineTuned
	for _, s := range r.Saved {
		if f, ok := byStep[s.Step]; ok {
			f.Threshold = s.Threshold
			out = append(out, f)
			done += epochs
			continue
		}
		c := FineTuneConfig{Epochs: epochs, LR: o.FineTuneLR, Seed: o.FineTuneSeed, Backend: o.Backend, EvalOn: "test"}
		if cfg.CleanTest == nil {
			c.EvalOn = "validation"
		}
		if o.FineTuneProgress != nil {
			base := done
			c.Progress = func(e, _ int) { o.FineTuneProgress(base+e, total) }
		}
		ft, err := FineTuneSets(b, s.Model, cfg.CleanValid, evalClean, evalBad, c)
		if err != nil {
			return nil, fmt.Errorf("fine-tuning B' of the %g %% threshold: %w", s.Threshold, err)
		}
		done += epochs
		m := prune.Metrics{CleanValid: math.NaN(), ASRValid: math.NaN(), CleanTest: math.NaN(), ASRTest: math.NaN()}
		for _, v := range []struct {
			set *nn.Set
			dst *float64
		}{{cfg.CleanValid, &m.CleanValid}, {cfg.BadValid, &m.ASRValid}, {cfg.CleanTest, &m.CleanTest}, {cfg.BadTest, &m.ASRTest}} {
			if v.set == nil {
				continue
			}
			p, err := predictWith(o.Backend, ft.Model, v.set)
			if err != nil {
				return nil, err
			}
			*v.dst = goodnet.Percent(goodnet.Matches(p, v.set.Y), v.set.N)
		}
		f := report.FineTuned{Threshold: s.Threshold, Model: ft.Model, Epochs: ft.Epochs, LR: ft.LR, Seed: o.FineTuneSeed,
			Metrics: m, GoodNet: ft.GoodNet, Seconds: ft.Seconds}
		byStep[s.Step] = f
		out = append(out, f)
	}
	return out, nil
}

// checkFineTune checks prune's fine-tuning options before the sweep.
func checkFineTune(o PruneOptions, b *nn.Model) error {
	if o.FineTuneEpochs < 0 {
		return fmt.Errorf("fine-tuning epochs %d: must be ≥ 0", o.FineTuneEpochs)
	}
	if o.FineTuneLR < 0 || math.IsNaN(o.FineTuneLR) || math.IsInf(o.FineTuneLR, 0) {
		return fmt.Errorf("fine-tuning learning rate %g: must be positive and finite", o.FineTuneLR)
	}
	if o.FineTuneEpochs == 0 {
		return nil
	}
	if err := train.Check(b); err != nil {
		return fmt.Errorf("%s: cannot fine-tune this model: %w", b.Source, err)
	}
	return nil
}

// PrunedList renders finetune.PrunedChannels as "45 of conv_3".
func PrunedList(p map[string][]int) string {
	var names []string
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%d of %s", len(p[n]), n))
	}
	return strings.Join(parts, ", ")
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
