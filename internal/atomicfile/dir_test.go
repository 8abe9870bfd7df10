package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirCommit: a temporary directory is renamed into place whole, replacing what was there;
// RemoveTemps deletes one in progress with its files.
func TestDirCommit(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "model")
	for i, content := range []string{"first", "second"} {
		tmp, err := TempDir(dir, ".model~tmp*")
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(tmp); st.Mode().Perm() != 0o755 {
			t.Errorf("temporary directory mode %v", st.Mode())
		}
		if err := WriteFile(filepath.Join(tmp, "f"), []byte(content)); err != nil {
			t.Fatal(err)
		}
		if i == 1 { // a leftover of the first must go with it
			if err := os.WriteFile(filepath.Join(dst, "old-only"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := CommitDir(tmp, dst); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dst, "f"))
		if err != nil || string(b) != content {
			t.Fatalf("after commit %d: %q, %v", i, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "old-only")); err == nil {
		t.Errorf("the replaced directory's file is still there")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left beside: %v", ents)
	}

	tmp, err := TempDir(dir, ".other~tmp*")
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{}
	if err := b.WriteFile(filepath.Join(tmp, "staged"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	RemoveTemps()
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("RemoveTemps left %s", tmp)
	}
	if err := CommitDir(tmp, filepath.Join(dir, "other")); err == nil || !strings.Contains(err.Error(), "other: cannot write") {
		t.Errorf("committing a removed directory: %v", err)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Errorf("the committed directory went: %v", err)
	}
}
