package prune

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

	"goodnet/host"
	"goodnet/nn"
)

// A sweeper holds the state of the four sets between steps.
type sweeper interface {
	method() Method
	// means is each channel's mean activation at the cut over the clean validation set.
	means() []float64
	// predictions are the current predictions (before any prune: B's).
	predictions() preds
	// prune zeroes one more channel and returns the new predictions.
	prune(ch int) (preds, error)
	// stats says how much work the steps so far took (nil: not counted).
	stats() *Stats
	close()
}

// Stats say how the incremental sweep spent its work. Per step (from step 1): Active counts
// the images (all sets together) whose pruned channel was non-zero somewhere at the cut, the
// only ones whose prediction can change; Refreshed those among them whose certificate failed
// (the bound on how far the output layer's input moved reached the margin of their top
// logit), so that the head after the readers was recomputed. Images is the total over the
// sets.
type Stats struct {
	Images    int   `json:"images"`
	Active    []int `json:"active"`
	Refreshed []int `json:"refreshed"`
}

// chunk is how many images one engine call takes (bounds the memory of intermediate layers).
const chunk = 2048

// setState is one set's data at the cut.
type setState struct {
	n     int
	p     []float32 // n × S × C pooled features at the cut (HeadOnly zeroes pruned channels)
	preds []int32
}

// features runs every set through B once: the features at the cut and B's predictions.
func features(cfg *Config, net nn.Net, cut *nn.Layer) ([4]*setState, error) {
	var st [4]*setState
	m := cfg.Model
	in, fs, k := m.InputShape().Size(), cut.OutShape.Size(), m.NumClasses()
	for i, s := range cfg.sets() {
		if s == nil {
			continue
		}
		ss := &setState{n: s.N, p: make([]float32, s.N*fs), preds: make([]int32, s.N)}
		for lo := 0; lo < s.N; lo += chunk {
			hi := min(lo+chunk, s.N)
			out, err := net.Run(map[string][]float32{m.Input.Name: s.X[lo*in : hi*in]}, hi-lo, cut.Name, m.Output.Name)
			if err != nil {
				return st, fmt.Errorf("%s: %v", s.Path, err)
			}
			copy(ss.p[lo*fs:], out[0])
			copy(ss.preds[lo:], nn.Argmax(out[1], hi-lo, k))
		}
		st[i] = ss
	}
	return st, nil
}

// channelMeans averages p (n × S × C) per channel in float64.
func channelMeans(p []float32, n, c int) []float64 {
	sum := make([]float64, c)
	if n == 0 {
		return sum
	}
	for i := 0; i < len(p); i += c {
		for j, v := range p[i : i+c] {
			sum[j] += float64(v)
		}
	}
	cnt := float64(len(p) / c)
	for j := range sum {
		sum[j] /= cnt
	}
	return sum
}

func newSweeper(cfg *Config, pt *point) (sweeper, error) {
	cut := pt.cut
	if cfg.Method == Incremental {
		if plan, _ := planIncremental(cfg.Model, cut); plan != nil {
			return newIncremental(cfg, cut, plan)
		}
		// else the head has layers the incremental sweep does not handle
	}
	net, err := cfg.Backend.Compile(cfg.Model)
	if err != nil {
		return nil, err
	}
	if cfg.Method == Brute {
		return newBrute(cfg, net, pt)
	}
	if _, err := nn.CheckFeeds(cfg.Model, map[string][]float32{cut.Name: nil}, 0, []string{cfg.Model.Output.Name}); err == nil {
		return newHeadOnly(cfg, net, cut)
	}
	return newBrute(cfg, net, pt) // the output also depends on layers before the cut
}

// ---- Brute force: the seed's method ----

type brute struct {
	cfg       *Config
	net       nn.Net
	pt        *point
	pruned    *nn.Model
	meanAct   []float64
	cur       preds
	skipSlice [4]bool
}

