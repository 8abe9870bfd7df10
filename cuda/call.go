package cuda

// This file is in every build (no build tag): what a launch is — a kernel, its geometry and
// its arguments — and how each launcher of package cuda fills one. The GPU (kernels.go, build
// tag cuda) and cuda/hostcheck's emulator run the same Calls, so the emulated tests check the
// argument lists the GPU gets.

import "fmt"

// Kernel is a __global__ kernel of kernels.cu (the constants are generated: kernels_gen.go).
type Kernel int

func (k Kernel) String() string {
	if k < 0 || k >= numKernels {
		return fmt.Sprintf("Kernel(%d)", int(k))
	}
	return kernelNames[k]
}

// Param is a kernel parameter as kernels.cu declares it.
type Param struct{ Name, Type string }

// Params are the kernel's parameters, in order.
func (k Kernel) Params() []Param { return kernelParams[k] }

// Kernels lists every kernel of kernels.cu.
func Kernels() []Kernel {
	ks := make([]Kernel, numKernels)
	for i := range ks {
		ks[i] = Kernel(i)
	}
	return ks
}

// Call is one kernel launch: the kernel, the geometry, and the arguments, each in an 8-byte
// slot (gorgonia.org/cu's Launch passes 8 bytes per argument and the driver reads the
// parameter's own size, the low bytes on a little-endian machine): pointers and i64 whole,
// int as its 32-bit pattern. The typed builders (kernels_gen.go) fill Args in the order and
// with the names of kernels.cu.
type Call struct {
	Kernel Kernel
	Launch Launch
	Args   [maxArgs]uint64
	NArgs  int
}

func (c *Call) put(v uint64) {
	c.Args[c.NArgs] = v
	c.NArgs++
}

func (c *Call) ptr(p uintptr) { c.put(uint64(p)) }
func (c *Call) i32(x int)     { c.put(uint64(uint32(int32(x)))) }
func (c *Call) i64(x int)     { c.put(uint64(int64(x))) }

// Arg is argument i as the kernel reads it: int parameters sign-extended from 32 bits.
func (c Call) Arg(i int) int64 {
	if kernelParams[c.Kernel][i].Type == "int" {
		return int64(int32(uint32(c.Args[i])))
	}
	return int64(c.Args[i])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Launch is the geometry of a kernel launch (grids and blocks are two-dimensional here). The
// numbers are kernels.cu's (the generated constants): GEMM tiles of BM × BN outputs with
// GemmThreads threads, ArgmaxRows rows of one warp each per argmax block, SumRows rows ×
// SumCols channels per channel-sum block, StrideThreads per block of a grid-stride loop.
type Launch struct{ GX, GY, BX, BY int }

const maxGridX, maxGridY = 1<<31 - 1, 65535

func (l Launch) check(op string) error {
	if l.GX < 1 || l.GY < 1 || l.GX > maxGridX || l.GY > maxGridY {
		return fmt.Errorf("%s: grid %dx%d out of range", op, l.GX, l.GY)
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// StrideLaunch is a grid-stride loop over n elements: StrideThreads threads per block, at most
// maxBlocks blocks.
func StrideLaunch(n, maxBlocks int) Launch {
	return Launch{max(min(ceilDiv(n, StrideThreads), maxBlocks), 1), 1, StrideThreads, 1}
}

// ReLUCall is k_relu on n values, as a grid-stride loop of at most maxBlocks blocks.
func ReLUCall(out, x uintptr, n, maxBlocks int) Call {
	c := kRelu(out, x, n)
	c.Launch = StrideLaunch(n, maxBlocks)
	return c
}

// AddCall is k_add on n values.
func AddCall(out, a, b uintptr, n, maxBlocks int) Call {
	c := kAdd(out, a, b, n)
	c.Launch = StrideLaunch(n, maxBlocks)
	return c
}

// MergeCall is k_merge on n classes: out = b where b == bprime, else flag.
func MergeCall(out, b, bprime uintptr, n, flag, maxBlocks int) Call {
	c := kMerge(out, b, bprime, n, flag)
	c.Launch = StrideLaunch(n, maxBlocks)
	return c
}

// Conv2DCall is k_conv2d on n samples: the n·OH·OW × O outputs in BM × BN tiles.
func Conv2DCall(out, x, w, b uintptr, s ConvShape, n int) Call {
	c := kConv2D(out, x, w, b, n, s.H, s.W, s.C, s.OH, s.OW, s.O, s.KH, s.KW, s.SH, s.SW, s.PT, s.PL, b2i(s.ReLU))
	c.Launch = Launch{ceilDiv(n*s.OH*s.OW, BM), ceilDiv(s.O, BN), GemmThreads, 1}
	return c
}

// DenseCall is k_dense on n samples: the n × O outputs in BM × BN tiles.
func DenseCall(out, x, w, b uintptr, s DenseShape, n int) Call {
	c := kDense(out, x, w, b, n, s.K, s.O, b2i(s.ReLU))
	c.Launch = Launch{ceilDiv(n, BM), ceilDiv(s.O, BN), GemmThreads, 1}
	return c
}

// MaxPoolCall is k_maxpool on n samples, a grid-stride loop over the outputs.
func MaxPoolCall(out, x uintptr, s PoolShape, n, maxBlocks int) Call {
	c := kMaxpool(out, x, n, s.H, s.W, s.C, s.OH, s.OW, s.KH, s.KW, s.SH, s.SW, s.PT, s.PL)
	c.Launch = StrideLaunch(n*s.Out(), maxBlocks)
	return c
}

// ArgmaxCall is k_argmax on rows rows of k values: a warp per row, ArgmaxRows rows a block.
func ArgmaxCall(out, x uintptr, rows, k int) Call {
	c := kArgmax(out, x, rows, k)
	c.Launch = Launch{ceilDiv(rows, ArgmaxRows), 1, 32 * ArgmaxRows, 1}
	return c
}

// ChannelSumCalls are k_channel_sum_partial (a block per SumRows rows and SumCols channels,
// partial sums into scratch) then k_channel_sum_finish (acc[c] += the partial sums of c).
func ChannelSumCalls(acc, scratch, x uintptr, rows, C, maxBlocks int) [2]Call {
	p := kChannelSumPartial(scratch, x, rows, C)
	p.Launch = Launch{ceilDiv(rows, SumRows), ceilDiv(C, SumCols), SumCols, SumLanes}
	f := kChannelSumFinish(acc, scratch, p.Launch.GX, C)
	f.Launch = StrideLaunch(C, maxBlocks)
	return [2]Call{p, f}
}
