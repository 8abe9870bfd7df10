package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
					Epochs int
					LR     float64
				} `json:"finetuned"`
			}
		}
		b, _ = os.ReadFile(filepath.Join(d, "report.json"))
		if err := json.Unmarshal(b, &rep); err != nil || len(rep.Saved) != 1 {
			t.Fatalf("%s: report.json: %v", c.name, err)
		}
		if f := rep.Saved[0].FineTuned; (f != nil) != c.tuned || c.tuned && (f.Epochs != 1 || f.LR != 0.001) {
			t.Errorf("%s: finetuned %+v", c.name, f)
		}
	}
}