func newBrute(cfg *Config, net nn.Net, pt *point) (*brute, error) {
	st, err := features(&Config{Model: cfg.Model, CleanValid: cfg.CleanValid}, net, pt.cut)
	if err != nil {
		net.Close()
		return nil, err
	}
	b := &brute{cfg: cfg, net: net, pt: pt, pruned: cfg.Model.Clone(),
		meanAct: channelMeans(st[0].p, st[0].n, pt.cut.OutShape[len(pt.cut.OutShape)-1])}
	b.cur, err = b.predictAll(net)
	return b, err
}

func (b *brute) predictAll(net nn.Net) (preds, error) {
	var p preds
	for i, s := range b.cfg.sets() {
		if s == nil {
			continue
		}
		var err error
		if p[i], err = nn.Predict(net, s.X, s.N); err != nil {
			return p, fmt.Errorf("%s: %v", s.Path, err)
		}
	}
	return p, nil
}

func (b *brute) method() Method     { return Brute }
func (b *brute) means() []float64   { return b.meanAct }
func (b *brute) predictions() preds { return b.cur }
func (b *brute) close()             { b.net.Close() }
func (b *brute) stats() *Stats      { return nil }

func (b *brute) prune(ch int) (preds, error) {
	b.pt.zero(b.pruned, ch)
	net, err := b.cfg.Backend.Compile(b.pruned)
	if err != nil {
		return preds{}, err
	}
	defer net.Close()
	b.cur, err = b.predictAll(net)
	return b.cur, err
}

// ---- Head only: re-run the layers after the cut on the images the channel touches ----

type headOnly struct {
	cfg     *Config
	net     nn.Net
	cut     *nn.Layer
	sets    [4]*setState
	meanAct []float64
}

func newHeadOnly(cfg *Config, net nn.Net, cut *nn.Layer) (*headOnly, error) {
	st, err := features(cfg, net, cut)
	if err != nil {
		net.Close()
		return nil, err
	}
	c := cut.OutShape[len(cut.OutShape)-1]
	return &headOnly{cfg: cfg, net: net, cut: cut, sets: st, meanAct: channelMeans(st[0].p, st[0].n, c)}, nil
}

func (h *headOnly) method() Method   { return HeadOnly }
func (h *headOnly) means() []float64 { return h.meanAct }
func (h *headOnly) close()           { h.net.Close() }
func (h *headOnly) stats() *Stats    { return nil }
func (h *headOnly) predictions() preds {
	var p preds
	for i, s := range h.sets {
		if s != nil {
			p[i] = s.preds
		}
	}
	return p
}

func (h *headOnly) prune(ch int) (preds, error) {
	fs := h.cut.OutShape.Size()
	c := h.cut.OutShape[len(h.cut.OutShape)-1]
	k := h.cfg.Model.NumClasses()
	for _, s := range h.sets {
		if s == nil {
			continue
		}
		idx := activeImages(s.p, s.n, fs/c, c, ch)
		for lo := 0; lo < len(idx); lo += chunk {
			part := idx[lo:min(lo+chunk, len(idx))]
			feed := make([]float32, len(part)*fs)
			for j, i := range part {
				row := s.p[int(i)*fs : int(i+1)*fs]
				for q := ch; q < fs; q += c {
					row[q] = 0
				}
				copy(feed[j*fs:], row)
			}
			out, err := h.net.Run(map[string][]float32{h.cut.Name: feed}, len(part), h.cfg.Model.Output.Name)
			if err != nil {
				return preds{}, err
			}
			for j, p := range nn.Argmax(out[0], len(part), k) {
				s.preds[part[j]] = p
			}
		}
	}
	return h.predictions(), nil
}

// ---- Incremental ----

// reader is a layer that reads the cut linearly: a Dense after Flatten, or a Conv2D. Its
// pre-activation is kept per image and updated by subtracting the pruned channel's share.
type reader struct {
	l     *nn.Layer
	out   int  // values per image
	relu  bool // activation after the pre-activation
	w     []float32
	width int // length of one weight row (units or filters)
	// For channel c, for cut position s, the updates are ents[c][start[c][s]:start[c][s+1]]:
	// pre[dst : dst+width] -= P[s, c] · w[woff : woff+width].
	start     [][]int32
	dst, woff [][]int32
	gain      float64 // bound on ‖Δh‖₂ per unit of ‖Δ(this reader's output)‖₂
}

