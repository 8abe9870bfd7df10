// Package goodnet is the repaired classifier G(B, B') of the pruning defense: for each input,
// B's class when the backdoored net B and its pruned copy B' agree, else class N (N = number
// of classes of B, the "N+1-th class" that marks an input as looking poisoned).
//
// It is the Go form of the seed's Python program
//
//	G = GoodNet(B_model)
//	G.load_weights(B_weights, Bprime_weights)
//	y = G.predict(x)
//
// with the file reading at the edge: a format package (keras) loads B and B' into nn.Models,
// and New(B, B', backend).Predict(x) runs them. The package knows nn and nothing of files or
// engines: an engine whose nets implement nn.PairPredictor runs B, B' and the merge where it
// computes (the GPU keeps the logits on the device).
package goodnet

import (
	"fmt"

	"goodnet/nn"
)

// GoodNet holds B and B' compiled for a backend.
type GoodNet struct {
	B, Bprime       *nn.Model
	backend         nn.Backend
	netB, netBprime nn.Net
}

// New makes a GoodNet of B and B', two models of the same architecture (the file formats
// load them: keras.LoadModel, then keras.LoadWeights into a clone of B for B').
func New(b, bprime *nn.Model, backend nn.Backend) (*GoodNet, error) {
	if err := b.SameArchitecture(bprime); err != nil {
		return nil, fmt.Errorf("B' does not have B's architecture: %w", err)
	}
	return &GoodNet{B: b, Bprime: bprime, backend: backend}, nil
}

// N is the class GoodNet gives to inputs on which B and B' disagree.
func (g *GoodNet) N() int32 { return int32(g.B.NumClasses()) }

func (g *GoodNet) compile() error {
	if g.netB != nil {
		return nil
	}
	if err := g.B.CheckWeights(); err != nil {
		return fmt.Errorf("B: %w", err)
	}
	if err := g.Bprime.CheckWeights(); err != nil {
		return fmt.Errorf("B': %w", err)
	}
	nb, err := g.backend.Compile(g.B)
	if err != nil {
		return err
	}
	nbp, err := g.backend.Compile(g.Bprime)
	if err != nil {
		nb.Close()
		return err
	}
	g.netB, g.netBprime = nb, nbp
	return nil
}

// Predictions are the classes of B, of B' and of GoodNet for each input.
type Predictions struct {
	B, Bprime, G []int32
}

// PredictAll runs B and B' on n images x (NHWC float32) and merges them. An engine whose
// nets implement nn.PairPredictor runs both and merges where it computes; otherwise B and B'
// predict one after the other and the merge runs here.
func (g *GoodNet) PredictAll(x []float32, n int) (*Predictions, error) {
	if err := g.compile(); err != nil {
		return nil, err
	}
	if pp, ok := g.netB.(nn.PairPredictor); ok {
		pb, pbp, pg, err := pp.PredictPair(g.netBprime, x, n, g.N())
		if err != nil {
			return nil, err
		}
		return &Predictions{B: pb, Bprime: pbp, G: pg}, nil
	}
	pb, err := nn.Predict(g.netB, x, n)
	if err != nil {
		return nil, err
	}
	pbp, err := nn.Predict(g.netBprime, x, n)
	if err != nil {
		return nil, err
	}
	return &Predictions{B: pb, Bprime: pbp, G: Merge(pb, pbp, g.N())}, nil
}

// Predict returns GoodNet's class for each of n images x.
func (g *GoodNet) Predict(x []float32, n int) ([]int32, error) {
	p, err := g.PredictAll(x, n)
	if err != nil {
		return nil, err
	}
	return p.G, nil
}

// Merge is G's rule: a[i] where a and b agree, else n.
func Merge(a, b []int32, n int32) []int32 {
	out := make([]int32, len(a))
	for i := range a {
		if a[i] == b[i] {
			out[i] = a[i]
		} else {
			out[i] = n
		}
	}
	return out
}

// Close frees the compiled nets.
func (g *GoodNet) Close() {
	if g.netB != nil {
		g.netB.Close()
		g.netBprime.Close()
		g.netB, g.netBprime = nil, nil
	}
}

// Metrics are the numbers of an evaluation, in percent (0–100) as the seed prints them.
type Metrics struct {
	CleanImages    int     `json:"clean_images"`
	PoisonedImages int     `json:"poisoned_images"`
	TargetLabel    int32   `json:"target_label"`
	FlagClass      int32   `json:"flag_class"`
	CleanAcc       float64 `json:"clean_accuracy"`      // GoodNet on the clean set
	ASR            float64 `json:"attack_success_rate"` // GoodNet on the poisoned set
	Flagged        float64 `json:"poisoned_flagged"`    // poisoned inputs GoodNet sends to class N
	CleanFlagged   float64 `json:"clean_flagged"`       // clean inputs GoodNet sends to class N
	BCleanAcc      float64 `json:"b_clean_accuracy"`
	BASR           float64 `json:"b_attack_success_rate"`
	BprimeCleanAcc float64 `json:"bprime_clean_accuracy"`
	BprimeASR      float64 `json:"bprime_attack_success_rate"`
}

// Evaluate runs G on a clean set and a poisoned set (labelled with the attacker's target).
func (g *GoodNet) Evaluate(clean, poisoned *nn.Set) (*Metrics, error) {
	if err := clean.CheckLabels(g.B.NumClasses()); err != nil {
		return nil, err
	}
	if err := poisoned.CheckLabels(g.B.NumClasses()); err != nil {
		return nil, err
	}
	pc, err := g.PredictAll(clean.X, clean.N)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", clean.Path, err)
	}
	pp, err := g.PredictAll(poisoned.X, poisoned.N)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", poisoned.Path, err)
	}
	n := g.N()
	m := &Metrics{
		CleanImages: clean.N, PoisonedImages: poisoned.N, FlagClass: n,
		CleanAcc: Percent(Matches(pc.G, clean.Y), clean.N), ASR: Percent(Matches(pp.G, poisoned.Y), poisoned.N),
		Flagged: Percent(Count(pp.G, n), poisoned.N), CleanFlagged: Percent(Count(pc.G, n), clean.N),
		BCleanAcc: Percent(Matches(pc.B, clean.Y), clean.N), BASR: Percent(Matches(pp.B, poisoned.Y), poisoned.N),
		BprimeCleanAcc: Percent(Matches(pc.Bprime, clean.Y), clean.N), BprimeASR: Percent(Matches(pp.Bprime, poisoned.Y), poisoned.N),
	}
	if poisoned.N > 0 {
		m.TargetLabel = poisoned.Y[0]
	}
	return m, nil
}

// Matches counts positions where pred equals label.
func Matches(pred, label []int32) int {
	c := 0
	for i := range pred {
		if pred[i] == label[i] {
			c++
		}
	}
	return c
}

// Count counts positions equal to v.
func Count(pred []int32, v int32) int {
	c := 0
	for _, p := range pred {
		if p == v {
			c++
		}
	}
	return c
}

// Percent is 100·k/n (0 for n = 0).
func Percent(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(k) / float64(n)
}
