package prune

import (
	"fmt"
	"math"

	"goodnet/nn"
)

// reader is a layer that reads the cut linearly: a Dense after Flatten, or a Conv2D. Its
// pre-activations are kept per image and updated by subtracting the pruned channel's share.
type reader struct {
	l     *nn.Layer
	out   int  // values per image
	off   int  // where they start among an image's pre-activations (all readers')
	relu  bool // its activation (else linear)
	w     []float32
	width int // length of one weight row (units or filters)
	// Cut value (c, s) — channel c at position s — contributes through the entries
	// [start[c·S+s], start[c·S+s+1]): pre[dst[e] : dst[e]+width] += P[s, c] · w[woff[e] : woff[e]+width].
	start, dst, woff []int32
	// mass[c·S+s] is Σ over those entries of ‖w[woff : woff+width]‖₁: P[s, c]·mass bounds the
	// ℓ₁ size of what one cut value adds to the pre-activations (see rebaseRatio).
	mass []float64
	// bias is the pre-activation of an all-zero cut: the bias at every output position
	bias []float32
}

// Activation codes of the sweep's C kernels.
const (
	actNone  = 0
	actReLU  = 1
	actLeaky = 2
)

// headOp is one layer of the head, the layers between the readers and the output's logits.
type headOp struct {
	l     *nn.Layer
	in    []int // value buffers read
	out   int   // value buffer written
	act   int   // actNone, actReLU (Dense, Act) or actLeaky (Act)
	alpha float32
	// Dense: the kernel (in × n) and bias (nil: none); for the output layer n is its units
	// rounded up to outPad, the columns past them zero (whole vectors in the kernel)
	w, b []float32
	n    int
}

// outPad is what the output layer's width is rounded up to: the widest vector.
const outPad = 16

// incPlan is what the incremental sweep needs to know of the graph after the cut: the readers,
// and the head as a program on value buffers (buffer q < len(readers): reader q's output;
// every op writes a new one; the last op is the output layer, whose buffer holds the logits).
type incPlan struct {
	readers []*reader
	po      int // pre-activation values per image, all readers
	ops     []headOp
	sizes   []int // values per image of each buffer
}

// planIncremental checks that every consumer of the cut (through Flatten and Dropout) is a
// Dense (after a Flatten) or a Conv2D (before any Flatten), linear or ReLU, that the output
// is a Dense fed only by what the readers compute, through Dense, Add, activation (not
// softmax), Flatten and Dropout layers, and lays out the head. Returns nil and the reason when
// the graph does not fit.
func planIncremental(m *nn.Model, cut *nn.Layer) (*incPlan, string) {
	S := cut.OutShape.Size() / cut.OutShape[len(cut.OutShape)-1]
	C := cut.OutShape[len(cut.OutShape)-1]
	p := &incPlan{}
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
				if u.Act != nn.Linear && u.Act != nn.ReLU {
					return fmt.Sprintf("%q (%s) reads the cut with activation %s", u.Name, u.Kind, u.Act)
				}
				r := newReader(u, cut, S, C)
				r.off = p.po
				p.po += r.out
				p.readers = append(p.readers, r)
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
	if out.Kind != nn.Dense || len(p.readers) == 0 {
		return nil, "the output layer is not a Dense"
	}
	feeds := map[string][]float32{}
	buf := map[*nn.Layer]int{}
	for q, r := range p.readers {
		feeds[r.l.Name] = nil
		buf[r.l] = q
		p.sizes = append(p.sizes, r.out)
	}
	if _, err := nn.CheckFeeds(m, feeds, 0, []string{out.Name}); err != nil {
		return nil, "the output depends on layers before the cut"
	}
	for _, l := range nn.Plan(m, feeds, []*nn.Layer{out}) {
		var ins []int
		for _, in := range l.Inputs {
			ins = append(ins, buf[in])
		}
		op := headOp{l: l, in: ins, out: len(p.sizes)}
		switch {
		case l.Kind == nn.Flatten || l.Kind == nn.Dropout || (l.Kind == nn.Act && l.Act == nn.Linear):
			buf[l] = ins[0]
			continue
		case l.Kind == nn.Dense && (l.Act == nn.Linear || l.Act == nn.ReLU || (l == out && l.Act == nn.Softmax)):
			// a softmax output is argmax'd on its logits, as the engines do
			if l.Act == nn.ReLU {
				op.act = actReLU
			}
			op.w, op.n = l.W, l.Units
			if len(l.B) > 0 {
				op.b = l.B
			}
			if l == out {
				op.w, op.b, op.n = padColumns(l.W, l.B, l.InShape[0], l.Units, outPad)
			}
		case l.Kind == nn.Add:
		case l.Kind == nn.Act && l.Act == nn.ReLU:
			op.act = actReLU
		case l.Kind == nn.Act && l.Act == nn.LeakyReLU:
			op.act, op.alpha = actLeaky, float32(l.Alpha)
		default:
			return nil, fmt.Sprintf("%q (%s, %s) after the cut", l.Name, l.Kind, l.Act)
		}
		buf[l] = op.out
		size := l.OutShape.Size()
		if op.n > 0 {
			size = op.n
		}
		p.sizes = append(p.sizes, size)
		p.ops = append(p.ops, op)
	}
	if len(p.ops) == 0 || p.ops[len(p.ops)-1].l != out {
		return nil, "the output layer is not a Dense" // not reached: the output is a Dense
	}
	return p, ""
}

