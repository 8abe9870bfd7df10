// Package host is goodnet's CPU backend ("cpu"): every nn layer in fused, vectorised C
// kernels (engine.c, kernels.h), driven from Go, with the batch spread over all cores.
//
// How it runs a batch: images go through the graph in blocks of 16, interleaved so that one
// SIMD lane holds one image (engine.h). Every layer shape then vectorises without padding,
// Flatten/Dropout cost nothing, and a convolution is a register-tiled direct convolution: a
// tile of output pixels × output channels accumulates in registers, reading one vector per
// input pixel-channel and broadcasting one weight per output channel. A Conv2D whose only
// consumer is a MaxPool2D is fused with it (the conv rows are pooled while in cache) unless
// its output is requested. Dense layers run on up to 4 blocks at once, so that their weights
// are read once per 64 images. Each worker goroutine takes chunks of up to 4 blocks and owns
// its scratch buffers; nothing is allocated per block. A batch of fewer than 16 images costs
// a whole block per 16 (batch 1 is about 16 times slower per image than a full block).
//
// The kernels exist for AVX-512, AVX2+FMA and a portable 4-wide build, chosen at run time
// by package simd from what the CPU supports (GOODNET_CPU_KERNEL=portable|avx2|avx512 forces
// a lower one), the scheme every C kernel of goodnet uses.
package host