// incPlan is what the incremental sweep needs to know of the graph after the cut.
type incPlan struct {
	readers []*reader
	colNorm []float32 // ‖column j of the output layer's kernel‖₂
}

// planIncremental checks that every consumer of the cut (through Flatten and Dropout) is a
// Dense (after a Flatten) or a Conv2D (before any Flatten), that the output is a Dense fed
// only by what the readers compute, and derives the Lipschitz gains from each reader's output
// to the output layer's input. Returns nil and the reason when the graph does not fit.
func planIncremental(m *nn.Model, cut *nn.Layer) (*incPlan, string) {
	S := cut.OutShape.Size() / cut.OutShape[len(cut.OutShape)-1]
	C := cut.OutShape[len(cut.OutShape)-1]
	var readers []*reader
	var walk func(l *nn.Layer, flat bool) string
	walk = func(l *nn.Layer, flat bool) string {
		for _, u := range m.Consumers(l) {
			if u == m.Output {
				return fmt.Sprintf("%q reads the cut and is the output", u.Name)
			}
			switch {
			case u.Kind == nn.Flatten || u.Kind == nn.Dropout:
				if why := walk(u, flat || u.Kind == nn.Flatten); why != "" {
					return why
				}
			case u.Kind == nn.Dense && flat, u.Kind == nn.Conv2D && !flat:
				readers = append(readers, newReader(u, cut, S, C))
			default:
				return fmt.Sprintf("%q (%s) reads the cut", u.Name, u.Kind)
			}
		}
		return ""
	}
	if why := walk(cut, len(cut.OutShape) == 1); why != "" {
		return nil, why
	}
	out := m.Output
	if out.Kind != nn.Dense || len(readers) == 0 {
		return nil, "the output layer is not a Dense"
	}
	feeds := map[string][]float32{}
	isReader := map[*nn.Layer]*reader{}
	for _, r := range readers {
		feeds[r.l.Name] = nil
		isReader[r.l] = r
	}
	if _, err := nn.CheckFeeds(m, feeds, 0, []string{out.Name}); err != nil {
		return nil, "the output depends on layers before the cut"
	}
	// Propagate gains: g[l][r] bounds ‖Δ out(l)‖₂ by Σ_r g[l][r]·‖Δ out(r)‖₂.
	g := map[*nn.Layer][]float64{}
	for _, l := range nn.Plan(m, feeds, []*nn.Layer{out.Inputs[0]}) {
		v := make([]float64, len(readers))
		switch l.Kind {
		case nn.Add:
			for _, in := range l.Inputs {
				for i, x := range gainOf(g, isReader, readers, in) {
					v[i] += x
				}
			}
		case nn.Dense, nn.Conv2D, nn.MaxPool2D, nn.Flatten, nn.Dropout, nn.Act:
			if l.Act == nn.Softmax {
				return nil, fmt.Sprintf("%q applies softmax before the output", l.Name)
			}
			f := lipschitz(l)
			for i, x := range gainOf(g, isReader, readers, l.Inputs[0]) {
				v[i] = f * x
			}
		default:
			return nil, fmt.Sprintf("%q (%s) after the cut", l.Name, l.Kind)
		}
		g[l] = v
	}
	for i, x := range gainOf(g, isReader, readers, out.Inputs[0]) {
		readers[i].gain = x
	}
	k, in := out.Units, out.InShape[0]
	norms := make([]float64, k)
	for r := 0; r < in; r++ {
		for j, w := range out.W[r*k : (r+1)*k] {
			norms[j] += float64(w) * float64(w)
		}
	}
	cn := make([]float32, k)
	for j := range norms {
		cn[j] = float32(math.Sqrt(norms[j]))
	}
	return &incPlan{readers: readers, colNorm: cn}, ""
}

func gainOf(g map[*nn.Layer][]float64, isReader map[*nn.Layer]*reader, readers []*reader, l *nn.Layer) []float64 {
	if r := isReader[l]; r != nil {
		v := make([]float64, len(readers))
		for i := range readers {
			if readers[i] == r {
				v[i] = 1
			}
		}
		return v
	}
	return g[l]
}

