package main

import (
	"bufio"
	"fmt"
	"io"

	"goodnet/pipeline"
)

func init() {
	register(&command{name: "predict", summary: "predict the class of each image of a set or of image files", run: runPredict})
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "--bad_model B.h5 [--bad_model_weights W.h5] [--pruned_bad_model_weights Bp.h5] (--set X.h5 | IMAGE...)", `
Prints one predicted class per line, in input order: B's, or GoodNet's when B' is given (then
class N, the number of classes of B, marks an input that looks poisoned). Inputs are a lab h5
set (--set) or PNG/JPEG images of the model's input size.`, stderr)
	model := fs.String("bad_model", "", "B: a full model file, Keras HDF5 or ONNX")
	weights := fs.String("bad_model_weights", "", "B's weights (overrides those in --bad_model)")
	bprime := fs.String("pruned_bad_model_weights", "", "B' (optional): weights-only or full Keras file, an ONNX file (for an ONNX B), or a goodnet prune output directory with --threshold")
	fineTuned := fineTunedVar(fs)
	threshold := thresholdVar(fs, "picks bprime_T.h5 when --pruned_bad_model_weights is a directory")
	set := fs.String("set", "", "a lab h5 set to predict")
	scale := scaleVar(fs)
	mean, std := normVars(fs)
	device := deviceVar(fs)
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkNorm(mean, std); err != nil {
		return err
	}
	if err := required(fs, "bad_model"); err != nil {
		return err
	}
	if (*set == "") == (len(images) == 0) {
		return usagef("give either --set X.h5 or image files")
	}
	if err := checkThreshold(*threshold, *bprime, *fineTuned); err != nil {
		return err
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	p, err := pipeline.Predict(pipeline.PredictOptions{BadModel: *model, BadModelWeights: *weights, Bprime: *bprime,
		Threshold: *threshold, FineTuned: *fineTuned, Set: *set, Images: images, Scale: float32(*scale), Mean: *mean, Std: *std, Backend: backend})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, c := range p {
		fmt.Fprintln(w, c)
	}
	return w.Flush()
}
