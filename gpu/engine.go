package gpu

import (
	"fmt"
	"strings"
	"sync"

	"goodnet/cuda"
	"goodnet/nn"
)

// f32, i32 and f64 are typed views of device memory: an address and an element count.
type (
	f32 struct {
		p uint64
		n int
	}
	i32 struct {
		p uint64
		n int
	}
	f64 struct {
		p uint64
		n int
	}
)

func (b f32) slice(lo, hi int) f32 { return f32{b.p + uint64(lo)*4, hi - lo} }
func (b i32) slice(lo, hi int) i32 { return i32{b.p + uint64(lo)*4, hi - lo} }
func (b f64) slice(lo, hi int) f64 { return f64{b.p + uint64(lo)*8, hi - lo} }

// device is what the engine needs from a GPU: memory, copies and the kernels of kernels.cu,
// with the launchers' semantics (see package cuda). The cuda build implements it with package
// cuda; the tests with cuda/hostcheck on the CPU.
type device interface {
	describe() string
	memFree() (int64, error)
	alloc(bytes int64) (uint64, error)
	release(p uint64) error
	putF32(dst f32, src []float32) error
	getF32(dst []float32, src f32) error
	getI32(dst []int32, src i32) error
	getF64(dst []float64, src f64) error
	copyF32(dst, src f32) error
	zeroF64(b f64) error
	conv2d(out, x, w, b f32, s cuda.ConvShape, n int) error
	dense(out, x, w, b f32, s cuda.DenseShape, n int) error
	maxpool(out, x f32, s cuda.PoolShape, n int) error
	relu(out, x f32) error
	add(out, a, b f32) error
	argmax(out i32, x f32, rows, k int) error
	merge(out, b, bprime i32, classes int) error
	channelSum(acc, scratch f64, x f32, rows, C int) error
}

// core is one device and the lock that serialises its users (every Net of it).
type core struct {
	mu  sync.Mutex
	dev device
	// maxBatch caps the samples per batch (0: MaxBatch); memShare is the part of the free
	// device memory a workspace may take (0: 1/2). Tests lower both.
	maxBatch int
	memShare float64
}

// MaxBatch is the most samples a Net puts through the GPU at once.
const MaxBatch = 8192

// Net is a model compiled for the GPU: its weights live in device memory, and batches stream
// through device buffers sized to the free memory. It implements nn.Net and nn.Predictor, and
// the capabilities nn.ChannelSummer (channel sums reduced on the device) and nn.PairPredictor
// (GoodNet's two nets and merge on the device). A Net is safe for concurrent use (calls on
// one GPU are serialised).
type Net struct {
	c       *core
	m       *nn.Model // a copy
	layers  map[string]*layer
	weights []uint64 // allocations of the weights
	ws      *workspace
	closed  bool
}

// layer is a layer's geometry and device weights.
type layer struct {
	l    *nn.Layer
	conv cuda.ConvShape
	dens cuda.DenseShape
	pool cuda.PoolShape
	w, b f32
}

// compile checks that every layer is supported and uploads the weights.
func compile(c *core, m *nn.Model) (*Net, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, err
	}
	n := &Net{c: c, m: m.Clone(), layers: map[string]*layer{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range n.m.Layers {
		gl := &layer{l: l}
		var err error
		switch l.Kind {
		case nn.Input, nn.Flatten, nn.Dropout, nn.Add:
		case nn.Act:
			if l.Act != nn.ReLU && l.Act != nn.Linear && l.Act != nn.Softmax {
				err = fmt.Errorf("activation %s is not supported on the GPU", l.Act)
			}
		case nn.Conv2D:
			gl.conv, err = cuda.ConvShapeOf(l)
		case nn.Dense:
			gl.dens, err = cuda.DenseShapeOf(l)
		case nn.MaxPool2D:
			gl.pool, err = cuda.PoolShapeOf(l)
		default:
			err = fmt.Errorf("%s layers are not supported on the GPU", l.Kind)
		}
		if err != nil {
			// a model the GPU engine does not run (--device auto runs it on the CPU)
			n.free()
			return nil, fmt.Errorf("layer %q: %w", l.Name, nn.Unsupported(err))
		}
		if l.HasWeights() {
			if gl.w, err = n.upload(l.W); err == nil && l.B != nil {
				gl.b, err = n.upload(l.B)
			}
		}
		if err != nil {
			n.free()
			return nil, fmt.Errorf("layer %q: %w", l.Name, err)
		}
		n.layers[l.Name] = gl
	}
	return n, nil
}

func (n *Net) upload(v []float32) (f32, error) {
	p, err := n.c.dev.alloc(int64(len(v)) * 4)
	if err != nil {
		return f32{}, err
	}
	n.weights = append(n.weights, p)
	b := f32{p, len(v)}
	return b, n.c.dev.putF32(b, v)
}

// Model is the compiled copy of the model.
func (n *Net) Model() *nn.Model { return n.m }

// Close frees the device memory of the Net; it must not be used afterwards.
func (n *Net) Close() error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.free()
}