// lipschitz bounds ‖Δ out‖₂ / ‖Δ in‖₂ for a layer: the largest singular value of its kernel,
// times √(how many windows one input element can fall in) for windowed layers; ReLU and
// max are 1-Lipschitz.
func lipschitz(l *nn.Layer) float64 {
	overlap := func() float64 {
		a := (l.Size[0] + l.Strides[0] - 1) / l.Strides[0]
		b := (l.Size[1] + l.Strides[1] - 1) / l.Strides[1]
		return math.Sqrt(float64(a * b))
	}
	switch l.Kind {
	case nn.Dense:
		return spectralNorm(l.W, l.InShape[0], l.Units)
	case nn.Conv2D:
		return spectralNorm(l.W, l.Size[0]*l.Size[1]*l.InShape[2], l.Filters) * overlap()
	case nn.MaxPool2D:
		return overlap()
	case nn.Act:
		if l.Act == nn.LeakyReLU {
			return math.Max(1, math.Abs(l.Alpha))
		}
	}
	return 1
}

// spectralNorm is the largest singular value of the r×c row-major matrix w, rounded up a
// little so that the bound stays safe.
func spectralNorm(w []float32, r, c int) float64 {
	d := make([]float64, len(w))
	for i, x := range w {
		d[i] = float64(x)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(r, c, d), mat.SVDNone) {
		f := 0.0 // Frobenius norm: always an upper bound
		for _, x := range d {
			f += x * x
		}
		return math.Sqrt(f)
	}
	return svd.Values(nil)[0] * (1 + 1e-6)
}

func newReader(l, cut *nn.Layer, S, C int) *reader {
	r := &reader{l: l, out: l.OutShape.Size(), relu: l.Act == nn.ReLU, w: l.W}
	r.start, r.dst, r.woff = make([][]int32, C), make([][]int32, C), make([][]int32, C)
	if l.Kind == nn.Dense {
		r.width = l.Units
		for c := 0; c < C; c++ {
			r.start[c] = make([]int32, S+1)
			for s := 0; s < S; s++ {
				r.start[c][s+1] = int32(s + 1)
				r.dst[c] = append(r.dst[c], 0)
				r.woff[c] = append(r.woff[c], int32((s*C+c)*l.Units))
			}
		}
		return r
	}
	// Conv2D reading the cut: output (i, j) tap (di, dj) reads cut position (y, x).
	r.width = l.Filters
	H, W := cut.OutShape[0], cut.OutShape[1]
	OH, OW := l.OutShape[0], l.OutShape[1]
	pt, pl := l.Pads()
	for c := 0; c < C; c++ {
		r.start[c] = make([]int32, S+1)
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				for i := 0; i < OH; i++ {
					for j := 0; j < OW; j++ {
						di, dj := y-(i*l.Strides[0]-pt), x-(j*l.Strides[1]-pl)
						if di < 0 || di >= l.Size[0] || dj < 0 || dj >= l.Size[1] {
							continue
						}
						r.dst[c] = append(r.dst[c], int32((i*OW+j)*l.Filters))
						r.woff[c] = append(r.woff[c], int32(((di*l.Size[1]+dj)*C+c)*l.Filters))
					}
				}
				r.start[c][y*W+x+1] = int32(len(r.dst[c]))
			}
		}
	}
	return r
}

type incSet struct {
	n        int
	pc       []float32   // n × C × S features at the cut, channel-major (setState.p transposed)
	preds    []int32     // current predictions
	pre, ref [][]float32 // per reader: n × out pre-activations, and outputs at the last refresh
	slack    []float64   // how far h may move (‖Δh‖₂) before the prediction could change
	mask     []uint64    // per image, words bits: channel c of the cut is non-zero somewhere
}

type incremental struct {
	cfg     *Config
	net     nn.Net // B with its readers made linear (fed with their outputs, it is B)
	cut     *nn.Layer
	plan    *incPlan
	sets    [4]*incSet
	meanAct []float64
	S, C    int
	words   int // mask words per image
	// fused: the output layer runs here (host.Gemm, then argmax and slack in one pass) on
	// the engine's h; else the engine computes the logits.
	fused bool
	st    Stats
	// scratch of refresh
	feeds  [][]float32
	z      []float32
	pinner runtime.Pinner
}

