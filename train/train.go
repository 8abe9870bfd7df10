//go:build !cuda

package train

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"goodnet/nn"
)

// initBLAS switches gorgonia to a faster BLAS where one is linked in (blas.go).
var initBLAS = func() {}

// param is a weighted layer's kernel and bias in the graph (gorgonia layouts: Conv2D kernel
// (cout, cin, kh, kw), bias (1, cout, 1, 1); Dense kernel (in, out), bias (1, out)).
type param struct {
	l    *nn.Layer
	w, b *G.Node
	mask []bool // output channels held at zero, or nil
	// frozen weights (graph layouts) and their values, restored after every step; nil if none
	frozenW, frozenB []bool
	keepW, keepB     []float32
}

// graph is m unrolled for a fixed batch size.
type graph struct {
	g      *G.ExprGraph
	batch  int
	x      *G.Node // the input, NHWC (batch, h, w, c) or (batch, d)
	logits *G.Node // the output layer before softmax, (batch, classes)
	params []param
	nodes  map[string]*G.Node // every layer's output (image activations NCHW)
	// training only
	y    *G.Node // one-hot labels (batch, classes)
	loss *G.Node // mean cross-entropy
}

// build unrolls m for batch samples. With train set it adds the loss and its gradients.
func build(m *nn.Model, batch int, train bool) (*graph, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("train: %v", err)
	}
	initBLAS()
	gr := &graph{g: G.NewGraph(), batch: batch}
	g := gr.g
	in := m.InputShape()
	node := map[*nn.Layer]*G.Node{}
	switch len(in) {
	case 3:
		gr.x = G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, in[0], in[1], in[2]), G.WithName("x"))
		t, err := G.Transpose(gr.x, 0, 3, 1, 2) // NHWC → NCHW
		if err != nil {
			return nil, err
		}
		node[m.Input] = t
	case 1:
		gr.x = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, in[0]), G.WithName("x"))
		node[m.Input] = gr.x
	}
	for _, l := range m.Layers[1:] {
		n, p, err := gr.layer(m, l, node)
		if err != nil {
			return nil, fmt.Errorf("train: layer %q (%s): %v", l.Name, l.Kind, err)
		}
		node[l] = n
		if p != nil {
			gr.params = append(gr.params, *p)
		}
	}
	gr.logits = node[m.Output]
	gr.nodes = map[string]*G.Node{}
	for l, n := range node {
		gr.nodes[l.Name] = n
	}
	k := m.NumClasses()
	if s := gr.logits.Shape(); len(s) != 2 || s[0] != batch || s[1] != k {
		return nil, fmt.Errorf("train: output layer %q gives shape %v, want (%d, %d)", m.Output.Name, s, batch, k)
	}
	if !train {
		return gr, nil
	}
	gr.y = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, k), G.WithName("y"))
	var err error
	if gr.loss, err = G.ApplyOp(xentOp{}, gr.logits, gr.y); err != nil {
		return nil, err
	}
	if _, err = G.Grad(gr.loss, gr.learnables()...); err != nil {
		return nil, fmt.Errorf("train: gradients: %v", err)
	}
	return gr, nil
}

func (gr *graph) learnables() G.Nodes {
	var ns G.Nodes
	for _, p := range gr.params {
		ns = append(ns, p.w)
		if p.b != nil {
			ns = append(ns, p.b)
		}
	}
	return ns
}

