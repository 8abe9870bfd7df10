// Package finetune is the second half of Fine-Pruning (Liu, Dolan-Gavitt, Garg, RAID 2018):
// train the pruned net B' on clean data with every pruned channel held at exactly zero, giving
// B”. Pruning removes the channels that clean inputs leave dormant; fine-tuning then moves the
// remaining weights, which is what breaks a backdoor that shares channels with the clean task
// (a BadNet trained jointly on clean and poisoned images, like the lab's).
//
// The recipe (the defaults of Config): Adam at 3e-3 with a cosine decay to 0 over 40 epochs,
// batches of 32, decoupled weight decay 5 (each step shrinks every weight by lr·5·w, 1.5 % at
// the peak rate), random left–right flips and ±2-pixel shifts of the training images, every
// layer trained. The weight decay is what removes a backdoor that pruning left: clean data
// exercises the weights the clean task needs and keeps them, while the weights that only the
// trigger used decay towards 0 (to e^−3 ≈ 5 % over the run). On the 4 % B' of the demo's
// three joint-trained BadNets, GoodNet(B, B”)'s attack success was 18–55 % without it and
// 0–13 % with it (two fine-tuning seeds each); with the gorgonia trainer this engine replaced,
// at Adam 5e-3 the clean accuracy collapsed on one BadNet and at 1e-2 two runs of six died, and
// trained on the raw 0–255 inputs (no unfolded scale, below) the outcome was erratic. The
// README gives the measured runs.
//
// Models that take raw 0–255 pixels (the lab's B) are trained on scaled inputs: the scale is
// unfolded into the layers that read the input before training and folded back after, so B”
// takes the inputs B' takes (Adam's steps are absolute, and a first-layer kernel made for
// 0–255 inputs is ~255× smaller than one made for 0–1 inputs).
package finetune

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"goodnet/nn"
	"goodnet/train"
)

// Config is one fine-tuning run. Zero values take the defaults in brackets.
type Config struct {
	// B is the backdoored net and Bprime its pruned copy (same architecture). Pruned channels
	// are the output channels of a Conv2D (units of a Dense) whose kernel slice and bias are
	// zero in Bprime and not in B. Neither model is modified.
	B, Bprime *nn.Model
	// X (N images, NHWC, as the models take them) and Y (labels) are the clean training data.
	X []float32
	Y []int32
	N int

	Epochs    int     // passes over the data [40]
	LR        float64 // Adam's initial learning rate [3e-3]
	BatchSize int     // [32]
	Seed      int64   // shuffling and augmentation draws
	// RawInputs trains on the inputs as the model takes them, without unfolding a scale.
	RawInputs bool
	// WeightDecay is the decoupled weight decay (train.Options.WeightDecay) [5]; use
	// NoWeightDecay for none.
	WeightDecay float64
	Workers     int // train.Options.Workers [train's default]
	// Layers names the layers that train; the others stay as they are [every layer with
	// weights].
	Layers []string
	// Schedule is the learning rate's course [train.Cosine]; Constant keeps LR.
	Schedule *train.Schedule
	// Augment transforms the training images [random flips and ±2-pixel shifts]; use
	// NoAugment for none. Image models only (ignored, with no error, for vector inputs).
	Augment *train.Augment
	// Log gets one line per epoch from train; OnEpoch is called after each epoch with B'' as
	// it stands (input scale folded back), e.g. to evaluate it.
	Log     io.Writer
	OnEpoch func(e train.Epoch, bpp *nn.Model) error
}

// NoAugment is an Augment that transforms nothing.
var NoAugment = &train.Augment{}

// NoWeightDecay as Config.WeightDecay trains without weight decay.
const NoWeightDecay = -1

// Defaults of the recipe.
const (
	DefaultEpochs      = 40
	DefaultLR          = 3e-3
	DefaultBatchSize   = 32
	DefaultShift       = 2
	DefaultWeightDecay = 5
)

