package cuda

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