// layer adds l to the graph; image activations are NCHW, vectors (batch, d).
func (gr *graph) layer(m *nn.Model, l *nn.Layer, node map[*nn.Layer]*G.Node) (*G.Node, *param, error) {
	g, B := gr.g, gr.batch
	x := node[l.Inputs[0]]
	switch l.Kind {
	case nn.Conv2D:
		KH, KW, C, O := l.Size[0], l.Size[1], l.InShape[2], l.Filters
		p := &param{l: l}
		p.w = G.NewTensor(g, tensor.Float32, 4, G.WithShape(O, C, KH, KW), G.WithName(l.Name+"/kernel"),
			G.WithValue(tensor.New(tensor.WithShape(O, C, KH, KW), tensor.WithBacking(kerasToOIHW(l.W, KH, KW, C, O)))))
		if l.UseBias {
			p.b = G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, O, 1, 1), G.WithName(l.Name+"/bias"),
				G.WithValue(tensor.New(tensor.WithShape(1, O, 1, 1), tensor.WithBacking(append([]float32(nil), l.B...)))))
		}
		pt, pl := l.Pads()
		pb, pr := extraPads(l)
		var err error
		// gorgonia pads symmetrically: add the one extra row/column of "same" explicitly
		if pb > pt {
			if x, err = G.Concat(2, x, zeros(g, B, C, pb-pt, x.Shape()[3])); err != nil {
				return nil, nil, err
			}
		}
		if pr > pl {
			if x, err = G.Concat(3, x, zeros(g, B, C, x.Shape()[2], pr-pl)); err != nil {
				return nil, nil, err
			}
		}
		y, err := G.Conv2d(x, p.w, tensor.Shape{KH, KW}, []int{pt, pl}, []int{l.Strides[0], l.Strides[1]}, []int{1, 1})
		if err != nil {
			return nil, nil, err
		}
		if err := wantShape(y, B, O, l.OutShape[0], l.OutShape[1]); err != nil {
			return nil, nil, err
		}
		if p.b != nil {
			if y, err = G.BroadcastAdd(y, p.b, nil, []byte{0, 2, 3}); err != nil {
				return nil, nil, err
			}
		}
		y, err = activate(m, l, y)
		return y, p, err
	case nn.MaxPool2D:
		pt, pl := l.Pads()
		pb, pr := extraPads(l)
		pad := []int{pt, pl}
		if pb != pt || pr != pl {
			// gorgonia v0.9.18's explicit padding is (north, south, west, east) but it starts the
			// windows at -south, -east: pass the leading pads there.
			pad = []int{pb, pt, pr, pl}
		}
		y, err := G.MaxPool2D(x, tensor.Shape{l.Size[0], l.Size[1]}, pad, []int{l.Strides[0], l.Strides[1]})
		if err != nil {
			return nil, nil, err
		}
		return y, nil, wantShape(y, B, l.OutShape[2], l.OutShape[0], l.OutShape[1])
	case nn.Flatten:
		if x.Dims() == 4 {
			t, err := G.Transpose(x, 0, 2, 3, 1) // NCHW → NHWC: Keras flattens (h, w, c)
			if err != nil {
				return nil, nil, err
			}
			y, err := G.Reshape(t, tensor.Shape{B, l.OutShape[0]})
			return y, nil, err
		}
		return x, nil, nil
	case nn.Dense:
		K, O := l.InShape[0], l.Units
		p := &param{l: l}
		p.w = G.NewMatrix(g, tensor.Float32, G.WithShape(K, O), G.WithName(l.Name+"/kernel"),
			G.WithValue(tensor.New(tensor.WithShape(K, O), tensor.WithBacking(append([]float32(nil), l.W...)))))
		if l.UseBias {
			p.b = G.NewMatrix(g, tensor.Float32, G.WithShape(1, O), G.WithName(l.Name+"/bias"),
				G.WithValue(tensor.New(tensor.WithShape(1, O), tensor.WithBacking(append([]float32(nil), l.B...)))))
		}
		y, err := G.Mul(x, p.w)
		if err != nil {
			return nil, nil, err
		}
		if p.b != nil {
			if y, err = G.BroadcastAdd(y, p.b, nil, []byte{0}); err != nil {
				return nil, nil, err
			}
		}
		y, err = activate(m, l, y)
		return y, p, err
	case nn.Add:
		y := x
		for _, in := range l.Inputs[1:] {
			var err error
			if y, err = G.Add(y, node[in]); err != nil {
				return nil, nil, err
			}
		}
		return y, nil, nil
	case nn.Act:
		y, err := activate(m, l, x)
		return y, nil, err
	case nn.Dropout:
		return x, nil, nil // identity: Keras applies dropout only in training; kept off here
	}
	return nil, nil, fmt.Errorf("unsupported layer kind")
}

func activate(m *nn.Model, l *nn.Layer, x *G.Node) (*G.Node, error) {
	switch l.Act {
	case nn.Linear:
		return x, nil
	case nn.ReLU:
		return G.Rectify(x)
	case nn.Softmax:
		if l == m.Output {
			return x, nil // logits: the loss applies the softmax
		}
		return nil, fmt.Errorf("softmax is supported on the output layer only")
	}
	return nil, fmt.Errorf("unsupported activation %v", l.Act)
}

