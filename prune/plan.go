package prune

import (
	"fmt"
	"math"

	"goodnet/nn"
)

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
	// mass[c·S+s] is Σ over those updates of ‖w[woff : woff+width]‖₁: P[s, c]·mass bounds the
	// ℓ₁ size of what one cut value adds to the pre-activations (see rebase).
	mass []float64
	// bias is the pre-activation of an all-zero cut: the bias at every output position
	bias []float32
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
		r.setMass(S, C)
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
	for c := 0; c < C; c++ {
		for s := 0; s < S; s++ {
			m := 0.0
			for e := r.start[c][s]; e < r.start[c][s+1]; e++ {
				for _, w := range r.w[r.woff[c][e] : int(r.woff[c][e])+r.width] {
					m += math.Abs(float64(w))
				}
			}
			r.mass[c*S+s] = m
		}
	}
}