// Result is B” and how it was made.
type Result struct {
	Model *nn.Model // B''
	// Pruned are the channels held at zero, per layer (only layers with any).
	Pruned map[string][]int
	// InputScale is the scale the training inputs were multiplied by (and unfolded from the
	// first layers).
	InputScale  float64
	History     *train.History
	Epochs      int
	LR          float64
	WeightDecay float64
	Schedule    train.Schedule
	Augment     train.Augment
}

// PrunedChannels lists, per layer with weights, the output channels that are zero in bp (kernel
// slice and bias) and not zero in b. Layers without such channels are absent.
func PrunedChannels(b, bp *nn.Model) (map[string][]int, error) {
	if err := b.SameArchitecture(bp); err != nil {
		return nil, fmt.Errorf("B' does not have B's architecture: %w", err)
	}
	out := map[string][]int{}
	for _, l := range bp.Layers {
		if !l.HasWeights() {
			continue
		}
		lb := b.Layer(l.Name)
		O := l.OutShape[len(l.OutShape)-1]
		for c := 0; c < O; c++ {
			if zeroChannel(l, c, O) && !zeroChannel(lb, c, O) {
				out[l.Name] = append(out[l.Name], c)
			}
		}
	}
	return out, nil
}

// zeroChannel reports whether output channel c of l (O channels, the kernel's last axis) has an
// all-zero kernel slice and bias.
func zeroChannel(l *nn.Layer, c, O int) bool {
	if l.B != nil && l.B[c] != 0 {
		return false
	}
	for i := c; i < len(l.W); i += O {
		if l.W[i] != 0 {
			return false
		}
	}
	return true
}

func (c *Config) check() error {
	if c.B == nil || c.Bprime == nil {
		return fmt.Errorf("finetune: B and B' are required")
	}
	if err := c.B.CheckWeights(); err != nil {
		return fmt.Errorf("B: %w", err)
	}
	if err := c.Bprime.CheckWeights(); err != nil {
		return fmt.Errorf("B': %w", err)
	}
	if c.Epochs < 0 {
		return fmt.Errorf("epochs %d: must be ≥ 1", c.Epochs)
	}
	if c.LR < 0 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0) {
		return fmt.Errorf("learning rate %g: must be positive and finite", c.LR)
	}
	if c.WeightDecay < 0 && c.WeightDecay != NoWeightDecay || math.IsNaN(c.WeightDecay) || math.IsInf(c.WeightDecay, 0) {
		return fmt.Errorf("weight decay %g: must be ≥ 0 and finite", c.WeightDecay)
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("batch size %d: must be ≥ 1", c.BatchSize)
	}
	if c.N <= 0 {
		return fmt.Errorf("no training images")
	}
	if err := train.Check(c.Bprime); err != nil {
		return fmt.Errorf("cannot fine-tune B': %w", err)
	}
	if c.Layers != nil && len(c.Layers) == 0 {
		return &LayerError{Reason: fmt.Sprintf("no layer named (layers with weights: %v)", weighted(c.Bprime))}
	}
	for _, name := range c.Layers {
		l := c.Bprime.Layer(name)
		if l == nil {
			return &LayerError{name, fmt.Sprintf("no such layer (layers with weights: %v)", weighted(c.Bprime))}
		}
		if !l.HasWeights() {
			return &LayerError{name, fmt.Sprintf("is a %s, which has no weights to train (layers with weights: %v)", l.Kind, weighted(c.Bprime))}
		}
	}
	return nil
}

// LayerError is a layer of Config.Layers that cannot train (or an empty list). Its text names
// the layer, not the option (the CLI adds --layers).
type LayerError struct {
	Layer  string // "" when no layer was named at all
	Reason string
}

func (e *LayerError) Error() string {
	if e.Layer == "" {
		return e.Reason
	}
	sep := ": "
	if strings.HasPrefix(e.Reason, "is ") {
		sep = " "
	}
	return fmt.Sprintf("layer %q%s%s", e.Layer, sep, e.Reason)
}

func weighted(m *nn.Model) []string {
	var names []string
	for _, l := range m.Layers {
		if l.HasWeights() {
			names = append(names, l.Name)
		}
	}
	return names
}

