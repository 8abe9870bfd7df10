package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeGen writes one generation of files (name → content) into dir and commits it.
func writeGen(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	o, err := OpenOutDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	g, err := o.NewGeneration()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Abort()
	for n, c := range files {
		if err := WriteFile(filepath.Join(g.Dir, n), []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Commit(); err != nil {
		t.Fatal(err)
	}
}

// visible is what dir's names resolve to (dangling links and .goodnet left out).
func visible(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if e.Name() == MetaDir {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func metaEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, MetaDir))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestGenerations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "out")
	one := map[string]string{"report.json": "1", "bprime_2.h5": "b2 of 1", "bprime_10.h5": "b10 of 1"}
	writeGen(t, dir, one)
	if v := visible(t, dir); len(v) != 3 || v["bprime_10.h5"] != "b10 of 1" {
		t.Fatalf("first run: %v", v)
	}
	gen1, err := CurrentGeneration(dir)
	if err != nil || !strings.HasPrefix(filepath.Base(gen1), "gen-") {
		t.Fatalf("current generation %q, %v", gen1, err)
	}
	// a second run that saved no bprime_10: that name no longer resolves
	two := map[string]string{"report.json": "2", "bprime_2.h5": "b2 of 2", "bprime_4.h5": "b4 of 2"}
	writeGen(t, dir, two)
	if v := visible(t, dir); len(v) != 3 || v["report.json"] != "2" || v["bprime_4.h5"] != "b4 of 2" || v["bprime_2.h5"] != "b2 of 2" {
		t.Fatalf("second run: %v", v)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bprime_10.h5")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first run's bprime_10.h5 is still there: %v", err)
	}
	// the previous generation stays for readers that resolved it; older ones go
	if b, err := os.ReadFile(filepath.Join(gen1, "bprime_10.h5")); err != nil || string(b) != "b10 of 1" {
		t.Errorf("previous generation: %q %v", b, err)
	}
	writeGen(t, dir, map[string]string{"report.json": "3"})
	if _, err := os.Stat(gen1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the generation before the previous one was not removed")
	}
	if m := metaEntries(t, dir); len(m) != 5 { // lock, current, previous, two generations
		t.Errorf(".goodnet holds %v", m)
	}
}

// A run that fails (or is aborted) before the switch leaves the directory as it was, and a
// directory it made is removed.
func TestGenerationAbort(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "new", "out")
	o, err := OpenOutDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := o.NewGeneration()
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(filepath.Join(g.Dir, "report.json"), []byte("x"))
	g.Abort()
	o.Close()
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Fatalf("a failed run into a new directory left %v", ents)
	}
	writeGen(t, dir, map[string]string{"report.json": "1"})
	o, _ = OpenOutDir(dir)
	g, _ = o.NewGeneration()
	WriteFile(filepath.Join(g.Dir, "report.json"), []byte("2"))
	WriteFile(filepath.Join(g.Dir, "bprime_2.h5"), []byte("2"))
	g.Abort()
	o.Close()
	if v := visible(t, dir); len(v) != 1 || v["report.json"] != "1" {
		t.Fatalf("after an aborted run: %v", v)
	}
}

// What a killed run leaves in .goodnet (a generation never switched to, a temporary link) is
// removed by the next run; it never shows in the directory's names.
func TestKilledRunLeftovers(t *testing.T) {
	dir := t.TempDir()
	writeGen(t, dir, map[string]string{"report.json": "1"})
	os.Mkdir(filepath.Join(dir, MetaDir, "gen-killed"), 0o755)
	os.WriteFile(filepath.Join(dir, MetaDir, "gen-killed", "report.json"), []byte("half"), 0o644)
	os.Symlink("gen-killed", filepath.Join(dir, MetaDir, "link-1-0.tmp"))
	if v := visible(t, dir); v["report.json"] != "1" || len(v) != 1 {
		t.Fatalf("%v", v)
	}
	writeGen(t, dir, map[string]string{"report.json": "2"})
	for _, n := range metaEntries(t, dir) {
		if n == "gen-killed" || strings.HasSuffix(n, ".tmp") {
			t.Errorf("left over: %s", n)
		}
	}
}

// A second opener of a held directory fails at once, naming it; the holder's own process may
// open it again.
func TestOutDirLock(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenOutDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := OpenOutDir(dir)
	if err != nil || again != o {
		t.Fatalf("reopening in the same process: %v", err)
	}
	again.Close()
	// another open file description of the lock, as another process has
	f, err := os.Open(filepath.Join(dir, MetaDir, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f); err == nil {
		t.Fatal("the lock is not held")
	}
	if err := checkLock(dir); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("CheckOutDir of a held directory: %v", err)
	}
	o.Close()
	if err := CheckOutDir(dir); err != nil {
		t.Fatalf("after Close: %v", err)
	}
}

// Legacy outputs (written before generations) that the new run lacks are moved away: never
// taken for the new run's.
func TestLegacyOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"report.json", "bprime_2.h5", "bprime_10.h5", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("old "+n), 0o644)
	}
	writeGen(t, dir, map[string]string{"report.json": "new", "bprime_2.h5": "new b2"})
	v := visible(t, dir)
	if len(v) != 3 || v["report.json"] != "new" || v["bprime_2.h5"] != "new b2" || v["notes.txt"] != "old notes.txt" {
		t.Fatalf("%v", v)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, MetaDir, "legacy", "bprime_10.h5")); string(b) != "old bprime_10.h5" {
		t.Fatalf("legacy bprime_10.h5: %q", b)
	}
}

func TestCheckOutDir(t *testing.T) {
	d := t.TempDir()
	file := filepath.Join(d, "file")
	os.WriteFile(file, nil, 0o644)
	dangling := filepath.Join(d, "dangling")
	os.Symlink(filepath.Join(d, "nowhere"), dangling)
	for path, want := range map[string]string{
		"":                                "no output directory",
		file:                              "not a directory",
		filepath.Join(file, "out"):        "not a directory",
		dangling:                          "a dangling symbolic link (to " + filepath.Join(d, "nowhere") + ")",
		filepath.Join(dangling, "a", "b"): "is a dangling symbolic link",
	} {
		err := CheckOutDir(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckOutDir(%q): %v, want %q", path, err, want)
		}
	}
	for _, ok := range []string{d, filepath.Join(d, "x", "y", "z")} {
		if err := CheckOutDir(ok); err != nil {
			t.Errorf("CheckOutDir(%q): %v", ok, err)
		}
	}
	if ents, _ := os.ReadDir(d); !slices.EqualFunc(ents, []string{"dangling", "file"}, func(e os.DirEntry, n string) bool { return e.Name() == n }) {
		t.Errorf("CheckOutDir created something: %v", ents)
	}
}
