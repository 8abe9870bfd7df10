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
	alias bool  // shares its input's buffer (Flatten, Dropout, linear Activation)

	// Conv2D: the C parameters (on the padded input), the padding, the weight panels.
	conv           C.conv_p
	pad            bool
	inH, inW       int
	padT, padL     int
	wp, bp         []float32
	fusesWithPool  bool // the only consumer is a MaxPool2D
	rowsFloats     int  // conv_pool row scratch when fused into its pool
	padFloats      int  // padded-input scratch
	pool           C.pool_p
	poolConv       int // MaxPool2D: index of the Conv2D it can fuse, or -1
	denseK, denseO int
	np, no         int
}

// Net is a model compiled for the CPU. It is safe for concurrent use: each Run takes its own
// scratch workspaces from a free list.
type Net struct {
	b      *Backend
	m      *nn.Model
	layers []*layer
	index  map[*nn.Layer]int

	padFloats, rowsFloats int

	mu     sync.Mutex
	free   []*workspace
	closed bool
}

// Compile copies m (graph and weights) and repacks the weights into the kernels' panels.
func (b *Backend) Compile(m *nn.Model) (nn.Net, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, err
	}
	mc := m.Clone()
	n := &Net{b: b, m: mc, index: map[*nn.Layer]int{}}
	for i, l := range mc.Layers {
		n.index[l] = i
	}
	for i, l := range mc.Layers {
		cl := &layer{Layer: l, idx: i, size: l.OutShape.Size(), poolConv: -1}
		for _, in := range l.Inputs {
			cl.ins = append(cl.ins, n.index[in])
		}
		switch l.Kind {
		case nn.Flatten, nn.Dropout:
			cl.alias = true
		case nn.Act:
			cl.alias = l.Act != nn.ReLU // softmax is not applied (logits)
		case nn.Conv2D:
			n.compileConv(cl)
		case nn.MaxPool2D:
			cl.pool = poolParams(l)
		case nn.Dense:
			cl.denseK, cl.denseO = l.InShape[0], l.Units
			var np, no C.int
			C.host_choose_tile(C.int(b.isa), maxChunk, C.int(cl.denseO), C.long(cl.denseK), &np, &no)
			cl.np, cl.no = int(np), int(no)
			cl.wp, cl.bp = panels(l.W, l.B, cl.denseK, cl.denseO, cl.no)
		}
		n.layers = append(n.layers, cl)
	}
	for _, cl := range n.layers {
		if cl.Kind != nn.Conv2D {
			continue
		}
		if cons := mc.Consumers(cl.Layer); len(cons) == 1 && cons[0].Kind == nn.MaxPool2D && cons[0].Size[0] <= maxFusedPool {
			p := n.layers[n.index[cons[0]]]
			p.poolConv = cl.idx
			cl.fusesWithPool = true
			cl.rowsFloats = int(p.pool.PH) * cl.OutShape[1] * cl.OutShape[2] * C.LANES
			n.rowsFloats = max(n.rowsFloats, cl.rowsFloats)
		}
		n.padFloats = max(n.padFloats, cl.padFloats)
	}
	return n, nil
}

