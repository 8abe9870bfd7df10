package hostcheck

// #include "emulate.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"goodnet/cuda"
)

// The GPU kernels themselves — the __global__ functions of kernels.cu — run on the CPU by
// emulate.cc: blocks one at a time, each thread of a block an OS thread, barriers for
// __syncthreads and the warp shuffles. Each Kernel… function builds its launch with package
// cuda's builders (cuda.Conv2DCall, …) — the same cuda.Call, arguments and geometry, that the
// GPU gets — and the generated dispatch (emulate_gen.h) calls the kernel with those slots, so
// a wrong argument order shows here as a wrong result. Slow (thousands of threads per
// launch): for tests of the tiling, warp and block logic on small inputs. Grid-stride loops
// get at most MaxStrideBlocks blocks, so that they wrap.

// MaxStrideBlocks caps the grids of the emulated grid-stride loops.
const MaxStrideBlocks = 3

// pins holds host slices at fixed addresses while a Call carries them as integers.
type pins struct{ p runtime.Pinner }

func (p *pins) f32(v []float32) uintptr {
	if len(v) == 0 {
		return 0
	}
	p.p.Pin(&v[0])
	return uintptr(unsafe.Pointer(&v[0]))
}

func (p *pins) i32(v []int32) uintptr {
	if len(v) == 0 {
		return 0
	}
	p.p.Pin(&v[0])
	return uintptr(unsafe.Pointer(&v[0]))
}

func (p *pins) f64(v []float64) uintptr {
	if len(v) == 0 {
		return 0
	}
	p.p.Pin(&v[0])
	return uintptr(unsafe.Pointer(&v[0]))
}

// Emulate runs one launch of package cuda on the CPU. Its pointer arguments must be host
// addresses of memory that stays put (pinned or C) for the call.
func Emulate(c cuda.Call) error {
	if want := len(c.Kernel.Params()); c.NArgs != want {
		return fmt.Errorf("%s: %d arguments for %d parameters", c.Kernel, c.NArgs, want)
	}
	if name := C.emu_kernel_name(C.int(c.Kernel)); name == nil || C.GoString(name) != c.Kernel.String() {
		return fmt.Errorf("kernel %d is %s in package cuda but not in the emulator (regenerate: go generate ./cuda)", int(c.Kernel), c.Kernel)
	}
	l := c.Launch
	if l.GX < 1 || l.GY < 1 || l.BX < 1 || l.BY < 1 || l.BX*l.BY > 1024 {
		return fmt.Errorf("%s: launch %+v", c.Kernel, l)
	}
	C.emu_call(C.int(c.Kernel), C.int(l.GX), C.int(l.GY), C.int(l.BX), C.int(l.BY),
		(*C.ulonglong)(unsafe.Pointer(&c.Args[0])), C.int(c.NArgs))
	return nil
}

func emulate(p *pins, c cuda.Call) error {
	defer p.p.Unpin()
	return Emulate(c)
}

// KernelReLU runs k_relu.
func KernelReLU(out, x []float32) error {
	if len(out) != len(x) {
		return fmt.Errorf("relu: %d outputs for %d inputs", len(out), len(x))
	}
	if len(x) == 0 {
		return nil
	}
	var p pins
	return emulate(&p, cuda.ReLUCall(p.f32(out), p.f32(x), len(x), MaxStrideBlocks))
}

// KernelAdd runs k_add.
func KernelAdd(out, a, b []float32) error {
	if len(out) != len(a) || len(a) != len(b) {
		return fmt.Errorf("add: lengths %d, %d, %d differ", len(out), len(a), len(b))
	}
	if len(a) == 0 {
		return nil
	}
	var p pins
	return emulate(&p, cuda.AddCall(p.f32(out), p.f32(a), p.f32(b), len(a), MaxStrideBlocks))
}

// KernelMerge runs k_merge.
func KernelMerge(out, b, bprime []int32, flag int) error {
	if len(out) != len(b) || len(b) != len(bprime) {
		return fmt.Errorf("merge: lengths %d, %d, %d differ", len(out), len(b), len(bprime))
	}
	if len(b) == 0 {
		return nil
	}
	var p pins
	return emulate(&p, cuda.MergeCall(p.i32(out), p.i32(b), p.i32(bprime), len(b), flag, MaxStrideBlocks))
}

// KernelConv2D runs k_conv2d.
func KernelConv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil || n == 0 {
		return err
	}
	var p pins
	return emulate(&p, cuda.Conv2DCall(p.f32(out), p.f32(x), p.f32(w), p.f32(b), s, n))
}

// KernelDense runs k_dense.
func KernelDense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil || n == 0 {
		return err
	}
	var p pins
	return emulate(&p, cuda.DenseCall(p.f32(out), p.f32(x), p.f32(w), p.f32(b), s, n))
}

// KernelMaxPool runs k_maxpool.
func KernelMaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	if err := s.Check(n, len(out), len(x)); err != nil || n == 0 {
		return err
	}
	var p pins
	return emulate(&p, cuda.MaxPoolCall(p.f32(out), p.f32(x), s, n, MaxStrideBlocks))
}

// KernelArgmax runs k_argmax.
func KernelArgmax(out []int32, x []float32, rows, k int) error {
	if rows < 0 || k <= 0 || len(out) != rows || len(x) != rows*k {
		return fmt.Errorf("argmax: %d outputs and %d values for %d rows of %d", len(out), len(x), rows, k)
	}
	if rows == 0 {
		return nil
	}
	var p pins
	return emulate(&p, cuda.ArgmaxCall(p.i32(out), p.f32(x), rows, k))
}

// KernelChannelSum runs k_channel_sum_partial then k_channel_sum_finish, adding to acc.
func KernelChannelSum(acc []float64, x []float32, rows, ch int) error {
	if rows < 0 || ch <= 0 || len(acc) != ch || len(x) != rows*ch {
		return fmt.Errorf("channel sum: %d sums and %d values for %d rows of %d", len(acc), len(x), rows, ch)
	}
	if rows == 0 {
		return nil
	}
	scratch := make([]float64, cuda.SumScratch(rows, ch))
	var p pins
	defer p.p.Unpin()
	for _, c := range cuda.ChannelSumCalls(p.f64(acc), p.f64(scratch), p.f32(x), rows, ch, MaxStrideBlocks) {
		if err := Emulate(c); err != nil {
			return err
		}
	}
	return nil
}
