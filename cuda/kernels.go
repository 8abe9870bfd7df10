//go:build cuda

package cuda

import (
	_ "embed"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"gorgonia.org/cu"
)

// kernels.fatbin is kernels.cu compiled by `make cuda` (nvcc -fatbin: sm_80 and sm_90 machine
// code, compute_90 PTX for newer GPUs); kernels.fatbin.sha256 is the SHA-256 of the
// kernels.cu it was compiled from. Both are build outputs, not in git.
var (
	//go:embed kernels.fatbin
	fatbin string
	//go:embed kernels.fatbin.sha256
	fatbinSource string
)

// FatbinInfo is what `make cuda` recorded about the embedded fatbin: the SHA-256 of the
// kernels.cu it compiled (equal to SourceHash, or Init refuses the GPU), the nvcc release
// and the code generation flags.
func FatbinInfo() string { return strings.TrimSpace(fatbinSource) }

// CheckFatbin reports whether the embedded fatbin was compiled from this binary's kernels.cu
// (ErrStaleFatbin wrapped if not). Init checks it first.
func CheckFatbin() error { return checkFatbin(fatbinSource) }

var (
	module cu.Module
	fns    [numKernels]cu.Function // by Kernel
)

func loadModule() error {
	done, err := bind0()
	if err != nil {
		return err
	}
	defer done()
	if module, err = cu.LoadData(fatbin); err != nil {
		return fmt.Errorf("loading the kernels (cuModuleLoadData; the fatbin has sm_80, sm_90 and compute_90 code): %w", err)
	}
	for k, name := range kernelNames {
		if fns[k], err = module.Function(name); err != nil {
			return fmt.Errorf("kernel %s: %w", name, err)
		}
	}
	return nil
}

// bind0 is bind for Init itself (the context exists, the module does not yet).
func bind0() (func(), error) {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(context); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("cuCtxSetCurrent: %w", err)
	}
	return runtime.UnlockOSThread, nil
}

// run launches c on the default stream.
func run(c Call) error {
	name := c.Kernel.String()
	if err := c.Launch.check(name); err != nil {
		return err
	}
	if c.NArgs != len(kernelParams[c.Kernel]) {
		return fmt.Errorf("%s: %d arguments for %d parameters", name, c.NArgs, len(kernelParams[c.Kernel]))
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	params := make([]unsafe.Pointer, c.NArgs)
	for i := range params {
		params[i] = unsafe.Pointer(&c.Args[i])
	}
	l := c.Launch
	if err := fns[c.Kernel].Launch(l.GX, l.GY, 1, l.BX, l.BY, 1, 0, cu.NoStream, params); err != nil {
		return fmt.Errorf("launching %s (grid %dx%d, block %dx%d): %w", name, l.GX, l.GY, l.BX, l.BY, err)
	}
	return nil
}

// maxBlocks caps the grid of a grid-stride loop: 32 blocks per multiprocessor.
func maxBlocks() int { return info.SMs * 32 }

// ReLU sets out = max(x, 0) element-wise.
func ReLU(out, x Float32s) error {
	if out.n != x.n {
		return fmt.Errorf("relu: %d outputs for %d inputs", out.n, x.n)
	}
	if x.n == 0 {
		return nil
	}
	return run(ReLUCall(out.Ptr(), x.Ptr(), x.n, maxBlocks()))
}

// Add sets out = a + b element-wise.
func Add(out, a, b Float32s) error {
	if out.n != a.n || a.n != b.n {
		return fmt.Errorf("add: lengths %d, %d, %d differ", out.n, a.n, b.n)
	}
	if a.n == 0 {
		return nil
	}
	return run(AddCall(out.Ptr(), a.Ptr(), b.Ptr(), a.n, maxBlocks()))
}

// Merge sets out[i] = b[i] where b[i] == bprime[i], else flag (GoodNet's class N).
func Merge(out, b, bprime Int32s, flag int) error {
	if out.n != b.n || b.n != bprime.n {
		return fmt.Errorf("merge: lengths %d, %d, %d differ", out.n, b.n, bprime.n)
	}
	if b.n == 0 {
		return nil
	}
	return run(MergeCall(out.Ptr(), b.Ptr(), bprime.Ptr(), b.n, flag, maxBlocks()))
}

// Conv2D computes a convolution (+ bias unless b is empty, + activation) on n samples.
func Conv2D(out, x, w, b Float32s, s ConvShape, n int) error {
	if err := s.Check(n, out.n, x.n, w.n, b.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return run(Conv2DCall(out.Ptr(), x.Ptr(), w.Ptr(), b.Ptr(), s, n))
}

// Dense computes a dense layer (+ bias unless b is empty, + activation) on n samples.
func Dense(out, x, w, b Float32s, s DenseShape, n int) error {
	if err := s.Check(n, out.n, x.n, w.n, b.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return run(DenseCall(out.Ptr(), x.Ptr(), w.Ptr(), b.Ptr(), s, n))
}

// MaxPool computes a max pooling on n samples.
func MaxPool(out, x Float32s, s PoolShape, n int) error {
	if err := s.Check(n, out.n, x.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return run(MaxPoolCall(out.Ptr(), x.Ptr(), s, n, maxBlocks()))
}

// Argmax sets out[r] to the index of the largest of the k values of row r of x (first on
// ties, as nn.Argmax).
func Argmax(out Int32s, x Float32s, rows, k int) error {
	if rows < 0 || k <= 0 || out.n != rows || x.n != rows*k {
		return fmt.Errorf("argmax: %d outputs and %d values for %d rows of %d", out.n, x.n, rows, k)
	}
	if rows == 0 {
		return nil
	}
	return run(ArgmaxCall(out.Ptr(), x.Ptr(), rows, k))
}

// ChannelSum adds to acc[c] (float64) the sum over the rows of x (rows × C) of x[r][c].
// scratch holds at least SumScratch(rows, C) values. The sum is deterministic.
func ChannelSum(acc Float64s, scratch Float64s, x Float32s, rows, C int) error {
	if rows < 0 || C <= 0 || acc.n != C || x.n != rows*C {
		return fmt.Errorf("channel sum: %d sums and %d values for %d rows of %d", acc.n, x.n, rows, C)
	}
	if scratch.n < SumScratch(rows, C) {
		return fmt.Errorf("channel sum: scratch of %d values, need %d", scratch.n, SumScratch(rows, C))
	}
	if rows == 0 {
		return nil
	}
	for _, c := range ChannelSumCalls(acc.Ptr(), scratch.Ptr(), x.Ptr(), rows, C, maxBlocks()) {
		if err := run(c); err != nil {
			return err
		}
	}
	return nil
}
