// Package atomicfile writes output files so that a reader only ever sees the old file or the
// complete new one: the content goes to a temporary file in the same directory, which is
// renamed over the destination once written and synced. Temporary files still open when the
// process is interrupted are removed by RemoveTemps (the CLI calls it on SIGINT/SIGTERM).
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
)

// WritePath creates path by calling write with the name of a temporary file beside it (for
// libraries that open files by name, such as libhdf5), then renames it into place. On error
// the temporary file is removed and path is untouched.
func WritePath(path string, write func(tmp string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%s: cannot write: %v", path, unwrapPath(err))
	}
	tmp := f.Name()
	f.Close()
	track(tmp, true)
	defer track(tmp, false)
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %v", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: cannot write: %v", path, unwrapPath(err))
	}
	return nil
}

// Write creates path with the bytes write puts into an open temporary file.
func Write(path string, write func(f *os.File) error) error {
	return WritePath(path, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("%s: cannot write: %v", path, unwrapPath(err))
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %v", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %v", path, unwrapPath(err))
		}
		return nil
	})
}

// WriteFile is os.WriteFile, atomically.
func WriteFile(path string, data []byte) error {
	return Write(path, func(f *os.File) error {
		_, err := f.Write(data)
		return unwrapPath(err)
	})
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

func track(tmp string, on bool) {
	mu.Lock()
	defer mu.Unlock()
	if on {
		temps[tmp] = true
	} else {
		delete(temps, tmp)
	}
}

// RemoveTemps deletes the temporary files of writes in progress (call it before exiting on a
// signal).
func RemoveTemps() {
	mu.Lock()
	defer mu.Unlock()
	for t := range temps {
		os.Remove(t)
	}
}

// unwrapPath drops the *PathError wrapper (its path is the temporary file's, not the user's).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
