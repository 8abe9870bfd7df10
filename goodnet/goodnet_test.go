package goodnet_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"goodnet/goodnet"
	"goodnet/host"
	"goodnet/nn"
	"goodnet/nn/nntest"
	"goodnet/nn/ref"
)

// pair is a small DeepID B with random weights and B' = B with a third of conv_3's channels
// zeroed, and n random images (scaled so that B and B' disagree on some).
func pair(t *testing.T, seed int64, n int) (b, bp *nn.Model, x []float32) {
	t.Helper()
	b = nn.DeepID(31, 31, 7)
	nn.RandomWeights(b, seed)
	bp = b.Clone()
	l := bp.Layer("conv_3")
	for c := 0; c < l.Filters; c += 3 {
		for i := c; i < len(l.W); i += l.Filters {
			l.W[i] = 0
		}
		l.B[c] = 0
	}
	r := rand.New(rand.NewSource(seed))
	x = make([]float32, n*b.InputShape().Size())
	for i := range x {
		x[i] = float32(r.Float64() * 4)
	}
	return b, bp, x
}

func TestMerge(t *testing.T) {
	m := goodnet.Merge([]int32{1, 2, 3}, []int32{1, 0, 3}, 9)
	if fmt.Sprint(m) != "[1 9 3]" {
		t.Fatalf("merge %v", m)
	}
}

// GoodNet on an engine with and without nn.PairPredictor: the same classes, those of the
// float64 reference (B, B', and the merge), and the capability used when offered.
func TestPredictAllCapability(t *testing.T) {
	b, bp, x := pair(t, 3, 70)
	n := len(x) / b.InputShape().Size()
	wantB, _, err := ref.Predict(b, ref.Widen(x), n)
	if err != nil {
		t.Fatal(err)
	}
	wantBp, _, err := ref.Predict(bp, ref.Widen(x), n)
	if err != nil {
		t.Fatal(err)
	}
	disagree := 0
	for i := range wantB {
		if wantB[i] != wantBp[i] {
			disagree++
		}
	}
	if disagree == 0 || disagree == n {
		t.Fatalf("B and B' disagree on %d of %d images: the test needs both cases", disagree, n)
	}
	wantG := goodnet.Merge(wantB, wantBp, 7)
	for _, opts := range []nntest.Options{{}, {Pair: true}, {Pair: true, Sums: true}} {
		e := nntest.New(host.New(0), opts)
		g, err := goodnet.New(b, bp, e)
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.PredictAll(x, n)
		g.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(p.B, p.Bprime, p.G) != fmt.Sprint(wantB, wantBp, wantG) {
			t.Errorf("%+v: B %v B' %v G %v, want %v %v %v", opts, p.B, p.Bprime, p.G, wantB, wantBp, wantG)
		}
		if used := nntest.CallsOf(e).Pair.Load() > 0; used != opts.Pair {
			t.Errorf("%+v: PredictPair used: %v", opts, used)
		}
	}
}

func TestEvaluate(t *testing.T) {
	b, bp, x := pair(t, 5, 40)
	n := len(x) / b.InputShape().Size()
	g, err := goodnet.New(b, bp, host.New(1))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p, err := g.PredictAll(x, n)
	if err != nil {
		t.Fatal(err)
	}
	s := b.InputShape()
	clean := &nn.Set{Path: "clean", X: x, Y: append([]int32(nil), p.B...), N: n, H: s[0], W: s[1], C: s[2]}
	bad := &nn.Set{Path: "bad", X: x, Y: make([]int32, n), N: n, H: s[0], W: s[1], C: s[2]}
	r, err := g.Evaluate(clean, bad)
	if err != nil {
		t.Fatal(err)
	}
	agree := 0
	zeros := 0
	for i := range p.G {
		if p.G[i] != g.N() {
			agree++
			if p.G[i] == 0 {
				zeros++
			}
		}
	}
	if r.BCleanAcc != 100 || r.FlagClass != 7 || r.CleanAcc != goodnet.Percent(agree, n) ||
		r.CleanAcc+r.CleanFlagged != 100 || r.ASR != goodnet.Percent(zeros, n) || r.Flagged != r.CleanFlagged {
		t.Fatalf("%+v (G %v)", r, p.G)
	}
	clean.Y[0] = 7
	if _, err := g.Evaluate(clean, bad); err == nil || !strings.Contains(err.Error(), "clean: label 7 of image 0 is outside the model's 7 classes") {
		t.Fatalf("a label outside the classes: %v", err)
	}
	bad.Y = nil
	if _, err := g.Evaluate(&nn.Set{Path: "c", X: x, Y: p.B, N: n, H: s[0], W: s[1], C: s[2]}, bad); err == nil || !strings.Contains(err.Error(), "bad: no labels") {
		t.Fatalf("no labels: %v", err)
	}
	other := b.Clone()
	other.Layers[1].Name = "x"
	if _, err := goodnet.New(b, other, host.New(1)); err == nil {
		t.Fatal("different architectures must be an error")
	}
}
