package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Directories that are committed whole: a job writes everything into a temporary directory
// beside the destination and renames it into place once complete (goodnet audit, one model
// per directory). The temporary directory is tracked like a temporary file: RemoveTemps and
// Interrupt delete it with everything in it, and no CommitDir starts after Interrupt.

var tempDirs = map[string]bool{}

// TempDir creates an empty directory in dir named pattern with a random string in place of
// its last "*" (os.MkdirTemp), and records it for RemoveTemps and Interrupt.
func TempDir(dir, pattern string) (string, error) {
	busy.RLock()
	defer busy.RUnlock()
	mu.Lock()
	defer mu.Unlock()
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("%s: cannot create a directory: %w", dir, unwrapPath(err))
	}
	tempDirs[d] = true
	if err := os.Chmod(d, 0o755); err != nil { // as os.MkdirAll would make it, not 0700
		delete(tempDirs, d)
		os.Remove(d)
		return "", fmt.Errorf("%s: %w", d, unwrapPath(err))
	}
	return d, nil
}

// RemoveTempDir deletes a directory made by TempDir, with everything in it.
func RemoveTempDir(tmp string) {
	mu.Lock()
	defer mu.Unlock()
	delete(tempDirs, tmp)
	os.RemoveAll(tmp)
}

// CommitDir renames tmp, a directory made by TempDir whose files are complete, to path. What
// path held before (a directory or a file) is first renamed aside, then deleted once tmp is in
// place: a reader sees the old entry, none (between the two renames), or the new one, never a
// mix. On error tmp is deleted and path is as it was.
func CommitDir(tmp, path string) error {
	mu.Lock()
	defer mu.Unlock()
	delete(tempDirs, tmp)
	var aside string
	if _, err := os.Lstat(path); err == nil {
		d, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+"~old*")
		if err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("%s: cannot replace it: %w", path, unwrapPath(err))
		}
		aside = filepath.Join(d, "old")
		if err := os.Rename(path, aside); err != nil {
			os.Remove(d)
			os.RemoveAll(tmp)
			return fmt.Errorf("%s: cannot replace it: %w", path, unwrapPath(err))
		}
		defer os.RemoveAll(d)
	}
	if err := os.Rename(tmp, path); err != nil {
		if aside != "" {
			os.Rename(aside, path)
		}
		os.RemoveAll(tmp)
		return fmt.Errorf("%s: cannot write: %w", path, unwrapPath(err))
	}
	return nil
}

func removeTempDirs() {
	for d := range tempDirs {
		os.RemoveAll(d)
		delete(tempDirs, d)
	}
}
