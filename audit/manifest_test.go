package audit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestManifestErrors: every mistake in a manifest is one line naming the file, the line and
// the problem, found before any work (ReadManifest is all the CLI runs before it).
func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.h5", "v.h5", "bv.h5", "t.h5", "bt.h5"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := `{"name": "m0", "bad_model": "b.h5", "clean_valid": "v.h5", "bad_valid": "bv.h5"}`
	entry := func(fields string) string {
		return `{"bad_model": "b.h5", "clean_valid": "v.h5", "bad_valid": "bv.h5", ` + fields + `}`
	}
	for _, tc := range []struct {
		name, text string
		line       int // 0: the error names no line
		want       string
	}{
		{"empty", "", 0, "no models in the manifest"},
		{"blank lines only", "\n  \n\n", 0, "no models in the manifest"},
		{"truncated JSON", good + "\n" + `{"name": "m1", "bad_model": "b.h5"`, 2, "not valid JSON: the object is not closed"},
		{"syntax", `{"name": "m1",, }`, 1, "not valid JSON: invalid character ','"},
		{"array", `["m1", "b.h5"]`, 1, "not a JSON object"},
		{"string", `"m1"`, 1, "not a JSON object"},
		{"two objects", good + " " + good, 1, "more than one JSON value on the line"},
		{"no name", entry(`"thresholds": [2]`), 1, `no "name"`},
		{"empty name", entry(`"name": ""`), 1, `no "name"`},
		{"no bad_model", `{"name": "m1", "clean_valid": "v.h5", "bad_valid": "bv.h5"}`, 1, `m1: no "bad_model"`},
		{"no clean_valid", `{"name": "m1", "bad_model": "b.h5", "bad_valid": "bv.h5"}`, 1, `m1: no "clean_valid"`},
		{"no bad_valid", `{"name": "m1", "bad_model": "b.h5", "clean_valid": "v.h5"}`, 1, `m1: no "bad_valid"`},
		{"test half", entry(`"name": "m1", "clean_test": "t.h5"`), 1, `give both "clean_test" and "bad_test", or neither`},
		{"unknown key", good + "\n" + entry(`"name": "m1", "bad_mdoel": "b.h5"`), 2, `unknown key "bad_mdoel"`},
		{"wrong type", entry(`"name": "m1", "scale": "1"`), 1, `"scale": want a number, not a JSON string`},
		{"wrong type list", entry(`"name": "m1", "thresholds": 2`), 1, `"thresholds": want a list of numbers, not a JSON number`},
		{"name a number", entry(`"name": 7`), 1, `"name": want a string, not a JSON number`},
		{"duplicate", good + "\n\n" + good, 3, `name "m0" is already used on line 1`},
		{"case duplicate", good + "\n" + entry(`"name": "M0"`), 2, `name "M0" differs only in case from line 1's "m0"`},
		{"path name", entry(`"name": "../x"`), 1, `name "../x" is not safe as a directory name`},
		{"slash name", entry(`"name": "a/b"`), 1, `name "a/b" is not safe`},
		{"dot name", entry(`"name": ".hidden"`), 1, `name ".hidden" is not safe`},
		{"space name", entry(`"name": "a b"`), 1, `name "a b" is not safe`},
		{"reserved name", entry(`"name": "Summary.CSV"`), 1, `name "Summary.CSV" is reserved`},
		{"long name", entry(`"name": "` + strings.Repeat("a", MaxName+1) + `"`), 1, "is longer than 200 bytes"},
		{"missing file", good + "\n" + good[:len(good)-1] + `, "name": "m2", "clean_test": "t.h5", "bad_test": "nope.h5"}`, 2,
			"m2: bad_test " + filepath.Join(dir, "nope.h5") + ": no such file or directory"},
		{"directory", entry(`"name": "m1", "bad_model_weights": "adir"`), 1, "m1: bad_model_weights " + filepath.Join(dir, "adir") + ": is a directory, not a file"},
		{"duplicate before files", good + "\n" + `{"name": "m0", "bad_model": "x.h5", "clean_valid": "x.h5", "bad_valid": "x.h5"}`, 2, `name "m0" is already used on line 1`},
		{"scale", entry(`"name": "m1", "scale": -1`), 1, "m1: scale -1: want a positive number"},
		{"threshold", entry(`"name": "m1", "thresholds": [2, 100]`), 1, "m1: threshold 100: want a number in (0, 100)"},
		{"no thresholds", entry(`"name": "m1", "thresholds": []`), 1, "m1: thresholds is empty"},
		{"mean alone", entry(`"name": "m1", "mean": [0.5, 0.5, 0.5]`), 1, "m1: mean and std go together"},
		{"std zero", entry(`"name": "m1", "mean": [0.5], "std": [0]`), 1, "m1: std [0]: every value must be positive"},
		{"finetune", entry(`"name": "m1", "finetune_epochs": -1`), 1, "m1: finetune_epochs -1: must be ≥ 0"},
		{"long line", entry(`"name": "m1", "layer": "` + strings.Repeat("x", MaxLine) + `"`), 1, "line longer than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "m.jsonl")
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadManifest(p, true)
			if err == nil {
				t.Fatalf("no error")
			}
			msg := err.Error()
			prefix := p + ": "
			if tc.line > 0 {
				prefix = p + ":" + strconv.Itoa(tc.line) + ": "
			}
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line starting %q containing %q", msg, prefix, tc.want)
			}
		})
	}
	if _, err := ReadManifest(filepath.Join(dir, "none.jsonl"), true); err == nil || !strings.Contains(err.Error(), "none.jsonl: cannot read the manifest: no such file or directory") {
		t.Errorf("missing manifest: %v", err)
	}
	if _, err := ReadManifest(dir, true); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory as manifest: %v", err)
	}
}

