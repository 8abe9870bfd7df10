package prune

// #cgo CFLAGS: -O3 -ffast-math
// #cgo LDFLAGS: -lm
// #include "sweep.h"
import "C"

import "unsafe"

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

// applyUpdates subtracts channel c's share from the reader's pre-activations of images idx.
func applyUpdates(idx []int32, p []float32, S, Cn, c int, r *reader, pre []float32) {
	if len(idx) == 0 || len(r.dst[c]) == 0 {
		return
	}
	C.sweep_update(C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&p[0]), C.int(S), C.int(Cn), C.int(c),
		(*C.int32_t)(&r.start[c][0]), (*C.int32_t)(&r.dst[c][0]), (*C.int32_t)(&r.woff[c][0]),
		(*C.float)(&r.w[0]), C.int(r.width), (*C.float)(&pre[0]), C.int(r.out))
}

// deltaNorms adds gain·‖act(pre) − ref‖₂ of images idx to bound.
func deltaNorms(idx []int32, pre, ref []float32, out int, relu bool, gain float64, bound []float64) {
	if len(idx) == 0 {
		return
	}
	rl := 0
	if relu {
		rl = 1
	}
	C.sweep_delta(C.int(len(idx)), (*C.int32_t)(unsafe.Pointer(&idx[0])), (*C.float)(&pre[0]), (*C.float)(&ref[0]),
		C.int(out), C.int(rl), C.double(gain), (*C.double)(&bound[0]))
}
