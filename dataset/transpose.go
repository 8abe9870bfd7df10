package dataset

/*
#cgo CFLAGS: -O3
#include "transpose.h"
*/
import "C"

import (
	"unsafe"

	"goodnet/internal/simd"
)

// isa is the variant of the transpose (internal/simd: the CPU's best, or GOODNET_CPU_KERNEL).
var isa = cInt(simd.Best())

// cInt is C.int, for the tests (which cannot use cgo).
type cInt = C.int

// transposeC converts r images (C×H×W each, of T) into out (r×H×W×C float32) with p's
// transform; with check it returns the index in out of the first non-finite value (-1: none).
func transposeC[T uint8 | float32 | float64](p pixel, out []float32, in []T, r, ch, hw int, check bool) int {
	if r == 0 {
		return -1
	}
	ck := C.int(0)
	if check {
		ck = 1
	}
	o := (*C.float)(unsafe.Pointer(unsafe.SliceData(out)))
	src := unsafe.Pointer(unsafe.SliceData(in))
	var k C.long
	switch any(in).(type) {
	case []uint8:
		k = C.gn_hwc_u8(isa, (*C.uint8_t)(src), o, C.long(r), C.int(ch), C.long(hw), C.double(p.mul), C.double(p.div), ck)
	case []float32:
		k = C.gn_hwc_f32(isa, (*C.float)(src), o, C.long(r), C.int(ch), C.long(hw), C.double(p.mul), C.double(p.div), ck)
	default:
		k = C.gn_hwc_f64(isa, (*C.double)(src), o, C.long(r), C.int(ch), C.long(hw), C.double(p.mul), C.double(p.div), ck)
	}
	return int(k)
}
