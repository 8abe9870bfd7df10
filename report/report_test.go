package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/nn"
	"goodnet/prune"
)

func result() *prune.Result {
	m := nn.DeepID(55, 47, 10)
	nn.RandomWeights(m, 1)
	nan := math.NaN()
	return &prune.Result{Model: "b.h5", Layer: "conv_3", Cut: "pool_3", Channels: 60, Order: []int{3, 1},
		MeanActivation: []float64{0.5, 0.1}, Baseline: prune.Metrics{CleanValid: 98, ASRValid: 100, CleanTest: nan, ASRTest: nan},
		Steps: []prune.Step{{Step: 0, Channel: -1, Metrics: prune.Metrics{CleanValid: 98, ASRValid: 100, CleanTest: nan, ASRTest: nan}},
			{Step: 1, Channel: 3, Fraction: 1.0 / 60, Metrics: prune.Metrics{CleanValid: 95, ASRValid: 50, CleanTest: nan, ASRTest: nan}}},
		Thresholds: []float64{2, 2.5, 10}, Unreached: []float64{10},
		Saved: []prune.Saved{{Threshold: 2, Step: 1, PrunedChannels: []int{3}, Model: m, GoodNet: prune.GoodNetMetrics{CleanAcc: 94, ASR: 1, Flagged: 99, On: "validation"}},
			{Threshold: 2.5, Step: 1, PrunedChannels: []int{3}, Model: m, GoodNet: prune.GoodNetMetrics{CleanAcc: 94, ASR: 1, Flagged: 99, On: "validation"}}},
		Timings: map[string]float64{"sweep": 1.5}, Device: "cpu", Method: "incremental"}
}

func TestFormats(t *testing.T) {
	r := result()
	if BprimeName(2) != "bprime_2.h5" || BprimeName(2.5) != "bprime_2.5.h5" {
		t.Fatal(BprimeName(2.5))
	}
	csv := string(CSV(r))
	want := "step,channel,fraction_pruned,clean_valid_acc,asr_valid,clean_test_acc,asr_test\n0,,0.000000,98.0000,100.0000,,\n1,3,0.016667,95.0000,50.0000,,\n"
	if csv != want {
		t.Fatalf("csv:\n%s", csv)
	}
	js, err := JSON(r, map[string]SetInfo{"clean_valid": {"v.h5", 3}}, map[string]float64{"read": 0.25})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	base := back["baseline"].(map[string]any)
	if base["clean_test_acc"] != nil || base["clean_valid_acc"] != 98.0 {
		t.Fatalf("baseline %v", base)
	}
	saved := back["saved"].([]any)[1].(map[string]any)
	if saved["file"] != "bprime_2.5.h5" || saved["goodnet_test"].(map[string]any)["on"] != "validation" {
		t.Fatalf("saved %v", saved)
	}
	tm := back["timings_s"].(map[string]any)
	if tm["read"] != 0.25 || tm["sweep"] != 1.5 {
		t.Fatalf("timings %v", tm)
	}
	var b strings.Builder
	Table(&b, r)
	if !strings.Contains(b.String(), "2.5 %   1/60") || !strings.Contains(b.String(), "10 %  not reached") {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	files, err := WriteAll(dir, result(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatal(files)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 6 { // the five outputs (links into the current generation) and .goodnet
		t.Fatalf("%d entries (temporary files left?)", len(ents))
	}
	o, err := ReadOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := o.Bprime(2.5, false); err != nil || filepath.Dir(p) == dir {
		t.Fatalf("B' at 2.5 %%: %q %v (want it in the current generation)", p, err)
	}
	if _, err := o.Bprime(10, false); err == nil || !strings.Contains(err.Error(), "did not reach it") {
		t.Fatalf("B' at 10 %% (not reached): %v", err)
	}
	if _, err := o.Bprime(4, false); err == nil || !strings.Contains(err.Error(), "saved B' at 2, 2.5 %") {
		t.Fatalf("B' at 4 %% (not asked for): %v", err)
	}
	if _, err := o.Bprime(2, true); err == nil || !strings.Contains(err.Error(), "did not fine-tune") {
		t.Fatalf("fine-tuned B' at 2 %%: %v", err)
	}
	// a regular file where the directory should be
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, err := WriteAll(filepath.Join(blocker, "out"), result(), nil, nil); err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("error %v", err)
	}
}