// padColumns returns the k × n kernel w and bias b (nil: none) with n rounded up to a
// multiple of pad, the new columns zero.
func padColumns(w, b []float32, k, n, pad int) (wp, bp []float32, np int) {
	np = (n + pad - 1) / pad * pad
	wp = make([]float32, k*np)
	for r := 0; r < k; r++ {
		copy(wp[r*np:r*np+n], w[r*n:(r+1)*n])
	}
	if len(b) > 0 {
		bp = make([]float32, np)
		copy(bp, b)
	}
	return wp, bp, np
}

func newReader(l, cut *nn.Layer, S, C int) *reader {
	r := &reader{l: l, out: l.OutShape.Size(), relu: l.Act == nn.ReLU, w: l.W, start: make([]int32, C*S+1)}
	if l.Kind == nn.Dense {
		r.width = l.Units
		for c := 0; c < C; c++ {
			for s := 0; s < S; s++ {
				r.dst = append(r.dst, 0)
				r.woff = append(r.woff, int32((s*C+c)*l.Units))
				r.start[c*S+s+1] = int32(len(r.dst))
			}
		}
		r.setMass(S, C)
		return r
	}
	// Conv2D reading the cut: output (i, j) tap (di, dj) reads cut position (y, x).
	r.width = l.Filters
	H, W := cut.OutShape[0], cut.OutShape[1]
	OH, OW := l.OutShape[0], l.OutShape[1]
	pt, pl := l.Pads()
	for c := 0; c < C; c++ {
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				for i := 0; i < OH; i++ {
					for j := 0; j < OW; j++ {
						di, dj := y-(i*l.Strides[0]-pt), x-(j*l.Strides[1]-pl)
						if di < 0 || di >= l.Size[0] || dj < 0 || dj >= l.Size[1] {
							continue
						}
						r.dst = append(r.dst, int32((i*OW+j)*l.Filters))
						r.woff = append(r.woff, int32(((di*l.Size[1]+dj)*C+c)*l.Filters))
					}
				}
				r.start[c*S+y*W+x+1] = int32(len(r.dst))
			}
		}
	}
	r.setMass(S, C)
	return r
}

func (r *reader) setMass(S, C int) {
	r.bias = make([]float32, r.out)
	if r.l.B != nil {
		for i := range r.bias {
			r.bias[i] = r.l.B[i%r.width]
		}
	}
	r.mass = make([]float64, C*S)
	for cs := range r.mass {
		m := 0.0
		for e := r.start[cs]; e < r.start[cs+1]; e++ {
			for _, w := range r.w[r.woff[e] : int(r.woff[e])+r.width] {
				m += math.Abs(float64(w))
			}
		}
		r.mass[cs] = m
	}
}
