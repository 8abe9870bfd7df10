package train

/*
#include "engine.h"
*/
import "C"

import (
	"time"

	"goodnet/nn"
)

// worker is one goroutine's part of a step: the activations and gradients of one block of 16
// images at a time (engine.h's layout), and where that block's weight gradients go.
type worker struct {
	p         *plan
	val, grad [][]float32 // per node that owns its buffers: size·16 floats (grad: if needed)
	padIn     [][]float32 // Conv2D with "same" padding: the framed input (kept for its weight gradient)
	dpad      [][]float32 // Conv2D whose input needs a gradient: the framed output gradient
	s         [][]float32 // trainable Conv2D: per-lane sums of its weight gradient (kk·O·16)
	sb        [][]float32 // and of its bias gradient (O·16), with a bias
	rows      [][]float32 // Conv2D fused with its pool: PH conv rows (forward)
	code      [][]byte    // and where each maximum of the pool was
	chunk     [][]float32 // and a chunk of its output gradient, when that has no frame
	dt        []float32   // a Dense output gradient, lanes to rows
	g         []float32   // the current block's weight gradients, laid out as plan.params
	off       []C.long    // the lanes' offsets for train_gather
	labels    []C.int
	loss      []C.double
	argmax    []C.int
	stage     []float32 // 16 augmented images (Go memory, read by train_gather)
	prof      *profile  // where the time goes, when set (benchmarks)
}

func newWorker(p *plan) *worker {
	ar := p.ar
	n := len(p.nodes)
	w := &worker{p: p, val: make([][]float32, n), grad: make([][]float32, n), padIn: make([][]float32, n),
		dpad: make([][]float32, n), s: make([][]float32, n), sb: make([][]float32, n),
		rows: make([][]float32, n), code: make([][]byte, n), chunk: make([][]float32, n),
		off: ar.longs(C.LANES), labels: ar.ints(C.LANES), loss: ar.doubles(C.LANES), argmax: ar.ints(C.LANES)}
	maxO := 0
	for i, nd := range p.nodes {
		if nd.alias {
			continue
		}
		if nd.fusedPool >= 0 { // its output and gradient are never stored
			pl := p.nodes[nd.fusedPool].l
			row := int(nd.geo.OW*nd.geo.O) * C.LANES
			w.rows[i] = ar.floats(pl.Size[0] * row)
			w.code[i] = ar.bytes(pl.OutShape.Size() * C.LANES)
			if nd.dH == 0 {
				w.chunk[i] = ar.floats(nd.chunkRows * pl.Size[0] * row)
			}
		} else {
			w.val[i] = ar.floats(nd.size * C.LANES)
			if p.train && (nd.needGrad || i == p.nodes[p.out].owner) { // the loss writes the output's
				w.grad[i] = ar.floats(nd.size * C.LANES)
			}
		}
		if nd.kind() == nn.Conv2D {
			if nd.pad {
				w.padIn[i] = ar.floats(int(nd.geo.H * nd.geo.W * nd.geo.C * C.LANES))
			}
			if nd.dH > 0 {
				w.dpad[i] = ar.floats(nd.dH * nd.dW * int(nd.geo.O) * C.LANES)
			}
			if nd.trainable {
				w.s[i] = ar.floats(nd.kk * int(nd.geo.O) * C.LANES)
				if nd.bOff >= 0 {
					w.sb[i] = ar.floats(int(nd.geo.O) * C.LANES)
				}
			}
		}
		if nd.kind() == nn.Dense && nd.trainable {
			maxO = max(maxO, nd.l.Units)
		}
	}
	if p.train {
		w.dt = ar.floats(maxO * C.LANES)
	}
	return w
}

