package prune

import (
	"fmt"
	"runtime"

	"goodnet/internal/simd"
	"goodnet/nn"
)

// The incremental sweep (see the package doc and README "The sweep, incrementally"): each
// set's features at the cut and the readers' pre-activations are computed once; each step
// subtracts the pruned channel's share from the pre-activations of the images it touches,
// certifies the unchanged predictions (certificate.go) and recomputes the head exactly for the
// others.

type incSet struct {
	n        int
	pc       []float32   // n × C × S features at the cut, channel-major (setState.p transposed)
	preds    []int32     // current predictions
	pre, ref [][]float32 // per reader: n × out pre-activations, and outputs at the last refresh
	slack    []float64   // how far h may move (‖Δh‖₂) before the prediction could change
	mask     []uint64    // per image, words bits: channel c of the cut is non-zero somewhere
	// per reader and image: the ℓ₁ mass of the cut values its pre-activations held when last
	// computed exactly, and the mass removed since (see rebase)
	total, removed [][]float64
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
	// gemm, when the engine is an nn.Gemmer and the output is not ReLU'd: the output layer
	// runs here (the engine's GEMM on host memory, then argmax and slack in one pass) on the
	// engine's h; else (nil) the engine computes the logits.
	gemm nn.Gemmer
	isa  simd.ISA // the variant of the sweep's kernels (sweep.c)
	// pruned are the channels pruned so far, also as a mask (words bits)
	pruned     []bool
	prunedMask []uint64
	st         Stats
	// scratch of refresh
	feeds  [][]float32
	z      []float32
	pinner runtime.Pinner
}

// zChunk is how many images the fused output layer takes at once (the logits stay in cache).
const zChunk = 256

func newIncremental(cfg *Config, cut *nn.Layer, plan *incPlan) (*incremental, error) {
	m := cfg.Model
	inc := &incremental{cfg: cfg, cut: cut, plan: plan, isa: simd.Best()}
	inc.C = cut.OutShape[len(cut.OutShape)-1]
	inc.S = cut.OutShape.Size() / inc.C
	inc.words = (inc.C + 63) / 64
	inc.pruned = make([]bool, inc.C)
	inc.prunedMask = make([]uint64, inc.words)
	if g, ok := cfg.Backend.(nn.Gemmer); ok && m.Output.Act != nn.ReLU {
		inc.gemm = g
	}
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
			is.total = append(is.total, make([]float64, s.N))
			is.removed = append(is.removed, make([]float64, s.N))
		}
		p := make([]float32, s.N*fs)
		for lo := 0; lo < s.N; lo += chunk {
			hi := min(lo+chunk, s.N)
			out, err := net.Run(map[string][]float32{m.Input.Name: s.X[lo*in : hi*in]}, hi-lo, outs...)
			if err != nil {
				net.Close()
				return nil, fmt.Errorf("%s: %w", s.Path, err)
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
			return nil, fmt.Errorf("%s: %w", s.Path, err)
		}
		inc.st.Images += s.N
	}
	inc.pin()
	for _, s := range inc.sets {
		if s != nil {
			inc.initMass(s)
		}
	}
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

func (inc *incremental) prune(ch int) (preds, error) {
	inc.pruned[ch] = true
	inc.prunedMask[ch/64] |= 1 << (ch % 64)
	var active, refreshed int
	for _, s := range inc.sets {
		if s == nil {
			continue
		}
		idx := activeByMask(s.mask, s.n, inc.words, ch)
		list, reb := inc.step(s, idx, ch)
		if len(reb) > 0 {
			if err := inc.rebase(s, reb); err != nil {
				return preds{}, err
			}
			list = union(list, reb)
		}
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

// rebaseRatio bounds the rounding of the updates. Subtracting channel c's share from a
// pre-activation rounds at a few ulps of the share, so after many steps the pre-activations
// are off by a few ulps of all that was removed, while computing them afresh would round at a
// few ulps of what they still hold (a dot product of a few thousand terms: tens of ulps of
// it). Once a reader has removed more than rebaseRatio times the ℓ₁ mass of the cut values it
// still reads, its pre-activations are recomputed (rebase): they are then never much less
// exact than a fresh computation's, even when one channel outweighs the rest by orders of
// magnitude.
const rebaseRatio = 64

// rebase recomputes exactly the readers' pre-activations of images idx (sorted) of s, sets
// their references to the readers' outputs and restarts their mass accounting. An image whose
// cut is all zero now (every channel it has is pruned) gets the readers' biases; the others
// are run from the cut, the pruned channels zeroed.
func (inc *incremental) rebase(s *incSet, idx []int32) error {
	var run, empty []int32
	for _, i := range idx {
		rest := uint64(0)
		for w, m := range s.mask[int(i)*inc.words : int(i+1)*inc.words] {
			rest |= m &^ inc.prunedMask[w]
		}
		if rest == 0 {
			empty = append(empty, i)
		} else {
			run = append(run, i)
		}
	}
	for q, r := range inc.plan.readers {
		for _, i := range empty {
			copy(s.pre[q][int(i)*r.out:int(i+1)*r.out], r.bias)
		}
	}
	fs := inc.S * inc.C
	names := make([]string, len(inc.plan.readers))
	for q, r := range inc.plan.readers {
		names[q] = r.l.Name
	}
	for lo := 0; lo < len(run); lo += chunk {
		part := run[lo:min(lo+chunk, len(run))]
		feed := make([]float32, len(part)*fs)
		for j, i := range part {
			row, pc := feed[j*fs:(j+1)*fs], s.pc[int(i)*fs:int(i+1)*fs]
			for c := 0; c < inc.C; c++ {
				if inc.pruned[c] {
					continue
				}
				for q := 0; q < inc.S; q++ {
					row[q*inc.C+c] = pc[c*inc.S+q]
				}
			}
		}
		out, err := inc.net.Run(map[string][]float32{inc.cut.Name: feed}, len(part), names...)
		if err != nil {
			return err
		}
		for q, r := range inc.plan.readers {
			for j, i := range part {
				copy(s.pre[q][int(i)*r.out:int(i+1)*r.out], out[q][j*r.out:(j+1)*r.out])
			}
		}
	}
	for q, r := range inc.plan.readers {
		for _, i := range idx {
			s.total[q][i] -= s.removed[q][i]
			s.removed[q][i] = 0
		}
		actRows(inc.isa, idx, s.pre[q], s.ref[q], r.out, r.relu)
	}
	inc.st.Rebased += len(idx)
	return nil
}

// union merges two sorted lists of images.
func union(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
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
		parallel(len(rest), func(a, b int) { actRows(inc.isa, rest[a:b], s.pre[q], s.ref[q], r.out, r.relu) })
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
	if inc.gemm == nil {
		res, err := inc.net.Run(feeds, len(part), out.Name)
		if err != nil {
			return err
		}
		parallel(len(part), func(a, b int) {
			top(inc.isa, part[a:b], res[0][a*k:b*k], k, nil, inc.plan.colNorm, s.preds, s.slack)
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
		inc.gemm.Gemm(b-a, k, d, h[a*d:b*d], out.W, inc.z, false)
		parallel(b-a, func(c, e int) {
			top(inc.isa, part[a+c:a+e], inc.z[c*k:e*k], k, out.B, inc.plan.colNorm, s.preds, s.slack)
		})
	}
	return nil
}
