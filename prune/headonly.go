package prune

import (
	"time"

	"goodnet/nn"
)

// The head-only sweep: re-run the layers after the cut on the images the channel touches
// (their features at the cut with the pruned channels zeroed).
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
func (h *headOnly) run(order []int, tr *trace, progress func(done, total int)) error {
	return runSteps(h, order, tr, progress)
}
func (h *headOnly) forwardTime() time.Duration { return 0 }
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
