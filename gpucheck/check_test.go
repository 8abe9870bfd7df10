package gpucheck

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/cuda"
	"goodnet/cuda/hostcheck"
	"goodnet/gpu"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/nn"
)

// emuKernels are kernels.cu's __global__ kernels emulated on CPU threads, with the launches
// (cuda.Call: arguments and geometry) the GPU gets.
type emuKernels struct{}

func (emuKernels) Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	return hostcheck.KernelConv2D(out, x, w, b, s, n)
}
func (emuKernels) Dense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	return hostcheck.KernelDense(out, x, w, b, s, n)
}
func (emuKernels) MaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	return hostcheck.KernelMaxPool(out, x, s, n)
}
func (emuKernels) ReLU(out, x []float32) error   { return hostcheck.KernelReLU(out, x) }
func (emuKernels) Add(out, a, b []float32) error { return hostcheck.KernelAdd(out, a, b) }
func (emuKernels) Argmax(out []int32, x []float32, rows, k int) error {
	return hostcheck.KernelArgmax(out, x, rows, k)
}
func (emuKernels) Merge(out, b, bprime []int32, flag int) error {
	return hostcheck.KernelMerge(out, b, bprime, flag)
}
func (emuKernels) ChannelSum(acc []float64, x []float32, rows, C int) error {
	return hostcheck.KernelChannelSum(acc, x, rows, C)
}

// loopKernels are kernels.cu's per-element arithmetic in loops (the kernels' bits, fast).
type loopKernels struct{}

func (loopKernels) Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	return hostcheck.Conv2D(out, x, w, b, s, n)
}
func (loopKernels) Dense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	return hostcheck.Dense(out, x, w, b, s, n)
}
func (loopKernels) MaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	return hostcheck.MaxPool(out, x, s, n)
}
func (loopKernels) ReLU(out, x []float32) error   { return hostcheck.ReLU(out, x) }
func (loopKernels) Add(out, a, b []float32) error { return hostcheck.Add(out, a, b) }
func (loopKernels) Argmax(out []int32, x []float32, rows, k int) error {
	return hostcheck.Argmax(out, x, rows, k)
}
func (loopKernels) Merge(out, b, bprime []int32, flag int) error {
	return hostcheck.Merge(out, b, bprime, flag)
}
func (loopKernels) ChannelSum(acc []float64, x []float32, rows, C int) error {
	return hostcheck.ChannelSum(acc, x, rows, C)
}

func emulatedEnv() Env {
	return Env{GPU: gpu.OpenEmulated(gpu.EmulatedOptions{}), CPU: host.New(0), Kernels: emuKernels{},
		About: []string{"emulated for the tests of gpucheck"}}
}

func verdicts(r *Result) map[string]Verdict {
	m := map[string]Verdict{}
	for _, v := range r.Verdicts {
		m[v.Check] = v
	}
	return m
}

