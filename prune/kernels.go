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

// updateDelta subtracts channel c's share from the reader's pre-activations of images idx
// and adds gain·‖act(pre) − ref‖₂ of each to bound (sweep_update and sweep_delta, image by
// image).
func updateDelta(idx []int32, p []float32, S, Cn, c int, r *reader, pre, ref []float32, bound []float64) {
	if len(idx) == 0 {
		return
	}
	if len(r.dst[c]) == 0 {
		deltaNorms(idx, pre, ref, r.out, r.relu, r.gain, bound)
		return
	}
	C.sweep_update_delta(C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&p[0]), C.int(S), C.int(Cn), C.int(c),
		(*C.int32_t)(&r.start[c][0]), (*C.int32_t)(&r.dst[c][0]), (*C.int32_t)(&r.woff[c][0]),
		(*C.float)(&r.w[0]), C.int(r.width), (*C.float)(&pre[0]), (*C.float)(&ref[0]), C.int(r.out),
		C.int(cbool(r.relu)), C.double(r.gain), (*C.double)(&bound[0]))
}

// act sets ref = act(pre) element by element (ReLU when relu, else a copy).
func act(pre, ref []float32, relu bool) {
	if len(pre) == 0 {
		return
	}
	C.sweep_act(C.int64_t(len(pre)), (*C.float)(&pre[0]), (*C.float)(&ref[0]), C.int(cbool(relu)))
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

// channelMasks sets bit c of mask[i·words:] when channel c of image i at the cut (p: n × S ×
// C) is non-zero somewhere.
func channelMasks(p []float32, n, S, Cn int, mask []uint64) {
	if n == 0 {
		return
	}
	words := len(mask) / n
	parallel(n, func(lo, hi int) {
		if lo < hi {
			C.sweep_masks(C.int(hi-lo), (*C.float)(&p[lo*S*Cn]), C.int(S), C.int(Cn), C.int(words), (*C.uint64_t)(&mask[lo*words]))
		}
	})
}

// activeByMask lists the images whose mask has channel c.
func activeByMask(mask []uint64, n, words, c int) []int32 {
	idx := make([]int32, n)
	if n == 0 {
		return idx
	}
	m := C.sweep_active_mask(C.int(n), (*C.uint64_t)(&mask[0]), C.int(words), C.int(c), (*C.int32_t)(&idx[0]))
	return idx[:int(m)]
}

// gather copies act(pre) of images idx into feed (rows in idx order) and into ref.
func gather(idx []int32, pre, ref []float32, out int, relu bool, feed []float32) {
	if len(idx) == 0 || out == 0 {
		return
	}
	C.sweep_gather(C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&pre[0]), (*C.float)(&ref[0]), C.int(out), C.int(cbool(relu)), (*C.float)(&feed[0]))
}

// top sets preds[idx[r]] (argmax, first on ties) and slack[idx[r]] from row r of the logits z
// (len(idx) × k; bias, if not nil, is added to z first).
func top(idx []int32, z []float32, k int, bias, norm []float32, preds []int32, slack []float64) {
	if len(idx) == 0 {
		return
	}
	var b *C.float
	if bias != nil {
		b = (*C.float)(&bias[0])
	}
	C.sweep_top(C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&z[0]), C.int(k), b, (*C.float)(&norm[0]),
		(*C.int32_t)(&preds[0]), (*C.double)(&slack[0]))
}

func cbool(b bool) int {
	if b {
		return 1
	}
	return 0
}