// extraPads are the "same" pads after the last row and column (0 for "valid").
func extraPads(l *nn.Layer) (bottom, right int) {
	if l.Padding != nn.Same {
		return 0, 0
	}
	pt, pl := l.Pads()
	total := func(in, out, k, s int) int { return max(0, (out-1)*s+k-in) }
	return total(l.InShape[0], l.OutShape[0], l.Size[0], l.Strides[0]) - pt,
		total(l.InShape[1], l.OutShape[1], l.Size[1], l.Strides[1]) - pl
}

func zeros(g *G.ExprGraph, shape ...int) *G.Node {
	return G.NewConstant(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)))
}

func wantShape(n *G.Node, want ...int) error {
	s := n.Shape()
	if len(s) != len(want) {
		return fmt.Errorf("internal: graph shape %v, want %v", s, want)
	}
	for i := range want {
		if s[i] != want[i] {
			return fmt.Errorf("internal: graph shape %v, want %v", s, want)
		}
	}
	return nil
}

// kerasToOIHW converts a Keras kernel (kh, kw, cin, cout) to gorgonia's (cout, cin, kh, kw).
func kerasToOIHW(w []float32, KH, KW, C, O int) []float32 {
	out := make([]float32, len(w))
	for di := 0; di < KH; di++ {
		for dj := 0; dj < KW; dj++ {
			for c := 0; c < C; c++ {
				for o := 0; o < O; o++ {
					out[((o*C+c)*KH+di)*KW+dj] = w[((di*KW+dj)*C+c)*O+o]
				}
			}
		}
	}
	return out
}

// oihwToKeras is the inverse of kerasToOIHW, into dst.
func oihwToKeras(dst, w []float32, KH, KW, C, O int) {
	for di := 0; di < KH; di++ {
		for dj := 0; dj < KW; dj++ {
			for c := 0; c < C; c++ {
				for o := 0; o < O; o++ {
					dst[((di*KW+dj)*C+c)*O+o] = w[((o*C+c)*KH+di)*KW+dj]
				}
			}
		}
	}
}

func data(n *G.Node) []float32 { return n.Value().Data().([]float32) }

// store copies the graph's current weights back into the model's layers (Keras layouts).
func (gr *graph) store() {
	for _, p := range gr.params {
		l := p.l
		if l.Kind == nn.Conv2D {
			oihwToKeras(l.W, data(p.w), l.Size[0], l.Size[1], l.InShape[2], l.Filters)
		} else {
			copy(l.W, data(p.w))
		}
		if p.b != nil {
			copy(l.B, data(p.b))
		}
	}
}

// zeroMasked zeroes the masked output channels of each param's kernel and bias in the given
// values (the weights, or their gradients).
func (gr *graph) zeroMasked(get func(*G.Node) []float32) {
	for _, p := range gr.params {
		if p.mask == nil {
			continue
		}
		w := get(p.w)
		O := len(p.mask)
		for c, off := range p.mask {
			if !off {
				continue
			}
			if p.l.Kind == nn.Conv2D { // (cout, ...): a contiguous block per channel
				k := len(w) / O
				clear(w[c*k : (c+1)*k])
			} else { // Dense (in, out): column c
				for i := c; i < len(w); i += O {
					w[i] = 0
				}
			}
			if p.b != nil {
				get(p.b)[c] = 0
			}
		}
	}
}

func (gr *graph) setMask(mask map[string][]bool) error {
	used := 0
	for i := range gr.params {
		p := &gr.params[i]
		mk, ok := mask[p.l.Name]
		if !ok {
			continue
		}
		used++
		want := p.l.OutShape[len(p.l.OutShape)-1]
		if len(mk) != want {
			return fmt.Errorf("train: mask of layer %q has %d entries, the layer has %d output channels", p.l.Name, len(mk), want)
		}
		p.mask = mk
	}
	if used != len(mask) {
		for name := range mask {
			if l := gr.findParam(name); l == nil {
				return fmt.Errorf("train: mask names layer %q, which is not a Conv2D or Dense layer of the model", name)
			}
		}
	}
	return nil
}

