package pipeline_test

import (
	"encoding/json"
	"os"
	"testing"

	"goodnet/dataset"
	"goodnet/goodnet"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/pipeline"
)

type expected map[string]struct {
	B        []int32 `json:"B"`
	Bprime2  []int32 `json:"Bprime_2"`
	GoodNet2 []int32 `json:"GoodNet_2"`
}

func loadExpected(t *testing.T) expected {
	b, err := os.ReadFile(fixtures.Path(t, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e["cl_mini"].Bprime2) != 3 || len(e["bd_mini"].GoodNet2) != 3 {
		t.Fatalf("expected.json: %+v", e)
	}
	return e
}

// The whole net on the real faces, loaded as the CLI loads them: B, B'_2 and GoodNet as the
// independent float64 implementation predicts them, with B's weights from the full model file
// and from the weights-only file.
func TestFixturesExpected(t *testing.T) {
	want := loadExpected(t)
	for _, weights := range []string{"", fixtures.Path(t, "bd_weights.h5")} {
		b, err := pipeline.LoadModel(fixtures.Path(t, "bd_net.h5"), weights)
		if err != nil {
			t.Fatal(err)
		}
		bp, err := pipeline.LoadBprime(b, fixtures.Path(t, "bprime_2.h5"))
		if err != nil {
			t.Fatal(err)
		}
		g, err := goodnet.New(b, bp, host.New(0))
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{"cl_mini", "bd_mini"} {
			s, err := dataset.Load(fixtures.Path(t, set+".h5"), 1)
			if err != nil {
				t.Fatal(err)
			}
			p, err := g.PredictAll(s.X, s.N)
			if err != nil {
				t.Fatal(err)
			}
			w := want[set]
			for i := range p.G {
				if p.B[i] != w.B[i] || p.Bprime[i] != w.Bprime2[i] || p.G[i] != w.GoodNet2[i] {
					t.Errorf("%s image %d (B weights %q): B %d B' %d G %d, want %d %d %d", set, i, weights, p.B[i], p.Bprime[i], p.G[i], w.B[i], w.Bprime2[i], w.GoodNet2[i])
				}
			}
		}
		g.Close()
	}
}

func TestGoodNetMetricsOnFixtures(t *testing.T) {
	b, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	bp, err := keras.LoadModel(fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	// B' = a B whose conv_3 is all zero: it disagrees with B on every face → all flagged
	z := bp.Layer("conv_3")
	for i := range z.W {
		z.W[i] = 0
	}
	for i := range z.B {
		z.B[i] = 0
	}
	g, err := goodnet.New(b, bp, host.New(1))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cl, _ := dataset.Load(fixtures.Path(t, "cl_mini.h5"), 1)
	bd, _ := dataset.Load(fixtures.Path(t, "bd_mini.h5"), 1)
	r, err := g.Evaluate(cl, bd)
	if err != nil {
		t.Fatal(err)
	}
	if r.BCleanAcc != 100 || r.BASR != 100 || r.FlagClass != 1283 || r.TargetLabel != 0 {
		t.Fatalf("%+v", r)
	}
	if r.CleanAcc+r.CleanFlagged != 100 || r.ASR+r.Flagged != 100 {
		t.Fatalf("GoodNet's classes are B's or N: %+v", r)
	}
	cl.Y[0] = 1283
	if _, err := g.Evaluate(cl, bd); err == nil {
		t.Fatal("a label outside the classes must be an error")
	}
	other, _ := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	other.Layers[1].Name = "x"
	if _, err := goodnet.New(b, other, host.New(1)); err == nil {
		t.Fatal("different architectures must be an error")
	}
}
