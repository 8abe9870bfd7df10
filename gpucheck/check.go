// Package gpucheck is `goodnet gpu-check`: the one run that proves goodnet's CUDA path right on
// a GPU machine, or shows exactly where it is wrong. It checks
//
//   - every kernel of kernels.cu on random inputs against the same arithmetic compiled for the
//     CPU (cuda/hostcheck: the same sums in the same order, so normally bit-identical) and
//     against nn/ref (float64) within the float32 rounding bound;
//   - the whole GPU engine on DeepID with random weights against the CPU engine (host/) and
//     nn/ref: Run's outputs, Predict, batching, ChannelSums, PredictPair (GoodNet);
//   - the lab's real B and B'_2 (the fixtures): every fixture image against expected.json and
//     the CPU, and a few thousand synthetic faces, clean and wearing the trigger, against the
//     CPU — B's and B”s logits and classes, GoodNet's classes, the channel sums at the cut;
//   - at full size (12,830 images, the lab's test set; conv_1's GEMM then has 18.7 M rows):
//     the timings of package bench on the CPU and the GPU side by side, and every timed result
//     compared — classes exactly, values and sums within the stated tolerance, the pruning
//     sweep's order and metrics step by step.
//
// Each check ends in a verdict line with its worst error; the log ends with a summary, the
// table of GPU numbers (README form) and one line: "gpu-check: PASSED" or "gpu-check: FAILED".
// A failed check does not stop the others.
//
// Tolerances: kernel values within (K+2)·u·Σ|terms| of the float64 value (u = 2⁻²⁴, K the
// length of the dot product); a net's values within 1e-4 of each image's largest magnitude
// of the CPU's; classes exactly, except where the CPU's two top logits are within that 1e-4
// (a near tie that float32 rounding may order either way: counted, listed, and not a
// failure); channel sums within 1e-4 of the layer's largest sum; the pruning sweep's order
// exactly and each step's metrics within MaxSweepImages images per set.
//
// The checks run on an Env: the GPU engine, the CPU engine and single kernel launches. The
// cuda build makes the Env of the real GPU (Main, build tag cuda); the tests here make it of
// the emulated GPU (gpu.OpenEmulated, cuda/hostcheck), so that all of this runs in CI
// without a GPU.
package gpucheck

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"goodnet/bench"
	"goodnet/cuda"
	"goodnet/gpu"
	"goodnet/nn"
)

// Kernels launches single kernels of kernels.cu on host data: upload, launch (the launchers
// of package cuda), download. ChannelSum adds to acc.
type Kernels interface {
	Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error
	Dense(out, x, w, b []float32, s cuda.DenseShape, n int) error
	MaxPool(out, x []float32, s cuda.PoolShape, n int) error
	ReLU(out, x []float32) error
	Add(out, a, b []float32) error
	Argmax(out []int32, x []float32, rows, k int) error
	Merge(out, b, bprime []int32, flag int) error
	ChannelSum(acc []float64, x []float32, rows, C int) error
}

// Env is what the checks run on.
type Env struct {
	// GPU is the engine under test; its nets must be nn.ChannelSummers and
	// nn.PairPredictors.
	GPU nn.Backend
	// CPU is the reference engine (host.New(0)).
	CPU nn.Backend
	// Kernels are single launches on the GPU's device.
	Kernels Kernels
	// About are lines for the log's head: the card, the driver, the fatbin.
	About []string
}

// batcher is a GPU backend that can cap its batches (gpu.Backend.WithMaxBatch).
type batcher interface {
	WithMaxBatch(int) *gpu.Backend
}

