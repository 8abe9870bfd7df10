//go:build cuda

package cuda

import (
	_ "embed"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

// kernels.fatbin is kernels.cu compiled by `make cuda` (nvcc -fatbin: sm_80 and sm_90 machine
// code, compute_90 PTX for newer GPUs). It is a build output, not in git.
//
//go:embed kernels.fatbin
var fatbin string

var (
	module cu.Module
	fn     struct {
		relu, add, merge, conv2d, dense, maxpool, argmax, sumPartial, sumFinish, zeroChannels cu.Function
	}
)

func loadModule() error {
	done, err := bind0()
	if err != nil {
		return err
	}
	defer done()
	if module, err = cu.LoadData(fatbin); err != nil {
		return fmt.Errorf("loading the kernels (cuModuleLoadData; the fatbin has sm_80, sm_90 and compute_90 code): %v", err)
	}
	ptrs := []*cu.Function{&fn.relu, &fn.add, &fn.merge, &fn.conv2d, &fn.dense, &fn.maxpool, &fn.argmax,
		&fn.sumPartial, &fn.sumFinish, &fn.zeroChannels} // in the order of kernelNames
	for i, name := range kernelNames {
		if *ptrs[i], err = module.Function(name); err != nil {
			return fmt.Errorf("kernel %s: %v", name, err)
		}
	}
	return nil
}

// bind0 is bind for Init itself (the context exists, the module does not yet).
func bind0() (func(), error) {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(context); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("cuCtxSetCurrent: %v", err)
	}
	return runtime.UnlockOSThread, nil
}

func launch(name string, f cu.Function, l Launch, a *args) error {
	if err := l.check(name); err != nil {
		return err
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	params := make([]unsafe.Pointer, len(a.kinds))
	for i := range params {
		params[i] = unsafe.Pointer(&a.v[i])
	}
	if err := f.Launch(l.GX, l.GY, 1, l.BX, l.BY, 1, 0, cu.NoStream, params); err != nil {
		return fmt.Errorf("launching %s (grid %dx%d, block %dx%d): %v", name, l.GX, l.GY, l.BX, l.BY, err)
	}
	return nil
}

// stride is the launch of a grid-stride loop over n elements: 32 blocks per multiprocessor
// at most.
func stride(n int) Launch { return StrideLaunch(n, info.SMs*32) }

// ReLU sets out = max(x, 0) element-wise.
func ReLU(out, x Float32s) error {
	if out.n != x.n {
		return fmt.Errorf("relu: %d outputs for %d inputs", out.n, x.n)
	}
	if x.n == 0 {
		return nil
	}
	return launch("k_relu", fn.relu, stride(x.n), reluArgs(out.Ptr(), x.Ptr(), x.n))
}

// Add sets out = a + b element-wise.
func Add(out, a, b Float32s) error {
	if out.n != a.n || a.n != b.n {
		return fmt.Errorf("add: lengths %d, %d, %d differ", out.n, a.n, b.n)
	}
	if a.n == 0 {
		return nil
	}
	return launch("k_add", fn.add, stride(a.n), addArgs(out.Ptr(), a.Ptr(), b.Ptr(), a.n))
}

// Merge sets out[i] = b[i] where b[i] == bprime[i], else classes (GoodNet's class N).
func Merge(out, b, bprime Int32s, classes int) error {
	if out.n != b.n || b.n != bprime.n {
		return fmt.Errorf("merge: lengths %d, %d, %d differ", out.n, b.n, bprime.n)
	}
	if b.n == 0 {
		return nil
	}
	return launch("k_merge", fn.merge, stride(b.n),
		mergeArgs(out.Ptr(), b.Ptr(), bprime.Ptr(), b.n, classes))
}

// Conv2D computes a convolution (+ bias unless b is empty, + activation) on n samples.
func Conv2D(out, x, w, b Float32s, s ConvShape, n int) error {
	if err := s.Check(n, out.n, x.n, w.n, b.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return launch("k_conv2d", fn.conv2d, ConvLaunch(s, n), conv2dArgs(out.Ptr(), x.Ptr(), w.Ptr(), b.Ptr(), s, n))
}

// Dense computes a dense layer (+ bias unless b is empty, + activation) on n samples.
func Dense(out, x, w, b Float32s, s DenseShape, n int) error {
	if err := s.Check(n, out.n, x.n, w.n, b.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return launch("k_dense", fn.dense, DenseLaunch(s, n),
		denseArgs(out.Ptr(), x.Ptr(), w.Ptr(), b.Ptr(), s, n))
}

// MaxPool computes a max pooling on n samples.
func MaxPool(out, x Float32s, s PoolShape, n int) error {
	if err := s.Check(n, out.n, x.n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return launch("k_maxpool", fn.maxpool, stride(out.n), maxpoolArgs(out.Ptr(), x.Ptr(), s, n))
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
	return launch("k_argmax", fn.argmax, ArgmaxLaunch(rows), argmaxArgs(out.Ptr(), x.Ptr(), rows, k))
}

// ChannelSum adds to acc[c] (float64) the sum over the rows of x (rows × C) of x[r][c].
// scratch holds at least SumScratch(rows, C) values. The sum is deterministic.
func ChannelSum(acc Float64s, scratch Float64s, x Float32s, rows, C int) error {
	if rows < 0 || C <= 0 || acc.n != C || x.n != rows*C {
		return fmt.Errorf("channel sum: %d sums and %d values for %d rows of %d", acc.n, x.n, rows, C)
	}
	blocks := (rows + SumRows - 1) / SumRows
	if scratch.n < SumScratch(rows, C) {
		return fmt.Errorf("channel sum: scratch of %d values, need %d", scratch.n, SumScratch(rows, C))
	}
	if rows == 0 {
		return nil
	}
	if err := launch("k_channel_sum_partial", fn.sumPartial, SumLaunch(rows, C),
		sumPartialArgs(scratch.Ptr(), x.Ptr(), rows, C)); err != nil {
		return err
	}
	return launch("k_channel_sum_finish", fn.sumFinish, stride(C),
		sumFinishArgs(acc.Ptr(), scratch.Ptr(), blocks, C))
}

// ZeroChannels zeroes the listed output channels of a conv's kernel w (taps × O: every
// kernel[..., c]) and bias b (O values, or empty).
func ZeroChannels(w, b Float32s, taps, O int, chans []int32) error {
	if taps <= 0 || O <= 0 || w.n != taps*O || (b.n != 0 && b.n != O) {
		return fmt.Errorf("zero channels: kernel of %d and bias of %d for %d taps × %d channels", w.n, b.n, taps, O)
	}
	if err := CheckZeroChannels(O, chans); err != nil {
		return err
	}
	if len(chans) == 0 {
		return nil
	}
	dc, err := Alloc[int32](len(chans))
	if err != nil {
		return err
	}
	defer dc.Free()
	if err := dc.Upload(chans); err != nil {
		return err
	}
	if err := launch("k_zero_channels", fn.zeroChannels, stride(taps*len(chans)),
		zeroChannelsArgs(w.Ptr(), b.Ptr(), taps, O, dc.Ptr(), len(chans))); err != nil {
		return err
	}
	return Sync() // before dc is freed
}
