package main

import (
	"encoding/json"
	"fmt"
	"io"

	"goodnet/pipeline"
)

func init() {
	register(&command{name: "inspect", summary: "show a Keras or ONNX file: layer graph, shapes, parameters, zero channels", run: runInspect})
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "[--model ARCH.h5] [--json] MODEL.h5", `
Shows a Keras HDF5 or an ONNX file (recognised by content): Keras version and backend (ONNX:
IR, opset, producer), the layer graph as goodnet reads it (inbound layers, output shapes,
parameter counts, FLOPs) and, for each Conv2D, the output channels whose kernel and bias are all
zero (for each BatchNormalization, those whose gamma and beta are zero) — a pruned B' shows
them. A Keras weights-only file has no architecture: give the architecture with --model (a
full model file) to see its graph and zero channels.`, stderr)
	arch := fs.String("model", "", "a full model file giving the architecture, for a weights-only MODEL.h5")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one Keras or ONNX file")
	}
	r, err := pipeline.Inspect(pos[0], *arch)
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
	_, err = io.WriteString(stdout, r.Text())
	return err
}