// Options configure Run.
type Options struct {
	// Fixtures is the directory of the real fixtures (bd_net.h5, bprime_2.h5, cl_mini.h5,
	// bd_mini.h5, expected.json, faces/*.png). "" is an error unless NoFixtures.
	Fixtures string
	// NoFixtures waives the real-model checks: the timings then use DeepID with random
	// weights. The verdict says so; it is never the default.
	NoFixtures bool
	// Faces is the number of synthetic faces of the real-model check, each also with the
	// trigger (0: 2048).
	Faces int
	// Images per full-size set (0: 12,830, the lab's test set).
	Images int
	// Repeats of each timing, median reported (0: 3).
	Repeats int
	// NoTimings leaves out the full-size timed runs (and their comparisons).
	NoTimings bool
	// Small is the run under compute-sanitizer: kernels and nets at small sizes only (no
	// fixtures, no full size).
	Small bool

	netImages int // images of the DeepID checks (0: 512, or 12 when Small); tests lower it
}

// Verdict is one check's outcome.
type Verdict struct {
	Check  string // e.g. "kernel conv2d"
	Pass   bool
	Worst  string // the worst error seen, in words
	Detail string // what was checked, or what failed
}

// Result is a whole run.
type Result struct {
	Verdicts []Verdict
	Bench    *bench.Report // nil without timings
}

// Failed lists the checks that failed.
func (r *Result) Failed() []string {
	var f []string
	for _, v := range r.Verdicts {
		if !v.Pass {
			f = append(f, v.Check)
		}
	}
	return f
}

// ErrFailed is returned (wrapped) by Run when a check failed.
var ErrFailed = errors.New("gpu-check failed")

// run is one gpu-check in progress: where the log goes and the verdicts so far.
type run struct {
	w   io.Writer
	env Env
	o   Options
	res *Result
}

// section starts a part of the log.
func (r *run) section(format string, a ...any) {
	fmt.Fprintf(r.w, "\n== "+format+"\n", a...)
}

// check runs one check and records its verdict: f returns the worst error (in words) and what
// was checked, or an error saying what failed. A panic is a failed check too.
func (r *run) check(name string, f func() (worst, detail string, err error)) {
	t0 := time.Now()
	worst, detail, err := func() (w, d string, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return f()
	}()
	v := Verdict{Check: name, Pass: err == nil, Worst: worst, Detail: detail}
	if err != nil {
		v.Detail = err.Error()
	}
	r.res.Verdicts = append(r.res.Verdicts, v)
	mark := "PASS"
	if !v.Pass {
		mark = "FAIL"
	}
	line := fmt.Sprintf("%s  %-30s %s", mark, name, v.Detail)
	if v.Worst != "" {
		line += " — worst: " + v.Worst
	}
	fmt.Fprintf(r.w, "%s (%.1f s)\n", line, time.Since(t0).Seconds())
}

