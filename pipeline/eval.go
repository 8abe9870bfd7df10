package pipeline

import (
	"fmt"
	"time"

	"goodnet/dataset"
	"goodnet/goodnet"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// The GoodNet jobs: goodnet eval and goodnet predict.

// EvalOptions are the inputs of `goodnet eval`.
type EvalOptions struct {
	CleanSet, BadSet          string
	BadModel, BadModelWeights string
	Bprime                    string
	Threshold                 float64 // picks B' when Bprime is a prune --out directory
	FineTuned                 bool    // with Threshold: that directory's fine-tuned B' instead
	Scale                     float32
	Mean, Std                 []float32 // per-channel normalisation after the scale (nil: none)
	Backend                   nn.Backend
}

// EvalResult is what `goodnet eval` reports.
type EvalResult struct {
	goodnet.Metrics
	CleanSet   string           `json:"clean_set"`
	BadSet     string           `json:"bad_set"`
	BadModel   string           `json:"bad_model"`
	Bprime     string           `json:"pruned_bad_model"`
	Device     string           `json:"device"`
	Seconds    float64          `json:"seconds"`
	ZeroConvCh map[string][]int `json:"bprime_zero_channels"`
}

// Eval evaluates GoodNet(B, B') on a clean and a poisoned set.
func Eval(o EvalOptions) (*EvalResult, error) {
	t0 := time.Now()
	b, err := LoadModelToRun(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	g, bp, err := openGoodNet(b, o.Bprime, o.Threshold, o.FineTuned, o.Backend)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	clean, err := LoadSetNorm(o.CleanSet, o.Scale, o.Mean, o.Std, b)
	if err != nil {
		return nil, err
	}
	bad, err := LoadSetNorm(o.BadSet, o.Scale, o.Mean, o.Std, b)
	if err != nil {
		return nil, err
	}
	m, err := g.Evaluate(clean, bad)
	if err != nil {
		return nil, err
	}
	return &EvalResult{Metrics: *m, CleanSet: o.CleanSet, BadSet: o.BadSet, BadModel: b.Source, Bprime: bp,
		Device: o.Backend.Describe(), Seconds: time.Since(t0).Seconds(), ZeroConvCh: ZeroChannels(g.Bprime)}, nil
}

// PredictOptions are the inputs of `goodnet predict`.
type PredictOptions struct {
	BadModel, BadModelWeights string
	Bprime                    string  // optional: GoodNet's predictions when given
	Threshold                 float64 // picks B' when Bprime is a prune --out directory
	FineTuned                 bool    // with Threshold: that directory's fine-tuned B' instead
	Set                       string
	Images                    []string
	Scale                     float32
	Mean, Std                 []float32 // per-channel normalisation after the scale (nil: none)
	Backend                   nn.Backend
}

// Predict returns one class per input, in input order: B's, or GoodNet's when B' is given
// (class N marks a flagged input).
func Predict(o PredictOptions) ([]int32, error) {
	b, err := LoadModelToRun(o.BadModel, o.BadModelWeights)
	if err != nil {
		return nil, err
	}
	var predict func(x []float32, n int) ([]int32, error)
	if o.Bprime == "" {
		net, err := o.Backend.Compile(b)
		if err != nil {
			return nil, err
		}
		defer net.Close()
		predict = func(x []float32, n int) ([]int32, error) { return nn.Predict(net, x, n) }
	} else {
		g, _, err := openGoodNet(b, o.Bprime, o.Threshold, o.FineTuned, o.Backend)
		if err != nil {
			return nil, err
		}
		defer g.Close()
		predict = g.Predict
	}
	if o.Set != "" {
		return predictSet(o, b, predict)
	}
	in, err := dataset.LoadImages(o.Images, o.Scale, b.InputShape())
	if err != nil {
		return nil, err
	}
	if err := in.Normalize(o.Mean, o.Std); err != nil {
		return nil, err
	}
	return predict(in.X, in.N)
}

// predictChunk is how many images of a set predict converts at once: the next piece is read
// while the model runs on this one.
const predictChunk = 2048

// predictSet streams the set through predict: pieces of predictChunk images are read and
// converted (dataset.Reader) into one of two buffers while the model runs on the other, so
// the set is never held whole as float32.
func predictSet(o PredictOptions, b *nn.Model, predict func(x []float32, n int) ([]int32, error)) ([]int32, error) {
	rd, err := dataset.Open(o.Set, o.Scale)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	shape := &nn.Set{Path: o.Set, H: rd.H, W: rd.W, C: rd.C}
	if err := shape.CheckShape(b.InputShape()); err != nil {
		return nil, err
	}
	if err := nn.CheckNormalization(o.Mean, o.Std, rd.C); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Set, err)
	}
	per := rd.H * rd.W * rd.C
	chunk := min(rd.N, resource.Fit(0, 2*4*int64(per), predictChunk))
	if chunk < 1 {
		if err := resource.Check(2*4*int64(per), "one image, twice (read while another runs)"); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Set, err)
		}
		chunk = min(rd.N, 1) // room was freed since Fit looked
	}
	type piece struct {
		n0, n int
		buf   []float32
	}
	free, full := make(chan []float32, 2), make(chan piece, 2)
	free <- make([]float32, chunk*per)
	if rd.N > chunk {
		free <- make([]float32, chunk*per)
	}
	stop := make(chan struct{})
	defer close(stop)
	var readErr error
	go func() {
		defer close(full)
		for n0 := 0; n0 < rd.N; n0 += chunk {
			var buf []float32
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n := min(chunk, rd.N-n0)
			x := buf[:n*per]
			if readErr = rd.Read(n0, n, x); readErr == nil {
				readErr = (&nn.Set{Path: o.Set, X: x, N: n, H: rd.H, W: rd.W, C: rd.C}).Normalize(o.Mean, o.Std)
			}
			if readErr != nil {
				return
			}
			full <- piece{n0, n, buf}
		}
	}()
	out := make([]int32, 0, rd.N)
	for p := range full {
		cls, err := predict(p.buf[:p.n*per], p.n)
		if err != nil {
			return nil, err
		}
		out = append(out, cls...)
		free <- p.buf
	}
	if readErr != nil {
		return nil, readErr
	}
	return out, nil
}

