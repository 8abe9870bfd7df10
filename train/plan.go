package train

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"

	"goodnet/nn"
)

// plan is a model compiled for the training engine: the layers that lead to the output, in
// topological order, with their kernel arguments, where their weights sit in the flat parameter
// vector, and what the backward pass computes for each.
type plan struct {
	m     *nn.Model
	isa   isa
	nodes []*node
	out   int // the output node
	ar    *arena

	params []float32 // every kernel and bias, Keras layouts, one after the other
	fix    []byte    // 1 where a parameter is frozen or masked (Adam leaves it)
	// flipped holds, for each Conv2D whose input needs a gradient, its kernel flipped and
	// transposed (train_flip), refreshed before every step.
	flipped []float32
	flipLen int  // its size, while compiling
	train   bool // with gradients (Train) or forward only (Run)
}

// node is one layer of the plan.
type node struct {
	l     *nn.Layer
	ins   []int // plan indices of the inputs
	owner int   // the node whose buffers hold this node's value and gradient (itself unless alias)
	alias bool  // Flatten, Dropout, linear Activation (and a softmax output): the input's buffers
	size  int   // per-image output size

	// backward
	needGrad  bool   // the gradient of the loss with respect to this node's output is computed
	trainable bool   // has weights that training may change
	accIn     []bool // per input: add into its gradient (false: this node writes it first)
	gated     bool   // Conv2D+ReLU whose only consumer, a MaxPool2D, applies the ReLU's gradient
	gate      bool   // MaxPool2D that applies its input's ReLU gradient
	// A Conv2D+ReLU read only by a max pool whose windows tile its output runs fused with it
	// (train_conv_pool): the conv's output is never stored, the pool keeps where each maximum
	// was, and the conv's backward pass rebuilds its output gradient from that (in chunks of
	// chunkRows pooled rows). fusedPool (on the conv) and fusedConv (on the pool) link the two;
	// -1 when not fused.
	fusedPool, fusedConv int
	chunkRows            int
	wOff                 int // offset of the kernel in plan.params
	bOff                 int // offset of the bias, -1 without one

	// Conv2D
	geo        C.conv_g
	pad        bool // "same" padding: the input is copied into a zero frame first
	pt, pl     int
	fwd        C.fwd_args // one output row, without in and out
	back       C.fwd_args // one row of the input gradient, without in and out
	flipOff    int
	dH, dW     int // the frame of the output gradient read by the input gradient's convolution
	p0         int // where output pixel (0, 0) lands in that frame
	prow, ppix int // and the steps between rows and pixels there
	xoff       []C.long
	kk         int // KH·KW·Cin
	wg         C.wgrad_args

	// MaxPool2D
	pool C.pool_p

	// Dense
	dfwd, dback C.fwd_args
}

func (n *node) kind() nn.Kind { return n.l.Kind }

// compile builds the plan of m in ar; with train set, for training, after fix (when not nil)
// has flagged in p.fix the parameters that training leaves as they are.
func compile(m *nn.Model, ar *arena, train bool, fix func(p *plan)) (*plan, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	p := &plan{m: m, isa: kernelISA(), ar: ar, train: train}
	layers := nn.Plan(m, nil, []*nn.Layer{m.Output}) // the input and every layer leading to the output
	if layers[0] != m.Input {
		return nil, fmt.Errorf("train: internal: the plan does not start at the input layer")
	}
	index := map[*nn.Layer]int{}
	for i, l := range layers {
		index[l] = i
		n := &node{l: l, owner: i, size: l.OutShape.Size(), bOff: -1, fusedPool: -1, fusedConv: -1}
		for _, in := range l.Inputs {
			n.ins = append(n.ins, index[in])
		}
		if err := checkLayer(m, l); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		switch {
		case l.Kind == nn.Flatten, l.Kind == nn.Dropout:
			n.alias = true
		case l.Kind == nn.Act && l.Act != nn.ReLU:
			n.alias = true // linear, or the output's softmax (the loss applies it)
		}
		if n.alias {
			n.owner = p.nodes[n.ins[0]].owner
		}
		p.nodes = append(p.nodes, n)
	}
	p.out = index[m.Output]
	p.paramLayout()
	if fix != nil {
		fix(p)
	}
	p.backwardFlags()
	for _, n := range p.nodes {
		switch n.kind() {
		case nn.Conv2D:
			p.compileConv(n)
		case nn.MaxPool2D:
			l := n.l
			pt, pl := l.Pads()
			n.pool = C.pool_p{
				H: C.int(l.InShape[0]), W: C.int(l.InShape[1]), C: C.int(l.InShape[2]),
				OH: C.int(l.OutShape[0]), OW: C.int(l.OutShape[1]),
				PH: C.int(l.Size[0]), PW: C.int(l.Size[1]), SH: C.int(l.Strides[0]), SW: C.int(l.Strides[1]),
				PT: C.int(pt), PL: C.int(pl),
			}
		case nn.Dense:
			p.compileDense(n)
		}
	}
	p.finish()
	return p, nil
}