// TestManifestRead: paths resolve against the manifest's directory, absolute ones stay,
// blank lines and a BOM are skipped, indexes count entries and lines count lines, CRLF is
// fine; without checkFiles missing files pass (the summary reads a manifest whose models may
// be gone).
func TestManifestRead(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(sub, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "abs.h5")
	for _, f := range []string{filepath.Join(sub, "models", "b.h5"), filepath.Join(sub, "v.h5"), abs} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := "\xef\xbb\xbf" + `{"name": "a", "bad_model": "models/b.h5", "clean_valid": "v.h5", "bad_valid": "` + abs + `", "scale": 0.5, "thresholds": [3]}` + "\r\n\n" +
		`{"name": "b.2_x+y-z", "bad_model": "models/b.h5", "clean_valid": "v.h5", "bad_valid": "v.h5", "finetune_epochs": 2, "finetune_lr": 0.001}`
	p := filepath.Join(sub, "m.jsonl")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 {
		t.Fatalf("%d entries", len(m.Entries))
	}
	a, b := m.Entries[0], m.Entries[1]
	if a.Line != 1 || a.Index != 0 || b.Line != 3 || b.Index != 1 {
		t.Errorf("lines %d, %d, indexes %d, %d", a.Line, b.Line, a.Index, b.Index)
	}
	if a.BadModel != filepath.Join(sub, "models", "b.h5") || a.CleanValid != filepath.Join(sub, "v.h5") || a.BadValid != abs {
		t.Errorf("paths %q %q %q", a.BadModel, a.CleanValid, a.BadValid)
	}
	if *a.Scale != 0.5 || len(a.Thresholds) != 1 || *b.FineTuneEpochs != 2 || *b.FineTuneLR != 0.001 {
		t.Errorf("entries %+v %+v", a, b)
	}
	o := pruneOptions(Options{FineTuneEpochs: 5}, a, "out")
	if o.Scale != 0.5 || o.Thresholds[0] != 3 || o.FineTuneEpochs != 5 || o.FineTuneLR != 0 || o.Out != "out" {
		t.Errorf("prune options of a: %+v", o)
	}
	o = pruneOptions(Options{FineTuneEpochs: 5}, b, "out")
	if o.Scale != 1 || len(o.Thresholds) != 3 || o.FineTuneEpochs != 2 || o.FineTuneLR != 0.001 {
		t.Errorf("prune options of b: %+v", o)
	}
	os.Remove(abs)
	if _, err := ReadManifest(p, true); err == nil {
		t.Errorf("a missing file passed")
	}
	if _, err := ReadManifest(p, false); err != nil {
		t.Errorf("without checking files: %v", err)
	}
}

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == IndexEnv {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		s, env string
		want   Shard
		err    string
	}{
		{"0/1", "", Shard{0, 1}, ""},
		{"3/4", "", Shard{3, 4}, ""},
		{"auto/8", "5", Shard{5, 8}, ""},
		{"auto/8", "", Shard{}, "JOB_COMPLETION_INDEX is not set"},
		{"auto/8", "8", Shard{}, `"auto/8" (JOB_COMPLETION_INDEX=8): I must be an integer in 0..7`},
		{"4/4", "", Shard{}, "I must be an integer in 0..3"},
		{"-1/4", "", Shard{}, "I must be an integer in 0..3"},
		{"1/0", "", Shard{}, "N must be a positive integer"},
		{"1", "", Shard{}, "want I/N"},
		{"a/b", "", Shard{}, "N must be a positive integer"},
	} {
		got, err := ParseShard(tc.s, env(tc.env))
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.s, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s (index %q): error %v, want %q", tc.s, tc.env, err, tc.err)
		}
	}
	// the shards partition the entries
	for n := 1; n <= 4; n++ {
		for i := 0; i < 10; i++ {
			c := 0
			for s := 0; s < n; s++ {
				if (Shard{s, n}).Has(i) {
					c++
				}
			}
			if c != 1 {
				t.Errorf("entry %d is in %d of %d shards", i, c, n)
			}
		}
	}
}
