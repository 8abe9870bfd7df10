package prune

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"goodnet/internal/simd"
	"goodnet/nn"
)

// The incremental sweep (see the package doc and README "The sweep, incrementally"). The
// engine runs each set through B once, up to the cut. Everything after the cut is computed
// here, a sub-block of images at a time through every step while its values stay in cache:
// the readers' pre-activations from the cut (sparse: a DeepID's cut is mostly zero), then per
// step the pruned channel's share subtracted from the images it touches, and their head (the
// layers from the readers to the output's logits, skipping zeros: the readers' outputs after a
// ReLU mostly are) computed exactly, and the argmax. Images the channel does not touch keep
// their prediction. The steps of one image depend on no other image, so the clean validation
// set's features (needed first: they order the channels) are kept, and the other sets stream:
// a chunk through the engine, then through every step, then the next chunk.

// subBlock is how many images a worker takes through every step at once: their
// pre-activations and head values stay in its core's cache (a variable for the tests).
var subBlock = 128

// rebaseRatio bounds the rounding of the updates. Subtracting channel c's share from a
// pre-activation rounds at a few ulps of the share, so after many steps the pre-activations
// are off by a few ulps of all that was removed, while computing them afresh would round at a
// few ulps of what they still hold (a dot product of a few thousand terms: tens of ulps of
// it). Once a reader has removed more than rebaseRatio times the ℓ₁ mass of the cut values it
// still reads, the image's pre-activations are recomputed: they are then never much less
// exact than a fresh computation's, even when one channel outweighs the rest by orders of
// magnitude.
const rebaseRatio = 64

type incremental struct {
	cfg   *Config
	net   nn.Net // B
	cut   *nn.Layer
	plan  *incPlan
	S, C  int
	words int // mask words per image
	k     *blockKernels
	pin   runtime.Pinner
	// cv are the clean validation set's features at the cut (n × S × C), by chunk of chunk
	// images, from newIncremental to the sweep.
	cv      [][]float32
	meanAct []float64
	st      Stats
	fwd     time.Duration // forward passes during run
}

func newIncremental(cfg *Config, cut *nn.Layer, plan *incPlan) (*incremental, error) {
	inc := &incremental{cfg: cfg, cut: cut, plan: plan}
	inc.C = cut.OutShape[len(cut.OutShape)-1]
	inc.S = cut.OutShape.Size() / inc.C
	inc.words = (inc.C + 63) / 64
	inc.k = &blockKernels{isa: simd.Best(), S: inc.S, C: inc.C}
	inc.k.rds = kernelReaders(plan.readers, &inc.pin)
	net, err := cfg.Backend.Compile(cfg.Model)
	if err != nil {
		inc.pin.Unpin()
		return nil, err
	}
	inc.net = net
	s := cfg.CleanValid
	sum := make([]float64, inc.C)
	var in []float32 // the images of a streamed set, a chunk at a time
	if s.Streamed() {
		in = make([]float32, min(chunk, s.N)*cfg.Model.InputShape().Size())
	}
	for lo := 0; lo < s.N; lo += chunk {
		p, err := inc.forward(s, lo, min(lo+chunk, s.N), in, nil)
		if err != nil {
			inc.close()
			return nil, err
		}
		inc.cv = append(inc.cv, p)
		channelSums(p, inc.C, sum)
	}
	inc.meanAct = meansOf(sum, s.N*inc.S)
	return inc, nil
}

// forward runs images [lo, hi) of s through B up to the cut, into buf when the engine's nets
// are nn.IntoRunners and buf is not nil (then the result is buf's start). The images of a
// streamed set are read into in first.
func (inc *incremental) forward(s *nn.Set, lo, hi int, in, buf []float32) ([]float32, error) {
	m := inc.cfg.Model
	x, err := s.Piece(lo, hi, in)
	if err != nil {
		return nil, err
	}
	feeds := map[string][]float32{m.Input.Name: x}
	if ri, ok := inc.net.(nn.IntoRunner); ok && buf != nil {
		p := buf[:(hi-lo)*inc.S*inc.C]
		if err := ri.RunInto(feeds, hi-lo, []string{inc.cut.Name}, [][]float32{p}); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Path, err)
		}
		return p, nil
	}
	out, err := inc.net.Run(feeds, hi-lo, inc.cut.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return out[0], nil
}

