package prune

import (
	"fmt"
	"time"

	"goodnet/nn"
)

// The seed's method: zero the pruned channel's weights and run the whole pruned net on every
// image, every step. For checks (--method brute) and graphs the other sweepers do not handle.
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
	means, err := cutMeans(net, cfg.Model, pt.cut, cfg.CleanValid)
	if err != nil {
		net.Close()
		return nil, err
	}
	b := &brute{cfg: cfg, net: net, pt: pt, pruned: cfg.Model.Clone(), meanAct: means}
	b.cur, err = b.predictAll(net)
	return b, err
}

// cutMeans is each channel's mean activation at the cut over the images of s. An engine whose
// nets are nn.ChannelSummers reduces where it computes (only the sums leave it); otherwise
// the features come here and are summed in float64.
func cutMeans(net nn.Net, m *nn.Model, cut *nn.Layer, s *nn.Set) ([]float64, error) {
	c := cut.OutShape[len(cut.OutShape)-1]
	cs, ok := net.(nn.ChannelSummer)
	if !ok {
		st, err := features(&Config{Model: m, CleanValid: s}, net, cut)
		if err != nil {
			return nil, err
		}
		return channelMeans(st[0].p, st[0].n, c), nil
	}
	sum := make([]float64, c)
	in := m.InputShape().Size()
	for lo := 0; lo < s.N; lo += chunk {
		hi := min(lo+chunk, s.N)
		part, err := cs.ChannelSums(map[string][]float32{m.Input.Name: s.X[lo*in : hi*in]}, hi-lo, cut.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Path, err)
		}
		if len(part) != c {
			return nil, fmt.Errorf("%s: the engine summed %d channels at %q, which has %d", s.Path, len(part), cut.Name, c)
		}
		for j, v := range part {
			sum[j] += v
		}
	}
	if s.N > 0 {
		cnt := float64(s.N * (cut.OutShape.Size() / c))
		for j := range sum {
			sum[j] /= cnt
		}
	}
	return sum, nil
}

func (b *brute) predictAll(net nn.Net) (preds, error) {
	var p preds
	for i, s := range b.cfg.sets() {
		if s == nil {
			continue
		}
		var err error
		if p[i], err = nn.Predict(net, s.X, s.N); err != nil {
			return p, fmt.Errorf("%s: %w", s.Path, err)
		}
	}
	return p, nil
}

func (b *brute) method() Method     { return Brute }
func (b *brute) means() []float64   { return b.meanAct }
func (b *brute) predictions() preds { return b.cur }
func (b *brute) close()             { b.net.Close() }
func (b *brute) stats() *Stats      { return nil }
func (b *brute) run(order []int, tr *trace, progress func(done, total int)) error {
	return runSteps(b, order, tr, progress)
}
func (b *brute) forwardTime() time.Duration { return 0 }

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