func (n *Net) free() error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	for _, p := range n.weights {
		if err := n.c.dev.release(p); err != nil {
			keep(err)
		}
	}
	n.weights = nil
	if n.ws != nil {
		keep(n.ws.free(n.c.dev))
		n.ws = nil
	}
	n.closed = true
	return first
}

// A workspace holds, for up to cap samples, the device buffers of one kind of call: the fed
// layers' values, every computed layer's output (Flatten, Dropout and linear activations share
// their input's), and the extras (classes, channel sums). A Net keeps its last workspace for
// the next call of the same kind.
type workspace struct {
	key     string
	cap     int
	limited bool // cap was set by the free memory
	fed     []*nn.Layer
	plan    []*nn.Layer
	out     map[*nn.Layer]f32
	cls     [3]i32 // argmax of this net, of the other net, merged (Predict, GoodNet)
	acc     f64    // channel sums (ChannelSums)
	scratch f64
	allocs  []uint64
}

func (w *workspace) free(d device) error {
	var first error
	for _, p := range w.allocs {
		if err := d.release(p); err != nil && first == nil {
			first = err
		}
	}
	w.allocs = nil
	return first
}

// extras of a workspace beyond the layer buffers.
type extras struct {
	classes  bool // the three class buffers
	sumChans int  // channels of a channel sum (0: none)
	sumRows  int  // rows per sample of the summed layer
}

// workspace returns a workspace for computing plan from fed, for count samples, at most
// limit per batch (0: no limit beyond the memory and MaxBatch).
func (n *Net) workspace(fed, plan []*nn.Layer, ex extras, count, limit int) (*workspace, error) {
	var key strings.Builder
	for _, l := range fed {
		key.WriteString(l.Name + ",")
	}
	key.WriteString("|")
	for _, l := range plan {
		key.WriteString(l.Name + ",")
	}
	fmt.Fprintf(&key, "|%v", ex)
	maxB := n.c.maxBatch
	if maxB <= 0 {
		maxB = MaxBatch
	}
	want := max(min(count, maxB), 1)
	if limit > 0 {
		want = min(want, limit)
	}
	if w := n.ws; w != nil && w.key == key.String() && (w.cap >= want || (w.limited && limit == 0)) {
		return w, nil
	}
	if n.ws != nil {
		if err := n.ws.free(n.c.dev); err != nil {
			return nil, err
		}
		n.ws = nil
	}

	w := &workspace{key: key.String(), fed: fed, plan: plan, out: map[*nn.Layer]f32{}}
	var bytes int64 // per sample
	for _, l := range fed {
		bytes += 4 * int64(l.OutShape.Size())
	}
	for _, l := range plan {
		if !aliases(l) {
			bytes += 4 * int64(l.OutShape.Size())
		}
	}
	if ex.classes {
		bytes += 3 * 4
	}
	if ex.sumChans > 0 {
		bytes += int64(8*ex.sumRows*ex.sumChans/cuda.SumRows + 8)
	}
	free, err := n.c.dev.memFree()
	if err != nil {
		return nil, err
	}
	share := n.c.memShare
	if share <= 0 {
		share = 0.5
	}
	fit := int(float64(free) * share / float64(bytes))
	if fit < 1 {
		return nil, fmt.Errorf("out of GPU memory: one sample needs %d bytes, %d are free", bytes, free)
	}
	w.cap = want
	if fit < want {
		w.cap, w.limited = fit, true
	}

	alloc := func(nb int64) (uint64, error) {
		p, err := n.c.dev.alloc(nb)
		if err == nil {
			w.allocs = append(w.allocs, p)
		}
		return p, err
	}
	allocF32 := func(l *nn.Layer) error {
		size := w.cap * l.OutShape.Size()
		p, err := alloc(4 * int64(size))
		w.out[l] = f32{p, size}
		return err
	}
	for _, l := range fed {
		if err := allocF32(l); err != nil {
			w.free(n.c.dev)
			return nil, err
		}
	}
	for _, l := range plan {
		if aliases(l) {
			w.out[l] = w.out[l.Inputs[0]]
			continue
		}
		if err := allocF32(l); err != nil {
			w.free(n.c.dev)
			return nil, err
		}
	}
	if ex.classes {
		p, err := alloc(3 * 4 * int64(w.cap))
		if err != nil {
			w.free(n.c.dev)
			return nil, err
		}
		for i := range w.cls {
			w.cls[i] = i32{p + uint64(i*4*w.cap), w.cap}
		}
	}
	if ex.sumChans > 0 {
		ns := cuda.SumScratch(w.cap*ex.sumRows, ex.sumChans)
		p, err := alloc(8 * int64(ex.sumChans+ns))
		if err != nil {
			w.free(n.c.dev)
			return nil, err
		}
		w.acc = f64{p, ex.sumChans}
		w.scratch = f64{p + uint64(8*ex.sumChans), ns}
	}
	n.ws = w
	return w, nil
}

