package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"goodnet/finetune"
	"goodnet/internal/strict"
	"goodnet/pipeline"
	"goodnet/report"
)

func init() {
	register(&command{name: "finetune", summary: "fine-tune B' on clean data, its pruned channels held at zero (Fine-Pruning's second half)", run: runFineTune})
}

func runFineTune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", "--bad_model B.h5 [--bad_model_weights W.h5] --pruned_bad_model_weights BPRIME --clean_set V.h5 [--clean_test T.h5 --bad_test BT.h5] --out FILE.h5 [flags]", `
Fine-Pruning's second half: trains B' (the pruned copy of B that goodnet prune wrote) on the
clean set with every pruned channel held at exactly zero — a channel is pruned when its kernel
slice and bias are zero in B' and not in B; it stays zero before, during and after training,
and its gradients are dropped — giving B''. GoodNet(B, B'') then replaces GoodNet(B, B').

The recipe (the defaults): Adam at 0.003 with a cosine decay to 0 over 40 epochs, batches of 32,
decoupled weight decay 5 (it is what removes a backdoor that pruning left: the weights that only
the trigger used decay), random left–right flips and ±2-pixel shifts; every layer trains unless
--layers names some. Training runs on the CPU; --device is where B'' and GoodNet are evaluated.

Prints one line per epoch: the loss and accuracy on the training set and, with --clean_test and
--bad_test, GoodNet(B, B'')'s clean accuracy, attack success rate and flagged share on them
(epoch 0 is GoodNet(B, B') before training). Writes B'' to --out in B's format (Keras HDF5:
weights only, the layout of bprime_<t>.h5; ONNX: .onnx; a Keras 3 archive: .keras), renamed
into place when complete: a failure or Ctrl-C leaves no file. A B' in which no channel is
pruned (B itself, say) is refused: fine-tuning it would not be Fine-Pruning.`, stderr)
	model := fs.String("bad_model", "", "B: a full model file, Keras HDF5 or ONNX")
	weights := fs.String("bad_model_weights", "", "B's weights (overrides those in --bad_model)")
	bprime := fs.String("pruned_bad_model_weights", "", "B': a file, or the --out directory of goodnet prune (with --threshold)")
	threshold := thresholdVar(fs, "the pruning threshold (percent) of B'; picks bprime_T.h5 when --pruned_bad_model_weights is a directory")
	clean := fs.String("clean_set", "", "the clean data to train on (lab h5), e.g. the validation set pruning used")
	ct := fs.String("clean_test", "", "clean test set, to measure GoodNet(B, B'') after each epoch (with --bad_test)")
	bt := fs.String("bad_test", "", "poisoned test set (with --clean_test)")
	epochs := intVar(fs, "epochs", finetune.DefaultEpochs, 1, math.MaxInt, "passes over the clean set")
	lr := positiveFloat(fs, "lr", finetune.DefaultLR, "Adam's initial learning `rate` (cosine decay to 0)")
	batch := intVar(fs, "batch_size", finetune.DefaultBatchSize, 1, math.MaxInt, "minibatch size")
	seed := int64Var(fs, "seed", 1, "seed of the shuffling and the augmentation draws")
	layers := fs.String("layers", "", "`L1,L2,…`: the layers that train (default: every layer with weights)")
	out := fs.String("out", "", "the file B'' is written to")
	quiet := fs.Bool("quiet", false, "no progress bar")
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
	if err := required(fs, "bad_model", "pruned_bad_model_weights", "clean_set", "out"); err != nil {
		return err
	}
	if (*ct == "") != (*bt == "") {
		return usagef("give both --clean_test and --bad_test, or neither")
	}
	if err := checkThreshold(*threshold, *bprime, false); err != nil {
		return err
	}
	var names []string
	if *layers != "" {
		for _, n := range strings.Split(*layers, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return usagef("--layers %q: no layer named", *layers)
		}
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	bar := report.NewProgress(os.Stderr, "fine-tuning", *quiet)
	log := &clearingWriter{w: stdout, bar: bar}
	o, err := pipeline.FineTune(pipeline.FineTuneOptions{BadModel: *model, BadModelWeights: *weights, Bprime: *bprime,
		Threshold: *threshold, CleanSet: *clean, CleanTest: *ct, BadTest: *bt, Scale: float32(*scale), Mean: *mean, Std: *std,
		Out: *out, FineTuneConfig: pipeline.FineTuneConfig{Epochs: *epochs, LR: float64(*lr), BatchSize: *batch, Seed: *seed,
			Layers: names, Backend: backend, Log: log, Progress: func(done, total int) { bar.Update(done, total, "epochs") }}})
	bar.Done()
	var le *finetune.LayerError
	if errors.As(err, &le) {
		return usagef("--layers: %v", le)
	}
	if err != nil {
		return err
	}
	r := o.Result
	fmt.Fprintf(stdout, "\nB'' = B' (%s) trained %d epochs on %d images of %s (Adam %g, %s, weight decay %g, batch %d, seed %d; %s held at 0), %.0f img/s\n",
		o.Bprime, r.Epochs, o.Images, *clean, r.LR, r.Schedule, r.WeightDecay, *batch, *seed, pipeline.PrunedList(r.Pruned), r.History.ImagesPerSec())
	if *ct != "" {
		fmt.Fprintf(stdout, "B alone:         clean accuracy %6.2f %%, attack success rate %6.2f %%\n", o.BCleanAcc, o.BASR)
		fmt.Fprintf(stdout, "GoodNet(B, B'):  clean accuracy %6.2f %%, attack success rate %6.2f %%, poisoned inputs flagged %6.2f %%\n",
			o.Before.CleanAcc, o.Before.ASR, o.Before.Flagged)
		fmt.Fprintf(stdout, "GoodNet(B, B''): clean accuracy %6.2f %%, attack success rate %6.2f %%, poisoned inputs flagged %6.2f %%\n",
			o.GoodNet.CleanAcc, o.GoodNet.ASR, o.GoodNet.Flagged)
	}
	fmt.Fprintf(stdout, "Wrote %s\n", o.Out)
	fmt.Fprintf(stdout, "Timings: %s; evaluated on %s\n", formatTimings(o.Timings), backend.Describe())
	return nil
}

// clearingWriter writes to w after erasing the progress bar's line (a terminal shows both).
type clearingWriter struct {
	w   io.Writer
	bar *report.Progress
}

func (c *clearingWriter) Write(p []byte) (int, error) {
	c.bar.Clear()
	return c.w.Write(p)
}

// positiveFlag is a float flag that must be positive and finite (--lr).
type positiveFlag float64

func (f *positiveFlag) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *positiveFlag) Set(v string) error {
	x, err := strict.Float(v)
	if err != nil || !(x > 0) {
		return fmt.Errorf("want a positive number")
	}
	*f = positiveFlag(x)
	return nil
}

func positiveFloat(fs *flag.FlagSet, name string, def float64, usage string) *positiveFlag {
	f := positiveFlag(def)
	fs.Var(&f, name, usage)
	return &f
}
