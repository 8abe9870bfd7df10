package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"goodnet/internal/atomicfile"
	"goodnet/nn"
	"goodnet/prune"
)

// FineTuned is B”: a saved B' fine-tuned on the clean validation set (goodnet prune
// --finetune-epochs), with what it measured. WriteAll writes it as bprime_<t>_ft.h5 beside
// bprime_<t>.h5; report.json gives it as saved[i].finetuned; the table and the plot show it
// beside B'.
type FineTuned struct {
	Threshold float64   // the threshold of the B' it was made from
	Model     *nn.Model // B''
	Epochs    int
	LR        float64
	Seed      int64
	// Metrics are B''s own: clean accuracy and ASR on the validation sets (the clean one is
	// what it was trained on) and on the test sets.
	Metrics prune.Metrics
	// GoodNet is G(B, B'') on the test sets (on the validation sets without them).
	GoodNet prune.GoodNetMetrics
	Seconds float64 // training and evaluation
}

// FineTunedName is the file name of B” at threshold t in the format m was read from:
// bprime_2_ft.h5 (bprime_2_ft.onnx, bprime_2_ft.keras).
func FineTunedName(m *nn.Model, t float64) string {
	b := BprimeNameFor(m, t)
	i := strings.LastIndexByte(b, '.')
	return b[:i] + "_ft" + b[i:]
}

// SaveModelIn writes m (B' or B”) in the format its B was read from, staged in b (a nil b
// writes it atomically at once): ONNX as the original file with only the changed initializers
// replaced, a Keras 3 archive as an archive, else Keras' weights-only HDF5 layout.
func SaveModelIn(b *atomicfile.Batch, m *nn.Model, path string) error {
	return saveBprime(b, m, path)
}

type fineTunedJSON struct {
	File    string      `json:"file"`
	Epochs  int         `json:"epochs"`
	LR      num         `json:"lr"`
	Seed    int64       `json:"seed"`
	Metrics metricsJSON `json:"metrics"`
	GoodNet goodnetJSON `json:"goodnet_test"`
	Seconds num         `json:"seconds"`
}

// fineTunedOf finds the B” made from the B' saved at threshold t.
func fineTunedOf(ft []FineTuned, t float64) *FineTuned {
	for i := range ft {
		if ft[i].Threshold == t {
			return &ft[i]
		}
	}
	return nil
}

func fineTunedJSONOf(f *FineTuned) *fineTunedJSON {
	if f == nil {
		return nil
	}
	g := f.GoodNet
	return &fineTunedJSON{File: FineTunedName(f.Model, f.Threshold), Epochs: f.Epochs, LR: num(f.LR), Seed: f.Seed,
		Metrics: metricsOf(f.Metrics), GoodNet: goodnetJSON{num(g.CleanAcc), num(g.ASR), num(g.Flagged), g.On}, Seconds: num(f.Seconds)}
}

// fineTunedTable prints, per threshold, GoodNet(B, B') beside GoodNet(B, B”) and B”'s own
// accuracy and ASR on the test sets (the validation sets without them).
func fineTunedTable(w io.Writer, r *prune.Result, ft []FineTuned) {
	if len(ft) == 0 {
		return
	}
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "      -"
		}
		return fmt.Sprintf("%6.2f %%", v)
	}
	on := ft[0].GoodNet.On
	fmt.Fprintf(w, "\nPrune + fine-tune: B'' is B' trained %d epochs (Adam %s) on the clean validation set, its pruned channels held at 0\n",
		ft[0].Epochs, strconv.FormatFloat(ft[0].LR, 'g', -1, 64))
	fmt.Fprintf(w, "%-9s | %-19s | %-28s | %-19s\n", "threshold", "GoodNet(B, B')", "GoodNet(B, B'') fine-tuned", "B'' alone")
	fmt.Fprintf(w, "%-9s | %-8s  %-8s  | %-8s  %-8s  %-8s  | %-8s  %-8s\n", "", "acc", "ASR", "acc", "ASR", "flagged", "acc", "ASR")
	fmt.Fprintf(w, "%-9s | %-19s | %-28s | %-19s\n", "", "("+savedOn(r)+")", "("+on+")", "("+on+")")
	for _, s := range r.Saved {
		f := fineTunedOf(ft, s.Threshold)
		if f == nil {
			continue
		}
		own := [2]float64{f.Metrics.CleanTest, f.Metrics.ASRTest}
		if on != "test" {
			own = [2]float64{f.Metrics.CleanValid, f.Metrics.ASRValid}
		}
		fmt.Fprintf(w, "%7g %% | %s  %s | %s  %s  %s | %s  %s\n", s.Threshold, pct(s.GoodNet.CleanAcc), pct(s.GoodNet.ASR),
			pct(f.GoodNet.CleanAcc), pct(f.GoodNet.ASR), pct(f.GoodNet.Flagged), pct(own[0]), pct(own[1]))
	}
	if on != "test" {
		fmt.Fprintf(w, "(no test sets: B'' is measured on the validation sets, the clean one being what it was trained on)\n")
	}
}

// savedOn is the sets the saved B's GoodNet was measured on: "test" or "validation".
func savedOn(r *prune.Result) string {
	if len(r.Saved) > 0 {
		return r.Saved[0].GoodNet.On
	}
	return "test"
}