// paramLayout places every kernel and bias in one flat vector and copies the model's weights
// there.
func (p *plan) paramLayout() {
	total := 0
	for _, n := range p.nodes {
		if !n.l.HasWeights() {
			continue
		}
		n.wOff = total
		total += len(n.l.W)
		if n.l.UseBias {
			n.bOff = total
			total += len(n.l.B)
		}
	}
	p.params = p.ar.floats(total)
	p.fix = p.ar.bytes(total)
	p.load()
}

// load copies the model's weights into the parameters.
func (p *plan) load() {
	for _, n := range p.nodes {
		if n.l.HasWeights() {
			copy(p.params[n.wOff:], n.l.W)
			if n.bOff >= 0 {
				copy(p.params[n.bOff:], n.l.B)
			}
		}
	}
}

// weights are node n's kernel and bias (nil without) in p.params.
func (p *plan) weights(n *node) (w, b []float32) {
	w = p.params[n.wOff : n.wOff+len(n.l.W)]
	if n.bOff >= 0 {
		b = p.params[n.bOff : n.bOff+len(n.l.B)]
	}
	return w, b
}

// store copies the parameters back into the model's layers.
func (p *plan) store() {
	for _, n := range p.nodes {
		if n.l.HasWeights() {
			w, b := p.weights(n)
			copy(n.l.W, w)
			copy(n.l.B, b)
		}
	}
}

// backwardFlags decides what the backward pass computes: a node's output gradient is needed
// when it or a layer before it has weights to train; each input gradient is written first
// (assigned) by the last consumer in topological order and added to by the others.
func (p *plan) backwardFlags() {
	for _, n := range p.nodes {
		if n.l.HasWeights() && p.train {
			end := n.wOff + len(n.l.W)
			if n.bOff >= 0 {
				end = n.bOff + len(n.l.B)
			}
			for _, f := range p.fix[n.wOff:end] {
				if f == 0 {
					n.trainable = true
					break
				}
			}
		}
		n.needGrad = n.trainable
		for _, i := range n.ins {
			n.needGrad = n.needGrad || p.nodes[i].needGrad
		}
	}
	written := make([]bool, len(p.nodes))
	written[p.nodes[p.out].owner] = true // the loss writes the output gradient
	consumers := make([]int, len(p.nodes))
	for i := len(p.nodes) - 1; i >= 0; i-- {
		n := p.nodes[i]
		n.accIn = make([]bool, len(n.ins))
		if n.alias {
			continue
		}
		for j, in := range n.ins {
			o := p.nodes[in].owner
			consumers[o]++
			if p.nodes[in].needGrad && n.needGrad {
				n.accIn[j] = written[o]
				written[o] = true
			}
		}
	}
	for i, n := range p.nodes {
		if n.kind() != nn.MaxPool2D || !p.train {
			continue
		}
		ci := n.ins[0]
		c := p.nodes[ci]
		if c.alias || c.kind() != nn.Conv2D || c.l.Act != nn.ReLU || consumers[c.owner] != 1 {
			continue
		}
		pl := n.l
		pt, pleft := pl.Pads()
		if pl.Strides == pl.Size && pt == 0 && pleft == 0 && pl.Size[0]*pl.Size[1] < 255 {
			c.fusedPool, n.fusedConv = i, ci
			rowBytes := pl.Size[0] * c.l.OutShape[1] * c.l.OutShape[2] * C.LANES * 4
			c.chunkRows = min(max(1, 196608/rowBytes), pl.OutShape[0])
		} else {
			c.gated, n.gate = true, true
		}
	}
}