// aliases reports whether a layer's output is its input's memory.
func aliases(l *nn.Layer) bool {
	return l.Kind == nn.Flatten || l.Kind == nn.Dropout || (l.Kind == nn.Act && l.Act != nn.ReLU)
}

// upload puts samples [lo, lo+b) of the feeds into the fed layers' buffers.
func (n *Net) uploadFeeds(w *workspace, feeds map[string][]float32, lo, b int) error {
	for _, l := range w.fed {
		s := l.OutShape.Size()
		if err := n.c.dev.putF32(w.out[l].slice(0, b*s), feeds[l.Name][lo*s:(lo+b)*s]); err != nil {
			return err
		}
	}
	return nil
}

// forward computes the plan on the first b samples of the workspace.
func (n *Net) forward(w *workspace, b int) error {
	d := n.c.dev
	for _, l := range w.plan {
		if aliases(l) {
			continue
		}
		gl := n.layers[l.Name]
		out := w.out[l].slice(0, b*l.OutShape.Size())
		in := func(i int) f32 { return w.out[l.Inputs[i]].slice(0, b*l.Inputs[i].OutShape.Size()) }
		var err error
		switch l.Kind {
		case nn.Conv2D:
			err = d.conv2d(out, in(0), gl.w, gl.b, gl.conv, b)
		case nn.Dense:
			err = d.dense(out, in(0), gl.w, gl.b, gl.dens, b)
		case nn.MaxPool2D:
			err = d.maxpool(out, in(0), gl.pool, b)
		case nn.Act: // ReLU (the others alias)
			err = d.relu(out, in(0))
		case nn.Add:
			err = d.add(out, in(0), in(1))
			for i := 2; i < len(l.Inputs) && err == nil; i++ {
				err = d.add(out, out, in(i))
			}
		default:
			err = fmt.Errorf("%s layers are not supported", l.Kind)
		}
		if err != nil {
			return fmt.Errorf("layer %q: %w", l.Name, err)
		}
	}
	return nil
}

func (n *Net) begin() error {
	n.c.mu.Lock()
	if n.closed {
		n.c.mu.Unlock()
		return fmt.Errorf("gpu: the Net is closed")
	}
	return nil
}

func (n *Net) end() { n.c.mu.Unlock() }

