package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"goodnet/demo"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/pipeline"
)

var (
	demoOnce  sync.Once
	demoDir   string
	demoNames []string
	demoErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

// demoBadNets makes four small BadNets with the demo (two seeds of each attack, 4 identities,
// a few images each) once for the package's tests, each in demoDir/<name>/.
func demoBadNets(t *testing.T) (string, []string) {
	t.Helper()
	demoOnce.Do(func() {
		if demoDir, demoErr = os.MkdirTemp("", "goodnet-audit-demo"); demoErr != nil {
			return
		}
		for _, c := range []struct {
			seed   int64
			attack demo.Attack
		}{{1, demo.AttackPathway}, {2, demo.AttackJoint}, {3, demo.AttackPathway}, {4, demo.AttackJoint}} {
			name := fmt.Sprintf("demo-%s-%d", c.attack, c.seed)
			_, demoErr = demo.Make(demo.Options{Dir: filepath.Join(demoDir, name), Seed: c.seed, Backend: host.New(0), Attack: c.attack,
				Data: demo.DataOptions{Classes: 4, TrainPer: 6, ValidPer: 4, TestPer: 4}, CleanEpochs: 2, BackdoorEpochs: 2, JointEpochs: 3, BatchSize: 8})
			if demoErr != nil {
				return
			}
			demoNames = append(demoNames, name)
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoDir, demoNames
}

func writeManifest(t *testing.T, path string, lines ...string) *Manifest {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(path, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func line(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// labLine is the lab's B on the fixtures' mini sets (3 + 3 faces).
func labLine(t *testing.T, name string, extra map[string]any) string {
	f := fixtures.Dir(t)
	m := map[string]any{"name": name, "bad_model": filepath.Join(f, "bd_net.h5"),
		"clean_valid": filepath.Join(f, "cl_mini.h5"), "bad_valid": filepath.Join(f, "bd_mini.h5"),
		"clean_test": filepath.Join(f, "cl_mini.h5"), "bad_test": filepath.Join(f, "bd_mini.h5")}
	for k, v := range extra {
		m[k] = v
	}
	return line(t, m)
}

// stamp is a file's size and modification time, to see that nothing was rewritten.
type stamp struct {
	size  int64
	mtime time.Time
}

func stamps(t *testing.T, dir string) map[string]stamp {
	t.Helper()
	out := map[string]stamp{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir { // DIR's own mtime moves with the write check
			out[p] = stamp{info.Size(), info.ModTime()}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestAuditDemoBadNets runs the demo's BadNets (two seeds of each attack), the lab's B on the
// mini sets and a broken model through audit: every model's directory holds what goodnet
// prune writes and the marker, the broken one its error line, the summary has the reports'
// numbers, and a second run rewrites nothing but retries the failed model.
func TestAuditDemoBadNets(t *testing.T) {
	ddir, names := demoBadNets(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.h5")
	if err := os.WriteFile(broken, []byte("not a model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, n := range names { // relative to the manifest's directory
		lines = append(lines, line(t, map[string]any{"name": n, "bad_model": n + "/bd_net.h5",
			"clean_valid": n + "/cl_valid.h5", "bad_valid": n + "/bd_valid.h5", "clean_test": n + "/cl_test.h5", "bad_test": n + "/bd_test.h5",
			"thresholds": []float64{2, 10, 30}}))
	}
	lines = append(lines, labLine(t, "lab", nil), labLine(t, "broken", map[string]any{"bad_model": broken}))
	m := writeManifest(t, filepath.Join(ddir, "manifest.jsonl"), lines...)
	out := filepath.Join(dir, "out")
	var log, errs bytes.Buffer
	opt := Options{Manifest: m, Out: out, Backend: host.New(0), Log: &log, Errors: &errs}
	o, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.Count(StatusOK) != len(names)+1 || o.Count(StatusFailed) != 1 || !slices.Equal(o.Failed(), []string{"broken"}) {
		t.Fatalf("outcome %+v\n%s", o.Models, log.String())
	}
	errLine, err := os.ReadFile(filepath.Join(out, "broken", ErrorFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(errLine), "goodnet audit: broken: "+broken+": ") || strings.Count(string(errLine), "\n") != 1 ||
		string(errLine) != errs.String() {
		t.Fatalf("error.txt %q, stderr %q", errLine, errs.String())
	}
	ents, _ := os.ReadDir(filepath.Join(out, "broken"))
	if len(ents) != 1 {
		t.Errorf("the failed model's directory holds %v", ents)
	}
	for _, n := range append(slices.Clone(names), "lab") {
		d := filepath.Join(out, n)
		var mk Marker
		b, err := os.ReadFile(filepath.Join(d, MarkerFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &mk); err != nil {
			t.Fatal(err)
		}
		if mk.Name != n || mk.Status != StatusOK || mk.Shard != "0/1" || len(mk.Files) < 3 {
			t.Errorf("%s: marker %+v", n, mk)
		}
		for _, f := range append(mk.Files, "report.json", "sweep.csv", "sweep.png") {
			if !fileExists(filepath.Join(d, f)) {
				t.Errorf("%s: no %s", n, f)
			}
		}
	}
	// nothing temporary is left: DIR holds the models' directories and their lock files
	all, _ := os.ReadDir(out)
	for _, e := range all {
		if strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), "~lock") {
			t.Errorf("left in DIR: %s", e.Name())
		}
	}

	// A model's directory is what goodnet prune's job writes for it.
	e0 := m.Entries[0]
	direct := filepath.Join(dir, "direct")
	if _, err := pipeline.Prune(pruneOptions(opt, e0, direct)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sweep.csv"} {
		a, _ := os.ReadFile(filepath.Join(direct, f))
		b, _ := os.ReadFile(filepath.Join(out, e0.Name, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs from goodnet prune's", f)
		}
	}

	s, written, err := Summarize(SummarizeOptions{Out: out, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 3 || s.Count[SumOK] != len(names)+1 || s.Count[SumFailed] != 1 || s.Count[SumMissing] != 0 {
		t.Fatalf("summary %+v, wrote %v", s.Count, written)
	}
	rows := readCSV(t, filepath.Join(out, SummaryCSV))
	if strings.Join(rows[0], ",") != Header {
		t.Fatalf("header %v", rows[0])
	}
	checkRows(t, out, rows[1:], m)
	if s.Models[len(s.Models)-1].Error != strings.TrimSpace(string(errLine)) {
		t.Errorf("summary.json's error %q", s.Models[len(s.Models)-1].Error)
	}

	// Again: the complete models are skipped, nothing of theirs rewritten; the failed one is
	// retried (and fails again).
	before := stamps(t, out)
	time.Sleep(20 * time.Millisecond)
	log.Reset()
	o, err = Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.Count(StatusSkipped) != len(names)+1 || o.Count(StatusFailed) != 1 {
		t.Fatalf("second run %+v\n%s", o.Models, log.String())
	}
	after := stamps(t, out)
	for p, st := range before {
		if strings.Contains(p, string(filepath.Separator)+"broken") || strings.HasSuffix(p, ".csv") && filepath.Dir(p) == out ||
			strings.HasPrefix(filepath.Base(p), "summary.") {
			continue
		}
		if after[p] != st {
			t.Errorf("%s rewritten: %v → %v", p, st, after[p])
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d entries before, %d after", len(before), len(after))
	}
}

// checkRows compares summary.csv's rows with each model's report.json and error.txt.
func checkRows(t *testing.T, out string, rows [][]string, m *Manifest) {
	t.Helper()
	type saved struct {
		Threshold float64 `json:"threshold"`
		Step      int     `json:"step"`
		Metrics   map[string]*float64
		GoodNet   map[string]any `json:"goodnet_test"`
	}
	var r int
	for _, e := range m.Entries {
		d := filepath.Join(out, e.Name)
		if fileExists(filepath.Join(d, ErrorFile)) {
			if want := []string{e.Name, "failed", "", "", "", "", "", "", "", "", "", ""}; !slices.Equal(rows[r], want) {
				t.Errorf("row %v, want %v", rows[r], want)
			}
			r++
			continue
		}
		var rep struct {
			Thresholds []float64 `json:"thresholds"`
			Saved      []saved   `json:"saved"`
		}
		b, err := os.ReadFile(filepath.Join(d, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		pct := func(v any) string {
			switch x := v.(type) {
			case float64:
				return strconv.FormatFloat(x, 'f', 4, 64)
			case *float64:
				if x != nil {
					return strconv.FormatFloat(*x, 'f', 4, 64)
				}
			}
			return ""
		}
		for _, th := range rep.Thresholds {
			want := []string{e.Name, "ok", strconv.FormatFloat(th, 'g', -1, 64), "", "", "", "", "", "", "", "", ""}
			for _, s := range rep.Saved {
				if s.Threshold == th {
					want[3] = strconv.Itoa(s.Step)
					want[4], want[5] = pct(s.Metrics["clean_valid_acc"]), pct(s.Metrics["asr_valid"])
					want[6], want[7], want[8] = pct(s.GoodNet["clean_acc"]), pct(s.GoodNet["asr"]), pct(s.GoodNet["flagged"])
				}
			}
			if r >= len(rows) || !slices.Equal(rows[r], want) {
				t.Errorf("row %d: %v, want %v", r, rows[min(r, len(rows)-1)], want)
			}
			r++
		}
	}
	if r != len(rows) {
		t.Errorf("%d rows, want %d", len(rows), r)
	}
}

// TestBusyAndStale: a model whose lock another process holds is left to it; once the lock is
// free, the next run removes what a killed run left (a temporary and a replaced directory)
// and runs it; a directory without the marker is replaced.
func TestBusyAndStale(t *testing.T) {
	dir := t.TempDir()
	m := writeManifest(t, filepath.Join(dir, "m.jsonl"), labLine(t, "a", map[string]any{"thresholds": []float64{5}}),
		labLine(t, "b", map[string]any{"thresholds": []float64{5}}))
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, ".b~tmp123", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, ".b~old456", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, "b"), 0o755); err != nil { // incomplete: no marker
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "b", "sweep.csv"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lockModel(filepath.Join(out, ".b~lock"))
	if err != nil || !l.held {
		t.Fatalf("lock: %v %+v", err, l)
	}
	opt := Options{Manifest: m, Out: out, Backend: host.New(0)}
	o, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.Models[0].Status != StatusOK || o.Models[1].Status != StatusBusy {
		t.Fatalf("outcome %+v", o.Models)
	}
	if !fileExists(filepath.Join(out, "b", "sweep.csv")) || Complete(filepath.Join(out, "b")) || !fileExists(filepath.Join(out, ".b~tmp123", "..", ".b~lock")) {
		t.Fatalf("a busy model was touched")
	}
	l.unlock()
	if o, err = Run(opt); err != nil {
		t.Fatal(err)
	}
	if o.Models[0].Status != StatusSkipped || o.Models[1].Status != StatusOK || !Complete(filepath.Join(out, "b")) {
		t.Fatalf("outcome %+v", o.Models)
	}
	for _, p := range []string{".b~tmp123", ".b~old456"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Errorf("%s left", p)
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "b", "sweep.csv"))
	if string(b) == "half" {
		t.Errorf("the incomplete directory was not replaced")
	}
}

// TestSummarizeWithoutManifest lists DIR's model directories by name; with the manifest, a
// model never run is "missing", one row.
func TestSummarizeWithoutManifest(t *testing.T) {
	dir := t.TempDir()
	m := writeManifest(t, filepath.Join(dir, "m.jsonl"), labLine(t, "z", map[string]any{"thresholds": []float64{5, 50}}),
		labLine(t, "never", nil), labLine(t, "a", map[string]any{"layer": "nope"}))
	out := filepath.Join(dir, "out")
	if _, err := Run(Options{Manifest: m, Out: out, Backend: host.New(0), Shard: Shard{0, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, "stray"), 0o755); err != nil { // no model's
		t.Fatal(err)
	}
	s, _, err := Summarize(SummarizeOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(out, SummaryCSV))
	var got []string
	for _, r := range rows[1:] {
		got = append(got, strings.Join(r[:4], ","))
	}
	want := []string{"a,failed,,", "z,ok,5,49", "z,ok,50,53"}
	if !slices.Equal(got, want) || s.Count[SumOK] != 1 || s.Count[SumFailed] != 1 {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if !strings.Contains(s.Models[0].Error, `layer "nope": no such layer`) {
		t.Errorf("error %q", s.Models[0].Error)
	}
	if _, _, err := Summarize(SummarizeOptions{Out: out, Manifest: m}); err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, filepath.Join(out, SummaryCSV))
	got = nil
	for _, r := range rows[1:] {
		got = append(got, strings.Join(r[:4], ","))
	}
	want = []string{"z,ok,5,49", "z,ok,50,53", "never,missing,,", "a,failed,,"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if _, _, err := Summarize(SummarizeOptions{Out: filepath.Join(dir, "m.jsonl")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as DIR: %v", err)
	}
}

// TestCSVCells: an unreached threshold and rates not measured are empty cells.
func TestCSVCells(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	s := &Summary{Models: []ModelSummary{
		{Name: "m", Status: SumOK, Thresholds: []ThresholdResult{
			{Threshold: 2, Reached: true, PrunedChannels: 7, BprimeValidAcc: v(95.5), BprimeValidASR: v(1.0 / 3), GoodNetOn: "validation"},
			{Threshold: 2.5, Reached: false},
			{Threshold: 10, Reached: true, PrunedChannels: 9, BprimeValidAcc: v(90), BprimeValidASR: v(0),
				GoodNetTestAcc: v(89.25), GoodNetTestASR: v(2), Flagged: v(97.125), GoodNetOn: "test",
				FineTuned: &FineTunedResult{Epochs: 20, GoodNetTestAcc: v(91), GoodNetTestASR: v(0.5), Flagged: v(99), GoodNetOn: "test"}}}},
		{Name: "n", Status: SumMissing},
	}}
	want := Header + "\n" +
		"m,ok,2,7,95.5000,0.3333,,,,,,\n" +
		"m,ok,2.5,,,,,,,,,\n" +
		"m,ok,10,9,90.0000,0.0000,89.2500,2.0000,97.1250,91.0000,0.5000,99.0000\n" +
		"n,missing,,,,,,,,,,\n"
	if got := string(CSV(s)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
