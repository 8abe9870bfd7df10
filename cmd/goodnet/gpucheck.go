package main

import "io"

func init() {
	register(&command{name: "gpu-check", summary: "GPU self-test and CPU/GPU timings (cuda build, GPU machine)", run: runGPUCheck})
}

func runGPUCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gpu-check", "[--fixtures DIR] [--images N] [--repeats R] [--no-timings]", `
On a machine with an NVIDIA GPU and the cuda build (make cuda): checks every kernel and the
whole DeepID net against the CPU on random inputs and, with --fixtures, the lab's B and B' on
the real faces against expected.json (same predictions, logits within 1e-4); then times DeepID
forward passes, activation collection, GoodNet's double inference and the pruning sweep on the
CPU and the GPU side by side. scripts/gpu-check.sh wraps it with the machine's details.`, stderr)
	fixtures := fs.String("fixtures", "", "directory of the real fixtures (bd_net.h5, bprime_2.h5, cl_mini.h5, bd_mini.h5, expected.json)")
	images := fs.Int("images", 0, "images per timed set (0: 12,830, the lab's test set size)")
	repeats := fs.Int("repeats", 0, "runs per timing; the median is reported (0: 3)")
	noTimings := fs.Bool("no-timings", false, "stop after the self-test")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *images < 0 || *repeats < 0 {
		return usagef("--images and --repeats must be ≥ 0")
	}
	return gpuCheck(stdout, *fixtures, *images, *repeats, *noTimings)
}