// Run fine-tunes a copy of cfg.Bprime on the clean data and returns B”.
func Run(cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pruned, err := PrunedChannels(cfg.B, cfg.Bprime)
	if err != nil {
		return nil, err
	}
	res := &Result{Pruned: pruned, Epochs: cfg.Epochs, LR: cfg.LR, Schedule: train.Cosine}
	if res.Epochs == 0 {
		res.Epochs = DefaultEpochs
	}
	if res.LR == 0 {
		res.LR = DefaultLR
	}
	switch res.WeightDecay = cfg.WeightDecay; res.WeightDecay {
	case 0:
		res.WeightDecay = DefaultWeightDecay
	case NoWeightDecay:
		res.WeightDecay = 0
	}
	if cfg.Schedule != nil {
		res.Schedule = *cfg.Schedule
	}
	image := len(cfg.Bprime.InputShape()) == 3
	if image {
		res.Augment = train.Augment{Flip: true, Shift: DefaultShift}
		if cfg.Augment != nil {
			res.Augment = *cfg.Augment
		}
	}
	batch := cfg.BatchSize
	if batch == 0 {
		batch = DefaultBatchSize
	}

	m := cfg.Bprime.Clone()
	mask := map[string][]bool{}
	for name, chans := range pruned {
		l := m.Layer(name)
		mk := make([]bool, l.OutShape[len(l.OutShape)-1])
		for _, c := range chans {
			mk[c] = true
		}
		mask[name] = mk
	}
	var freeze map[string]train.Frozen
	if cfg.Layers != nil {
		freeze = map[string]train.Frozen{}
		for _, l := range m.Layers {
			if l.HasWeights() && !slices.Contains(cfg.Layers, l.Name) {
				freeze[l.Name] = train.Frozen{Kernel: trues(len(l.W)), Bias: trues(len(l.B))}
			}
		}
	}
	// train on inputs scaled to |x| ≤ 1: unfold the scale into the layers that read the input
	s := inputScale(cfg.X)
	if cfg.RawInputs {
		s = 1
	}
	res.InputScale = s
	readers := m.Consumers(m.Input)
	if s != 1 {
		for _, r := range readers {
			if r.Kind != nn.Conv2D && r.Kind != nn.Dense {
				s = 1 // a non-linear reader: train on the inputs as they are
				res.InputScale = 1
				break
			}
		}
	}
	fold := func(m *nn.Model, f float64) {
		if f == 1 {
			return
		}
		for _, r := range m.Consumers(m.Input) {
			for i := range r.W {
				r.W[i] = float32(float64(r.W[i]) * f)
			}
		}
	}
	fold(m, 1/s)
	opt := train.Options{
		Epochs: res.Epochs, BatchSize: batch, LR: res.LR, Seed: cfg.Seed, Workers: cfg.Workers,
		Scale: float32(s), WeightDecay: res.WeightDecay, Schedule: res.Schedule, Augment: res.Augment, Mask: mask, Freeze: freeze, Log: cfg.Log,
	}
	if cfg.OnEpoch != nil {
		opt.OnEpoch = func(e train.Epoch, cur *nn.Model) (bool, error) {
			snap := cur.Clone()
			fold(snap, s)
			return false, cfg.OnEpoch(e, snap)
		}
	}
	hist, err := train.Train(m, cfg.X, cfg.Y, cfg.N, opt)
	if err != nil {
		return nil, err
	}
	fold(m, s)
	// the fold multiplies: channels held at zero stay exactly zero
	res.Model, res.History = m, hist
	if cfg.Bprime.Source != "" {
		res.Model.Source = ""
	}
	return res, nil
}

// inputScale is 1/max|x| rounded down to a power of two (an exact float scaling), or 1 when the
// inputs are already within [−1, 1] (or all zero).
func inputScale(x []float32) float64 {
	var m float32
	for _, v := range x {
		m = max(m, v, -v)
	}
	if m <= 1 || math.IsInf(float64(m), 0) || math.IsNaN(float64(m)) {
		return 1
	}
	e := math.Ceil(math.Log2(float64(m)))
	return math.Pow(2, -e)
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
