package prune

import (
	"fmt"
	"runtime"
	"sync"

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
	// Rebased counts the image-steps whose readers' pre-activations were recomputed exactly
	// (see rebaseRatio).
	Rebased int `json:"rebased"`
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
				return st, fmt.Errorf("%s: %w", s.Path, err)
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
