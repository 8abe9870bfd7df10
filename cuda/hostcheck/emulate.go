package hostcheck

// #include "emulate.h"
import "C"

import (
	"fmt"

	"goodnet/cuda"
)

// The GPU kernels themselves — the __global__ functions of kernels.cu, with the launch
// geometries of package cuda — run on the CPU by emulate.cc: blocks one at a time, each
// thread of a block an OS thread, barriers for __syncthreads and the warp shuffles. Slow
// (thousands of threads per launch): for tests of the tiling, warp and block logic on small
// inputs. Grid-stride loops get at most MaxStrideBlocks blocks, so that they wrap.

// MaxStrideBlocks caps the grids of the emulated grid-stride loops.
const MaxStrideBlocks = 3

func launch(l cuda.Launch) (C.int, C.int, C.int, C.int) {
	return C.int(l.GX), C.int(l.GY), C.int(l.BX), C.int(l.BY)
}

// KernelReLU runs k_relu.
func KernelReLU(out, x []float32) error {
	if len(out) != len(x) {
		return fmt.Errorf("relu: %d outputs for %d inputs", len(out), len(x))
	}
	gx, gy, bx, by := launch(cuda.StrideLaunch(len(x), MaxStrideBlocks))
	C.emu_relu(gx, gy, bx, by, fp(out), fp(x), C.i64(len(x)))
	return nil
}

// KernelAdd runs k_add.
func KernelAdd(out, a, b []float32) error {
	if len(out) != len(a) || len(a) != len(b) {
		return fmt.Errorf("add: lengths %d, %d, %d differ", len(out), len(a), len(b))
	}
	gx, gy, bx, by := launch(cuda.StrideLaunch(len(a), MaxStrideBlocks))
	C.emu_add(gx, gy, bx, by, fp(out), fp(a), fp(b), C.i64(len(a)))
	return nil
}

// KernelMerge runs k_merge.
func KernelMerge(out, b, bprime []int32, classes int) error {
	if len(out) != len(b) || len(b) != len(bprime) {
		return fmt.Errorf("merge: lengths %d, %d, %d differ", len(out), len(b), len(bprime))
	}
	gx, gy, bx, by := launch(cuda.StrideLaunch(len(b), MaxStrideBlocks))
	C.emu_merge(gx, gy, bx, by, ip(out), ip(b), ip(bprime), C.i64(len(b)), C.int(classes))
	return nil
}

// KernelConv2D runs k_conv2d.
func KernelConv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil || n == 0 {
		return err
	}
	gx, gy, bx, by := launch(cuda.ConvLaunch(s, n))
	C.emu_conv2d(gx, gy, bx, by, fp(out), fp(x), fp(w), fp(b), C.i64(n), C.int(s.H), C.int(s.W), C.int(s.C),
		C.int(s.OH), C.int(s.OW), C.int(s.O), C.int(s.KH), C.int(s.KW), C.int(s.SH), C.int(s.SW),
		C.int(s.PT), C.int(s.PL), b2i(s.ReLU))
	return nil
}

// KernelDense runs k_dense.
func KernelDense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil || n == 0 {
		return err
	}
	gx, gy, bx, by := launch(cuda.DenseLaunch(s, n))
	C.emu_dense(gx, gy, bx, by, fp(out), fp(x), fp(w), fp(b), C.i64(n), C.int(s.K), C.int(s.O), b2i(s.ReLU))
	return nil
}

// KernelMaxPool runs k_maxpool.
func KernelMaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	if err := s.Check(n, len(out), len(x)); err != nil || n == 0 {
		return err
	}
	gx, gy, bx, by := launch(cuda.StrideLaunch(len(out), MaxStrideBlocks))
	C.emu_maxpool(gx, gy, bx, by, fp(out), fp(x), C.i64(n), C.int(s.H), C.int(s.W), C.int(s.C), C.int(s.OH), C.int(s.OW),
		C.int(s.KH), C.int(s.KW), C.int(s.SH), C.int(s.SW), C.int(s.PT), C.int(s.PL))
	return nil
}

// KernelArgmax runs k_argmax.
func KernelArgmax(out []int32, x []float32, rows, k int) error {
	if rows < 0 || k <= 0 || len(out) != rows || len(x) != rows*k {
		return fmt.Errorf("argmax: %d outputs and %d values for %d rows of %d", len(out), len(x), rows, k)
	}
	if rows == 0 {
		return nil
	}
	gx, gy, bx, by := launch(cuda.ArgmaxLaunch(rows))
	C.emu_argmax(gx, gy, bx, by, ip(out), fp(x), C.i64(rows), C.int(k))
	return nil
}

// KernelChannelSum runs k_channel_sum_partial then k_channel_sum_finish, adding to acc.
func KernelChannelSum(acc []float64, x []float32, rows, ch int) error {
	if rows < 0 || ch <= 0 || len(acc) != ch || len(x) != rows*ch {
		return fmt.Errorf("channel sum: %d sums and %d values for %d rows of %d", len(acc), len(x), rows, ch)
	}
	if rows == 0 {
		return nil
	}
	partial := make([]float64, cuda.SumScratch(rows, ch))
	l := cuda.SumLaunch(rows, ch)
	gx, gy, bx, by := launch(l)
	C.emu_channel_sum_partial(gx, gy, bx, by, (*C.double)(&partial[0]), fp(x), C.i64(rows), C.int(ch))
	gx, gy, bx, by = launch(cuda.StrideLaunch(ch, MaxStrideBlocks))
	C.emu_channel_sum_finish(gx, gy, bx, by, (*C.double)(&acc[0]), (*C.double)(&partial[0]), C.int(l.GX), C.int(ch))
	return nil
}

// KernelZeroChannels runs k_zero_channels.
func KernelZeroChannels(w, b []float32, taps, O int, chans []int32) error {
	if taps <= 0 || O <= 0 || len(w) != taps*O || (b != nil && len(b) != O) {
		return fmt.Errorf("zero channels: kernel of %d and bias of %d for %d taps × %d channels", len(w), len(b), taps, O)
	}
	if err := cuda.CheckZeroChannels(O, chans); err != nil || len(chans) == 0 {
		return err
	}
	gx, gy, bx, by := launch(cuda.StrideLaunch(taps*len(chans), MaxStrideBlocks))
	C.emu_zero_channels(gx, gy, bx, by, fp(w), fp(b), C.i64(taps), C.int(O), ip(chans), C.int(len(chans)))
	return nil
}
