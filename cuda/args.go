package cuda

import "fmt"

// The argument lists of the kernels, in every build so that a test compares them with the
// signatures in kernels.cu (a mismatch would otherwise only show on a GPU, as garbage).

// args collects kernel arguments, each in an 8-byte slot: gorgonia.org/cu's Launch copies 8
// bytes per argument and the driver reads the parameter's own size, the low bytes on a
// little-endian machine. kinds records each one: 'p' pointer, 'i' int, 'l' long long.
type args struct {
	v     [20]uint64
	kinds []byte
}

func (a *args) put(v uint64, k byte) *args {
	a.v[len(a.kinds)] = v
	a.kinds = append(a.kinds, k)
	return a
}

func (a *args) ptr(p uintptr) *args { return a.put(uint64(p), 'p') }
func (a *args) i32(x int) *args     { return a.put(uint64(uint32(int32(x))), 'i') }
func (a *args) i64(x int) *args     { return a.put(uint64(int64(x)), 'l') }
func (a *args) flag(b bool) *args {
	if b {
		return a.i32(1)
	}
	return a.i32(0)
}

func reluArgs(out, x uintptr, n int) *args { return new(args).ptr(out).ptr(x).i64(n) }

func addArgs(out, a, b uintptr, n int) *args { return new(args).ptr(out).ptr(a).ptr(b).i64(n) }

func mergeArgs(out, b, bprime uintptr, n, classes int) *args {
	return new(args).ptr(out).ptr(b).ptr(bprime).i64(n).i32(classes)
}

func conv2dArgs(out, x, w, b uintptr, s ConvShape, n int) *args {
	a := new(args).ptr(out).ptr(x).ptr(w).ptr(b).i64(n)
	for _, v := range []int{s.H, s.W, s.C, s.OH, s.OW, s.O, s.KH, s.KW, s.SH, s.SW, s.PT, s.PL} {
		a.i32(v)
	}
	return a.flag(s.ReLU)
}

func denseArgs(out, x, w, b uintptr, s DenseShape, n int) *args {
	return new(args).ptr(out).ptr(x).ptr(w).ptr(b).i64(n).i32(s.K).i32(s.O).flag(s.ReLU)
}

func maxpoolArgs(out, x uintptr, s PoolShape, n int) *args {
	a := new(args).ptr(out).ptr(x).i64(n)
	for _, v := range []int{s.H, s.W, s.C, s.OH, s.OW, s.KH, s.KW, s.SH, s.SW, s.PT, s.PL} {
		a.i32(v)
	}
	return a
}

func argmaxArgs(out, x uintptr, rows, k int) *args { return new(args).ptr(out).ptr(x).i64(rows).i32(k) }

func sumPartialArgs(partial, x uintptr, rows, C int) *args {
	return new(args).ptr(partial).ptr(x).i64(rows).i32(C)
}

func sumFinishArgs(acc, partial uintptr, blocks, C int) *args {
	return new(args).ptr(acc).ptr(partial).i32(blocks).i32(C)
}

func zeroChannelsArgs(w, b uintptr, taps, O int, chans uintptr, nch int) *args {
	return new(args).ptr(w).ptr(b).i64(taps).i32(O).ptr(chans).i32(nch)
}

// kernelNames are the kernels the module must hold.
var kernelNames = []string{"k_relu", "k_add", "k_merge", "k_conv2d", "k_dense", "k_maxpool", "k_argmax",
	"k_channel_sum_partial", "k_channel_sum_finish", "k_zero_channels"}

// Launch is the geometry of a kernel launch (grids and blocks are two-dimensional here). The
// numbers follow kernels.cu: its GEMM tiles (GN_BM × GN_BN = 64 × 32 outputs, 256 threads),
// one warp per argmax row, GN_SUM_ROWS rows per channel-sum block. cuda/hostcheck runs the
// kernels on the CPU with the same launches.
type Launch struct{ GX, GY, BX, BY int }

const maxGridX, maxGridY = 1<<31 - 1, 65535

func (l Launch) check(op string) error {
	if l.GX < 1 || l.GY < 1 || l.GX > maxGridX || l.GY > maxGridY {
		return fmt.Errorf("%s: grid %dx%d out of range", op, l.GX, l.GY)
	}
	return nil
}

// StrideLaunch is a grid-stride loop over n elements: 256 threads per block, at most
// maxBlocks blocks.
func StrideLaunch(n, maxBlocks int) Launch {
	return Launch{max(min((n+255)/256, maxBlocks), 1), 1, 256, 1}
}

// ConvLaunch covers the n·OH·OW × O outputs with 64 × 32 tiles.
func ConvLaunch(s ConvShape, n int) Launch {
	return Launch{(n*s.OH*s.OW + 63) / 64, (s.O + 31) / 32, 256, 1}
}

// DenseLaunch covers the n × O outputs with 64 × 32 tiles.
func DenseLaunch(s DenseShape, n int) Launch { return Launch{(n + 63) / 64, (s.O + 31) / 32, 256, 1} }

// ArgmaxLaunch gives each row a warp, 8 rows a block.
func ArgmaxLaunch(rows int) Launch { return Launch{(rows + 7) / 8, 1, 256, 1} }

// SumLaunch is k_channel_sum_partial's: a block per SumRows rows and 32 channels, 32 × 8
// threads.
func SumLaunch(rows, C int) Launch {
	return Launch{(rows + SumRows - 1) / SumRows, (C + 31) / 32, 32, 8}
}
