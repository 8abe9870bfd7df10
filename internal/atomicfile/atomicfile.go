// Package atomicfile writes output files so that a reader only ever sees the old file or the
// complete new one: the content goes to a temporary file in the same directory, which is
// renamed over the destination once written and synced. A Batch renames several such files
// together (in a crash, one rename at a time); an output directory of several files that must
// change together even through SIGKILL or a power loss is written as a Generation of an
// OutDir (outdir.go): one symlink switched by rename. On a signal the CLI calls Interrupt,
// which removes the temporary files (and the generation being written, and the directories
// this run made) and lets nothing more be written or renamed before the process exits.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

var (
	mu    sync.Mutex
	temps = map[string]bool{}
	// trees are directories being filled (a generation, or the .goodnet folder this run
	// made), removed with their content on an interrupt; dirs are empty directories this run
	// made (--out and its missing parents), removed innermost first.
	trees = map[string]bool{}
	dirs  []string
	// busy is read-held while a temporary file is created and written: Interrupt waits for
	// that write to finish (a library such as libhdf5 may create the file anew after it was
	// removed) and keeps any other from starting.
	busy sync.RWMutex
)

// WritePath creates path by calling write with the name of a temporary file beside it (for
// libraries that open files by name, such as libhdf5), then renames it into place. On error
// the temporary file is removed and path is untouched.
func WritePath(path string, write func(tmp string) error) error {
	var b *Batch
	return b.WritePath(path, write)
}

// Write creates path with the bytes write puts into an open temporary file.
func Write(path string, write func(f *os.File) error) error {
	var b *Batch
	return b.Write(path, write)
}

// WriteFile is os.WriteFile, atomically.
func WriteFile(path string, data []byte) error {
	var b *Batch
	return b.WriteFile(path, data)
}

// A Batch writes several files that belong together (the outputs of one run): each is
// staged in a temporary file beside its destination, and Commit renames them all into place
// at once, so that an error or a signal before Commit leaves every destination as it was,
// and one during Commit waits for it to finish (RemoveTemps and Commit exclude each other).
// The methods of a nil *Batch write and rename each file at once.
type Batch struct {
	staged []staged
}

type staged struct{ tmp, path string }

// WritePath stages path, written by write under the name of a temporary file.
func (b *Batch) WritePath(path string, write func(tmp string) error) error {
	busy.RLock()
	defer busy.RUnlock()
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("%s: cannot write: %w", path, unwrapPath(err))
	}
	fail := func(err error) error {
		os.Remove(tmp)
		untrack(tmp)
		return err
	}
	if err := write(tmp); err != nil {
		return fail(err)
	}
	if err := syncFile(tmp); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if b != nil {
		b.staged = append(b.staged, staged{tmp, path})
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	delete(temps, tmp)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: cannot write: %w", path, unwrapPath(err))
	}
	return nil
}

// Write stages path with the bytes write puts into an open temporary file.
func (b *Batch) Write(path string, write func(f *os.File) error) error {
	return b.WritePath(path, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("%s: cannot write: %w", path, unwrapPath(err))
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, unwrapPath(err))
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", path, unwrapPath(err))
		}
		return nil
	})
}

// WriteFile stages path with data.
func (b *Batch) WriteFile(path string, data []byte) error {
	return b.Write(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Commit renames the staged files into place, in the order they were staged. Renames within
// a directory do not need space; should one fail all the same, the files not yet renamed are
// removed and the error names the first.
func (b *Batch) Commit() error {
	if b == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	var first error
	for _, s := range b.staged {
		delete(temps, s.tmp)
		if first != nil {
			os.Remove(s.tmp)
			continue
		}
		if err := os.Rename(s.tmp, s.path); err != nil {
			os.Remove(s.tmp)
			first = fmt.Errorf("%s: cannot write: %w", s.path, unwrapPath(err))
		}
	}
	b.staged = nil
	return first
}

// Abort removes the staged files; the destinations stay as they were.
func (b *Batch) Abort() {
	if b == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range b.staged {
		delete(temps, s.tmp)
		os.Remove(s.tmp)
	}
	b.staged = nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return unwrapPath(err)
	}
	defer f.Close()
	if err := f.Chmod(0o644); err != nil {
		return unwrapPath(err)
	}
	return unwrapPath(f.Sync())
}

// createTemp creates an empty temporary file beside path and records it, under the lock that
// RemoveTemps takes: a signal never leaves an unrecorded one.
func createTemp(path string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	f.Close()
	temps[f.Name()] = true
	return f.Name(), nil
}

func untrack(tmp string) {
	mu.Lock()
	defer mu.Unlock()
	delete(temps, tmp)
}

// RemoveTemps deletes the temporary files of writes and batches in progress, and the
// temporary directories of TempDir.
func RemoveTemps() {
	mu.Lock()
	defer mu.Unlock()
	removeTemps()
}

// Interrupt is RemoveTemps for a signal handler that exits next: it waits for the files being
// written to be finished (their temporary files are then removed too), lets a Commit in
// progress complete, deletes every temporary file, and returns holding the locks,
// so that no write or rename starts before the process exits.
func Interrupt() {
	busy.Lock()
	mu.Lock()
	removeTemps()
}

func removeTemps() {
	for t := range temps {
		os.Remove(t)
		delete(temps, t)
	}
	for t := range trees {
		os.RemoveAll(t)
		delete(trees, t)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
	dirs = nil
	removeTempDirs()
}

// unwrapPath drops the *PathError wrapper (its path is the temporary file's, not the user's).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