// zChunk is how many images the fused output layer takes at once (the logits stay in cache).
const zChunk = 256

func newIncremental(cfg *Config, cut *nn.Layer, plan *incPlan) (*incremental, error) {
	m := cfg.Model
	inc := &incremental{cfg: cfg, cut: cut, plan: plan}
	inc.C = cut.OutShape[len(cut.OutShape)-1]
	inc.S = cut.OutShape.Size() / inc.C
	inc.words = (inc.C + 63) / 64
	inc.fused = cfg.Backend.Name() == "cpu" && m.Output.Act != nn.ReLU
	// B with linear readers: one pass from the images gives the cut and the readers'
	// pre-activations.
	lin := m.Clone()
	outs := []string{cut.Name}
	for _, r := range plan.readers {
		lin.Layer(r.l.Name).Act = nn.Linear
		outs = append(outs, r.l.Name)
	}
	net, err := cfg.Backend.Compile(lin)
	if err != nil {
		return nil, err
	}
	inc.net = net
	in, fs := m.InputShape().Size(), cut.OutShape.Size()
	for i, s := range cfg.sets() {
		if s == nil {
			continue
		}
		is := &incSet{n: s.N, preds: make([]int32, s.N), slack: make([]float64, s.N), mask: make([]uint64, s.N*inc.words)}
		for _, r := range plan.readers {
			is.pre = append(is.pre, make([]float32, s.N*r.out))
			is.ref = append(is.ref, make([]float32, s.N*r.out))
		}
		p := make([]float32, s.N*fs)
		for lo := 0; lo < s.N; lo += chunk {
			hi := min(lo+chunk, s.N)
			out, err := net.Run(map[string][]float32{m.Input.Name: s.X[lo*in : hi*in]}, hi-lo, outs...)
			if err != nil {
				net.Close()
				return nil, fmt.Errorf("%s: %v", s.Path, err)
			}
			copy(p[lo*fs:], out[0])
			for q, r := range plan.readers {
				copy(is.pre[q][lo*r.out:], out[q+1])
			}
		}
		channelMasks(p, s.N, inc.S, inc.C, is.mask)
		if i == 0 {
			inc.meanAct = channelMeans(p, s.N, inc.C)
		}
		is.pc = channelMajor(p, s.N, inc.S, inc.C)
		inc.sets[i] = is
		// B's predictions and the certificates' references: a refresh of every image
		if err := inc.refreshDense(is, nil); err != nil {
			net.Close()
			return nil, fmt.Errorf("%s: %v", s.Path, err)
		}
		inc.st.Images += s.N
	}
	inc.pin()
	return inc, nil
}

func (inc *incremental) method() Method   { return Incremental }
func (inc *incremental) means() []float64 { return inc.meanAct }
func (inc *incremental) close()           { inc.net.Close(); inc.pinner.Unpin() }
func (inc *incremental) stats() *Stats    { return &inc.st }
func (inc *incremental) predictions() preds {
	var p preds
	for i, s := range inc.sets {
		if s != nil {
			p[i] = s.preds
		}
	}
	return p
}

// The certificate. A refreshed image's slack is the smallest ‖Δh‖₂ (h: the output layer's
// input) that could change its argmax: min over j ≠ t of (z_t − z_j − ε) / (‖w_t‖ + ‖w_j‖),
// since |Δz_j| ≤ ‖w_j‖·‖Δh‖ (w_j: column j of the output kernel); ε = 1e-5·(|z_t| + |z_j|) +
// 1e-6 covers float32 rounding of the logits, and a class tied with the top gives slack ≤ 0.
// Each step bounds ‖Δh‖₂ since the image's last refresh by Σ over readers of gain·‖Δ(reader
// output)‖₂; images whose bound reaches their slack are recomputed exactly (refresh).

// safety widens the bound on ‖Δh‖₂ for float32 rounding in the readers' outputs.
const safety = 1 + 1e-3

