package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"goodnet/host"
)

// A manifest line's finetune_epochs and finetune_lr reach the prune job: the model's directory
// holds B” beside each B' (in the marker's files too) and report.json says how it was made;
// a line without them takes --finetune-epochs (here 0: none).
func TestAuditFineTune(t *testing.T) {
	dir := t.TempDir()
	m := writeManifest(t, filepath.Join(dir, "manifest.jsonl"),
		labLine(t, "tuned", map[string]any{"finetune_epochs": 1, "finetune_lr": 0.001, "thresholds": []float64{2}}),
		labLine(t, "plain", map[string]any{"thresholds": []float64{2}}))
	out := filepath.Join(dir, "out")
	o, err := Run(Options{Manifest: m, Out: out, Backend: host.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	if o.Count(StatusOK) != 2 {
		t.Fatalf("outcome %+v", o.Models)
	}
	want := map[string][]string{}
	for _, c := range []struct {
		name  string
		tuned bool
	}{{"tuned", true}, {"plain", false}} {
		d := filepath.Join(out, c.name)
		if fileExists(filepath.Join(d, "bprime_2_ft.h5")) != c.tuned {
			t.Errorf("%s: bprime_2_ft.h5 there: %v", c.name, !c.tuned)
		}
		var mk Marker
		b, _ := os.ReadFile(filepath.Join(d, MarkerFile))
		if err := json.Unmarshal(b, &mk); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(mk.Files, "bprime_2_ft.h5") != c.tuned {
			t.Errorf("%s: marker files %v", c.name, mk.Files)
		}
		var rep struct {
			Saved []struct {
				FineTuned *struct {
					Epochs  int
					LR      float64
					GoodNet struct {
						CleanAcc float64 `json:"clean_acc"`
						ASR      float64 `json:"asr"`
						Flagged  float64 `json:"flagged"`
						On       string  `json:"on"`
					} `json:"goodnet_test"`
				} `json:"finetuned"`
			}
		}
		b, _ = os.ReadFile(filepath.Join(d, "report.json"))
		if err := json.Unmarshal(b, &rep); err != nil || len(rep.Saved) != 1 {
			t.Fatalf("%s: report.json: %v", c.name, err)
		}
		f := rep.Saved[0].FineTuned
		if (f != nil) != c.tuned || c.tuned && (f.Epochs != 1 || f.LR != 0.001) {
			t.Errorf("%s: finetuned %+v", c.name, f)
		}
		if f != nil {
			pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
			want[c.name] = []string{pct(f.GoodNet.CleanAcc), pct(f.GoodNet.ASR), pct(f.GoodNet.Flagged)}
			if f.GoodNet.On != "test" {
				t.Errorf("%s: B'' measured on %q", c.name, f.GoodNet.On)
			}
		} else {
			want[c.name] = []string{"", "", ""}
		}
	}
	// The summary: GoodNet(B, B'') in the ft_ columns of the tuned model, empty for the other.
	s, _, err := Summarize(SummarizeOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(CSV(s))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		if got := row[9:12]; !slices.Equal(got, want[row[0]]) {
			t.Errorf("%s: ft columns %v, want %v", row[0], got, want[row[0]])
		}
	}
	if len(rows) != 3 || len(s.PerThreshold) != 1 || s.PerThreshold[0].FineTuned != 1 || s.PerThreshold[0].MedianFineTunedGoodNetTestASR == nil {
		t.Errorf("summary %d rows, per threshold %+v", len(rows), s.PerThreshold)
	}
}
