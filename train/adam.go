package train

/*
#include "engine.h"
*/
import "C"

import (
	"math"
	"sync"
)

// adam is Adam (Kingma & Ba 2015) over the flat parameter vector: β1 0.9, β2 0.999, ε 1e-8,
// bias-corrected moments kept in float32, coupled L2 (l2·w added to the gradient), decoupled
// weight decay (AdamW: w shrunk by lr·wd·w apart from the moments), and the learning rate
// given at every step (for schedules). The gradient is the sum of the blocks' gradients in
// block order; parameters flagged in plan.fix keep their value bit for bit.
// Large vectors are updated in parallel, in contiguous parts (the kernel is train_adam).
type adam struct {
	p     *plan
	t     int
	m, v  []float32
	parts [][2]int     // [lo, hi) of each goroutine's part
	gs    [][]*C.float // per part: the blocks' gradients at lo
}

const (
	adamB1  = 0.9
	adamB2  = 0.999
	adamEps = 1e-8
)

// adamPart is the fewest parameters per goroutine of an Adam step: below it one goroutine
// updates them all (DeepID's 601k take ≈ 0.4 ms on one core), saving the wait for a second
// one, which costs more than it saves on a busy machine.
var adamPart = 1 << 21

// newAdam updates p.params from the gradients grads (the blocks', summed in this order) on
// at most threads goroutines.
func newAdam(p *plan, grads [][]float32, threads int) *adam {
	n := len(p.params)
	a := &adam{p: p, m: p.ar.floats(n), v: p.ar.floats(n)}
	parts := max(1, min(threads, n/adamPart))
	step := (n + parts - 1) / parts
	step = (step + 15) / 16 * 16
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		g := p.ar.ptrsTo(len(grads))
		for i, gr := range grads {
			g[i] = fp(gr[lo:])
		}
		a.parts = append(a.parts, [2]int{lo, hi})
		a.gs = append(a.gs, g)
	}
	return a
}

// step updates the parameters from the blocks' gradients (the first block's gradient is
// overwritten with the sum).
func (a *adam) step(lr, l2, wd float64) {
	a.t++
	c1 := 1 - math.Pow(adamB1, float64(a.t))
	c2 := 1 - math.Pow(adamB2, float64(a.t))
	// w -= lr·(m/c1)/(√(v/c2) + ε) = (lr/c1)·m/(√v/√c2 + ε)
	step, rc2 := C.float(lr/c1), C.float(1/math.Sqrt(c2))
	keep := C.float(1 - lr*wd)
	p := a.p
	var wg sync.WaitGroup
	for i, pt := range a.parts {
		lo, hi := pt[0], pt[1]
		run := func() {
			C.train_adam(C.int(p.isa), C.long(hi-lo), fp(p.params[lo:]), &a.gs[i][0], C.int(len(a.gs[i])),
				fp(a.m[lo:]), fp(a.v[lo:]), (*C.uchar)(&p.fix[lo]), step, rc2, C.float(l2), keep)
		}
		if i == len(a.parts)-1 {
			run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
}
