package prune

// #cgo CFLAGS: -O3
// #cgo LDFLAGS: -lm
// #include "sweep.h"
import "C"

import (
	"runtime"

	"goodnet/internal/simd"
)

// kernelISAs are sweep.h's variant indices, which must be simd's (TestSweepISAs).
func kernelISAs() []simd.ISA { return []simd.ISA{C.SWEEP_PORTABLE, C.SWEEP_AVX2, C.SWEEP_AVX512} }

// sweepCalls is how many calls sweep.c dispatched to variant isa so far.
func sweepCalls(isa simd.ISA) uint64 { return uint64(C.sweep_calls(C.int(isa))) }

// activeImages lists the images whose channel c of the cut (p: n × S × C) is not all zero:
// the only ones whose predictions pruning c can change.
func activeImages(p []float32, n, S, C, c int) []int32 {
	idx := make([]int32, n)
	if n == 0 {
		return idx
	}
	m := C.sweep_active(C.int(n), (*C.float)(&p[0]), C.int(S), C.int(C), C.int(c), (*C.int32_t)(&idx[0]))
	return idx[:int(m)]
}

// channelMasks sets bit c of mask[i·words:] when channel c of image i at the cut (p: n × S ×
// C) is non-zero somewhere.
func channelMasks(p []float32, n, S, Cn int, mask []uint64) {
	if n == 0 {
		return
	}
	C.sweep_masks(C.int(n), (*C.float)(&p[0]), C.int(S), C.int(Cn), C.int(len(mask)/n), (*C.uint64_t)(&mask[0]))
}

// activeByMask puts into idx the images (of n) whose mask has channel c and returns them.
func activeByMask(mask []uint64, n, words, c int, idx []int32) []int32 {
	if n == 0 {
		return idx[:0]
	}
	m := C.sweep_active_mask(C.int(n), (*C.uint64_t)(&mask[0]), C.int(words), C.int(c), (*C.int32_t)(&idx[0]))
	return idx[:int(m)]
}

// argmax sets pred[r] to the first index of the largest of the first k values of row r of
// z (m rows of ld), as nn.Argmax, with the kernels of variant isa.
func argmax(isa simd.ISA, m int, z []float32, k, ld int, pred []int32) {
	if m == 0 {
		return
	}
	C.sweep_argmax(C.int(isa), C.int(m), (*C.float)(&z[0]), C.int(k), C.int(ld), (*C.int32_t)(&pred[0]))
}

// dense sets y (m × n) = act(x (m × k) · w (k × n) + b) (b nil: none; act actNone or
// actReLU), skipping the zeros of x; nz and nzv are scratch of m·k + 16, rowp of m + 1.
func dense(isa simd.ISA, m int, x []float32, k int, w []float32, n int, b, y []float32, act int, nz []int32, nzv []float32, rowp []int32) {
	if m == 0 {
		return
	}
	var bp *C.float
	if len(b) > 0 {
		bp = (*C.float)(&b[0])
	}
	C.sweep_dense(C.int(isa), C.int(m), (*C.float)(&x[0]), C.int(k), (*C.float)(&w[0]), C.int(n), bp, (*C.float)(&y[0]),
		C.int(act), (*C.int32_t)(&nz[0]), (*C.float)(&nzv[0]), (*C.int32_t)(&rowp[0]))
}

// activate sets y = act(x) (actNone: a copy, actReLU, actLeaky with slope alpha).
func activate(isa simd.ISA, x, y []float32, act int, alpha float32) {
	if len(x) == 0 {
		return
	}
	C.sweep_act(C.int(isa), C.int64_t(len(x)), (*C.float)(&x[0]), (*C.float)(&y[0]), C.int(act), C.float(alpha))
}

// add sets y = a + b.
func add(a, b, y []float32) {
	if len(a) == 0 {
		return
	}
	C.sweep_add(C.int64_t(len(a)), (*C.float)(&a[0]), (*C.float)(&b[0]), (*C.float)(&y[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// kernelReaders describes the readers to the C kernels; their slices are pinned with pin
// (cgo: Go memory passed to C may hold only pinned Go pointers).
func kernelReaders(rs []*reader, pin *runtime.Pinner) []C.sweep_rd {
	rds := make([]C.sweep_rd, len(rs))
	for q, r := range rs {
		rd := &rds[q]
		pin.Pin(&r.start[0])
		rd.start = (*C.int32_t)(&r.start[0])
		if len(r.dst) > 0 {
			pin.Pin(&r.dst[0])
			pin.Pin(&r.woff[0])
			rd.dst, rd.woff = (*C.int32_t)(&r.dst[0]), (*C.int32_t)(&r.woff[0])
		}
		pin.Pin(&r.w[0])
		pin.Pin(&r.bias[0])
		pin.Pin(&r.mass[0])
		rd.w, rd.bias, rd.mass = (*C.float)(&r.w[0]), (*C.float)(&r.bias[0]), (*C.double)(&r.mass[0])
		rd.width, rd.out, rd.off, rd.relu = C.int(r.width), C.int(r.out), C.int(r.off), cbool(r.relu)
	}
	return rds
}

// blockKernels runs the per-image kernels of the incremental sweep on one sub-block of
// images (see worker in incremental.go).
type blockKernels struct {
	isa  simd.ISA
	rds  []C.sweep_rd
	S, C int
}

// readers computes afresh the pre-activations of images idx (nil: the first n) of the
// sub-block (cut p), the channels of pruned left out; total and removed restart.
func (k *blockKernels) readers(n int, idx []int32, p []float32, pruned []uint64, pre []float32, po int, total, removed []float64) {
	if n == 0 {
		return
	}
	var ip *C.int32_t
	if idx != nil {
		ip = (*C.int32_t)(&idx[0])
	}
	C.sweep_readers(C.int(k.isa), C.int(n), ip, (*C.float)(&p[0]), C.int(k.S), C.int(k.C), (*C.uint64_t)(&pruned[0]),
		C.int(len(k.rds)), &k.rds[0], (*C.float)(&pre[0]), C.int(po), (*C.double)(&total[0]), (*C.double)(&removed[0]))
}

// update subtracts channel c's share from the pre-activations of images idx and returns, in
// reb, those to recompute (see rebaseRatio).
func (k *blockKernels) update(idx []int32, p []float32, c int, pre []float32, po int, total, removed []float64, reb []int32) []int32 {
	if len(idx) == 0 {
		return reb[:0]
	}
	m := C.sweep_update(C.int(k.isa), C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&p[0]), C.int(k.S), C.int(k.C), C.int(c),
		C.int(len(k.rds)), &k.rds[0], (*C.float)(&pre[0]), C.int(po), (*C.double)(&total[0]), (*C.double)(&removed[0]),
		C.double(rebaseRatio), (*C.int32_t)(&reb[0]))
	return reb[:int(m)]
}

// gather sets the rows of y to reader q's outputs of images idx.
func (k *blockKernels) gather(q int, idx []int32, pre []float32, po int, y []float32) {
	if len(idx) == 0 {
		return
	}
	rd := &k.rds[q]
	C.sweep_gather(C.int(k.isa), C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&pre[0]), C.int(po), rd.off, rd.out,
		(*C.float)(&y[0]), rd.relu)
}
