package main

import (
	"encoding/json"
	"fmt"
	"io"

	"goodnet/internal/esc"
	"goodnet/pipeline"
)

func init() {
	register(&command{name: "eval", summary: "evaluate GoodNet(B, B') on a clean and a poisoned set", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--clean_set C.h5 --bad_set P.h5 --bad_model B.h5 [--bad_model_weights W.h5] --pruned_bad_model_weights Bp.h5 [flags]", `
Evaluates the repaired classifier GoodNet(B, B') as the seed's program does: its clean
classification accuracy on the clean set, and its attack success rate on the poisoned set
(the share classified as the attacker's target, the poisoned set's label). Also reports B's and
B''s own numbers and the share of poisoned inputs GoodNet flags as class N.`, stderr)
	clean := fs.String("clean_set", "", "clean test set (lab h5: data N×3×H×W, label N)")
	bad := fs.String("bad_set", "", "poisoned test set, labelled with the attacker's target")
	model := fs.String("bad_model", "", "B: a full model file (architecture and weights), Keras HDF5 or ONNX")
	weights := fs.String("bad_model_weights", "", "B's weights (overrides those in --bad_model)")
	bprime := fs.String("pruned_bad_model_weights", "", "B': weights-only or full Keras file, an ONNX file (for an ONNX B), or the --out directory of goodnet prune (with --threshold)")
	fineTuned := fineTunedVar(fs)
	threshold := thresholdVar(fs, "the pruning threshold (percent) of B'; picks bprime_T.h5 when --pruned_bad_model_weights is a directory")
	scale := scaleVar(fs)
	mean, std := normVars(fs)
	device := deviceVar(fs)
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
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
	if err := required(fs, "clean_set", "bad_set", "bad_model", "pruned_bad_model_weights"); err != nil {
		return err
	}
	if err := checkThreshold(*threshold, *bprime, *fineTuned); err != nil {
		return err
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	r, err := pipeline.Eval(pipeline.EvalOptions{CleanSet: *clean, BadSet: *bad, BadModel: *model, BadModelWeights: *weights,
		Bprime: *bprime, Threshold: *threshold, FineTuned: *fineTuned, Scale: float32(*scale), Mean: *mean, Std: *std, Backend: backend})
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(r, "", " ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "Clean Classification accuracy: %.4f\n", r.CleanAcc)
	fmt.Fprintf(stdout, "Attack Success Rate: %.4f\n", r.ASR)
	fmt.Fprintf(stdout, "Poisoned inputs flagged as class %d: %.4f %%\n", r.FlagClass, r.Flagged)
	fmt.Fprintf(stdout, "Clean inputs flagged as class %d: %.4f %%\n", r.FlagClass, r.CleanFlagged)
	fmt.Fprintf(stdout, "B  alone: clean accuracy %.4f %%, attack success rate %.4f %%\n", r.BCleanAcc, r.BASR)
	fmt.Fprintf(stdout, "B' alone: clean accuracy %.4f %%, attack success rate %.4f %%\n", r.BprimeCleanAcc, r.BprimeASR)
	if *threshold > 0 {
		fmt.Fprintf(stdout, "B' (%g %% threshold): %s\n", *threshold, esc.Text(r.Bprime))
	}
	fmt.Fprintf(stdout, "(%d clean, %d poisoned images; target class %d; %s; %.2f s)\n", r.CleanImages, r.PoisonedImages, r.TargetLabel, r.Device, r.Seconds)
	return nil
}