// openGoodNet makes G(B, B') with B' from bprime (a file, or prune's --out directory with a
// threshold, and with fineTuned its fine-tuned B'); it returns the path of B' too.
func openGoodNet(b *nn.Model, bprime string, threshold float64, fineTuned bool, be nn.Backend) (*goodnet.GoodNet, string, error) {
	bp, err := ResolveBprime(bprime, threshold, fineTuned)
	if err != nil {
		return nil, "", err
	}
	m, err := LoadBprime(b, bp)
	if err != nil {
		return nil, "", err
	}
	g, err := goodnet.New(b, m, be)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", bp, err)
	}
	return g, bp, nil
}

// ZeroChannels lists, for each Conv2D, the output channels whose kernel and bias are all
// zero, and for each BatchNormalization those whose gamma and beta are zero (a pruned
// channel, see prune).
func ZeroChannels(m *nn.Model) map[string][]int {
	out := map[string][]int{}
	for _, l := range m.Layers {
		switch {
		case l.Kind == nn.Conv2D:
			z := []int{}
			for c := 0; c < l.Filters; c++ {
				zero := l.B == nil || l.B[c] == 0
				for i := c; zero && i < len(l.W); i += l.Filters {
					zero = l.W[i] == 0
				}
				if zero {
					z = append(z, c)
				}
			}
			out[l.Name] = z
		case l.Kind == nn.BatchNorm && l.Gamma != nil && l.Beta != nil:
			z := []int{}
			for c := range l.Gamma {
				if l.Gamma[c] == 0 && l.Beta[c] == 0 {
					z = append(z, c)
				}
			}
			out[l.Name] = z
		}
	}
	return out
}
