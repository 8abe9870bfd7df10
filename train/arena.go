package train

/*
#include <stdlib.h>
#include <string.h>
*/
import "C"

import "unsafe"

// arena holds the C memory of one training run or evaluation: every buffer the kernels touch
// (parameters, gradients, activations, scratch) lives outside the Go heap, so that the
// argument structs handed to C may hold pointers into them (cgo forbids Go pointers there).
// free releases everything at once.
type arena struct {
	ptrs []unsafe.Pointer
}

// alloc returns n zeroed bytes aligned to 64.
func (a *arena) alloc(n int) unsafe.Pointer {
	size := C.size_t((max(n, 1) + 63) / 64 * 64)
	p := C.aligned_alloc(64, size)
	if p == nil {
		panic("train: out of memory")
	}
	C.memset(p, 0, size)
	a.ptrs = append(a.ptrs, p)
	return p
}

func (a *arena) floats(n int) []float32 {
	return unsafe.Slice((*float32)(a.alloc(4*n)), max(n, 1))[:n]
}

func (a *arena) longs(n int) []C.long {
	return unsafe.Slice((*C.long)(a.alloc(8*n)), max(n, 1))[:n]
}

func (a *arena) ints(n int) []C.int {
	return unsafe.Slice((*C.int)(a.alloc(4*n)), max(n, 1))[:n]
}

func (a *arena) doubles(n int) []C.double {
	return unsafe.Slice((*C.double)(a.alloc(8*n)), max(n, 1))[:n]
}

func (a *arena) bytes(n int) []byte {
	return unsafe.Slice((*byte)(a.alloc(n)), max(n, 1))[:n]
}

func (a *arena) ptrsTo(n int) []*C.float {
	return unsafe.Slice((**C.float)(a.alloc(8*n)), max(n, 1))[:n]
}

func (a *arena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}