func (gr *graph) setFreeze(freeze map[string]Frozen) error {
	for name, fz := range freeze {
		p := gr.findParam(name)
		if p == nil {
			return fmt.Errorf("train: freeze names layer %q, which is not a Conv2D or Dense layer of the model", name)
		}
		l := p.l
		if fz.Kernel != nil {
			if len(fz.Kernel) != len(l.W) {
				return fmt.Errorf("train: freeze of layer %q has %d kernel entries, the kernel has %d", name, len(fz.Kernel), len(l.W))
			}
			p.frozenW = fz.Kernel
			if l.Kind == nn.Conv2D {
				p.frozenW = make([]bool, len(l.W))
				KH, KW, C, O := l.Size[0], l.Size[1], l.InShape[2], l.Filters
				for di := 0; di < KH; di++ {
					for dj := 0; dj < KW; dj++ {
						for c := 0; c < C; c++ {
							for o := 0; o < O; o++ {
								p.frozenW[((o*C+c)*KH+di)*KW+dj] = fz.Kernel[((di*KW+dj)*C+c)*O+o]
							}
						}
					}
				}
			}
			p.keepW = append([]float32(nil), data(p.w)...)
		}
		if fz.Bias != nil {
			if p.b == nil || len(fz.Bias) != len(l.B) {
				return fmt.Errorf("train: freeze of layer %q has %d bias entries, the layer has %d biases", name, len(fz.Bias), len(l.B))
			}
			p.frozenB = fz.Bias
			p.keepB = append([]float32(nil), data(p.b)...)
		}
	}
	return nil
}

// freezeGrads drops the gradients of frozen weights (before the step).
func (gr *graph) freezeGrads() {
	for _, p := range gr.params {
		if p.frozenW != nil {
			g := grad(p.w)
			for i, f := range p.frozenW {
				if f {
					g[i] = 0
				}
			}
		}
		if p.frozenB != nil {
			g := grad(p.b)
			for i, f := range p.frozenB {
				if f {
					g[i] = 0
				}
			}
		}
	}
}

// restoreFrozen puts the frozen weights back (after the step: L2 decay would move them).
func (gr *graph) restoreFrozen() {
	for _, p := range gr.params {
		if p.frozenW != nil {
			w := data(p.w)
			for i, f := range p.frozenW {
				if f {
					w[i] = p.keepW[i]
				}
			}
		}
		if p.frozenB != nil {
			b := data(p.b)
			for i, f := range p.frozenB {
				if f {
					b[i] = p.keepB[i]
				}
			}
		}
	}
}

func (gr *graph) findParam(name string) *param {
	for i := range gr.params {
		if gr.params[i].l.Name == name {
			return &gr.params[i]
		}
	}
	return nil
}

func checkData(m *nn.Model, x []float32, y []int32, n int) error {
	if n <= 0 {
		return fmt.Errorf("train: no samples (n = %d)", n)
	}
	if want := n * m.InputShape().Size(); len(x) != want {
		return fmt.Errorf("train: %d input values for %d samples of shape %v (want %d)", len(x), n, m.InputShape(), want)
	}
	if y != nil {
		if len(y) != n {
			return fmt.Errorf("train: %d labels for %d samples", len(y), n)
		}
		k := int32(m.NumClasses())
		for i, c := range y {
			if c < 0 || c >= k {
				return fmt.Errorf("train: label %d of sample %d is outside 0..%d", c, i, k-1)
			}
		}
	}
	return nil
}

// worker runs one part of each minibatch through its own copy of the graph.
type worker struct {
	gr     *graph
	vm     G.VM
	xb, yb []float32
	xt, yt *tensor.Dense
	err    error
}

// split divides a batch of B into w near-equal parts.
func split(B, w int) []int {
	parts := make([]int, w)
	for i := range parts {
		parts[i] = B / w
		if i < B%w {
			parts[i]++
		}
	}
	return parts
}