func (n *Net) compileConv(cl *layer) {
	l := cl.Layer
	H, W, Cin := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW, O := l.OutShape[0], l.OutShape[1], l.OutShape[2]
	KH, KW, SH, SW := l.Size[0], l.Size[1], l.Strides[0], l.Strides[1]
	cl.inH, cl.inW = H, W
	Hp, Wp := H, W
	if l.Padding == nn.Same {
		cl.padT, cl.padL = l.Pads()
		// rows/columns read by the last output, at least the input
		Hp = max(H+cl.padT, (OH-1)*SH+KH)
		Wp = max(W+cl.padL, (OW-1)*SW+KW)
		cl.pad = Hp != H || Wp != W || cl.padT != 0 || cl.padL != 0
		cl.padFloats = Hp * Wp * Cin * C.LANES
	}
	kk := KH * KW * Cin
	var np, no C.int
	C.host_choose_tile(C.int(n.b.isa), C.int(OW), C.int(O), C.long(kk), &np, &no)
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

// workspace is one worker's scratch: a chunk-wide buffer per layer (allocated on first use),
// the padded-input and conv-row scratch.
type workspace struct {
	bufs      [][]float32
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
	w := &workspace{bufs: make([][]float32, len(n.layers))}
	if n.padFloats > 0 {
		w.pad = alignedFloats(n.padFloats)
	}
	if n.rowsFloats > 0 {
		w.rows = alignedFloats(n.rowsFloats)
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

// buf is layer i's chunk-wide buffer (maxChunk blocks of size*16 floats).
func (w *workspace) buf(n *Net, i int) []float32 {
	if w.bufs[i] == nil {
		w.bufs[i] = alignedFloats(maxChunk * n.layers[i].size * C.LANES)
	}
	return w.bufs[i]
}

type stepKind int

const (
	sConv stepKind = iota
	sConvPool
	sPool
	sDense
	sAdd
	sRelu
)

// step is one kernel call per block (or per chunk for sDense); buffers are layer indices.
type step struct {
	kind stepKind
	lay  *layer // the layer computed (for sConvPool the pool)
	conv *layer // sConvPool: the fused convolution
	out  int
	ins  []int
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
	next          atomic.Int64
	nchunks       int64
}

var errClosed = errors.New("host: Run on a closed Net")

// Run evaluates the graph on count samples (see nn.Net).
func (n *Net) Run(feeds map[string][]float32, count int, outs ...string) ([][]float32, error) {
	ls, err := nn.CheckFeeds(n.m, feeds, count, outs)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	res := make([][]float32, len(ls))
	for i, l := range ls {
		res[i] = make([]float32, count*l.OutShape.Size())
	}
	if count == 0 {
		return res, nil
	}
	r := n.schedule(feeds, ls)
	r.count, r.res = count, res
	r.blocks = (count + C.LANES - 1) / C.LANES
	threads := min(n.b.threads, r.blocks)
	r.chunk = min(maxChunk, (r.blocks+threads-1)/threads)
	r.nchunks = int64((r.blocks + r.chunk - 1) / r.chunk)
	threads = min(threads, int(r.nchunks))
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := n.getWorkspace()
			defer n.putWorkspace(ws)
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
	return res, nil
}

// schedule turns the plan for (feeds, outs) into segments of kernel calls.
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
	fused := map[int]bool{}
	for _, l := range plan {
		cl := n.layers[n.index[l]]
		if cl.Kind == nn.MaxPool2D && cl.poolConv >= 0 && inPlan[cl.poolConv] && !isOut[cl.poolConv] {
			fused[cl.poolConv] = true
		}
	}
	var cur []step
	flush := func() {
		if len(cur) > 0 {
			r.segs = append(r.segs, segment{steps: cur})
			cur = nil
		}
	}
	for _, l := range plan {
		cl := n.layers[n.index[l]]
		if cl.alias {
			owner[cl.idx] = owner[cl.ins[0]]
			continue
		}
		owner[cl.idx] = cl.idx
		if fused[cl.idx] {
			continue
		}
		st := step{lay: cl, out: cl.idx}
		for _, in := range cl.ins {
			st.ins = append(st.ins, owner[in])
		}
		switch cl.Kind {
		case nn.Conv2D:
			st.kind = sConv
		case nn.MaxPool2D:
			st.kind = sPool
			if fused[cl.poolConv] {
				st.kind, st.conv = sConvPool, n.layers[cl.poolConv]
				st.ins = []int{owner[st.conv.ins[0]]}
			}
		case nn.Dense:
			st.kind = sDense
		case nn.Add:
			st.kind = sAdd
		case nn.Act:
			st.kind = sRelu
		default:
			panic(fmt.Sprintf("host: layer %q: unexpected kind %v", cl.Name, cl.Kind))
		}
		if st.kind == sDense {
			flush()
			r.segs = append(r.segs, segment{dense: true, steps: []step{st}})
		} else {
			cur = append(cur, st)
		}
	}
	flush()
	for _, l := range outs {
		i := n.index[l]
		r.outs = append(r.outs, owner[i])
		r.outSize = append(r.outSize, n.layers[i].size)
	}
	return r
}

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

// runChunk runs blocks [c*chunk, ...) through the schedule.
func (r *run) runChunk(ws *workspace, c int) {
	n := r.n
	isa := C.int(n.b.isa)
	b0 := c * r.chunk
	nb := min(r.chunk, r.blocks-b0)
	blk := func(i, k int) []float32 { // block k of layer i's buffer
		s := n.layers[i].size * C.LANES
		return ws.buf(n, i)[k*s : (k+1)*s]
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
			l := st.lay
			C.host_dense(isa, C.int(nb), C.int(l.denseK), C.int(l.denseO), C.int(l.np), C.int(l.no),
				fp(ws.buf(n, st.ins[0])), fp(l.wp), fp(l.bp), fp(ws.buf(n, st.out)), cbool(l.Act == nn.ReLU))
			continue
		}
		for k := 0; k < nb; k++ {
			for j := range seg.steps {
				st := &seg.steps[j]
				out := fp(blk(st.out, k))
				switch st.kind {
				case sConv, sConvPool:
					cv := st.lay
					if st.kind == sConvPool {
						cv = st.conv
					}
					in := fp(blk(st.ins[0], k))
					if cv.pad {
						C.host_pad(in, fp(ws.pad), C.int(cv.inH), C.int(cv.inW), cv.conv.C, cv.conv.H, cv.conv.W,
							C.int(cv.padT), C.int(cv.padL))
						in = fp(ws.pad)
					}
					if st.kind == sConv {
						C.host_conv(isa, &cv.conv, in, fp(cv.wp), fp(cv.bp), out)
					} else {
						C.host_conv_pool(isa, &cv.conv, &st.lay.pool, in, fp(cv.wp), fp(cv.bp), fp(ws.rows), out)
					}
				case sPool:
					C.host_maxpool(isa, &st.lay.pool, fp(blk(st.ins[0], k)), out)
				case sAdd:
					sz := C.long(st.lay.size * C.LANES)
					C.host_add(isa, out, fp(blk(st.ins[0], k)), fp(blk(st.ins[1], k)), sz)
					for _, in := range st.ins[2:] {
						C.host_add(isa, out, out, fp(blk(in, k)), sz)
					}
				case sRelu:
					C.host_relu(isa, out, fp(blk(st.ins[0], k)), C.long(st.lay.size*C.LANES))
				}
			}
		}
	}
	for o, i := range r.outs {
		s := r.outSize[o]
		for k := 0; k < nb; k++ {
			img := (b0 + k) * C.LANES
			C.host_unpack(fp(blk(i, k)), fp(r.res[o][img*s:]), C.long(s), C.int(valid(k)))
		}
	}
}