// Run runs every check on env and writes the log to w. It returns the verdicts, and an error
// wrapping ErrFailed when a check failed (or a plain error when the run could not start).
func Run(w io.Writer, env Env, o Options) (*Result, error) {
	if env.GPU == nil || env.CPU == nil || env.Kernels == nil {
		return nil, errors.New("gpucheck: the environment lacks the GPU, the CPU or the kernels")
	}
	if o.Small {
		o.NoFixtures, o.NoTimings = true, true
	}
	if o.Fixtures == "" && !o.NoFixtures {
		return nil, errors.New("no fixtures directory: give one (the real B and B'_2 are the point of the check), or waive the real-model checks explicitly")
	}
	if o.Fixtures != "" && !o.NoFixtures {
		if _, err := os.Stat(filepath.Join(o.Fixtures, "expected.json")); err != nil {
			return nil, fmt.Errorf("fixtures directory %s: %w", o.Fixtures, err)
		}
	}
	if o.Faces <= 0 {
		o.Faces = 2048
	}
	if o.Images <= 0 {
		o.Images = bench.LabTest
	}
	if o.Repeats <= 0 {
		o.Repeats = 3
	}
	t0 := time.Now()
	r := &run{w: w, env: env, o: o, res: &Result{}}
	fmt.Fprintf(w, "goodnet gpu-check, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "GPU:      %s\n", strings.TrimPrefix(env.GPU.Describe(), "GPU: "))
	for _, a := range env.About {
		fmt.Fprintf(w, "          %s\n", a)
	}
	fmt.Fprintf(w, "CPU:      %s (GOMAXPROCS %d)\n", strings.TrimPrefix(env.CPU.Describe(), "CPU: "), runtime.GOMAXPROCS(0))
	switch {
	case o.Small:
		fmt.Fprintf(w, "run:      small: kernels and nets at small sizes only (the run under compute-sanitizer)\n")
	default:
		fmt.Fprintf(w, "run:      fixtures %s; %d synthetic faces; ", fixturesWord(o), o.Faces)
		if o.NoTimings {
			fmt.Fprintf(w, "no full-size timed runs (--no-timings)\n")
		} else {
			fmt.Fprintf(w, "full-size sets of %d images, median of %d runs\n", o.Images, o.Repeats)
		}
	}

	r.kernelChecks()
	r.netChecks()
	var m *realModels
	if o.NoFixtures {
		r.section("the lab's B and B'_2: not checked (fixtures waived)")
		if !o.Small {
			r.check("fixtures", func() (string, string, error) {
				return "", "waived (--no-fixtures): the real B and B'_2 were not checked", nil
			})
		}
	} else {
		m = r.realChecks()
	}
	if !o.NoTimings {
		r.fullSize(m)
	}
	r.summary(time.Since(t0))
	if f := r.res.Failed(); len(f) > 0 {
		return r.res, fmt.Errorf("%w: %d of %d checks: %s", ErrFailed, len(f), len(r.res.Verdicts), strings.Join(f, ", "))
	}
	return r.res, nil
}

func fixturesWord(o Options) string {
	if o.NoFixtures {
		return "waived"
	}
	return o.Fixtures
}

// summary writes the verdict table, the GPU numbers and the final line.
func (r *run) summary(d time.Duration) {
	r.section("summary")
	fmt.Fprintf(r.w, "| check | verdict | worst error |\n|---|---|---|\n")
	for _, v := range r.res.Verdicts {
		mark := "pass"
		if !v.Pass {
			mark = "**FAIL**"
		}
		fmt.Fprintf(r.w, "| %s | %s | %s |\n", v.Check, mark, v.Worst)
	}
	if b := r.res.Bench; b != nil {
		r.section("GPU numbers (the README's table: %d images per set, median of %d runs)", b.Images, b.Repeats)
		writeNumbers(r.w, b)
	}
	fmt.Fprintln(r.w)
	if f := r.res.Failed(); len(f) > 0 {
		fmt.Fprintf(r.w, "gpu-check: FAILED — %d of %d checks failed: %s (%.0f s)\n", len(f), len(r.res.Verdicts), strings.Join(f, ", "), d.Seconds())
	} else {
		fmt.Fprintf(r.w, "gpu-check: PASSED — all %d checks passed (%.0f s)\n", len(r.res.Verdicts), d.Seconds())
	}
}

// writeNumbers is the timings in the form of the README's "GPU numbers" table.
func writeNumbers(w io.Writer, b *bench.Report) {
	fmt.Fprintf(w, "| measurement | CPU median [min–max] | GPU median [min–max] | GPU/CPU |\n|---|---|---|---|\n")
	byName := map[string]map[string]bench.Row{}
	var names []string
	for _, row := range b.Rows {
		if byName[row.Name] == nil {
			byName[row.Name] = map[string]bench.Row{}
			names = append(names, row.Name)
		}
		byName[row.Name][row.Device] = row
	}
	cell := func(row bench.Row, ok bool) string {
		if !ok {
			return "—"
		}
		s := fmt.Sprintf("%.3f s [%.3f–%.3f]", row.Seconds.Median, row.Seconds.Min, row.Seconds.Max)
		if row.ImagesPerS > 0 {
			s += fmt.Sprintf(", %.0f img/s", row.ImagesPerS)
		}
		return s
	}
	for _, n := range names {
		c, okc := byName[n]["cpu"]
		g, okg := byName[n]["gpu"]
		what := c.What
		if !okc {
			what = g.What
		}
		ratio := "—"
		if okc && okg && g.Seconds.Median > 0 {
			ratio = fmt.Sprintf("%.1f×", c.Seconds.Median/g.Seconds.Median)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", what, cell(c, okc), cell(g, okg), ratio)
	}
}
