// Package prune is the Fine-Pruning defense as our user specifies it:
//
//  1. cut B at the last pooling layer (the MaxPooling2D fed by the pruned conv layer) and run
//     the clean validation set through it; take each channel's mean activation over samples,
//     rows and columns (float64 accumulation);
//  2. sort the channels ascending (ties keep channel-index order);
//  3. prune them one at a time, cumulatively: zero the conv's kernel[..., c] and bias[c];
//     after each step measure clean accuracy (validation, test) and attack success rate
//     (poisoned validation, poisoned test);
//  4. keep B' at the first step where validation accuracy has dropped by ≥ each threshold.
//
// Zeroing conv channel c makes its output exactly 0, so after ReLU and max-pool the cut's
// channel c is 0 and nothing before the cut changes. The sweep therefore computes each set's
// pooled features once and, per step, only updates what channel c feeds (see sweep.go).
package prune

import (
	"context"
	"fmt"
	"math"
	"runtime/pprof"
	"sort"
	"time"

	"goodnet/goodnet"
	"goodnet/nn"
)

// Config is one pruning run.
type Config struct {
	Model *nn.Model // B, with weights
	// Layer is the layer to prune (see point.go); "" → the default: the conv feeding the
	// last pooling layer (DeepID: conv_3), or the activation before global pooling.
	Layer                string
	CleanValid, BadValid *nn.Set
	CleanTest, BadTest   *nn.Set   // optional, both or neither
	Thresholds           []float64 // validation accuracy drops in percent; nil → 2, 4, 10
	MaxSteps             int       // 0 → every channel
	Backend              nn.Backend
	// Progress, if set, is called after each step with the steps done and the total.
	Progress func(done, total int)
	// Method picks the sweep: Incremental (default) or Brute (full forward of the pruned net
	// every step, as the seed does; for checks).
	Method Method
}

// Method is how the sweep computes each step's predictions.
type Method int

const (
	// Incremental updates only what the pruned channel feeds after the cut (see sweep.go).
	Incremental Method = iota
	// HeadOnly re-runs the layers after the cut on the images whose pruned channel is
	// non-zero (used when the graph after the cut has layers Incremental does not handle).
	HeadOnly
	// Brute zeroes the weights and runs the whole pruned net on every image every step.
	Brute
)

func (m Method) String() string {
	return [...]string{"incremental", "head-only", "brute-force"}[m]
}

// Metrics are the accuracies of one step in percent (0–100); test values are NaN without
// test sets.
type Metrics struct {
	CleanValid float64 `json:"clean_valid_acc"`
	ASRValid   float64 `json:"asr_valid"`
	CleanTest  float64 `json:"clean_test_acc"`
	ASRTest    float64 `json:"asr_test"`
}

// Step is the state after pruning one more channel.
type Step struct {
	Step     int     `json:"step"`
	Channel  int     `json:"channel"`
	Fraction float64 `json:"fraction_pruned"`
	Metrics
}

// GoodNetMetrics are G(B, B')'s numbers on a pair of sets, in percent.
type GoodNetMetrics struct {
	CleanAcc float64 `json:"clean_acc"`
	ASR      float64 `json:"asr"`
	Flagged  float64 `json:"flagged"`
	On       string  `json:"on"` // "test" or "validation"
}

// Saved is B' at a threshold.
type Saved struct {
	Threshold      float64        `json:"threshold"`
	Step           int            `json:"step"`
	PrunedChannels []int          `json:"pruned_channels"`
	Metrics        Metrics        `json:"metrics"`
	GoodNet        GoodNetMetrics `json:"goodnet_test"`
	Model          *nn.Model      `json:"-"`
}