func (p *plan) compileConv(n *node) {
	l := n.l
	H, W, Cin := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW, O := l.OutShape[0], l.OutShape[1], l.OutShape[2]
	KH, KW, SH, SW := l.Size[0], l.Size[1], l.Strides[0], l.Strides[1]
	Hp, Wp := H, W
	if l.Padding == nn.Same {
		n.pt, n.pl = l.Pads()
		// rows/columns read by the last output, at least the input
		Hp = max(H+n.pt, (OH-1)*SH+KH)
		Wp = max(W+n.pl, (OW-1)*SW+KW)
		n.pad = Hp != H || Wp != W || n.pt != 0 || n.pl != 0
	}
	n.kk = KH * KW * Cin
	n.geo = C.conv_g{H: C.int(Hp), W: C.int(Wp), C: C.int(Cin), OH: C.int(OH), OW: C.int(OW), O: C.int(O),
		KH: C.int(KH), KW: C.int(KW), SH: C.int(SH), SW: C.int(SW)}
	w, b := p.weights(n)
	var np, no C.int
	C.train_choose_tile(C.int(p.isa), C.int(OW), C.int(O), C.long(n.kk), &np, &no)
	n.fwd = C.fwd_args{
		pstride: C.long(SW * Cin * C.LANES), rowstride: C.long(Wp * Cin * C.LANES), kh: C.int(KH), kwc: C.int(KW * Cin),
		npix: C.int(OW), nout: C.int(O), w: fp(w), ldw: C.long(O), wmode: C.WROW, bias: fp(b),
		ostride: C.long(O * C.LANES), relu: cbool(l.Act == nn.ReLU), np: np, no: no,
	}
	if !p.train || !n.needGrad {
		return
	}
	in := p.nodes[n.ins[0]]
	if in.needGrad {
		// the input gradient: a stride-1 convolution of the output gradient, dilated by the
		// strides and framed by KH-1, KW-1 zeros, with the flipped, transposed kernel
		n.dH, n.dW = Hp+KH-1, Wp+KW-1
		pix := O * C.LANES
		n.p0 = ((KH-1)*n.dW + KW - 1) * pix
		n.prow, n.ppix = SH*n.dW*pix, SW*pix
		n.flipOff = p.flipLen
		p.flipLen += len(w)
		C.train_choose_tile(C.int(p.isa), C.int(W), C.int(Cin), C.long(KH*KW*O), &np, &no)
		n.back = C.fwd_args{
			pstride: C.long(pix), rowstride: C.long(n.dW * pix), kh: C.int(KH), kwc: C.int(KW * O),
			npix: C.int(W), nout: C.int(Cin), ldw: C.long(Cin), wmode: C.WROW,
			ostride: C.long(Cin * C.LANES), acc: cbool(n.accIn[0]), np: np, no: no,
		}
	}
	if n.trainable {
		n.xoff = p.ar.longs(n.kk)
		for di := 0; di < KH; di++ {
			for dj := 0; dj < KW; dj++ {
				for c := 0; c < Cin; c++ {
					n.xoff[(di*KW+dj)*Cin+c] = C.long(di*Wp*Cin*C.LANES + (dj*Cin+c)*C.LANES)
				}
			}
		}
		var nk, nol C.int
		C.train_wgrad_tile(C.int(p.isa), &nk, &nol)
		n.wg = C.wgrad_args{
			xpix: C.long(SW * Cin * C.LANES), xrow: C.long(SH * Wp * Cin * C.LANES), xoff: &n.xoff[0], kk: C.int(n.kk),
			nout: C.int(O), oh: C.int(OH), ow: C.int(OW), nk: min(nk, C.int(n.kk)), no: min(nol, C.int(O)),
		}
		if in.needGrad {
			n.wg.dpix, n.wg.drow = C.long(n.ppix), C.long(n.prow)
		} else {
			n.wg.dpix, n.wg.drow = C.long(O*C.LANES), C.long(OW*O*C.LANES)
		}
	}
}

func (p *plan) compileDense(n *node) {
	l := n.l
	K, O := l.InShape[0], l.Units
	w, b := p.weights(n)
	var np, no C.int
	C.train_choose_tile(C.int(p.isa), 1, C.int(O), C.long(K), &np, &no)
	n.dfwd = C.fwd_args{
		pstride: C.long(K * C.LANES), kh: 1, kwc: C.int(K), npix: 1, nout: C.int(O), w: fp(w), ldw: C.long(O),
		wmode: C.WROW, bias: fp(b), ostride: C.long(O * C.LANES), relu: cbool(l.Act == nn.ReLU), np: np, no: no,
	}
	if !p.train || !n.needGrad || !p.nodes[n.ins[0]].needGrad {
		return
	}
	C.train_choose_tile(C.int(p.isa), 1, C.int(K), C.long(O), &np, &no)
	n.dback = C.fwd_args{
		pstride: C.long(O * C.LANES), kh: 1, kwc: C.int(O), npix: 1, nout: C.int(K), w: fp(w), ldw: C.long(O),
		wmode: C.WTRANS, ostride: C.long(K * C.LANES), acc: cbool(n.accIn[0]), np: np, no: no,
	}
}

// finish allocates the flipped kernels and points the input-gradient rows at them.
func (p *plan) finish() {
	f := p.ar.floats(p.flipLen)
	p.flipped = f
	for _, n := range p.nodes {
		if n.kind() == nn.Conv2D && n.dH > 0 {
			n.back.w = fp(f[n.flipOff:])
		}
	}
}

// flip refreshes the flipped kernels from the current weights.
func (p *plan) flip() {
	for _, n := range p.nodes {
		if n.kind() == nn.Conv2D && n.dH > 0 {
			w, _ := p.weights(n)
			l := n.l
			C.train_flip(fp(w), fp(p.flipped[n.flipOff:]), C.int(l.Size[0]), C.int(l.Size[1]), C.int(l.InShape[2]), C.int(l.Filters))
		}
	}
}
