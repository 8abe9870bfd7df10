package train

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"goodnet/nn"
)

// Forward computes the output layer's logits of m on n samples (NHWC, scaled by scale, 0 = 1)
// with the forward pass Train uses, n × classes values. It serves checks of the training
// engine and small evaluations; the backends (host/, gpu/) are the fast way to run a model.
func Forward(m *nn.Model, x []float32, n int, scale float32) ([]float32, error) {
	r, err := Run(m, x, n, scale, m.Output.Name)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// Run computes the outputs of the named layers on n samples, as nn.Net.Run does from the
// input (NHWC, each n × OutShape.Size() values; softmax not applied), with Train's forward
// pass, on all cores.
func Run(m *nn.Model, x []float32, n int, scale float32, outs ...string) (_ [][]float32, err error) {
	defer recoverTooLarge(&err) // every worker is allocated before a goroutine starts
	if err := checkData(m, x, nil, n); err != nil {
		return nil, err
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("train: no output layer requested")
	}
	for _, o := range outs {
		if m.Layer(o) == nil {
			return nil, fmt.Errorf("train: output layer %q does not exist", o)
		}
	}
	if scale == 0 {
		scale = 1
	}
	// a plan leads to its model's output layer; a layer that does not feed it gets a plan of
	// its own, as the output of the model cut there
	ar := &arena{}
	defer ar.free()
	type target struct {
		p   *plan
		idx int
	}
	full, err := compile(m, ar, false, nil)
	if err != nil {
		return nil, err
	}
	plans := []*plan{full}
	targets := make([]target, len(outs))
outputs:
	for i, o := range outs {
		for _, p := range plans {
			if j := p.find(o); j >= 0 {
				targets[i] = target{p, j}
				continue outputs
			}
		}
		cut := *m
		cut.Output = m.Layer(o)
		p, err := compile(&cut, ar, false, nil)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
		targets[i] = target{p, p.find(o)}
	}
	res := make([][]float32, len(outs))
	for i, o := range outs {
		res[i] = make([]float32, n*m.Layer(o).OutShape.Size())
	}
	blocks := (n + lanes - 1) / lanes
	threads := min(runtime.GOMAXPROCS(0), blocks)
	var next atomic.Int64
	var wg sync.WaitGroup
	wss := make([]map[*plan]*worker, threads)
	for t := range wss {
		wss[t] = map[*plan]*worker{}
		for _, p := range plans {
			wss[t][p] = newWorker(p)
		}
	}
	for t := 0; t < threads; t++ {
		ws := wss[t]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= blocks {
					return
				}
				lo := b * lanes
				idx := make([]int, min(lanes, n-lo))
				for i := range idx {
					idx[i] = lo + i
				}
				done := map[*plan]bool{}
				for i, tg := range targets {
					w := ws[tg.p]
					if !done[tg.p] {
						w.load(x, idx, nil, scale)
						w.forward()
						done[tg.p] = true
					}
					src := w.val[tg.p.nodes[tg.idx].owner]
					s := tg.p.nodes[tg.idx].size
					C.train_unpack(fp(src), fp(res[i][lo*s:]), C.long(s), C.int(len(idx)))
				}
			}
		}()
	}
	wg.Wait()
	return res, nil
}

// find is the plan index of the named layer, or -1.
func (p *plan) find(name string) int {
	for i, n := range p.nodes {
		if n.l.Name == name {
			return i
		}
	}
	return -1
}
