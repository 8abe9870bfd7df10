package train

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"goodnet/nn"
)

// lanes is the block size of the engine: 16 images, one per SIMD lane (engine.h).
const lanes = 16

// Train trains m's weights in place on the n samples x (NHWC, n × input size) with labels y:
// softmax cross-entropy on the output layer's logits, Adam, shuffled minibatches (see
// Options). A minibatch is cut into blocks of at most 16 images (near-equal sizes) that
// Options.Workers goroutines take as they come free; the blocks' gradients are added in block
// order, so the same seed gives the same weights bit for bit, whatever Workers is. On error the
// model keeps the weights of the last completed epoch.
func Train(m *nn.Model, x []float32, y []int32, n int, opt Options) (_ *History, err error) {
	defer recoverTooLarge(&err) // after ar.free: no goroutine has started when alloc refuses
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
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := checkMaskFreeze(m, opt.Mask, opt.Freeze); err != nil {
		return nil, err
	}
	ar := &arena{}
	defer ar.free()
	p, err := compile(m, ar, true, func(p *plan) { p.setFix(opt.Mask, opt.Freeze) })
	if err != nil {
		return nil, err
	}
	zeroMasked(m, opt.Mask) // the model is changed only once every check has passed
	p.load()
	B := min(opt.BatchSize, n)
	st := newStepper(p, B, opt.Workers)
	solver := newAdam(p, st.grads, len(st.ws))
	rng := rand.New(rand.NewSource(opt.Seed))
	hist := &History{}
	steps := n / B
	var xf []xform
	if opt.Augment.On() {
		xf = make([]xform, B)
	}
	for ep := 1; ep <= opt.Epochs; ep++ {
		start := time.Now()
		perm := rng.Perm(n)
		var lossSum float64
		right := 0
		for s := 0; s < steps; s++ {
			batch := perm[s*B : (s+1)*B]
			for i := range xf {
				xf[i] = opt.Augment.draw(rng)
			}
			l, c := st.run(x, y, batch, xf, opt.Scale)
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return hist, fmt.Errorf("train: epoch %d step %d: the loss is %v (diverged: lower the learning rate or scale the inputs)", ep, s+1, l)
			}
			lossSum += l
			right += c
			solver.step(opt.lrAt((ep-1)*steps+s, opt.Epochs*steps), opt.L2, opt.WeightDecay)
		}
		e := Epoch{Epoch: ep, Loss: lossSum / float64(steps), Acc: float64(right) / float64(steps*B), Images: steps * B, Time: time.Since(start)}
		hist.Epochs = append(hist.Epochs, e)
		hist.Images += e.Images
		hist.Time += e.Time
		p.store()
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

// split divides B into w near-equal parts (the first ones larger).
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

// stepper computes minibatch gradients: the batch is cut into blocks of at most 16 images
// (near-equal sizes), each with a gradient buffer of its own; the workers take the blocks
// one by one as they come free (a worker that the machine holds back leaves its share to the
// others), and Adam adds the blocks' gradients in block order, so the result does not depend
// on which worker ran which block, nor on how many there are.
type stepper struct {
	p       *plan
	ws      []*worker
	blocks  []int // images per block
	first   []int // the block's first position in the batch
	grads   [][]float32
	losses  []float64
	correct []int
	labels  [][]int32
	next    atomic.Int64
}

func newStepper(p *plan, batch, workers int) *stepper {
	st := &stepper{p: p, blocks: split(batch, (batch+lanes-1)/lanes)}
	for range min(workers, len(st.blocks)) {
		st.ws = append(st.ws, newWorker(p))
	}
	at := 0
	for _, b := range st.blocks {
		st.first = append(st.first, at)
		at += b
		st.grads = append(st.grads, p.ar.floats(len(p.params)))
		st.labels = append(st.labels, make([]int32, b))
	}
	st.losses = make([]float64, len(st.blocks))
	st.correct = make([]int, len(st.blocks))
	return st
}

// run computes, in the blocks' gradients, the gradient of the mean loss over the samples
// batch of (x, y) (each transformed by xf[i] when xf is not nil, times scale) at the current
// parameters; it returns that loss and how many samples were classified right.
func (st *stepper) run(x []float32, y []int32, batch []int, xf []xform, scale float32) (loss float64, right int) {
	B := len(batch)
	st.p.flip()
	st.next.Store(0)
	var wg sync.WaitGroup
	for wi, w := range st.ws {
		work := func() {
			for {
				b := int(st.next.Add(1) - 1)
				if b >= len(st.blocks) {
					return
				}
				st.block(w, b, x, y, batch, xf, scale)
			}
		}
		if wi == len(st.ws)-1 {
			work()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.prof != nil { // per-thread CPU times
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			work()
		}()
	}
	wg.Wait()
	for b := range st.blocks {
		loss += st.losses[b]
		right += st.correct[b]
	}
	return loss / float64(B), right
}

// block runs block b of the batch through worker w: forward, loss, backward.
func (st *stepper) block(w *worker, b int, x []float32, y []int32, batch []int, xf []xform, scale float32) {
	at, n := st.first[b], st.blocks[b]
	idx := batch[at : at+n]
	var t []xform
	if xf != nil {
		t = xf[at : at+n]
	}
	labels := st.labels[b]
	for i, j := range idx {
		labels[i] = y[j]
	}
	w.startBlock(st.grads[b])
	var t0 time.Time
	w.tick(&t0)
	w.load(x, idx, t, scale)
	if w.prof != nil {
		w.prof.load += w.tick(&t0)
	}
	w.forward()
	w.tick(&t0)
	st.losses[b] = w.lossGrad(labels, len(batch))
	if w.prof != nil {
		w.prof.loss += w.tick(&t0)
	}
	st.correct[b] = 0
	for i, c := range w.argmax[:n] {
		if int32(c) == labels[i] {
			st.correct[b]++
		}
	}
	w.backward()
	w.tick(&t0)
	w.endBlock()
	if w.prof != nil {
		w.prof.fold += w.tick(&t0)
	}
}