/*
#cgo CFLAGS: -O3 -Wno-psabi
#include "engine.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"goodnet/internal/resource"
	"goodnet/internal/simd"
	"goodnet/nn"
)

func init() {
	nn.Register("cpu", func() (nn.Backend, error) { return New(0), nil })
}

// isa is an instruction-set variant of the kernels, chosen by package simd; engine.h's
// ISA_* are its values.
type isa = simd.ISA

const (
	isaPortable = simd.Portable
	isaAVX2     = simd.AVX2
	isaAVX512   = simd.AVX512
)

// engineISAs are engine.h's variant indices, which must be simd's (TestISAIndices).
func engineISAs() []isa { return []isa{C.ISA_PORTABLE, C.ISA_AVX2, C.ISA_AVX512} }

// supportedISAs lists the variants this CPU runs, best last.
func supportedISAs() []isa { return simd.Supported() }

// bestISA is the fastest supported variant, or the one GOODNET_CPU_KERNEL names if the CPU
// supports it.
func bestISA() isa { return simd.Best() }

// Backend is the CPU backend.
type Backend struct {
	threads int
	isa     isa
}

// New returns a CPU backend that uses threads worker goroutines per Run (runtime.NumCPU()
// when threads <= 0) and the best kernel variant the CPU supports.
func New(threads int) *Backend { return newISA(threads, bestISA()) }

func newISA(threads int, i isa) *Backend {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return &Backend{threads: threads, isa: i}
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Describe names the CPU, the threads and the kernel variant.
func (b *Backend) Describe() string {
	return fmt.Sprintf("CPU: %s, %d threads, %s", cpuModel(), b.threads, b.isa)
}

func cpuModel() string {
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// maxFusedPool is the tallest pool window fused with its convolution (conv_pool keeps that
// many conv rows).
const maxFusedPool = 64

// maxChunk is the most blocks (of 16 images) a worker runs through the graph together.
const maxChunk = 4

// layer is a compiled nn.Layer.
type layer struct {
	*nn.Layer
	idx   int
	size  int   // per-image output size
	ins   []int // indices of the inputs
	cons  []int // indices of the consumers (in the whole model)
	alias bool  // shares its input's buffer (Flatten, Dropout, linear or softmax Activation)

	// Conv2D: the C parameters (on the padded input), the padding, the weight panels, and
	// the panels with the BatchNormalization that is its only consumer folded in (nil if none).
	conv         C.conv_p
	pad          bool
	inH, inW     int
	padT, padL   int
	wp, bp       []float32
	wpBN, bpBN   []float32
	padFloats    int // padded-input scratch
	pool         C.pool_p
	denseK       int
	denseO       int
	np, no       int
	scale, shift []float32 // BatchNormalization as an affine map
}

// Net is a model compiled for the CPU. It is safe for concurrent use: each Run takes its own
// scratch workspaces from a free list.
type Net struct {
	b      *Backend
	m      *nn.Model
	layers []*layer
	index  map[*nn.Layer]int

	padFloats int

	mu     sync.Mutex
	free   []*workspace
	closed bool
}

// Compile copies m (graph and weights) and repacks the weights into the kernels' panels. A
// BatchNormalization whose input is a linear Conv2D read by nothing else is also folded into a
// second set of that conv's panels (w·scale, b·scale + shift per output channel, in float64),
// used whenever a Run does not need the conv's own output.
func (b *Backend) Compile(m *nn.Model) (nn.Net, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, err
	}
	// a copy of the weights, their panels and a BN-folded second set where there is one
	if err := nn.CheckCost(m, 3); err != nil {
		return nil, err
	}
	mc := m.Clone()
	n := &Net{b: b, m: mc, index: map[*nn.Layer]int{}}
	for i, l := range mc.Layers {
		n.index[l] = i
	}
	for i, l := range mc.Layers {
		cl := &layer{Layer: l, idx: i, size: l.OutShape.Size()}
		for _, in := range l.Inputs {
			cl.ins = append(cl.ins, n.index[in])
		}
		for _, u := range mc.Consumers(l) {
			cl.cons = append(cl.cons, n.index[u])
		}
		switch l.Kind {
		case nn.Input, nn.Add, nn.Concat, nn.GlobalAvgPool, nn.ZeroPad2D:
		case nn.Flatten, nn.Dropout:
			cl.alias = true
		case nn.Act:
			cl.alias = l.Act == nn.Linear || l.Act == nn.Softmax // softmax is not applied (logits)
		case nn.Conv2D:
			n.compileConv(cl)
		case nn.MaxPool2D, nn.AvgPool2D:
			cl.pool = poolParams(l)
		case nn.Dense:
			cl.denseK, cl.denseO = l.InShape[0], l.Units
			var np, no C.int
			C.host_choose_tile(C.int(b.isa), maxChunk, C.int(cl.denseO), C.long(cl.denseK), 1, C.int(cl.denseK), C.int(cl.denseK), 1, &np, &no)
			cl.np, cl.no = int(np), int(no)
			cl.wp, cl.bp = panels(l.W, l.B, cl.denseK, cl.denseO, cl.no)
		case nn.BatchNorm:
			sc, sh := l.BNAffine()
			cl.scale, cl.shift = make([]float32, len(sc)), make([]float32, len(sh))
			for c := range sc {
				cl.scale[c], cl.shift[c] = float32(sc[c]), float32(sh[c])
			}
		default:
			return nil, fmt.Errorf("layer %q: %w", l.Name, nn.Unsupported(fmt.Errorf("%s layers are not supported by the CPU engine", l.Kind)))
		}
		n.layers = append(n.layers, cl)
	}
	for _, cl := range n.layers {
		if cl.Kind != nn.Conv2D {
			continue
		}
		n.padFloats = max(n.padFloats, cl.padFloats)
		if len(cl.cons) == 1 && n.layers[cl.cons[0]].Kind == nn.BatchNorm && cl.Act == nn.Linear {
			bn := n.layers[cl.cons[0]].Layer
			sc, sh := bn.BNAffine()
			kk, O := len(cl.W)/cl.Filters, cl.Filters
			w := make([]float32, len(cl.W))
			b := make([]float32, O)
			for o := 0; o < O; o++ {
				for q := 0; q < kk; q++ {
					w[q*O+o] = float32(float64(cl.W[q*O+o]) * sc[o])
				}
				bias := 0.0
				if cl.B != nil {
					bias = float64(cl.B[o])
				}
				b[o] = float32(bias*sc[o] + sh[o])
			}
			cl.wpBN, cl.bpBN = panels(w, b, kk, O, cl.no)
		}
	}
	return n, nil
}

func (n *Net) compileConv(cl *layer) {
	l := cl.Layer
	H, W, Cin := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW, O := l.OutShape[0], l.OutShape[1], l.OutShape[2]
	KH, KW, SH, SW := l.Size[0], l.Size[1], l.Strides[0], l.Strides[1]
	cl.inH, cl.inW = H, W
	cl.padT, cl.padL = l.Pads()
	// rows/columns read by the last output, at least the input
	Hp := max(H+cl.padT, (OH-1)*SH+KH)
	Wp := max(W+cl.padL, (OW-1)*SW+KW)
	cl.pad = Hp != H || Wp != W || cl.padT != 0 || cl.padL != 0
	if cl.pad {
		cl.padFloats = Hp * Wp * Cin * C.LANES
	}
	kk := KH * KW * Cin
	var np, no C.int
	C.host_choose_tile(C.int(n.b.isa), C.int(OW), C.int(O), C.long(kk), C.int(KH), C.int(KW), C.int(SW), C.int(Cin), &np, &no)
	cl.np, cl.no = int(np), int(no)
	cl.conv = C.conv_p{
		H: C.int(Hp), W: C.int(Wp), C: C.int(Cin), OH: C.int(OH), OW: C.int(OW), O: C.int(O),
		KH: C.int(KH), KW: C.int(KW), SH: C.int(SH), SW: C.int(SW), relu: cbool(l.Act == nn.ReLU),
		np: np, no: no,
	}
	cl.wp, cl.bp = panels(l.W, l.B, kk, O, cl.no)
}

func poolParams(l *nn.Layer) C.pool_p {
	pt, pl := l.Pads()
	return C.pool_p{
		H: C.int(l.InShape[0]), W: C.int(l.InShape[1]), C: C.int(l.InShape[2]),
		OH: C.int(l.OutShape[0]), OW: C.int(l.OutShape[1]),
		PH: C.int(l.Size[0]), PW: C.int(l.Size[1]), SH: C.int(l.Strides[0]), SW: C.int(l.Strides[1]),
		PT: C.int(pt), PL: C.int(pl),
	}
}

// panels repacks a kk×o kernel into ceil(o/no) panels of kk×no (the last one starts at o-no)
// and the bias (zeros if nil) the same way.
func panels(w, b []float32, kk, o, no int) (wp, bp []float32) {
	nt := (o + no - 1) / no
	wp = alignedFloats(nt * kk * no)
	bp = alignedFloats(nt * no)
	for t := 0; t < nt; t++ {
		o0 := min(t*no, o-no)
		for q := 0; q < kk; q++ {
			copy(wp[(t*kk+q)*no:(t*kk+q+1)*no], w[q*o+o0:q*o+o0+no])
		}
		if b != nil {
			copy(bp[t*no:(t+1)*no], b[o0:o0+no])
		}
	}
	return wp, bp
}

// alignedFloats returns n zeroed floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&s[0])) % 64); r != 0 {
		off = (64 - r) / 4
	}
	return s[off : off+n : off+n]
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Model is the compiled copy of the model.
func (n *Net) Model() *nn.Model { return n.m }

// Close releases the scratch buffers; the Net must not be used afterwards.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	n.free = nil
	return nil
}

// workspace is one worker's scratch: chunk-wide buffers ("slots", reused by layers whose
// values are no longer needed; grown on demand) and the padded-input and conv-row scratch.
type workspace struct {
	slots     [][]float32
	pad, rows []float32
}

func (n *Net) getWorkspace() *workspace {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k := len(n.free); k > 0 {
		w := n.free[k-1]
		n.free = n.free[:k-1]
		return w
	}
	w := &workspace{}
	if n.padFloats > 0 {
		w.pad = alignedFloats(n.padFloats)
	}
	return w
}

func (n *Net) putWorkspace(w *workspace) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.closed {
		n.free = append(n.free, w)
	}
}

// prepare sizes the workspace's slots and row scratch for a schedule.
func (w *workspace) prepare(r *run) {
	for len(w.slots) < len(r.slotFloats) {
		w.slots = append(w.slots, nil)
	}
	for s, f := range r.slotFloats {
		if len(w.slots[s]) < r.chunk*f {
			w.slots[s] = alignedFloats(r.chunk * f)
		}
	}
	if len(w.rows) < r.rowsFloats {
		w.rows = alignedFloats(r.rowsFloats)
	}
}

type stepKind int

const (
	sConv     stepKind = iota
	sConvPool          // a conv whose rows are max-pooled at once
	sPool
	sAvgPool
	sGAP
	sDense
	sElt // sum of one or more inputs, per-channel affine, activation
	sZeroPad
	sConcat
)

// step is one kernel call per block (or per chunk for sDense); buffers are layer indices.
// A step may compute a chain of layers (a conv, the BatchNormalization folded into it, a ReLU
// and a max pool; or an Add, a BatchNormalization and an activation): lay is the last, whose
// buffer receives the output; the others are never materialised.
type step struct {
	kind stepKind
	lay  *layer // the layer computed (the last of a chain)
	conv *layer // sConv, sConvPool: the convolution; sDense: the Dense
	cp   C.conv_p
	wp   []float32 // sConv, sConvPool: panels (plain or BN-folded)
	bp   []float32
	pool *layer // sConvPool: the pool
	out  int
	ins  []int
	// sElt
	elt          C.elt_p
	scale, shift []float32
	// sDense
	relu bool
}

// segment is a run of per-block steps, or one dense step.
type segment struct {
	dense bool
	steps []step
}

// run is one Run call: the schedule and the data.
type run struct {
	n             *Net
	count, blocks int
	chunk         int // blocks per chunk
	fed           []int
	feeds         [][]float32 // by fed position
	segs          []segment
	outs          []int // buffer holding each output
	outSize       []int
	res           [][]float32
	cls           []int32 // Predict: the classes instead of res
	next          atomic.Int64
	nchunks       int64
	// slot[i] is the workspace slot holding layer i's values (-1: none). A slot holds up to
	// maxChunk blocks, block k at k·slotFloats[slot] (so that a layer's block k and another
	// layer's block k+1 that share the slot never overlap). rowsFloats: the conv_pool row
	// scratch.
	slot       []int
	slotFloats []int
	rowsFloats int
}

var errClosed = errors.New("host: Run on a closed Net")

// Run evaluates the graph on count samples (see nn.Net).
func (n *Net) Run(feeds map[string][]float32, count int, outs ...string) ([][]float32, error) {
	ls, err := nn.CheckFeeds(n.m, feeds, count, outs)
	if err != nil {
		return nil, err
	}
	res, _, err := n.run(feeds, count, ls, nil, false)
	return res, err
}

// RunInto is Run writing into dst (see nn.IntoRunner).
func (n *Net) RunInto(feeds map[string][]float32, count int, outs []string, dst [][]float32) error {
	ls, err := nn.CheckFeeds(n.m, feeds, count, outs)
	if err != nil {
		return err
	}
	if len(dst) != len(ls) {
		return fmt.Errorf("%d buffers for %d outputs", len(dst), len(ls))
	}
	for i, l := range ls {
		if want := count * l.OutShape.Size(); len(dst[i]) < want {
			return fmt.Errorf("output %q: a buffer of %d values for %d", l.Name, len(dst[i]), want)
		}
	}
	_, _, err = n.run(feeds, count, ls, dst, false)
	return err
}

var _ nn.IntoRunner = (*Net)(nil)

// Predict returns the class of each of n images x (nn.Predictor): the argmax of the output
// layer, taken in the packed blocks, so the logits are never unpacked or held.
func (n *Net) Predict(x []float32, count int) ([]int32, error) {
	feeds := map[string][]float32{n.m.Input.Name: x}
	ls, err := nn.CheckFeeds(n.m, feeds, count, []string{n.m.Output.Name})
	if err != nil {
		return nil, err
	}
	_, cls, err := n.run(feeds, count, ls, nil, true)
	return cls, err
}

// run is Run (into dst when it is not nil: the caller's buffers), or with classes the argmax
// of the one output instead of its values.
func (n *Net) run(feeds map[string][]float32, count int, ls []*nn.Layer, dst [][]float32, classes bool) ([][]float32, []int32, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return nil, nil, errClosed
	}
	if count == 0 {
		if dst != nil {
			return dst, []int32{}, nil
		}
		res := make([][]float32, len(ls))
		for i := range res {
			res[i] = []float32{}
		}
		return res, []int32{}, nil
	}
	r := n.schedule(feeds, ls)
	r.count = count
	r.blocks = (count + C.LANES - 1) / C.LANES
	threads := min(n.b.threads, r.blocks)
	r.chunk = min(maxChunk, (r.blocks+threads-1)/threads)
	// Resource policy: the outputs and each worker's scratch must fit the memory limit;
	// smaller chunks, then fewer workers, before giving up.
	var resBytes int64
	for _, l := range ls {
		resBytes += 4 * int64(count) * int64(l.OutShape.Size())
	}
	if classes {
		resBytes = 4 * int64(count)
	} else if dst != nil {
		resBytes = 0 // the caller's
	}
	ws := func(chunk int) int64 {
		f := int64(n.padFloats + r.rowsFloats)
		for _, s := range r.slotFloats {
			f += int64(chunk) * int64(s)
		}
		return 4 * f
	}
	for !resource.Fits(resBytes+int64(threads)*ws(r.chunk)) && (r.chunk > 1 || threads > 1) {
		if r.chunk > 1 {
			r.chunk--
		} else {
			threads = 1
		}
	}
	if need := resBytes + int64(threads)*ws(r.chunk); !resource.Fits(need) {
		what := fmt.Sprintf("running %d images through it (%s of outputs, %s of activations and scratch per block of %d images)",
			count, resource.Bytes(resBytes), resource.Bytes(ws(1)), C.LANES)
		return nil, nil, n.m.CostError(resource.Check(need, what))
	}
	var res [][]float32
	if classes {
		r.cls = make([]int32, count)
	} else if dst != nil {
		res = dst
	} else {
		res = make([][]float32, len(ls))
		for i, l := range ls {
			res[i] = make([]float32, count*l.OutShape.Size())
		}
	}
	r.res = res
	r.nchunks = int64((r.blocks + r.chunk - 1) / r.chunk)
	threads = min(threads, int(r.nchunks))
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := n.getWorkspace()
			defer n.putWorkspace(ws)
			ws.prepare(r)
			for {
				c := r.next.Add(1) - 1
				if c >= r.nchunks {
					return
				}
				r.runChunk(ws, int(c))
			}
		}()
	}
	wg.Wait()
	return res, r.cls, nil
}

// schedule turns the plan for (feeds, outs) into segments of kernel calls, fusing chains of
// layers where no one needs the values in between, and assigns workspace slots.
func (n *Net) schedule(feeds map[string][]float32, outs []*nn.Layer) *run {
	r := &run{n: n}
	plan := nn.Plan(n.m, feeds, outs)
	owner := make([]int, len(n.layers)) // the layer whose buffer holds each layer's output
	for i := range owner {
		owner[i] = -1
	}
	isOut := map[int]bool{}
	for _, l := range outs {
		isOut[n.index[l]] = true
	}
	for name, v := range feeds {
		i := n.index[n.m.Layer(name)]
		owner[i] = i
		r.fed = append(r.fed, i)
		r.feeds = append(r.feeds, v)
	}
	inPlan := map[int]bool{}
	for _, l := range plan {
		inPlan[n.index[l]] = true
	}
	// next returns the only consumer of cl if the two may run as one step: cl's values are
	// not requested and nothing else reads them, and the consumer is computed in this run.
	next := func(cl *layer) *layer {
		if isOut[cl.idx] || len(cl.cons) != 1 || !inPlan[cl.cons[0]] {
			return nil
		}
		return n.layers[cl.cons[0]]
	}
	absorbed := map[int]bool{}
	var steps []step
	for _, l := range plan {
		cl := n.layers[n.index[l]]
		if cl.alias {
			owner[cl.idx] = owner[cl.ins[0]]
			continue
		}
		if absorbed[cl.idx] {
			continue
		}
		st := step{lay: cl}
		for _, in := range cl.ins {
			st.ins = append(st.ins, owner[in])
		}
		switch cl.Kind {
		case nn.Conv2D:
			st.kind, st.conv, st.cp, st.wp, st.bp = sConv, cl, cl.conv, cl.wp, cl.bp
			last := cl
			if u := next(last); u != nil && u.Kind == nn.BatchNorm && cl.wpBN != nil {
				st.wp, st.bp = cl.wpBN, cl.bpBN
				absorbed[u.idx], last = true, u
			}
			if u := next(last); u != nil && u.Kind == nn.Act && u.Act == nn.ReLU {
				st.cp.relu = 1
				absorbed[u.idx], last = true, u
			}
			if u := next(last); u != nil && u.Kind == nn.MaxPool2D && u.Size[0] <= maxFusedPool {
				st.kind, st.pool = sConvPool, u
				absorbed[u.idx], last = true, u
				r.rowsFloats = max(r.rowsFloats, int(u.pool.PH)*cl.OutShape[1]*cl.OutShape[2]*C.LANES)
			}
			st.lay = last
		case nn.Add, nn.BatchNorm, nn.Act:
			st.kind = sElt
			st.elt.C = C.int(cl.OutShape[len(cl.OutShape)-1])
			st.elt.npos = C.long(cl.size / int(st.elt.C))
			last := cl
			if cl.Kind == nn.BatchNorm {
				st.scale, st.shift = cl.scale, cl.shift
			} else if u := next(last); cl.Kind == nn.Add && u != nil && u.Kind == nn.BatchNorm {
				st.scale, st.shift = u.scale, u.shift
				absorbed[u.idx], last = true, u
			}
			if cl.Kind == nn.Act {
				st.elt.act, st.elt.alpha = actOf(cl)
			} else if u := next(last); u != nil && u.Kind == nn.Act && !u.alias {
				st.elt.act, st.elt.alpha = actOf(u)
				absorbed[u.idx], last = true, u
			}
			st.lay = last
		case nn.MaxPool2D:
			st.kind = sPool
		case nn.AvgPool2D:
			st.kind = sAvgPool
		case nn.GlobalAvgPool:
			st.kind = sGAP
		case nn.ZeroPad2D:
			st.kind = sZeroPad
		case nn.Concat:
			st.kind = sConcat
		case nn.Dense:
			st.kind, st.conv = sDense, cl
			st.relu = cl.Act == nn.ReLU
			if u := next(cl); u != nil && u.Kind == nn.Act && u.Act == nn.ReLU {
				st.relu = true
				absorbed[u.idx] = true
				st.lay = u
			}
		default:
			panic(fmt.Sprintf("host: layer %q: unexpected kind %v", cl.Name, cl.Kind))
		}
		st.out = st.lay.idx
		owner[st.lay.idx] = st.lay.idx
		steps = append(steps, st)
	}
	for _, l := range outs {
		i := n.index[l]
		r.outs = append(r.outs, owner[i])
		r.outSize = append(r.outSize, n.layers[i].size)
	}
	r.assignSlots(steps)
	var cur []step
	for _, st := range steps {
		if st.kind == sDense {
			if len(cur) > 0 {
				r.segs = append(r.segs, segment{steps: cur})
				cur = nil
			}
			r.segs = append(r.segs, segment{dense: true, steps: []step{st}})
		} else {
			cur = append(cur, st)
		}
	}
	if len(cur) > 0 {
		r.segs = append(r.segs, segment{steps: cur})
	}
	return r
}

func actOf(cl *layer) (C.int, C.float) {
	switch cl.Act {
	case nn.ReLU:
		return C.ACT_RELU, 0
	case nn.LeakyReLU:
		return C.ACT_LEAKY, C.float(cl.Alpha)
	}
	return C.ACT_LINEAR, 0
}

// assignSlots gives every buffer (fed layers and step outputs) a workspace slot, reusing the
// slot of a buffer whose last reader has run (outputs are kept to the end). A step never
// writes into a slot it reads.
func (r *run) assignSlots(steps []step) {
	n := r.n
	r.slot = make([]int, len(n.layers))
	for i := range r.slot {
		r.slot[i] = -1
	}
	last := map[int]int{} // buffer → index of its last reading step (len(steps): the end)
	for i, st := range steps {
		for _, in := range st.ins {
			last[in] = i
		}
	}
	for _, o := range r.outs {
		last[o] = len(steps)
	}
	var free []int
	take := func(buf int) {
		need := n.layers[buf].size * C.LANES
		s := -1
		// the smallest free slot that is large enough, else the largest free one (grown)
		for k, f := range free {
			if r.slotFloats[f] >= need && (s < 0 || r.slotFloats[f] < r.slotFloats[free[s]]) {
				s = k
			}
		}
		if s < 0 && len(free) > 0 {
			s = 0
			for k, f := range free {
				if r.slotFloats[f] > r.slotFloats[free[s]] {
					s = k
				}
			}
		}
		if s < 0 {
			r.slot[buf] = len(r.slotFloats)
			r.slotFloats = append(r.slotFloats, need)
			return
		}
		r.slot[buf] = free[s]
		r.slotFloats[free[s]] = max(r.slotFloats[free[s]], need)
		free = append(free[:s], free[s+1:]...)
	}
	release := func(buf, at int) {
		if l, ok := last[buf]; (!ok || l == at) && r.slot[buf] >= 0 {
			free = append(free, r.slot[buf])
		}
	}
	for _, i := range r.fed {
		take(i)
	}
	for _, i := range r.fed {
		if _, read := last[i]; !read {
			release(i, -1)
		}
	}
	for i, st := range steps {
		take(st.out)
		seen := map[int]bool{}
		for _, in := range st.ins {
			if !seen[in] {
				seen[in] = true
				release(in, i)
			}
		}
		if _, read := last[st.out]; !read {
			release(st.out, i)
		}
	}
}

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

// runChunk runs blocks [c*chunk, ...) through the schedule.
func (r *run) runChunk(ws *workspace, c int) {
	n := r.n
	isa := C.int(n.b.isa)
	b0 := c * r.chunk
	nb := min(r.chunk, r.blocks-b0)
	buf := func(i int) []float32 { return ws.slots[r.slot[i]] }
	stride := func(i int) int { return r.slotFloats[r.slot[i]] }
	blk := func(i, k int) []float32 { // block k of layer i's buffer
		s := stride(i)
		return buf(i)[k*s : k*s+n.layers[i].size*C.LANES]
	}
	valid := func(k int) int { return min(C.LANES, r.count-(b0+k)*C.LANES) }
	for f, i := range r.fed {
		s := n.layers[i].size
		for k := 0; k < nb; k++ {
			img := (b0 + k) * C.LANES
			C.host_pack(fp(r.feeds[f][img*s:]), fp(blk(i, k)), C.long(s), C.int(valid(k)))
		}
	}
	for si := range r.segs {
		seg := &r.segs[si]
		if seg.dense {
			st := &seg.steps[0]
			l := st.conv // the Dense
			C.host_dense(isa, C.int(nb), C.int(l.denseK), C.int(l.denseO), C.int(l.np), C.int(l.no),
				fp(buf(st.ins[0])), C.long(stride(st.ins[0])), fp(l.wp), fp(l.bp), fp(buf(st.out)), C.long(stride(st.out)), cbool(st.relu))
			continue
		}
		for k := 0; k < nb; k++ {
			for j := range seg.steps {
				st := &seg.steps[j]
				out := fp(blk(st.out, k))
				in0 := func() *C.float { return fp(blk(st.ins[0], k)) }
				switch st.kind {
				case sConv, sConvPool:
					cv := st.conv
					in := in0()
					if cv.pad {
						C.host_pad(in, fp(ws.pad), C.int(cv.inH), C.int(cv.inW), cv.conv.C, cv.conv.H, cv.conv.W,
							C.int(cv.padT), C.int(cv.padL))
						in = fp(ws.pad)
					}
					if st.kind == sConv {
						C.host_conv(isa, &st.cp, in, fp(st.wp), fp(st.bp), out)
					} else {
						C.host_conv_pool(isa, &st.cp, &st.pool.pool, in, fp(st.wp), fp(st.bp), fp(ws.rows), out)
					}
				case sPool:
					C.host_maxpool(isa, &st.lay.pool, in0(), out)
				case sAvgPool:
					C.host_avgpool(isa, &st.lay.pool, cbool(st.lay.CountPad), in0(), out)
				case sGAP:
					in := st.lay.InShape
					C.host_gap(isa, C.long(in[0]*in[1]), C.int(in[2]), in0(), out)
				case sZeroPad:
					in, o := st.lay.InShape, st.lay.OutShape
					C.host_pad(in0(), out, C.int(in[0]), C.int(in[1]), C.int(in[2]), C.int(o[0]), C.int(o[1]),
						C.int(st.lay.Pad[0]), C.int(st.lay.Pad[2]))
				case sConcat:
					oc := st.lay.OutShape[len(st.lay.OutShape)-1]
					pos := st.lay.size / oc
					off := 0
					for q, in := range st.ins {
						ic := n.layers[st.lay.ins[q]].OutShape
						ci := ic[len(ic)-1]
						C.host_copy_rows(fp(blk(in, k)), C.long(ci*C.LANES), (*C.float)(unsafe.Add(unsafe.Pointer(out), 4*off*C.LANES)),
							C.long(oc*C.LANES), C.long(ci*C.LANES), C.long(pos))
						off += ci
					}
				case sElt:
					var b, sc, sh *C.float
					if len(st.ins) > 1 {
						b = fp(blk(st.ins[1], k))
					}
					if st.scale != nil {
						sc, sh = fp(st.scale), fp(st.shift)
					}
					if len(st.ins) <= 2 {
						C.host_eltwise(isa, &st.elt, in0(), b, sc, sh, out)
						break
					}
					// Add of three or more: sum in order, the affine map and activation last
					plain := C.elt_p{C: st.elt.C, npos: st.elt.npos}
					C.host_eltwise(isa, &plain, in0(), b, nil, nil, out)
					for q := 2; q < len(st.ins); q++ {
						if q < len(st.ins)-1 {
							C.host_eltwise(isa, &plain, out, fp(blk(st.ins[q], k)), nil, nil, out)
						} else {
							C.host_eltwise(isa, &st.elt, out, fp(blk(st.ins[q], k)), sc, sh, out)
						}
					}
				}
			}
		}
	}
	for o, i := range r.outs {
		s := r.outSize[o]
		for k := 0; k < nb; k++ {
			img := (b0 + k) * C.LANES
			if r.cls != nil {
				C.host_argmax(fp(blk(i, k)), (*C.int)(unsafe.Pointer(&r.cls[img])), C.long(s), C.int(valid(k)))
				continue
			}
			C.host_unpack(fp(blk(i, k)), fp(r.res[o][img*s:]), C.long(s), C.int(valid(k)))
		}
	}
}