func (inc *incremental) method() Method   { return Incremental }
func (inc *incremental) means() []float64 { return inc.meanAct }
func (inc *incremental) stats() *Stats    { return &inc.st }
func (inc *incremental) close() {
	inc.net.Close()
	inc.pin.Unpin()
}
func (inc *incremental) forwardTime() time.Duration { return inc.fwd }

func (inc *incremental) run(order []int, tr *trace, progress func(done, total int)) error {
	sets := inc.cfg.sets()
	total := 0
	for _, s := range sets {
		if s != nil {
			total += s.N
		}
	}
	inc.st = Stats{Images: total, Active: make([]int, len(order))}
	ws := make([]*worker, runtime.NumCPU())
	for i := range ws {
		ws[i] = newWorker(inc, order)
	}
	// The other sets' chunks come from the engine while the workers sweep the chunk before
	// (and the clean validation set): the cores are not left waiting at either's end.
	chunks := inc.stream(sets)
	defer chunks.stop()
	done := 0
	part := func(set int, p []float32, first int) {
		n := len(p) / (inc.S * inc.C)
		inc.sweepPart(ws, set, p, first, n, tr)
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	for j, p := range inc.cv {
		part(0, p, j*chunk)
	}
	inc.cv = nil
	for c := range chunks.out {
		if c.err != nil {
			return c.err
		}
		part(c.set, c.p, c.lo)
		chunks.free <- c.buf
	}
	inc.fwd = chunks.fwd // the producer has finished: out is closed
	for _, w := range ws {
		for k, a := range w.active {
			inc.st.Active[k] += a
		}
		inc.st.Rebased += w.rebased
	}
	return nil
}

// fchunk is a chunk of a streaming set at the cut (images lo… of set), or the error that
// ended the stream.
type fchunk struct {
	set, lo int
	p, buf  []float32 // p: the values (in buf, or not when the engine allocated them)
	err     error
}

// chunkStream runs the sets after the first through the engine, chunk after chunk, into two
// buffers that the consumer hands back on free.
type chunkStream struct {
	out  chan fchunk
	free chan []float32
	quit chan struct{}
	fwd  time.Duration // time in the engine, read after out is closed
}

func (inc *incremental) stream(sets []*nn.Set) *chunkStream {
	cs := &chunkStream{out: make(chan fchunk), free: make(chan []float32, 2), quit: make(chan struct{})}
	size := 0
	for _, s := range sets[1:] {
		if s != nil {
			size = max(size, min(chunk, s.N)*inc.S*inc.C)
		}
	}
	for range 2 {
		cs.free <- make([]float32, size)
	}
	inSize := 0 // the images of the streamed sets, a chunk at a time
	for _, s := range sets[1:] {
		if s != nil && s.Streamed() {
			inSize = max(inSize, min(chunk, s.N)*inc.cfg.Model.InputShape().Size())
		}
	}
	in := make([]float32, inSize)
	go func() {
		defer close(cs.out)
		setPhase("features") // in CPU profiles
		for i, s := range sets[1:] {
			if s == nil {
				continue
			}
			for lo := 0; lo < s.N; lo += chunk {
				var buf []float32
				select {
				case buf = <-cs.free:
				case <-cs.quit:
					return
				}
				t0 := time.Now()
				p, err := inc.forward(s, lo, min(lo+chunk, s.N), in, buf)
				cs.fwd += time.Since(t0)
				select {
				case cs.out <- fchunk{set: i + 1, lo: lo, p: p, buf: buf, err: err}:
				case <-cs.quit:
					return
				}
				if err != nil {
					return
				}
			}
		}
	}()
	return cs
}

// stop ends the stream early (when the consumer returns) and waits for the producer.
func (cs *chunkStream) stop() {
	close(cs.quit)
	for range cs.out {
	}
}

// sweepPart takes images [first, first+n) of set through every step, their features at the
// cut p, in sub-blocks spread over the workers.
func (inc *incremental) sweepPart(ws []*worker, set int, p []float32, first, n int, tr *trace) {
	nb := (n + subBlock - 1) / subBlock
	var next atomic.Int64
	var wg sync.WaitGroup
	fs := inc.S * inc.C
	for _, w := range ws[:min(len(ws), nb)] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo, hi := b*subBlock, min((b+1)*subBlock, n)
				w.block(p[lo*fs:hi*fs], hi-lo, tr, set, first+lo)
			}
		}()
	}
	wg.Wait()
}