func (inc *incremental) prune(ch int) (preds, error) {
	var active, refreshed int
	for _, s := range inc.sets {
		if s == nil {
			continue
		}
		idx := activeByMask(s.mask, s.n, inc.words, ch)
		list := inc.step(s, idx, ch)
		active += len(idx)
		refreshed += len(list)
		var err error
		if len(list)*50 >= s.n*49 {
			err = inc.refreshDense(s, list) // cheaper than gathering nearly all images
		} else {
			err = inc.refresh(s, list)
		}
		if err != nil {
			return preds{}, err
		}
	}
	inc.st.Active = append(inc.st.Active, active)
	inc.st.Refreshed = append(inc.st.Refreshed, refreshed)
	return inc.predictions(), nil
}

// refresh computes the exact predictions of images idx and their slacks from the readers'
// outputs, which step has made their references.
func (inc *incremental) refresh(s *incSet, idx []int32) error {
	if inc.feeds == nil {
		inc.feeds = make([][]float32, len(inc.plan.readers))
	}
	for lo := 0; lo < len(idx); lo += chunk {
		part := idx[lo:min(lo+chunk, len(idx))]
		feeds := map[string][]float32{}
		for q, r := range inc.plan.readers {
			inc.feeds[q] = grow(inc.feeds[q], len(part)*r.out)
			f := inc.feeds[q]
			parallel(len(part), func(a, b int) { rows(part[a:b], s.ref[q], r.out, f[a*r.out:b*r.out]) })
			feeds[r.l.Name] = f
		}
		if err := inc.head(s, part, feeds); err != nil {
			return err
		}
	}
	return nil
}

// refreshDense is refresh of every image of s when the images done (sorted; their
// references set) are nearly all: the others' references are set to the readers' outputs,
// and the references, in place, are the engine's feeds.
func (inc *incremental) refreshDense(s *incSet, done []int32) error {
	var rest []int32
	for i, j := 0, 0; i < s.n; i++ {
		if j < len(done) && done[j] == int32(i) {
			j++
			continue
		}
		rest = append(rest, int32(i))
	}
	for q, r := range inc.plan.readers {
		parallel(len(rest), func(a, b int) { actRows(rest[a:b], s.pre[q], s.ref[q], r.out, r.relu) })
	}
	idx := make([]int32, s.n)
	for i := range idx {
		idx[i] = int32(i)
	}
	for lo := 0; lo < s.n; lo += chunk {
		hi := min(lo+chunk, s.n)
		feeds := map[string][]float32{}
		for q, r := range inc.plan.readers {
			feeds[r.l.Name] = s.ref[q][lo*r.out : hi*r.out]
		}
		if err := inc.head(s, idx[lo:hi], feeds); err != nil {
			return err
		}
	}
	return nil
}

// head runs the layers after the readers on feeds (their outputs for images part) and sets
// the images' predictions and slacks.
func (inc *incremental) head(s *incSet, part []int32, feeds map[string][]float32) error {
	out := inc.cfg.Model.Output
	k := out.Units
	if !inc.fused {
		res, err := inc.net.Run(feeds, len(part), out.Name)
		if err != nil {
			return err
		}
		parallel(len(part), func(a, b int) {
			top(part[a:b], res[0][a*k:b*k], k, nil, inc.plan.colNorm, s.preds, s.slack)
		})
		return nil
	}
	res, err := inc.net.Run(feeds, len(part), out.Inputs[0].Name)
	if err != nil {
		return err
	}
	h, d := res[0], out.InShape[0]
	inc.z = grow(inc.z, zChunk*k)
	for a := 0; a < len(part); a += zChunk {
		b := min(a+zChunk, len(part))
		host.Gemm(b-a, k, d, h[a*d:b*d], out.W, inc.z, false)
		parallel(b-a, func(c, e int) {
			top(part[a+c:a+e], inc.z[c*k:e*k], k, out.B, inc.plan.colNorm, s.preds, s.slack)
		})
	}
	return nil
}

func grow(v []float32, n int) []float32 {
	if cap(v) < n {
		return make([]float32, n)
	}
	return v[:n]
}

// parallel splits [0, n) over the cores.
func parallel(n int, f func(lo, hi int)) {
	t := runtime.NumCPU()
	if n < 64 || t == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		lo, hi := n*w/t, n*(w+1)/t
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}
