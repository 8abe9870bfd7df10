package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/keras"
	"goodnet/prune"
)

func fineTuned(r *prune.Result) []FineTuned {
	nan := math.NaN()
	m := r.Saved[0].Model.Clone()
	m.Layer("conv_1").W[0] += 1 // B'' differs from B'
	return []FineTuned{{Threshold: 2, Model: m, Epochs: 40, LR: 0.003, Seed: 7,
		Metrics: prune.Metrics{CleanValid: 99, ASRValid: 2, CleanTest: nan, ASRTest: nan},
		GoodNet: prune.GoodNetMetrics{CleanAcc: 97.5, ASR: 1.25, Flagged: 98.75, On: "validation"}}}
}

// B” goes beside B': its file, saved[i].finetuned in report.json (only for the threshold it
// was made from), a second table, one batch with the rest.
func TestFineTunedOutputs(t *testing.T) {
	r := result()
	ft := fineTuned(r)
	if n := FineTunedName(ft[0].Model, 2.5); n != "bprime_2.5_ft.h5" {
		t.Fatal(n)
	}
	js, err := JSON(r, nil, nil, ft...)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Saved []struct {
			Threshold float64
			FineTuned *struct {
				File    string
				Epochs  int
				LR      float64
				Seed    int64
				Metrics map[string]any
				GoodNet map[string]any `json:"goodnet_test"`
			} `json:"finetuned"`
		}
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	f := back.Saved[0].FineTuned
	if f == nil || f.File != "bprime_2_ft.h5" || f.Epochs != 40 || f.LR != 0.003 || f.Seed != 7 ||
		f.Metrics["clean_valid_acc"] != 99.0 || f.Metrics["clean_test_acc"] != nil || f.GoodNet["asr"] != 1.25 || f.GoodNet["on"] != "validation" {
		t.Fatalf("saved[0].finetuned %+v", f)
	}
	if back.Saved[1].FineTuned != nil {
		t.Fatalf("saved[1] (2.5 %%) has a B'' it was not given: %+v", back.Saved[1].FineTuned)
	}
	if plain, _ := JSON(r, nil, nil); strings.Contains(string(plain), "finetuned") {
		t.Fatal("report.json without fine-tuning mentions it")
	}

	var b strings.Builder
	Table(&b, r, ft...)
	for _, want := range []string{"Prune + fine-tune: B'' is B' trained 40 epochs (Adam 0.003)", "GoodNet(B, B'') fine-tuned",
		"      2 % |  94.00 %    1.00 % |  97.50 %    1.25 %   98.75 % |  99.00 %    2.00 %"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Count(b.String(), "\n      2") != 2 || strings.Contains(b.String(), "    2.5 % |") {
		t.Errorf("the second table has a row per B'' only:\n%s", b.String())
	}

	dir := t.TempDir()
	files, err := WriteAll(dir, r, nil, nil, ft...)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 || filepath.Base(files[2]) != "bprime_2_ft.h5" {
		t.Fatal(files)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 7 { // and .goodnet, the generations
		t.Fatalf("%d entries", len(ents))
	}
	m := r.Saved[0].Model.Clone()
	if err := keras.LoadWeights(m, files[2]); err != nil {
		t.Fatal(err)
	}
	if m.Layer("conv_1").W[0] != ft[0].Model.Layer("conv_1").W[0] {
		t.Fatal("bprime_2_ft.h5 does not hold B''")
	}
	if _, err := Plot(r, ft...); err != nil {
		t.Fatal(err)
	}
}
