package host

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"

	"runtime"
	"sync"
)

var defaultISA = sync.OnceValue(bestISA)

var gemmScratch = sync.Pool{New: func() any {
	s := alignedFloats(C.GEMM_PB)
	return &s
}}

// Gemm computes C[m×n] = A[m×k]·B[k×n] (+ C if accumulate), row-major float32, on all cores
// with the best kernel variant (a register-blocked GEMM in kernels.h). It panics if a
// slice is shorter than its matrix.
func Gemm(m, n, k int, a, b, c []float32, accumulate bool) {
	gemm(defaultISA(), runtime.NumCPU(), m, n, k, a, b, c, accumulate)
}

func gemm(i isa, threads, m, n, k int, a, b, c []float32, accumulate bool) {
	if m < 0 || n < 0 || k < 0 || len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic(fmt.Sprintf("host.Gemm: m=%d n=%d k=%d with len(a)=%d len(b)=%d len(c)=%d", m, n, k, len(a), len(b), len(c)))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			clear(c[:m*n])
		}
		return
	}
	// split C into row strips (or column strips when it is short), one per thread
	const mr, nr = 12, 32
	parts := 1
	if work := m * n * k; work >= 1<<20 {
		parts = threads
	}
	byRows := m >= n || m >= parts*mr
	var step int
	if byRows {
		step = (m + parts - 1) / parts
		step = (step + mr - 1) / mr * mr
	} else {
		step = (n + parts - 1) / parts
		step = (step + nr - 1) / nr * nr
	}
	run := func(lo int) {
		s := gemmScratch.Get().(*[]float32)
		defer gemmScratch.Put(s)
		pb := *s
		acc := cbool(accumulate)
		if byRows {
			hi := min(lo+step, m)
			C.host_gemm(C.int(i), C.long(hi-lo), C.long(n), C.long(k), fp(a[lo*k:]), C.long(k), fp(b), C.long(n),
				fp(c[lo*n:]), C.long(n), acc, fp(pb))
		} else {
			hi := min(lo+step, n)
			C.host_gemm(C.int(i), C.long(m), C.long(hi-lo), C.long(k), fp(a), C.long(k), fp(b[lo:]), C.long(n),
				fp(c[lo:]), C.long(n), acc, fp(pb))
		}
	}
	total := n
	if byRows {
		total = m
	}
	var wg sync.WaitGroup
	for lo := step; lo < total; lo += step {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(lo)
		}()
	}
	run(0)
	wg.Wait()
}
