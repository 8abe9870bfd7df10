// Package nntest is a fake engine for the tests of algorithms: a Backend that compiles models
// with another Backend and offers, on request, the optional capabilities of package nn
// (nn.ChannelSummer, nn.PairPredictor), each implemented plainly in Go and
// counted, so that a test can run an algorithm with and without a capability and check that
// it was used and that the results agree.
package nntest

import (
	"fmt"
	"sync/atomic"

	"goodnet/nn"
)

// Options say which capabilities the fake engine offers.
type Options struct {
	Sums bool // its Nets are nn.ChannelSummers
	Pair bool // its Nets are nn.PairPredictors
}

// Calls count the capability calls the engine served.
type Calls struct {
	Sums, Pair atomic.Int64
}

// Engine is the fake Backend.
type Engine struct {
	Inner nn.Backend
	Opts  Options
	Calls *Calls
}

// New returns a fake engine on inner with the capabilities o.
func New(inner nn.Backend, o Options) nn.Backend {
	return &Engine{Inner: inner, Opts: o, Calls: &Calls{}}
}

// CallsOf returns the call counters of a backend made by New.
func CallsOf(b nn.Backend) *Calls {
	if e, ok := b.(*Engine); ok {
		return e.Calls
	}
	panic(fmt.Sprintf("nntest: %T is not a fake engine", b))
}

// Name is "fake".
func (e *Engine) Name() string { return "fake" }

// Describe names the inner backend and the capabilities offered.
func (e *Engine) Describe() string {
	return fmt.Sprintf("fake engine (channel sums %v, pairs %v) on %s", e.Opts.Sums, e.Opts.Pair, e.Inner.Describe())
}

// Compile compiles m with the inner backend.
func (e *Engine) Compile(m *nn.Model) (nn.Net, error) {
	in, err := e.Inner.Compile(m)
	if err != nil {
		return nil, err
	}
	n := &net{Net: in, e: e}
	switch {
	case e.Opts.Sums && e.Opts.Pair:
		return &sumsPairNet{sumsNet{n}, pairNet{n}}, nil
	case e.Opts.Sums:
		return &sumsNet{n}, nil
	case e.Opts.Pair:
		return &pairNet{n}, nil
	}
	return n, nil
}

// net hides the inner net's own capabilities (a Predictor stays one: nn.Predict uses it).
type net struct {
	nn.Net
	e *Engine
}

type sumsNet struct{ *net }

// ChannelSums runs the inner net to the layer and sums its channels in float64.
func (s *sumsNet) ChannelSums(feeds map[string][]float32, count int, layer string) ([]float64, error) {
	s.e.Calls.Sums.Add(1)
	out, err := s.Run(feeds, count, layer)
	if err != nil {
		return nil, err
	}
	l := s.Model().Layer(layer)
	c := l.OutShape[len(l.OutShape)-1]
	sum := make([]float64, c)
	for i, v := range out[0] {
		sum[i%c] += float64(v)
	}
	return sum, nil
}

type pairNet struct{ *net }

// PredictPair predicts with both nets and merges.
func (p *pairNet) PredictPair(other nn.Net, x []float32, count int, flag int32) (a, b, merged []int32, err error) {
	p.e.Calls.Pair.Add(1)
	if a, err = nn.Predict(p.Net, x, count); err != nil {
		return nil, nil, nil, err
	}
	if o, ok := unwrap(other); ok {
		other = o
	}
	if b, err = nn.Predict(other, x, count); err != nil {
		return nil, nil, nil, err
	}
	merged = make([]int32, count)
	for i := range merged {
		merged[i] = flag
		if a[i] == b[i] {
			merged[i] = a[i]
		}
	}
	return a, b, merged, nil
}

type sumsPairNet struct {
	sumsNet
	pairNet
}

func (s *sumsPairNet) Model() *nn.Model { return s.sumsNet.Model() }
func (s *sumsPairNet) Run(feeds map[string][]float32, n int, outs ...string) ([][]float32, error) {
	return s.sumsNet.Run(feeds, n, outs...)
}
func (s *sumsPairNet) Close() error { return s.sumsNet.Close() }

// unwrap returns the inner net of a net of this package.
func unwrap(n nn.Net) (nn.Net, bool) {
	switch v := n.(type) {
	case *net:
		return v.Net, true
	case *sumsNet:
		return v.Net, true
	case *pairNet:
		return v.Net, true
	case *sumsPairNet:
		return v.sumsNet.Net, true
	}
	return nil, false
}
