package prune

import (
	"fmt"
	"time"

	"goodnet/nn"
)

// A sweeper computes the predictions of the four sets at every step.
type sweeper interface {
	method() Method
	// means is each channel's mean activation at the cut over the clean validation set.
	means() []float64
	// run prunes order[k-1] at step k, cumulatively, and puts every set's predictions at
	// steps 0 (B) to len(order) into tr; progress, if set, is called as the work advances
	// (done of total, in the sweeper's units).
	run(order []int, tr *trace, progress func(done, total int)) error
	// forwardTime is how long run's forward passes to the cut took (the features of the sets
	// that stream through the sweep, computed while it sweeps the chunk before; 0: none).
	forwardTime() time.Duration
	// stats says how much work the steps took (nil: not counted).
	stats() *Stats
	close()
}

// Stats say how the incremental sweep spent its work. Per step (from step 1): Active counts
// the images (all sets together) whose pruned channel was non-zero somewhere at the cut, the
// only ones whose prediction can change, and whose head was recomputed. Images is the total
// over the sets.
type Stats struct {
	Images int   `json:"images"`
	Active []int `json:"active"`
	// Rebased counts the image-steps whose readers' pre-activations were recomputed afresh
	// (see rebaseRatio).
	Rebased int `json:"rebased"`
}

// trace holds the predictions: preds[k][i] of set i (clean valid, bad valid, clean test,
// bad test; nil when absent) after step k (0: B).
type trace struct {
	preds [][4][]int32
}

func newTrace(cfg *Config, steps int) *trace {
	tr := &trace{preds: make([][4][]int32, steps+1)}
	for i, s := range cfg.sets() {
		if s == nil {
			continue
		}
		all := make([]int32, (steps+1)*s.N)
		for k := range tr.preds {
			tr.preds[k][i] = all[k*s.N : (k+1)*s.N : (k+1)*s.N]
		}
	}
	return tr
}

// chunk is how many images one engine call takes (bounds the memory of intermediate layers;
// a variable for the tests).
var chunk = Chunk

// Chunk is how many images of a set the sweeps give the engine at once: the incremental
// sweep holds at most two chunks of a streamed set's images (nn.Set.Src) at a time.
const Chunk = 2048

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
				return st, fmt.Errorf("%s: %w", s.Path, err)
			}
			copy(ss.p[lo*fs:], out[0])
			copy(ss.preds[lo:], nn.Argmax(out[1], hi-lo, k))
		}
		st[i] = ss
	}
	return st, nil
}

// channelSums adds p (images × positions × c) per channel to sum, in float64, value after
// value.
func channelSums(p []float32, c int, sum []float64) {
	for i := 0; i < len(p); i += c {
		for j, v := range p[i : i+c] {
			sum[j] += float64(v)
		}
	}
}

// meansOf divides the sums by cnt (the values summed per channel); all zero when cnt is 0.
func meansOf(sum []float64, cnt int) []float64 {
	if cnt > 0 {
		for j := range sum {
			sum[j] /= float64(cnt)
		}
	}
	return sum
}

// channelMeans averages p (n × S × C) per channel in float64.
func channelMeans(p []float32, n, c int) []float64 {
	sum := make([]float64, c)
	if n == 0 {
		return sum
	}
	channelSums(p, c, sum)
	return meansOf(sum, len(p)/c)
}

func newSweeper(cfg *Config, pt *point) (sweeper, error) {
	cut := pt.cut
	if cfg.Method == Incremental {
		if plan, _ := planIncremental(cfg.Model, cut); plan != nil {
			return newIncremental(cfg, cut, plan)
		}
		// else the head has layers the incremental sweep does not handle
	}
	// the other sweeps hold every set whole
	for _, s := range cfg.sets() {
		if s != nil {
			if err := s.Load(); err != nil {
				return nil, err
			}
		}
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

// stepper is a sweeper that advances all sets one step at a time.
type stepper interface {
	// predictions are the current predictions (before any prune: B's).
	predictions() preds
	// prune zeroes one more channel and returns the new predictions.
	prune(ch int) (preds, error)
}

// preds holds one step's predictions for the four sets (nil for absent sets).
type preds [4][]int32

// runSteps is run for a stepper: one step after the other, progress in steps.
func runSteps(s stepper, order []int, tr *trace, progress func(done, total int)) error {
	for i, p := range s.predictions() {
		copy(tr.preds[0][i], p)
	}
	for k, ch := range order {
		p, err := s.prune(ch)
		if err != nil {
			return err
		}
		for i := range p {
			copy(tr.preds[k+1][i], p[i])
		}
		if progress != nil {
			progress(k+1, len(order))
		}
	}
	return nil
}
