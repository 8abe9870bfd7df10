package prune

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

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
	close()
}

// chunk is how many images one engine call takes (bounds the memory of intermediate layers).
const chunk = 2048

// setState is one set's data at the cut.
type setState struct {
	n     int
	p     []float32 // n × S × C pooled features at the cut (HeadOnly zeroes pruned channels)
	preds []int32
}

// features runs every set through B once: the features at the cut, B's predictions, and (for
// the incremental sweep) B's logits, passed to onLogits chunk by chunk.
func features(cfg *Config, net nn.Net, cut *nn.Layer, onLogits func(set, lo int, logits []float32)) ([4]*setState, error) {
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
			if onLogits != nil {
				onLogits(i, lo, out[1])
			}
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

func newSweeper(cfg *Config, conv, cut *nn.Layer) (sweeper, error) {
	net, err := cfg.Backend.Compile(cfg.Model)
	if err != nil {
		return nil, err
	}
	if cfg.Method == Brute {
		return newBrute(cfg, net, conv, cut)
	}
	if cfg.Method == Incremental {
		if plan, why := planIncremental(cfg.Model, cut); plan != nil {
			return newIncremental(cfg, net, cut, plan)
		} else {
			_ = why // the head has layers the incremental sweep does not handle
		}
	}
	if _, err := nn.CheckFeeds(cfg.Model, map[string][]float32{cut.Name: nil}, 0, []string{cfg.Model.Output.Name}); err == nil {
		return newHeadOnly(cfg, net, cut)
	}
	return newBrute(cfg, net, conv, cut) // the output also depends on layers before the cut
}

// ---- Brute force: the seed's method ----

type brute struct {
	cfg       *Config
	net       nn.Net
	conv      *nn.Layer
	pruned    *nn.Model
	meanAct   []float64
	cur       preds
	skipSlice [4]bool
}

func newBrute(cfg *Config, net nn.Net, conv, cut *nn.Layer) (*brute, error) {
	st, err := features(&Config{Model: cfg.Model, CleanValid: cfg.CleanValid}, net, cut, nil)
	if err != nil {
		net.Close()
		return nil, err
	}
	b := &brute{cfg: cfg, net: net, conv: conv, pruned: cfg.Model.Clone(),
		meanAct: channelMeans(st[0].p, st[0].n, cut.OutShape[len(cut.OutShape)-1])}
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

func (b *brute) prune(ch int) (preds, error) {
	zeroChannel(b.pruned.Layer(b.conv.Name), ch)
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
	st, err := features(cfg, net, cut, nil)
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
	colNorm []float64 // ‖column j of the output layer's kernel‖₂
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
	for j := range norms {
		norms[j] = math.Sqrt(norms[j])
	}
	return &incPlan{readers: readers, colNorm: norms}, ""
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
	*setState
	pre, ref [][]float32 // per reader: n × out pre-activations, and outputs at the last refresh
	slack    []float64   // how far h may move (‖Δh‖₂) before the prediction could change
}

type incremental struct {
	cfg     *Config
	net     nn.Net
	cut     *nn.Layer
	plan    *incPlan
	sets    [4]*incSet
	meanAct []float64
	S, C    int
}

func newIncremental(cfg *Config, net nn.Net, cut *nn.Layer, plan *incPlan) (*incremental, error) {
	m := cfg.Model
	inc := &incremental{cfg: cfg, net: net, cut: cut, plan: plan}
	inc.C = cut.OutShape[len(cut.OutShape)-1]
	inc.S = cut.OutShape.Size() / inc.C
	k := m.NumClasses()
	for i, s := range cfg.sets() {
		if s != nil {
			inc.sets[i] = &incSet{slack: make([]float64, s.N)}
		}
	}
	st, err := features(cfg, net, cut, func(set, lo int, logits []float32) {
		sl := inc.sets[set].slack
		for j := 0; j < len(logits)/k; j++ {
			sl[lo+j] = plan.slack(logits[j*k : (j+1)*k])
		}
	})
	if err != nil {
		net.Close()
		return nil, err
	}
	inc.meanAct = channelMeans(st[0].p, st[0].n, inc.C)
	// The readers' pre-activations: a copy of B whose readers are linear, run from the cut.
	lin := m.Clone()
	var names []string
	for _, r := range plan.readers {
		lin.Layer(r.l.Name).Act = nn.Linear
		names = append(names, r.l.Name)
	}
	linNet, err := cfg.Backend.Compile(lin)
	if err != nil {
		net.Close()
		return nil, err
	}
	defer linNet.Close()
	fs := cut.OutShape.Size()
	for i, s := range inc.sets {
		if s == nil {
			continue
		}
		s.setState = st[i]
		for _, r := range plan.readers {
			s.pre = append(s.pre, make([]float32, s.n*r.out))
			s.ref = append(s.ref, make([]float32, s.n*r.out))
		}
		for lo := 0; lo < s.n; lo += chunk {
			hi := min(lo+chunk, s.n)
			out, err := linNet.Run(map[string][]float32{cut.Name: s.p[lo*fs : hi*fs]}, hi-lo, names...)
			if err != nil {
				net.Close()
				return nil, err
			}
			for q, r := range plan.readers {
				copy(s.pre[q][lo*r.out:], out[q])
				copy(s.ref[q][lo*r.out:], out[q])
				if r.relu {
					relu(s.ref[q][lo*r.out : hi*r.out])
				}
			}
		}
	}
	return inc, nil
}

func relu(v []float32) {
	for i, x := range v {
		if x < 0 {
			v[i] = 0
		}
	}
}

// slack is, for one image's logits z with top class t, the smallest ‖Δh‖₂ that could change
// the argmax: min over j ≠ t of (z_t − z_j − ε) / (‖w_t‖ + ‖w_j‖), since |Δz_j| ≤ ‖w_j‖·‖Δh‖.
// ε covers float32 rounding of the logits. A class tied with the top gives slack ≤ 0.
func (p *incPlan) slack(z []float32) float64 {
	t := 0
	for j := range z {
		if z[j] > z[t] {
			t = j
		}
	}
	s := math.Inf(1)
	zt := float64(z[t])
	for j := range z {
		if j == t {
			continue
		}
		zj := float64(z[j])
		eps := 1e-5*(math.Abs(zt)+math.Abs(zj)) + 1e-6
		if v := (zt - zj - eps) / (p.colNorm[t] + p.colNorm[j]); v < s {
			s = v
		}
	}
	return s
}

func (inc *incremental) method() Method   { return Incremental }
func (inc *incremental) means() []float64 { return inc.meanAct }
func (inc *incremental) close()           { inc.net.Close() }
func (inc *incremental) predictions() preds {
	var p preds
	for i, s := range inc.sets {
		if s != nil {
			p[i] = s.preds
		}
	}
	return p
}

// safety widens the bound on ‖Δh‖₂ for float32 rounding in the readers' outputs.
const safety = 1 + 1e-3

func (inc *incremental) prune(ch int) (preds, error) {
	for _, s := range inc.sets {
		if s == nil {
			continue
		}
		idx := activeImages(s.p, s.n, inc.S, inc.C, ch)
		bound := make([]float64, len(idx))
		parallel(len(idx), func(lo, hi int) {
			for q, r := range inc.plan.readers {
				applyUpdates(idx[lo:hi], s.p, inc.S, inc.C, ch, r, s.pre[q])
				deltaNorms(idx[lo:hi], s.pre[q], s.ref[q], r.out, r.relu, r.gain, bound[lo:hi])
			}
		})
		var refresh []int32
		for j, i := range idx {
			if bound[j]*safety >= s.slack[i] {
				refresh = append(refresh, i)
			}
		}
		if err := inc.refresh(s, refresh); err != nil {
			return preds{}, err
		}
	}
	return inc.predictions(), nil
}

// refresh computes the exact predictions of images whose certificate failed, from the
// readers' current outputs, and makes those outputs the new reference.
func (inc *incremental) refresh(s *incSet, idx []int32) error {
	m := inc.cfg.Model
	k := m.NumClasses()
	for lo := 0; lo < len(idx); lo += chunk {
		part := idx[lo:min(lo+chunk, len(idx))]
		feeds := map[string][]float32{}
		for q, r := range inc.plan.readers {
			f := make([]float32, len(part)*r.out)
			for j, i := range part {
				row := f[j*r.out : (j+1)*r.out]
				copy(row, s.pre[q][int(i)*r.out:int(i+1)*r.out])
				if r.relu {
					relu(row)
				}
				copy(s.ref[q][int(i)*r.out:], row)
			}
			feeds[r.l.Name] = f
		}
		out, err := inc.net.Run(feeds, len(part), m.Output.Name)
		if err != nil {
			return err
		}
		for j, i := range part {
			z := out[0][j*k : (j+1)*k]
			s.preds[i] = nn.Argmax(z, 1, k)[0]
			s.slack[i] = inc.plan.slack(z)
		}
	}
	return nil
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