// load fills the input block with the images idx of x (n × size), each transformed by xf[i]
// when xf is not nil, times scale.
func (w *worker) load(x []float32, idx []int, xf []xform, scale float32) {
	in := w.p.m.InputShape()
	s := in.Size()
	src := x
	if xf != nil {
		if w.stage == nil {
			w.stage = make([]float32, C.LANES*s)
		}
		for i, j := range idx {
			xf[i].apply(w.stage[i*s:(i+1)*s], x[j*s:(j+1)*s], in[0], in[1], in[2], scale)
			w.off[i] = C.long(i * s)
		}
		src, scale = w.stage, 1
	} else {
		for i, j := range idx {
			w.off[i] = C.long(j * s)
		}
	}
	C.train_gather(fp(src), &w.off[0], fp(w.val[0]), C.long(s), C.int(len(idx)), C.float(scale))
}

func (w *worker) in(n *node, j int) []float32 { return w.val[w.p.nodes[n.ins[j]].owner] }

// forward runs the loaded block through every layer, keeping each layer's output.
func (w *worker) forward() {
	var t time.Time
	w.tick(&t)
	for i, n := range w.p.nodes {
		if i == 0 || n.alias || n.fusedPool >= 0 {
			continue
		}
		w.forwardNode(i, n)
		if w.prof != nil {
			at := i
			if n.fusedConv >= 0 {
				at = n.fusedConv // the fused pair's time is the conv's
			}
			w.prof.fwd[at] += w.tick(&t)
		}
	}
}

func (w *worker) forwardNode(i int, n *node) {
	isa := C.int(w.p.isa)
	out := fp(w.val[i])
	switch n.kind() {
	case nn.Conv2D:
		C.train_conv(isa, &n.geo, &n.fwd, w.convInput(i, n), out)
	case nn.MaxPool2D:
		if n.fusedConv < 0 {
			C.train_maxpool(isa, &n.pool, fp(w.in(n, 0)), out)
			break
		}
		ci := n.fusedConv
		c := w.p.nodes[ci]
		in := w.convInput(ci, c)
		C.train_conv_pool(isa, &c.geo, &c.fwd, &n.pool, in, fp(w.rows[ci]), out, (*C.uchar)(&w.code[ci][0]))
	case nn.Dense:
		a := n.dfwd
		a.in, a.out = fp(w.in(n, 0)), out
		C.train_fwd(isa, &a)
	case nn.Add:
		sz := C.long(n.size * C.LANES)
		C.train_add(out, fp(w.in(n, 0)), fp(w.in(n, 1)), sz)
		for j := 2; j < len(n.ins); j++ {
			C.train_add(out, out, fp(w.in(n, j)), sz)
		}
	case nn.Act: // ReLU (the others are aliases)
		C.train_relu(out, fp(w.in(n, 0)), C.long(n.size*C.LANES))
	}
}

// convInput is the input block of Conv2D node i, framed by its "same" padding.
func (w *worker) convInput(i int, n *node) *C.float {
	in := fp(w.in(n, 0))
	if n.pad {
		l := n.l
		C.train_pad(in, fp(w.padIn[i]), C.int(l.InShape[0]), C.int(l.InShape[1]), n.geo.C, n.geo.H, n.geo.W,
			C.int(n.pt), C.int(n.pl))
		in = fp(w.padIn[i])
	}
	return in
}

// lossGrad computes the loss of the block's nvalid images against labels, the output gradient
// of the batch's mean loss (1/batch per image), and the predicted classes. It returns the sum of
// the images' losses.
func (w *worker) lossGrad(labels []int32, batch int) float64 {
	p := w.p
	o := p.nodes[p.out].owner
	for i, c := range labels {
		w.labels[i] = C.int(c)
	}
	return float64(C.train_xent(C.int(p.isa), fp(w.val[o]), fp(w.grad[o]), C.int(p.nodes[p.out].size), C.int(len(labels)),
		&w.labels[0], C.double(1/float64(batch)), &w.loss[0], &w.argmax[0]))
}