// worker is one goroutine's scratch for sub-blocks.
type worker struct {
	inc    *incremental
	order  []int
	mask   []uint64  // per image, words bits: channel c of the cut is non-zero somewhere
	pruned []uint64  // the channels pruned so far (words bits)
	pre    []float32 // per image, the readers' pre-activations (plan.po values)
	// per image and reader: the ℓ₁ mass of the cut values its pre-activations held when last
	// computed afresh, and the mass removed since (see rebaseRatio)
	total, removed []float64
	idx, reb, pred []int32
	bufs           [][]float32 // the head's value buffers, subBlock rows each
	nz, rowp       []int32     // dense's scratch
	nzv            []float32
	active         []int // per step, the images whose pruned channel was non-zero
	rebased        int
}

func newWorker(inc *incremental, order []int) *worker {
	pl := inc.plan
	nr := len(pl.readers)
	w := &worker{inc: inc, order: order, mask: make([]uint64, subBlock*inc.words), pruned: make([]uint64, inc.words),
		pre: make([]float32, subBlock*pl.po), total: make([]float64, subBlock*nr), removed: make([]float64, subBlock*nr),
		idx: make([]int32, subBlock), reb: make([]int32, subBlock), pred: make([]int32, subBlock), active: make([]int, len(order))}
	kmax := 0
	for _, size := range pl.sizes {
		w.bufs = append(w.bufs, make([]float32, subBlock*size))
		kmax = max(kmax, size)
	}
	// dense's scratch: every row's non-zeros, and a vector more
	w.nz, w.nzv, w.rowp = make([]int32, subBlock*kmax+16), make([]float32, subBlock*kmax+16), make([]int32, subBlock+1)
	return w
}

// block takes n images of set (the first is image first), their features at the cut p,
// through every step: tr gets their predictions.
func (w *worker) block(p []float32, n int, tr *trace, set, first int) {
	inc, k, po := w.inc, w.inc.k, w.inc.plan.po
	channelMasks(p, n, inc.S, inc.C, w.mask[:n*inc.words])
	clear(w.pruned)
	k.readers(n, nil, p, w.pruned, w.pre, po, w.total, w.removed)
	all := w.idx[:n]
	for i := range all {
		all[i] = int32(i)
	}
	w.head(all, tr.preds[0][set][first:])
	for s, ch := range w.order {
		w.pruned[ch/64] |= 1 << (ch % 64)
		prev, cur := tr.preds[s][set][first:first+n], tr.preds[s+1][set][first:first+n]
		copy(cur, prev)
		idx := activeByMask(w.mask, n, inc.words, ch, w.idx)
		w.active[s] += len(idx)
		if len(idx) == 0 {
			continue
		}
		if reb := k.update(idx, p, ch, w.pre, po, w.total, w.removed, w.reb); len(reb) > 0 {
			k.readers(len(reb), reb, p, w.pruned, w.pre, po, w.total, w.removed)
			w.rebased += len(reb)
		}
		w.head(idx, cur)
	}
}

// head computes the predictions of images idx (of the sub-block) from their readers'
// pre-activations into dst[idx[j]].
func (w *worker) head(idx []int32, dst []int32) {
	pl, k := w.inc.plan, w.inc.k
	m := len(idx)
	for q := range pl.readers {
		k.gather(q, idx, w.pre, pl.po, w.bufs[q])
	}
	for _, op := range pl.ops {
		y := w.bufs[op.out][:m*pl.sizes[op.out]]
		x := w.bufs[op.in[0]][:m*pl.sizes[op.in[0]]]
		switch op.l.Kind {
		case nn.Dense:
			dense(k.isa, m, x, op.l.InShape[0], op.w, op.n, op.b, y, op.act, w.nz, w.nzv, w.rowp)
		case nn.Add:
			add(x, w.bufs[op.in[1]][:len(x)], y)
			for _, b := range op.in[2:] {
				add(y, w.bufs[b][:len(y)], y)
			}
		case nn.Act:
			activate(k.isa, x, y, op.act, op.alpha)
		}
	}
	last := pl.ops[len(pl.ops)-1]
	argmax(k.isa, m, w.bufs[last.out], last.l.Units, last.n, w.pred)
	for j, i := range idx {
		dst[i] = w.pred[j]
	}
}
