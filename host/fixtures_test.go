package host

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"goodnet/dataset"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
)

// expected is one mini set's entry of expected.json.
type expected struct {
	B, Bprime2 []int32
	TopLogit   []float64
}

// TestRealFixtures: the lab's B and B' on the real faces give the predictions and top
// logits of expected.json (an independent float64 implementation), with every kernel variant.
func TestRealFixtures(t *testing.T) {
	raw, err := os.ReadFile(fixtures.Path(t, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	exp := map[string]expected{}
	for set, v := range js {
		var e expected
		for k, dst := range map[string]any{"B": &e.B, "Bprime_2": &e.Bprime2, "B_top_logit": &e.TopLogit} {
			if err := json.Unmarshal(v[k], dst); err != nil || v[k] == nil {
				t.Fatalf("expected.json %s.%s: %v", set, k, err)
			}
		}
		exp[set] = e
	}
	models := map[string]*nn.Model{}
	for _, f := range []string{"bd_net.h5", "bprime_2.h5"} {
		m, err := keras.LoadModel(fixtures.Path(t, f))
		if err != nil {
			t.Fatal(err)
		}
		models[f] = m
	}
	for set, e := range exp {
		s, err := dataset.Load(fixtures.Path(t, set+".h5"), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range backends(t) {
			for f, want := range map[string][]int32{"bd_net.h5": e.B, "bprime_2.h5": e.Bprime2} {
				net, err := b.Compile(models[f])
				if err != nil {
					t.Fatal(err)
				}
				m := net.Model()
				res, err := net.Run(map[string][]float32{m.Input.Name: s.X}, s.N, m.Output.Name)
				if err != nil {
					t.Fatal(err)
				}
				cls := nn.Argmax(res[0], s.N, m.NumClasses())
				for i := range want {
					if cls[i] != want[i] {
						t.Errorf("%s %s %s image %d: class %d, want %d", b.isa, f, set, i, cls[i], want[i])
					}
					if f == "bd_net.h5" {
						top := float64(res[0][i*m.NumClasses()+int(cls[i])])
						if d := math.Abs(top-e.TopLogit[i]) / math.Abs(e.TopLogit[i]); !(d <= tol) {
							t.Errorf("%s %s image %d: top logit %g, want %g", b.isa, set, i, top, e.TopLogit[i])
						} else {
							t.Logf("%s %s image %d: top logit relative difference %.2g", b.isa, set, i, d)
						}
					}
				}
				net.Close()
			}
		}
	}
}