// xentValues runs train_xent on one block of logits z (k × 16, engine layout) with the given
// labels (at most 16) and batch size, returning the gradient, each lane's loss and argmax, and
// their sum (a Go-valued door to the kernel, for its tests).
func xentValues(i isa, z []float32, k int, labels []int32, batch int) (dz []float32, loss []float64, argmax []int32, total float64) {
	ar := &arena{}
	defer ar.free()
	zc, dzc := ar.floats(len(z)), ar.floats(len(z))
	copy(zc, z)
	lab, ls, am := ar.ints(C.LANES), ar.doubles(C.LANES), ar.ints(C.LANES)
	for j, c := range labels {
		lab[j] = C.int(c)
	}
	total = float64(C.train_xent(C.int(i), fp(zc), fp(dzc), C.int(k), C.int(len(labels)), &lab[0], C.double(1/float64(batch)), &ls[0], &am[0]))
	dz = append([]float32(nil), dzc...)
	for j := range labels {
		loss = append(loss, float64(ls[j]))
		argmax = append(argmax, int32(am[j]))
	}
	return dz, loss, argmax, total
}

// backward propagates the output gradient back through the layers, writing the block's
// weight gradients into w.g (the conv kernels' and biases' at endBlock).
func (w *worker) backward() {
	p := w.p
	var t time.Time
	w.tick(&t)
	for i := len(p.nodes) - 1; i >= 1; i-- {
		n := p.nodes[i]
		if n.alias || !n.needGrad || n.fusedConv >= 0 { // a fused pool's part is the conv's
			continue
		}
		w.backwardNode(i, n)
		if w.prof != nil {
			w.prof.bwd[i] += w.tick(&t)
		}
	}
}

func (w *worker) backwardNode(i int, n *node) {
	p := w.p
	isa := C.int(p.isa)
	if n.fusedPool >= 0 {
		w.convPoolBack(i, n)
		return
	}
	dy := fp(w.grad[i])
	src := p.nodes[n.ins[0]]
	var dx *C.float
	if src.needGrad {
		dx = fp(w.grad[src.owner])
	}
	sz := C.long(n.size * C.LANES)
	switch n.kind() {
	case nn.Conv2D:
		w.convBack(i, n)
	case nn.MaxPool2D:
		if dx != nil {
			C.train_maxpool_back(isa, &n.pool, fp(w.in(n, 0)), fp(w.val[i]), dy, dx, cbool(n.accIn[0]), cbool(n.gate))
		}
	case nn.Dense:
		var t time.Time
		w.tick(&t)
		if n.l.Act == nn.ReLU {
			C.train_relu_mask(dy, fp(w.val[i]), sz)
		}
		O := C.int(n.l.Units)
		if n.trainable {
			gw, gb := w.grads(n)
			C.train_transpose(dy, fp(w.dt), O)
			if gb != nil {
				C.train_colsum(dy, 1, 1, 0, 0, O, fp(gb), 0)
			}
			w.mark(n.l.Name+" bias", &t)
			C.train_dense_wgrad(isa, C.int(n.l.InShape[0]), O, fp(w.in(n, 0)), fp(w.dt), fp(gw), 0)
			w.mark(n.l.Name+" kernel", &t)
		}
		if dx != nil {
			a := n.dback
			a.in, a.out = dy, dx
			C.train_fwd(isa, &a)
			w.mark(n.l.Name+" input", &t)
		}
	case nn.Add:
		for j, in := range n.ins {
			if s := p.nodes[in]; s.needGrad {
				C.train_add_to(fp(w.grad[s.owner]), dy, sz, cbool(n.accIn[j]))
			}
		}
	case nn.Act: // ReLU
		if dx != nil {
			C.train_relu_back(dx, dy, fp(w.val[i]), sz, cbool(n.accIn[0]))
		}
	}
}

// grads are node n's kernel and bias gradients (bias nil without one) in w.g.
func (w *worker) grads(n *node) (gw, gb []float32) {
	gw = w.g[n.wOff : n.wOff+len(n.l.W)]
	if n.bOff >= 0 {
		gb = w.g[n.bOff : n.bOff+len(n.l.B)]
	}
	return gw, gb
}