// fedLayers are the fed layers in topological order.
func (n *Net) fedLayers(feeds map[string][]float32) []*nn.Layer {
	var fed []*nn.Layer
	for _, l := range n.m.Layers {
		if _, ok := feeds[l.Name]; ok {
			fed = append(fed, l)
		}
	}
	return fed
}

// Run evaluates the graph on count samples (see nn.Net).
func (n *Net) Run(feeds map[string][]float32, count int, outs ...string) ([][]float32, error) {
	ls, err := nn.CheckFeeds(n.m, feeds, count, outs)
	if err != nil {
		return nil, err
	}
	if err := n.begin(); err != nil {
		return nil, err
	}
	defer n.end()
	res := make([][]float32, len(ls))
	for i, l := range ls {
		res[i] = make([]float32, count*l.OutShape.Size())
	}
	if count == 0 {
		return res, nil
	}
	w, err := n.workspace(n.fedLayers(feeds), nn.Plan(n.m, feeds, ls), extras{}, count, 0)
	if err != nil {
		return nil, err
	}
	for lo := 0; lo < count; lo += w.cap {
		b := min(w.cap, count-lo)
		if err := n.uploadFeeds(w, feeds, lo, b); err != nil {
			return nil, err
		}
		if err := n.forward(w, b); err != nil {
			return nil, err
		}
		for i, l := range ls {
			s := l.OutShape.Size()
			if err := n.c.dev.getF32(res[i][lo*s:(lo+b)*s], w.out[l].slice(0, b*s)); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// checkImages validates x as count input images of the net.
func (n *Net) checkImages(x []float32, count int) error {
	if count < 0 {
		return fmt.Errorf("negative sample count %d", count)
	}
	if want := count * n.m.InputShape().Size(); len(x) != want {
		return fmt.Errorf("%d values for %d images of shape %v", len(x), count, n.m.InputShape())
	}
	return nil
}

// Predict returns the class of each of the count images in x; the logits stay on the device
// (the argmax runs there).
func (n *Net) Predict(x []float32, count int) ([]int32, error) {
	if err := n.checkImages(x, count); err != nil {
		return nil, err
	}
	if err := n.begin(); err != nil {
		return nil, err
	}
	defer n.end()
	out := make([]int32, count)
	if count == 0 {
		return out, nil
	}
	w, err := n.predictSpace(count, 0)
	if err != nil {
		return nil, err
	}
	for lo := 0; lo < count; lo += w.cap {
		b := min(w.cap, count-lo)
		if err := n.classify(w, x, lo, b); err != nil {
			return nil, err
		}
		if err := n.c.dev.getI32(out[lo:lo+b], w.cls[0].slice(0, b)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (n *Net) predictSpace(count, limit int) (*workspace, error) {
	feeds := map[string][]float32{n.m.Input.Name: nil}
	return n.workspace([]*nn.Layer{n.m.Input}, nn.Plan(n.m, feeds, []*nn.Layer{n.m.Output}), extras{classes: true}, count, limit)
}

// classify uploads images [lo, lo+b) (x nil: already in the input buffer) and leaves their
// classes in w.cls[0].
func (n *Net) classify(w *workspace, x []float32, lo, b int) error {
	if x != nil {
		if err := n.uploadFeeds(w, map[string][]float32{n.m.Input.Name: x}, lo, b); err != nil {
			return err
		}
	}
	if err := n.forward(w, b); err != nil {
		return err
	}
	k := n.m.NumClasses()
	return n.c.dev.argmax(w.cls[0].slice(0, b), w.out[n.m.Output].slice(0, b*k), b, k)
}

// PredictPair runs GoodNet's two nets — n as B, other (a *Net of the same backend, with the
// same architecture) as B' — on the count images of x: each batch of images is uploaded once
// and goes through both nets; the argmax of each and the merge (B's class where they agree,
// else flag) run on the device, and only the three class lists come back (nn.PairPredictor).
func (n *Net) PredictPair(other nn.Net, x []float32, count int, flag int32) (b, bprime, merged []int32, err error) {
	o, ok := other.(*Net)
	if !ok || o == nil || o.c != n.c {
		return nil, nil, nil, fmt.Errorf("gpu: PredictPair needs two nets of the same GPU backend (got %T)", other)
	}
	if err := n.m.SameArchitecture(o.m); err != nil {
		return nil, nil, nil, fmt.Errorf("B' does not have B's architecture: %w", err)
	}
	if err := n.checkImages(x, count); err != nil {
		return nil, nil, nil, err
	}
	if err := n.begin(); err != nil {
		return nil, nil, nil, err
	}
	defer n.end()
	if o.closed {
		return nil, nil, nil, fmt.Errorf("gpu: the Net of B' is closed")
	}
	b, bprime, merged = make([]int32, count), make([]int32, count), make([]int32, count)
	if count == 0 {
		return b, bprime, merged, nil
	}
	wb, err := n.predictSpace(count, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	wp := wb
	if o != n {
		if wp, err = o.predictSpace(count, wb.cap); err != nil {
			return nil, nil, nil, err
		}
	}
	batch := min(wb.cap, wp.cap)
	d := n.c.dev
	for lo := 0; lo < count; lo += batch {
		nb := min(batch, count-lo)
		if err := n.classify(wb, x, lo, nb); err != nil {
			return nil, nil, nil, err
		}
		cb, cp, cm := wb.cls[0].slice(0, nb), wb.cls[1].slice(0, nb), wb.cls[2].slice(0, nb)
		if o != n {
			in := n.m.InputShape().Size() * nb
			if err := d.copyF32(wp.out[o.m.Input].slice(0, in), wb.out[n.m.Input].slice(0, in)); err != nil {
				return nil, nil, nil, err
			}
			if err := o.classify(wp, nil, 0, nb); err != nil {
				return nil, nil, nil, err
			}
			cp = wp.cls[0].slice(0, nb)
		} else {
			cp = cb
		}
		if err := d.merge(cm, cb, cp, int(flag)); err != nil {
			return nil, nil, nil, err
		}
		for _, c := range []struct {
			dst []int32
			src i32
		}{{b[lo : lo+nb], cb}, {bprime[lo : lo+nb], cp}, {merged[lo : lo+nb], cm}} {
			if err := d.getI32(c.dst, c.src); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return b, bprime, merged, nil
}

// ChannelSums returns, for each channel of the named layer's output (the last dimension),
// the sum of its values over the count samples and every position (rows × columns), computed
// in float64 on the device — only the sums come back (nn.ChannelSummer): the activation
// statistics of the pruning defense. feeds as Run.
func (n *Net) ChannelSums(feeds map[string][]float32, count int, layerName string) ([]float64, error) {
	ls, err := nn.CheckFeeds(n.m, feeds, count, []string{layerName})
	if err != nil {
		return nil, err
	}
	l := ls[0]
	C := l.OutShape[len(l.OutShape)-1]
	rows := l.OutShape.Size() / C
	sums := make([]float64, C)
	if count == 0 {
		return sums, nil
	}
	if err := n.begin(); err != nil {
		return nil, err
	}
	defer n.end()
	w, err := n.workspace(n.fedLayers(feeds), nn.Plan(n.m, feeds, ls), extras{sumChans: C, sumRows: rows}, count, 0)
	if err != nil {
		return nil, err
	}
	if err := n.c.dev.zeroF64(w.acc); err != nil {
		return nil, err
	}
	for lo := 0; lo < count; lo += w.cap {
		b := min(w.cap, count-lo)
		if err := n.uploadFeeds(w, feeds, lo, b); err != nil {
			return nil, err
		}
		if err := n.forward(w, b); err != nil {
			return nil, err
		}
		if err := n.c.dev.channelSum(w.acc, w.scratch, w.out[l].slice(0, b*l.OutShape.Size()), b*rows, C); err != nil {
			return nil, err
		}
	}
	if err := n.c.dev.getF64(sums, w.acc); err != nil {
		return nil, err
	}
	return sums, nil
}

var (
	_ nn.Net           = (*Net)(nil)
	_ nn.Predictor     = (*Net)(nil)
	_ nn.ChannelSummer = (*Net)(nil)
	_ nn.PairPredictor = (*Net)(nil)
)