// Train trains m's weights in place on the n samples x (NHWC, n × input size) with labels y:
// softmax cross-entropy on the output layer's logits, Adam, shuffled minibatches (see
// Options). Each minibatch is split over Options.Workers copies of the graph run in parallel;
// their gradients are averaged in a fixed order. On error the model keeps the weights of the
// last completed epoch.
func Train(m *nn.Model, x []float32, y []int32, n int, opt Options) (*History, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	if err := checkData(m, x, y, n); err != nil {
		return nil, err
	}
	if opt.Augment.On() && len(m.InputShape()) != 3 {
		return nil, fmt.Errorf("train: augmentation needs image inputs, the model takes %v", m.InputShape())
	}
	B := min(opt.BatchSize, n)
	parts := split(B, min(opt.Workers, B))
	in, k := m.InputShape().Size(), m.NumClasses()
	ws := make([]*worker, len(parts))
	defer func() {
		for _, w := range ws {
			if w != nil && w.vm != nil {
				w.vm.Close()
			}
		}
	}()
	for i, b := range parts {
		gr, err := build(m, b, true)
		if err != nil {
			return nil, err
		}
		if err := gr.setMask(opt.Mask); err != nil {
			return nil, err
		}
		gr.zeroMasked(data)
		if i == 0 {
			if err := gr.setFreeze(opt.Freeze); err != nil {
				return nil, err
			}
		}
		w := &worker{gr: gr, xb: make([]float32, b*in), yb: make([]float32, b*k)}
		w.xt = tensor.New(tensor.WithShape(gr.x.Shape()...), tensor.WithBacking(w.xb))
		w.yt = tensor.New(tensor.WithShape(b, k), tensor.WithBacking(w.yb))
		w.vm = G.NewTapeMachine(gr.g, G.BindDualValues(gr.learnables()...))
		ws[i] = w
	}
	lead := ws[0].gr.learnables()
	var solver adam
	weights := make([][]float32, len(lead))
	grads := make([][]float32, len(lead))
	for j, ln := range lead {
		weights[j] = data(ln)
	}
	rng := rand.New(rand.NewSource(opt.Seed))
	hist := &History{}
	steps := n / B
	xf := make([]xform, B)
	for ep := 1; ep <= opt.Epochs; ep++ {
		start := time.Now()
		perm := rng.Perm(n)
		var lossSum float64
		correct := 0
		for s := 0; s < steps; s++ {
			batch := perm[s*B : (s+1)*B]
			if opt.Augment.On() {
				for i := range xf {
					xf[i] = opt.Augment.draw(rng)
				}
			}
			var wg sync.WaitGroup
			off := 0
			for i, w := range ws {
				idx := batch[off : off+parts[i]]
				var t []xform
				if opt.Augment.On() {
					t = xf[off : off+parts[i]]
				}
				off += parts[i]
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.err = w.step(x, y, idx, t, m.InputShape(), k, opt.Scale)
				}()
			}
			wg.Wait()
			off = 0
			for i, w := range ws {
				if w.err != nil {
					return hist, fmt.Errorf("train: epoch %d step %d: %v", ep, s+1, w.err)
				}
				frac := float32(parts[i]) / float32(B)
				l := w.gr.loss.Value().Data().(float32)
				if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
					return hist, fmt.Errorf("train: epoch %d step %d: the loss is %v (diverged: lower the learning rate or scale the inputs)", ep, s+1, l)
				}
				lossSum += float64(frac * l)
				for j, c := range nn.Argmax(data(w.gr.logits), parts[i], k) {
					if c == y[batch[off+j]] {
						correct++
					}
				}
				off += parts[i]
			}
			// the batch's gradient: Σ_w (b_w / B) · gradient of worker w's mean loss
			if len(ws) > 1 {
				for j, ln := range lead {
					g0 := grad(ln)
					scale(g0, float32(parts[0])/float32(B))
					for i, w := range ws[1:] {
						gi := grad(w.gr.learnables()[j])
						axpy(g0, gi, float32(parts[i+1])/float32(B))
						clear(gi) // the tape machine adds to bound gradients
					}
				}
			}
			ws[0].gr.zeroMasked(grad)
			ws[0].gr.freezeGrads()
			// the tape machine adds to bound gradients: fetch them anew after each run
			for j, ln := range lead {
				grads[j] = grad(ln)
			}
			solver.step(weights, grads, opt.lrAt((ep-1)*steps+s, opt.Epochs*steps), opt.L2, opt.WeightDecay)
			for _, g := range grads {
				clear(g)
			}
			ws[0].gr.restoreFrozen()
			ws[0].gr.zeroMasked(data)
			for _, w := range ws[1:] {
				for j, ln := range w.gr.learnables() {
					copy(data(ln), data(lead[j]))
				}
			}
			for _, w := range ws {
				w.vm.Reset()
			}
		}
		e := Epoch{Epoch: ep, Loss: lossSum / float64(steps), Acc: float64(correct) / float64(steps*B), Images: steps * B, Time: time.Since(start)}
		hist.Epochs = append(hist.Epochs, e)
		hist.Images += e.Images
		hist.Time += e.Time
		ws[0].gr.store()
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "epoch %2d/%d  loss %.4f  train acc %6.2f %%  %4.0f img/s  %.1f s\n",
				ep, opt.Epochs, e.Loss, 100*e.Acc, float64(e.Images)/e.Time.Seconds(), e.Time.Seconds())
		}
		if opt.OnEpoch != nil {
			stop, err := opt.OnEpoch(e, m)
			if err != nil {
				return hist, err
			}
			if stop {
				break
			}
		}
	}
	return hist, nil
}

