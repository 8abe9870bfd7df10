package train

/*
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"fmt"
	"unsafe"

	"goodnet/internal/resource"
)

// arena holds the C memory of one training run or evaluation: every buffer the kernels touch
// (parameters, gradients, activations, scratch) lives outside the Go heap, so that the
// argument structs handed to C may hold pointers into them (cgo forbids Go pointers there).
// free releases everything at once.
type arena struct {
	ptrs []unsafe.Pointer
	used int64 // bytes allocated
}

// tooLarge is what alloc panics with when the arena would pass the memory limit (or malloc
// fails); Train and Run recover it into their error, before any goroutine uses the arena.
type tooLarge struct{ err error }

// recoverTooLarge turns alloc's tooLarge panic into *err (deferred by Train and Run).
func recoverTooLarge(err *error) {
	if r := recover(); r != nil {
		t, ok := r.(tooLarge)
		if !ok {
			panic(r)
		}
		*err = t.err
	}
}

// alloc returns n zeroed bytes aligned to 64. The arena's whole size is held to the memory
// limit (internal/resource) before each allocation.
func (a *arena) alloc(n int) unsafe.Pointer {
	size := C.size_t((max(n, 1) + 63) / 64 * 64)
	if err := resource.Check(a.used+int64(size), "training's buffers (parameters, gradients, the activations of its blocks of 16 images)"); err != nil {
		panic(tooLarge{err})
	}
	p := C.aligned_alloc(64, size)
	if p == nil {
		panic(tooLarge{fmt.Errorf("training's buffers: out of memory allocating %d bytes after %d", size, a.used)})
	}
	C.memset(p, 0, size)
	a.ptrs = append(a.ptrs, p)
	a.used += int64(size)
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
