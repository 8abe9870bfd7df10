package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"goodnet/finetune"
	"goodnet/internal/esc"
	"goodnet/pipeline"
	"goodnet/prune"
	"goodnet/report"
)

func init() {
	register(&command{name: "prune", summary: "run the pruning defense: B' at each threshold, sweep CSV/JSON/plot", run: runPrune})
}

func runPrune(args []string, stdout, stderr io.Writer) error {
	args, stop, err := cpuProfile(args) // hidden: --cpuprofile FILE (see bench.go)
	if err != nil {
		return err
	}
	defer stop()
	fs := newFlags("prune", "--bad_model B.h5 [--bad_model_weights W.h5] --clean_valid V.h5 --bad_valid BV.h5 [--clean_test T.h5 --bad_test BT.h5] --out DIR [flags]", `
Fine-Pruning: runs the clean validation set through B up to the last pooling layer, sorts the
channels of the conv layer feeding it by mean activation (ascending), and prunes them one at a
time, cumulatively (zeroing kernel[..., c] and bias[c]), measuring clean accuracy and attack
success rate after each step. B' is saved the first time validation accuracy has dropped by at
least each threshold. Writes into DIR: bprime_<t>.h5 (Keras weights-only), sweep.csv,
report.json and sweep.png as one generation, switched to at once at the end: whenever the run
fails or is stopped (a signal, SIGKILL, a power loss), DIR's files are all the previous run's or
all this run's. A second run into DIR while one is writing there fails at once. Prints a table
per threshold.

With --finetune-epochs E, every saved B' is then fine-tuned on the clean validation set (see
goodnet finetune: the pruned channels held at zero; the thresholds are still chosen on B'
before, and the test sets choose nothing) and written as bprime_<t>_ft.h5 beside it, in the
same generation; a second table shows GoodNet(B, B'') beside GoodNet(B, B').`, stderr)
	model := fs.String("bad_model", "", "B: a full model file, Keras HDF5 or ONNX")
	weights := fs.String("bad_model_weights", "", "B's weights (overrides those in --bad_model)")
	cv := fs.String("clean_valid", "", "clean validation set (lab h5)")
	bv := fs.String("bad_valid", "", "poisoned validation set")
	ct := fs.String("clean_test", "", "clean test set (optional, with --bad_test)")
	bt := fs.String("bad_test", "", "poisoned test set (optional, with --clean_test)")
	layer := fs.String("layer", "", "the Conv2D layer to prune (default: the one feeding the last MaxPooling2D, conv_3 for DeepID)")
	thr := fs.String("thresholds", "2,4,10", "validation accuracy drops (percent) at which to save B'")
	maxSteps := intVar(fs, "max-steps", 0, 0, math.MaxInt, "stop after this many channels (0: all, for the whole curve)")
	out := fs.String("out", "", "output directory")
	quiet := fs.Bool("quiet", false, "no progress bar")
	method := fs.String("method", "incremental", "incremental (fast, identical results) or brute (full forward of B' every step, as the seed)")
	ftEpochs := intVar(fs, "finetune-epochs", 0, 0, math.MaxInt, "fine-tune every saved B' for this many epochs on the clean validation set (0: no fine-tuning; the recipe's is 40)")
	ftLR := positiveFloat(fs, "finetune-lr", finetune.DefaultLR, "Adam's initial learning `rate` for --finetune-epochs")
	ftSeed := int64Var(fs, "finetune-seed", 1, "seed of the fine-tuning's shuffling and augmentation")
	scale := scaleVar(fs)
	mean, std := normVars(fs)
	device := deviceVar(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkNorm(mean, std); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if err := required(fs, "bad_model", "clean_valid", "bad_valid", "out"); err != nil {
		return err
	}
	if (*ct == "") != (*bt == "") {
		return usagef("give both --clean_test and --bad_test, or neither")
	}
	thresholds, err := pipeline.ParseThresholds(*thr)
	if err != nil {
		return usagef("--thresholds: %v", err)
	}
	if *maxSteps < 0 {
		return usagef("--max-steps %d: must be ≥ 0", *maxSteps)
	}
	var m prune.Method
	switch *method {
	case "incremental":
		m = prune.Incremental
	case "brute":
		m = prune.Brute
	default:
		return usagef("--method %q: want incremental or brute", *method)
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	bars := newPruneBars(*quiet)
	o, err := pipeline.Prune(pipeline.PruneOptions{BadModel: *model, BadModelWeights: *weights,
		CleanValid: *cv, BadValid: *bv, CleanTest: *ct, BadTest: *bt, Layer: *layer, Thresholds: thresholds,
		MaxSteps: *maxSteps, Scale: float32(*scale), Mean: *mean, Std: *std, Backend: backend, Out: *out, Method: m,
		Progress:       bars.channels,
		FineTuneEpochs: *ftEpochs, FineTuneLR: float64(*ftLR), FineTuneSeed: *ftSeed,
		FineTuneProgress: bars.epochs})
	bars.done()
	var le *prune.LayerError
	if errors.As(err, &le) { // the library names the layer; the flag is ours to name
		if le.Layer == "" {
			return fmt.Errorf("%w with --layer", le)
		}
		return fmt.Errorf("--%w", le)
	}
	if err != nil {
		return err
	}
	report.Table(stdout, o.Result, o.FineTuned...)
	fmt.Fprintf(stdout, "\nWrote %s\n", strings.Join(esc.Texts(o.Written), ", "))
	fmt.Fprintf(stdout, "Timings: %s; %s, %s sweep\n", formatTimings(o.Timings), o.Result.Device, o.Result.Method)
	return nil
}

func formatTimings(t map[string]float64) string {
	order := []string{"read", "features", "sweep", "finetune", "write", "total"}
	var parts []string
	for _, k := range order {
		if v, ok := t[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f s", k, v))
		}
	}
	var rest []string
	for k := range t {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %.2f s", k, t[k]))
	}
	return strings.Join(parts, ", ")
}

// pruneBars are the progress bars of a prune run: the sweep's channels, then — when it
// fine-tunes — the epochs of fine-tuning, which replace the first bar.
type pruneBars struct {
	quiet bool
	sweep *report.Progress
	ft    *report.Progress
}

func newPruneBars(quiet bool) *pruneBars {
	return &pruneBars{quiet: quiet, sweep: report.NewProgress(os.Stderr, "pruning", quiet)}
}

func (b *pruneBars) channels(done, total int) { b.sweep.Update(done, total, "channels") }

func (b *pruneBars) epochs(done, total int) {
	if b.ft == nil {
		b.sweep.Done()
		b.ft = report.NewProgress(os.Stderr, "fine-tuning", b.quiet)
	}
	b.ft.Update(done, total, "epochs")
}

// done ends whichever bar is showing.
func (b *pruneBars) done() {
	if b.ft != nil {
		b.ft.Done()
	} else {
		b.sweep.Done()
	}
}