// step runs the forward and backward pass on the samples idx, each transformed by xf[i]
// when xf is not nil.
func (w *worker) step(x []float32, y []int32, idx []int, xf []xform, shape nn.Shape, k int, scale float32) (err error) {
	defer func() {
		if r := recover(); r != nil { // gorgonia panics on some bad values (NaN in max-pool)
			err = fmt.Errorf("gorgonia: %v", r)
		}
	}()
	clear(w.yb)
	in := shape.Size()
	for i, j := range idx {
		dst, src := w.xb[i*in:(i+1)*in], x[j*in:(j+1)*in]
		if xf != nil {
			xf[i].apply(dst, src, shape[0], shape[1], shape[2], scale)
		} else {
			for t, v := range src {
				dst[t] = v * scale
			}
		}
		w.yb[i*k+int(y[j])] = 1
	}
	if err := G.Let(w.gr.x, w.xt); err != nil {
		return err
	}
	if err := G.Let(w.gr.y, w.yt); err != nil {
		return err
	}
	return w.vm.RunAll()
}

func grad(n *G.Node) []float32 {
	g, err := n.Grad()
	if err != nil {
		panic(err) // bound dual values always have a gradient
	}
	return g.Data().([]float32)
}

func scale(v []float32, a float32) {
	for i := range v {
		v[i] *= a
	}
}

func axpy(dst, src []float32, a float32) {
	for i, s := range src {
		dst[i] += a * s
	}
}

// EvalBatch is the batch size of Run and Forward.
const EvalBatch = 256

// Forward computes the output layer's logits of m on n samples (NHWC, scaled by scale, 0 = 1)
// with the same gorgonia graph Train uses, n × classes values. It serves checks of the layout
// conversions and small evaluations; the backends (host/, gpu/) are the fast way to run a model.
func Forward(m *nn.Model, x []float32, n int, scale float32) ([]float32, error) {
	r, err := Run(m, x, n, scale, m.Output.Name)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// Run computes the outputs of the named layers on n samples, as nn.Net.Run does from the
// input (NHWC, each n × OutShape.Size() values; softmax not applied), with Train's graph.
func Run(m *nn.Model, x []float32, n int, scale float32, outs ...string) ([][]float32, error) {
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
	in := m.InputShape().Size()
	res := make([][]float32, len(outs))
	for i, o := range outs {
		res[i] = make([]float32, 0, n*m.Layer(o).OutShape.Size())
	}
	var gr *graph
	var vm G.VM
	var reads []G.Value
	defer func() {
		if vm != nil {
			vm.Close()
		}
	}()
	for lo := 0; lo < n; lo += EvalBatch {
		b := min(EvalBatch, n-lo)
		if gr == nil || gr.batch != b {
			var err error
			if gr, err = build(m, b, false); err != nil {
				return nil, err
			}
			reads = make([]G.Value, len(outs))
			for i, o := range outs {
				G.Read(gr.nodes[o], &reads[i])
			}
			if vm != nil {
				vm.Close()
			}
			vm = G.NewTapeMachine(gr.g)
		}
		xb := make([]float32, b*in)
		for i, v := range x[lo*in : (lo+b)*in] {
			xb[i] = v * scale
		}
		if err := G.Let(gr.x, tensorNew(gr.x.Shape(), xb)); err != nil {
			return nil, err
		}
		if err := vm.RunAll(); err != nil {
			return nil, fmt.Errorf("train: forward: %v", err)
		}
		for i, v := range reads {
			t := v.(tensor.Tensor)
			d := t.Data().([]float32)
			if sh := t.Shape(); sh.Dims() == 4 { // NCHW → NHWC
				C, HW := sh[1], sh[2]*sh[3]
				for s := 0; s < b; s++ {
					img := d[s*C*HW : (s+1)*C*HW]
					for p := 0; p < HW; p++ {
						for c := 0; c < C; c++ {
							res[i] = append(res[i], img[c*HW+p])
						}
					}
				}
			} else {
				res[i] = append(res[i], d...)
			}
		}
		vm.Reset()
	}
	return res, nil
}

func tensorNew(shape []int, v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}