// Result is everything a pruning run measured.
type Result struct {
	Model          string             `json:"model"`
	Layer          string             `json:"layer"`
	Cut            string             `json:"cut"`
	Channels       int                `json:"channels"`
	Order          []int              `json:"order"`
	MeanActivation []float64          `json:"mean_activation"`
	Baseline       Metrics            `json:"baseline"`
	Steps          []Step             `json:"steps"`
	Saved          []Saved            `json:"saved"`
	Unreached      []float64          `json:"unreached_thresholds"`
	Thresholds     []float64          `json:"thresholds"`
	Timings        map[string]float64 `json:"timings_s"`
	Device         string             `json:"device"`
	Method         string             `json:"method"`
	// Stats count the incremental sweep's work (nil for the other methods).
	Stats *Stats `json:"stats,omitempty"`
}

// Target resolves the layer to prune (--layer; "" → the default, see point.go) and the cut
// layer whose output the sweep starts from: for the lab's DeepID conv_3 and pool_3.
func Target(m *nn.Model, layer string) (x, cut *nn.Layer, err error) {
	p, err := resolve(m, layer)
	if err != nil {
		return nil, nil, err
	}
	return p.x, p.cut, nil
}

// LayerError says why the layer to prune (Config.Layer, or the default when Layer is "")
// cannot be pruned.
type LayerError struct {
	Layer   string // the name given; "" when none was
	Problem string // for a named layer, what follows its quoted name: `: no such layer …`, ` is a Dense, …`
}

func (e *LayerError) Error() string {
	if e.Layer == "" {
		return e.Problem
	}
	return fmt.Sprintf("layer %q%s", e.Layer, e.Problem)
}

// ZeroChannels returns a copy of m with channels chans pruned at layer (see point.go; for a
// conv, kernel[..., c] and bias[c] zeroed): B' as the seed makes it.
func ZeroChannels(m *nn.Model, layer string, chans []int) *nn.Model {
	p, err := resolve(m, layer)
	if err != nil {
		panic("prune: ZeroChannels: " + err.Error())
	}
	c := m.Clone()
	for _, ch := range chans {
		p.zero(c, ch)
	}
	return c
}

// ChannelOrder returns the channels sorted by ascending mean, ties in channel-index order.
func ChannelOrder(means []float64) []int {
	order := make([]int, len(means))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return means[order[i]] < means[order[j]] })
	return order
}

