package prune

import (
	"fmt"

	"goodnet/nn"
)

// The seed's method: zero the pruned channel's weights and run the whole pruned net on every
// image, every step. For checks (--method brute) and graphs the other sweepers do not handle.
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
	st, err := features(&Config{Model: cfg.Model, CleanValid: cfg.CleanValid}, net, cut)
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
func (b *brute) stats() *Stats      { return nil }

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
