package prune

// #cgo CFLAGS: -O3
// #cgo LDFLAGS: -lm
// #include "sweep.h"
import "C"

import (
	"runtime"
	"sync"

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

// top sets preds[idx[r]] (argmax, first on ties) and slack[idx[r]] from row r of the logits z
// (len(idx) × k; bias, if not nil, is added to z first), with the kernels of variant isa.
func top(isa simd.ISA, idx []int32, z []float32, k int, bias, norm []float32, preds []int32, slack []float64) {
	if len(idx) == 0 {
		return
	}
	var b *C.float
	if bias != nil {
		b = (*C.float)(&bias[0])
	}
	C.sweep_top(C.int(isa), C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&z[0]), C.int(k), b, (*C.float)(&norm[0]),
		(*C.int32_t)(&preds[0]), (*C.double)(&slack[0]))
}

func cbool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// channelMajor returns p (n × S × C) as n × C × S: each image's channels contiguous.
func channelMajor(p []float32, n, S, Cn int) []float32 {
	pc := make([]float32, len(p))
	parallel(n, func(lo, hi int) {
		if lo < hi {
			C.sweep_channel_major(C.int(hi-lo), (*C.float)(&p[lo*S*Cn]), C.int(S), C.int(Cn), (*C.float)(&pc[lo*S*Cn]))
		}
	})
	return pc
}

// rows copies rows idx of ref (out values each) into feed, in order.
func rows(idx []int32, ref []float32, out int, feed []float32) {
	if len(idx) == 0 || out == 0 {
		return
	}
	C.sweep_rows(C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&ref[0]), C.int(out), (*C.float)(&feed[0]))
}

// actRows sets rows idx of ref to act(pre) (ReLU when relu, else a copy), with the kernels of
// variant isa.
func actRows(isa simd.ISA, idx []int32, pre, ref []float32, out int, relu bool) {
	if len(idx) == 0 || out == 0 {
		return
	}
	C.sweep_act_rows(C.int(isa), C.int(len(idx)), (*C.int32_t)(&idx[0]), (*C.float)(&pre[0]), (*C.float)(&ref[0]), C.int(out), C.int(cbool(relu)))
}

// step runs one step of the incremental sweep on the images idx of s (channel ch pruned):
// updates their readers' pre-activations, bounds how far h moved, and returns, in idx order,
// the images whose certificate failed, their references already set to the readers' outputs,
// and the images whose pre-activations must be recomputed (rebase). Runs on all cores.
func (inc *incremental) step(s *incSet, idx []int32, ch int) (refresh, rebase []int32) {
	if len(idx) == 0 {
		return nil, nil
	}
	rds := inc.readersC(s, ch)
	out := make([]int32, len(idx))
	reb := make([]int32, len(idx))
	t := runtime.NumCPU()
	if len(idx) < 64 {
		t = 1
	}
	cnt, cntReb := make([]int, t), make([]C.int, t)
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		lo, hi := len(idx)*w/t, len(idx)*(w+1)/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			if lo < hi {
				cnt[w] = int(C.sweep_step(C.int(inc.isa), C.int(hi-lo), (*C.int32_t)(&idx[lo]), (*C.float)(&s.pc[0]), C.int(inc.S), C.int(inc.C),
					C.int(ch), C.int(len(rds)), &rds[0], (*C.double)(&s.slack[0]), C.double(safety), C.double(rebaseRatio),
					(*C.int32_t)(&out[lo]), (*C.int32_t)(&reb[lo]), &cntReb[w]))
			}
		}()
	}
	wg.Wait()
	n, nr := 0, 0
	for w := 0; w < t; w++ {
		lo := len(idx) * w / t
		n += copy(out[n:], out[lo:lo+cnt[w]])
		nr += copy(reb[nr:], reb[lo:lo+int(cntReb[w])])
	}
	return out[:n], reb[:nr]
}

// readersC describes the readers to C for channel ch of set s (the pointers are pinned).
func (inc *incremental) readersC(s *incSet, ch int) []C.sweep_rd {
	rds := make([]C.sweep_rd, len(inc.plan.readers))
	for q, r := range inc.plan.readers {
		rd := &rds[q]
		rd.start = (*C.int32_t)(&r.start[ch][0])
		if len(r.dst[ch]) > 0 {
			rd.dst, rd.woff = (*C.int32_t)(&r.dst[ch][0]), (*C.int32_t)(&r.woff[ch][0])
		}
		rd.w = (*C.float)(&r.w[0])
		rd.pre, rd.ref = (*C.float)(&s.pre[q][0]), (*C.float)(&s.ref[q][0])
		rd.width, rd.out, rd.relu, rd.gain = C.int(r.width), C.int(r.out), C.int(cbool(r.relu)), C.double(r.gain)
		rd.mass = (*C.double)(&r.mass[0])
		rd.removed, rd.total = (*C.double)(&s.removed[q][0]), (*C.double)(&s.total[q][0])
	}
	return rds
}

// initMass sets, for every image of s and reader, the mass its cut values hold and nothing
// removed yet.
func (inc *incremental) initMass(s *incSet) {
	rds := inc.readersC(s, 0)
	parallel(s.n, func(lo, hi int) {
		if lo < hi {
			C.sweep_mass(C.int(lo), C.int(hi), (*C.float)(&s.pc[0]), C.int(inc.S), C.int(inc.C), C.int(len(rds)), &rds[0])
		}
	})
}

// pin pins what step hands to C inside sweep_rd (cgo: Go memory passed to C may hold only
// pinned Go pointers).
func (inc *incremental) pin() {
	for _, r := range inc.plan.readers {
		inc.pinner.Pin(&r.w[0])
		for c := range r.start {
			inc.pinner.Pin(&r.start[c][0])
			if len(r.dst[c]) > 0 {
				inc.pinner.Pin(&r.dst[c][0])
				inc.pinner.Pin(&r.woff[c][0])
			}
		}
	}
	for _, r := range inc.plan.readers {
		inc.pinner.Pin(&r.mass[0])
	}
	for _, s := range inc.sets {
		if s == nil {
			continue
		}
		for q := range s.pre {
			inc.pinner.Pin(&s.pre[q][0])
			inc.pinner.Pin(&s.ref[q][0])
			inc.pinner.Pin(&s.removed[q][0])
			inc.pinner.Pin(&s.total[q][0])
		}
	}
}