func (c *Config) check() error {
	if c.Model == nil || c.Backend == nil {
		return fmt.Errorf("prune: model and backend are required")
	}
	if c.CleanValid == nil || c.BadValid == nil {
		return fmt.Errorf("prune: the clean and poisoned validation sets are required")
	}
	if (c.CleanTest == nil) != (c.BadTest == nil) {
		return fmt.Errorf("prune: give both test sets (clean and poisoned) or neither")
	}
	for _, t := range c.Thresholds {
		if !(t > 0 && t < 100) {
			return fmt.Errorf("threshold %g: must be in (0, 100)", t)
		}
	}
	if c.MaxSteps < 0 {
		return fmt.Errorf("max steps %d: must be ≥ 0", c.MaxSteps)
	}
	for _, s := range c.sets() {
		if s == nil {
			continue
		}
		if err := s.CheckShape(c.Model.InputShape()); err != nil {
			return err
		}
		if s.N == 0 {
			return fmt.Errorf("%s: no images", s.Path)
		}
		if err := s.CheckLabels(c.Model.NumClasses()); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) sets() []*nn.Set {
	return []*nn.Set{c.CleanValid, c.BadValid, c.CleanTest, c.BadTest}
}

// Run runs the defense.
func Run(cfg Config) (*Result, error) {
	if cfg.Thresholds == nil {
		cfg.Thresholds = []float64{2, 4, 10}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pt, err := resolve(cfg.Model, cfg.Layer)
	if err != nil {
		return nil, err
	}
	conv, cut := pt.x, pt.cut
	res := &Result{Model: cfg.Model.Name, Layer: conv.Name, Cut: cut.Name, Channels: pt.channels,
		Timings: map[string]float64{}, Device: cfg.Backend.Describe(), Thresholds: cfg.Thresholds}
	if cfg.Model.Source != "" {
		res.Model = cfg.Model.Source
	}
	t0 := time.Now()
	// the phases are labelled for CPU profiles (--cpuprofile; goroutines inherit the label)
	defer pprof.SetGoroutineLabels(context.Background())
	setPhase("features")
	sw, err := newSweeper(&cfg, pt)
	if err != nil {
		return nil, err
	}
	defer sw.close()
	res.Method = sw.method().String()
	res.Timings["features"] = time.Since(t0).Seconds()

	res.MeanActivation = sw.means()
	res.Order = ChannelOrder(res.MeanActivation)
	steps := pt.channels
	if cfg.MaxSteps > 0 && cfg.MaxSteps < steps {
		steps = cfg.MaxSteps
	}

	t1 := time.Now()
	setPhase("sweep")
	tr := newTrace(&cfg, steps)
	var progress func(done, total int)
	if cfg.Progress != nil {
		reported := 0
		progress = func(done, total int) { // in steps, as the work advances
			if k := steps * done / total; k > reported {
				reported = k
				cfg.Progress(k, steps)
			}
		}
	}
	if err := sw.run(res.Order[:steps], tr, progress); err != nil {
		return nil, err
	}
	basePred := tr.preds[0]
	res.Baseline = metricsOf(&cfg, basePred)
	res.Steps = append(res.Steps, Step{Step: 0, Channel: -1, Metrics: res.Baseline})
	pending := append([]float64(nil), cfg.Thresholds...)
	sort.Float64s(pending)
	for k := 1; k <= steps; k++ {
		ch := res.Order[k-1]
		preds := tr.preds[k]
		m := metricsOf(&cfg, preds)
		res.Steps = append(res.Steps, Step{Step: k, Channel: ch, Fraction: float64(k) / float64(pt.channels), Metrics: m})
		drop := res.Baseline.CleanValid - m.CleanValid
		for len(pending) > 0 && drop >= pending[0]-1e-9 {
			chans := append([]int(nil), res.Order[:k]...)
			sort.Ints(chans)
			res.Saved = append(res.Saved, Saved{
				Threshold: pending[0], Step: k, PrunedChannels: chans, Metrics: m,
				GoodNet: goodnetMetrics(&cfg, basePred, preds),
				Model:   ZeroChannels(cfg.Model, conv.Name, chans),
			})
			pending = pending[1:]
		}
	}
	res.Unreached = pending
	res.Stats = sw.stats()
	if fwd := sw.forwardTime().Seconds(); fwd > 0 {
		res.Timings["sweep_forward"] = fwd
	}
	res.Timings["sweep"] = time.Since(t1).Seconds()
	return res, nil
}

func metricsOf(cfg *Config, p [4][]int32) Metrics {
	sets := cfg.sets()
	var v [4]float64
	for i, s := range sets {
		if s == nil {
			v[i] = math.NaN()
			continue
		}
		v[i] = percent(matches(p[i], s.Y), s.N)
	}
	return Metrics{CleanValid: v[0], ASRValid: v[1], CleanTest: v[2], ASRTest: v[3]}
}

func goodnetMetrics(cfg *Config, b, bp [4][]int32) GoodNetMetrics {
	ci, pi, on := 2, 3, "test"
	if cfg.CleanTest == nil {
		ci, pi, on = 0, 1, "validation"
	}
	sets := cfg.sets()
	n := int32(cfg.Model.NumClasses())
	gc := merge(b[ci], bp[ci], n)
	gp := merge(b[pi], bp[pi], n)
	return GoodNetMetrics{
		CleanAcc: percent(matches(gc, sets[ci].Y), sets[ci].N),
		ASR:      percent(matches(gp, sets[pi].Y), sets[pi].N),
		Flagged:  percent(goodnet.Count(gp, n), sets[pi].N),
		On:       on,
	}
}

func matches(p, y []int32) int { return goodnet.Matches(p, y) }

func merge(a, b []int32, n int32) []int32 { return goodnet.Merge(a, b, n) }

// percent is 100·k/n, NaN for an empty set.
func percent(k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return goodnet.Percent(k, n)
}

// setPhase labels the calling goroutine (and those it starts) with the phase, for profiles.
func setPhase(name string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("phase", name)))
}