// TestSmall is the sanitizer run's check on the emulated GPU: every kernel and net check
// passes, and the log ends with the one success line.
func TestSmall(t *testing.T) {
	var log bytes.Buffer
	res, err := Run(&log, emulatedEnv(), Options{Small: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	v := verdicts(res)
	for _, c := range []string{"kernel conv2d", "kernel dense", "kernel maxpool", "kernel relu", "kernel add", "kernel argmax",
		"kernel merge", "kernel channel sums", "net Run", "net Predict", "net batches of 37", "net ChannelSums", "net PredictPair"} {
		if got, ok := v[c]; !ok || !got.Pass {
			t.Errorf("check %q: %+v", c, got)
		}
	}
	if _, ok := v["fixtures"]; ok {
		t.Error("the small run has a fixtures verdict")
	}
	out := log.String()
	if !strings.HasSuffix(strings.TrimSpace(out), "s)") || !strings.Contains(out, "\ngpu-check: PASSED — all 13 checks passed") {
		t.Errorf("log does not end with the success line:\n%s", out)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("log:\n%s", out)
	}
	t.Log("\n" + out)
}

// TestFull runs the whole check with the real fixtures on the emulated GPU (the engine and the
// kernel checks on kernels.cu's arithmetic in loops: TestSmall emulates the kernels
// themselves), at small sizes.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole check, emulated: about a minute")
	}
	var log bytes.Buffer
	env := emulatedEnv()
	env.Kernels = loopKernels{}
	res, err := Run(&log, env, Options{Fixtures: fixtures.Dir(t), Faces: 6, Images: 20, Repeats: 1, netImages: 4})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	v := verdicts(res)
	for _, c := range []string{"fixtures load", "fixture cl_mini.h5", "fixture bd_mini.h5", "fixture faces/*.png", "synthetic faces",
		"synthetic faces, channel sums", "full size: timed runs", "full size: forward", "full size: activations",
		"full size: channel sums", "full size: GoodNet", "full size: pruning sweep"} {
		if got, ok := v[c]; !ok || !got.Pass {
			t.Errorf("check %q: %+v", c, got)
		}
	}
	out := log.String()
	for _, s := range []string{
		"B [43 328 196], B'_2 [43 328 196], GoodNet [43 328 196] = expected.json",
		"B [0 0 0], B'_2 [0 0 0], GoodNet [0 0 0] = expected.json",
		"| measurement | CPU median [min–max] | GPU median [min–max] | GPU/CPU |",
		"| DeepID forward (predictions) |",
		"| pruning sweep, all 60 channels of conv_3 (4 sets) |",
		"order and all 61 steps' metrics",
		"\ngpu-check: PASSED",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if res.Bench == nil || len(res.Bench.Ratios) != 5 {
		t.Errorf("bench report %+v", res.Bench)
	}
	t.Log("\n" + out)
}

// faultyKernels corrupt one conv2d output value.
type faultyKernels struct{ emuKernels }

func (f faultyKernels) Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	if err := f.emuKernels.Conv2D(out, x, w, b, s, n); err != nil {
		return err
	}
	out[len(out)/2] += 0.01
	return nil
}

// faultyBackend's nets add 1000 to one logit of every third image in Run.
type faultyBackend struct{ *gpu.Backend }

type faultyNet struct{ *gpu.Net }

func (b faultyBackend) Compile(m *nn.Model) (nn.Net, error) {
	n, err := b.CompileNet(m)
	if err != nil {
		return nil, err
	}
	return faultyNet{n}, nil
}

func (n faultyNet) Run(feeds map[string][]float32, count int, outs ...string) ([][]float32, error) {
	res, err := n.Net.Run(feeds, count, outs...)
	if err == nil && len(outs) > 0 && outs[0] == "output" {
		for i := 0; i < count; i += 3 {
			res[0][i*1283+7] += 1000
		}
	}
	return res, err
}

// TestFaultsFound: a wrong kernel value and wrong logits fail their checks, the others still
// run, and the log ends FAILED naming them.
func TestFaultsFound(t *testing.T) {
	env := emulatedEnv()
	env.Kernels = faultyKernels{}
	env.GPU = faultyBackend{gpu.OpenEmulated(gpu.EmulatedOptions{})}
	var log bytes.Buffer
	res, err := Run(&log, env, Options{Small: true})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("error %v, want ErrFailed\n%s", err, log.String())
	}
	v := verdicts(res)
	for c, want := range map[string]bool{"kernel conv2d": false, "kernel dense": true, "net Run": false, "net Predict": false, "net ChannelSums": true} {
		if v[c].Pass != want {
			t.Errorf("%s: pass %v, want %v (%s)", c, v[c].Pass, want, v[c].Detail)
		}
	}
	out := log.String()
	if !strings.Contains(out, "\ngpu-check: FAILED — ") || strings.Contains(out, "PASSED") || !strings.Contains(out, "kernel conv2d, net Run") {
		t.Errorf("log:\n%s", out)
	}
	if !strings.Contains(v["kernel conv2d"].Detail, "nn/ref") {
		t.Errorf("conv2d failure: %s", v["kernel conv2d"].Detail)
	}
}

func TestFixturesRequired(t *testing.T) {
	env := emulatedEnv()
	if _, err := Run(&bytes.Buffer{}, env, Options{NoTimings: true}); err == nil || !strings.Contains(err.Error(), "no fixtures directory") {
		t.Errorf("without fixtures: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Run(&bytes.Buffer{}, env, Options{Fixtures: missing}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing fixtures: %v", err)
	}
	if _, err := Run(&bytes.Buffer{}, Env{}, Options{Small: true}); err == nil {
		t.Error("empty environment accepted")
	}
}

func TestCompareSweeps(t *testing.T) {
	// covered end to end by TestFull; here the tolerance's edges
	if _, _, err := compareSweeps(nil, nil, [4]int{}); err == nil {
		t.Error("nil sweeps accepted")
	}
}
