package main

import (
	"io"
	"math"
)

func init() {
	register(&command{name: "gpu-check", summary: "GPU self-test, CPU/GPU comparison and timings (cuda build, GPU machine)", run: runGPUCheck})
}

// gpuCheckFlags are gpu-check's options (gpucheck.Options in the cuda build).
type gpuCheckFlags struct {
	fixtures               string
	noFixtures, noTimings  bool
	small                  bool
	faces, images, repeats int
}

func runGPUCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gpu-check", "--fixtures DIR | --no-fixtures [--faces N] [--images N] [--repeats R] [--no-timings] [--small]", `
On a machine with an NVIDIA GPU and the cuda build (make cuda): checks every kernel on random
inputs against the same arithmetic on the CPU and nn/ref; the GPU engine on DeepID with random
weights against the CPU engine (Run, Predict, batching, channel sums, GoodNet's pair); the
lab's B and B'_2 (--fixtures) on every fixture image against expected.json and the CPU, and on
synthetic faces, clean and triggered; then times forward passes, activations, channel sums,
GoodNet and the pruning sweep on --images faces on the CPU and the GPU and compares every
timed result. Each check prints a verdict with its worst error; the last line is
"gpu-check: PASSED" (exit 0) or "gpu-check: FAILED" (exit 1). scripts/gpu-check.sh wraps it
with the machine's details and compute-sanitizer (README: The GPU).`, stderr)
	var o gpuCheckFlags
	fs.StringVar(&o.fixtures, "fixtures", "", "directory of the real fixtures (bd_net.h5, bprime_2.h5, cl_mini.h5, bd_mini.h5, expected.json, faces/)")
	fs.BoolVar(&o.noFixtures, "no-fixtures", false, "waive the checks of the real B and B'_2 (the timings then use random weights)")
	fs.Var(&intFlag{&o.faces, 0, math.MaxInt}, "faces", "synthetic faces of the real-model check, each also triggered (0: 2048)")
	fs.Var(&intFlag{&o.images, 0, math.MaxInt}, "images", "images per full-size set (0: 12,830, the lab's test set size)")
	fs.Var(&intFlag{&o.repeats, 0, 1000}, "repeats", "runs per timing; the median is reported (0: 3)")
	fs.BoolVar(&o.noTimings, "no-timings", false, "leave out the full-size timed runs and their comparisons")
	fs.BoolVar(&o.small, "small", false, "small kernels and nets only, no fixtures, no timings (the run under compute-sanitizer)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if o.fixtures != "" && o.noFixtures {
		return usagef("--fixtures and --no-fixtures together: choose one")
	}
	if o.fixtures == "" && !o.noFixtures && !o.small {
		return usagef("--fixtures DIR is required (the real B and B'_2 are what the check is for); --no-fixtures waives those checks")
	}
	return gpuCheck(stdout, o)
}