// convBack: the ReLU's gradient (unless its pool applied it), the bias and weight gradients,
// and the input gradient.
func (w *worker) convBack(i int, n *node) {
	p := w.p
	isa := C.int(p.isa)
	l := n.l
	OH, OW, O := C.int(l.OutShape[0]), C.int(l.OutShape[1]), C.int(l.OutShape[2])
	dy, y := fp(w.grad[i]), fp(w.val[i])
	relu := l.Act == nn.ReLU && !n.gated
	d := dy
	var t time.Time
	w.tick(&t)
	if n.dH > 0 {
		var mask *C.float
		if relu {
			mask = y
		}
		C.train_scatter(dy, mask, fp(w.dpad[i]), OH, OW, O, C.long(n.prow), C.long(n.ppix), C.long(n.p0))
		w.mark(l.Name+" frame", &t)
		d = fp(w.dpad[i][n.p0:])
	} else if relu {
		C.train_relu_mask(dy, y, C.long(n.size*C.LANES))
	}
	if n.trainable {
		a := n.wg
		a.x = fp(w.in(n, 0))
		if n.pad {
			a.x = fp(w.padIn[i])
		}
		a.d, a.s, a.sb = d, fp(w.s[i]), fp(w.sb[i])
		C.train_wgrad(isa, &a)
		w.mark(l.Name+" kernel", &t)
	}
	if n.dH > 0 {
		src := p.nodes[n.ins[0]]
		C.train_conv_back(isa, &n.geo, &n.back, fp(w.dpad[i]), fp(w.grad[src.owner]), C.int(n.pt), C.int(n.pl),
			C.int(l.InShape[0]), C.int(l.InShape[1]))
		w.mark(l.Name+" input", &t)
	}
}

// convPoolBack is convBack for a Conv2D fused with its pool: the output gradient comes from
// the pool's codes and output gradient, a chunk of rows at a time, each chunk's weight
// gradient computed while it is in cache.
func (w *worker) convPoolBack(i int, n *node) {
	p := w.p
	isa := C.int(p.isa)
	pn := p.nodes[n.fusedPool]
	l := n.l
	var t time.Time
	w.tick(&t)
	var wa *C.wgrad_args
	if n.trainable {
		a := n.wg
		a.x = fp(w.in(n, 0))
		if n.pad {
			a.x = fp(w.padIn[i])
		}
		a.s, a.sb = fp(w.s[i]), fp(w.sb[i])
		wa = &a
	}
	code := (*C.uchar)(&w.code[i][0])
	if n.dH > 0 {
		C.train_conv_pool_back(isa, &pn.pool, code, fp(w.grad[n.fusedPool]), wa, fp(w.dpad[i][n.p0:]),
			C.long(n.prow), C.long(n.ppix), 1, C.int(n.chunkRows))
		w.mark(l.Name+" kernel", &t)
		src := p.nodes[n.ins[0]]
		C.train_conv_back(isa, &n.geo, &n.back, fp(w.dpad[i]), fp(w.grad[src.owner]), C.int(n.pt), C.int(n.pl),
			C.int(l.InShape[0]), C.int(l.InShape[1]))
		w.mark(l.Name+" input", &t)
		return
	}
	O := int(n.geo.O)
	C.train_conv_pool_back(isa, &pn.pool, code, fp(w.grad[n.fusedPool]), wa, fp(w.chunk[i]),
		C.long(int(n.geo.OW)*O*C.LANES), C.long(O*C.LANES), 0, C.int(n.chunkRows))
	w.mark(l.Name+" kernel", &t)
}

// startBlock clears the per-lane weight-gradient sums and directs the block's gradients to g.
func (w *worker) startBlock(g []float32) {
	w.g = g
	for i := range w.s {
		clear(w.s[i])
		clear(w.sb[i])
	}
}

// endBlock folds the per-lane sums into the conv kernels' and biases' gradients.
func (w *worker) endBlock() {
	for i, s := range w.s {
		if s == nil {
			continue
		}
		gw, gb := w.grads(w.p.nodes[i])
		C.train_lanesum(fp(s), fp(gw), C.long(len(gw)), 0)
		if gb != nil {
			C.train_lanesum(fp(w.sb[i]), fp(gb), C.long(len(gb)), 0)
		}
	}
}
