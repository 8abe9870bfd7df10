// Package h5 is goodnet's safe access to HDF5 files (Keras models, the lab's data sets): files
// and groups through gonum.org/v1/hdf5, and a small cgo shim on libhdf5 for what that binding
// lacks (attribute listing, string attributes, typed hyperslab reads and writes, type and
// storage queries, error messages).
//
// Every call runs on a locked OS thread with libhdf5's error printing switched off (it is a
// per-thread setting in thread-safe builds), so no HDF5 error stack ever reaches stderr.
// Errors from Open and Create name the file; errors of the other methods name the object and
// leave the file to the caller.
//
// Linking: libhdf5 (Debian's serial build), found like gonum.org/v1/hdf5 finds it.
package h5

/*
#cgo LDFLAGS: -lhdf5
#cgo darwin CFLAGS: -I/usr/local/include
#cgo darwin LDFLAGS: -L/usr/local/lib
#cgo linux,!arm64 CFLAGS: -I/usr/local/include -I/usr/lib/x86_64-linux-gnu/hdf5/serial/include
#cgo linux,!arm64 LDFLAGS: -L/usr/local/lib -L/usr/lib/x86_64-linux-gnu/hdf5/serial/
#cgo linux,arm64 CFLAGS: -I/usr/local/include -I/usr/lib/aarch64-linux-gnu/hdf5/serial/include
#cgo linux,arm64 LDFLAGS: -L/usr/local/lib -L/usr/lib/aarch64-linux-gnu/hdf5/serial/
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"gonum.org/v1/hdf5"

	"goodnet/internal/isolate"
)

// File is an open HDF5 file.
type File struct {
	f    *hdf5.File
	path string
	size int64
	w    bool
}

// call runs fn on a locked OS thread with libhdf5's error printing off.
func call(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.gn_quiet()
	fn()
}

// lastError is the most specific message of libhdf5's error stack on this thread ("" if none).
// Call it inside call(), right after the failing libhdf5 call.
func lastError() string {
	var buf [512]C.char
	C.gn_last_error(&buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

func libErr(what string) error {
	if msg := lastError(); msg != "" {
		return fmt.Errorf("%s (%s)", what, msg)
	}
	return errors.New(what)
}

// hdf5Signature is the superblock signature; libhdf5 also looks for it at 512, 1024, ... .
var hdf5Signature = []byte("\x89HDF\r\n\x1a\n")

// Open opens an existing HDF5 file read-only. Its errors name the file and the problem:
// "no such file", "is a directory", "empty file", "not an HDF5 file", "truncated or corrupt
// HDF5 file (...)".
func Open(path string) (*File, error) {
	size, err := precheck(path)
	if err != nil {
		return nil, err
	}
	var f *hdf5.File
	call(func() {
		f, err = hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
		if err != nil {
			err = libErr("truncated or corrupt HDF5 file")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{f: f, path: path, size: size}, nil
}

// noSuchFile reads "<path>: no such file" and wraps the error of os.Stat, so that
// errors.Is(err, fs.ErrNotExist) holds.
type noSuchFile struct {
	path string
	err  error
}

func (e *noSuchFile) Error() string { return e.path + ": no such file" }
func (e *noSuchFile) Unwrap() error { return e.err }

// precheck is what Open checks before libhdf5 sees the file: a readable, non-empty regular
// file with the HDF5 signature. It returns the file's size.
func precheck(path string) (int64, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, &noSuchFile{path, err}
	case err != nil:
		return 0, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	case st.IsDir():
		return 0, fmt.Errorf("%s: is a directory, not an HDF5 file", path)
	case !st.Mode().IsRegular():
		return 0, fmt.Errorf("%s: not a regular file", path)
	case st.Size() == 0:
		return 0, fmt.Errorf("%s: empty file, not an HDF5 file", path)
	}
	// Read access and the signature, checked here so that the messages are ours.
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	defer fh.Close()
	buf := make([]byte, len(hdf5Signature))
	for off := int64(0); off+int64(len(buf)) <= st.Size(); off = nextSigOffset(off) {
		if _, err := fh.ReadAt(buf, off); err != nil && err != io.EOF {
			return 0, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
		}
		if string(buf) == string(hdf5Signature) {
			return st.Size(), nil
		}
	}
	return 0, fmt.Errorf("%s: not an HDF5 file", path)
}

// Isolated runs the operation op, registered with goodnet/internal/isolate, on the file path
// in a child process first, so that a file that crashes libhdf5 or makes it loop is an error
// naming the file rather than a crash of this process. Files that Open refuses before
// libhdf5 sees them are not run in a child (Open's error will say what is wrong).
func Isolated(op, path string, args []string, input []byte) error {
	size, err := precheck(path)
	if err != nil {
		return nil
	}
	if err := isolate.Run(op, args, input, size); err != nil {
		var stop *isolate.Interrupted
		if errors.As(err, &stop) {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fmt.Errorf("%s: corrupt HDF5 file: reading it %w", path, err)
	}
	return nil
}

func nextSigOffset(off int64) int64 {
	if off == 0 {
		return 512
	}
	return off * 2
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Create creates (or truncates) a file for writing.
func Create(path string) (*File, error) {
	var f *hdf5.File
	var err error
	call(func() {
		f, err = hdf5.CreateFile(path, hdf5.F_ACC_TRUNC)
		if err != nil {
			err = libErr("cannot create HDF5 file")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{f: f, path: path, w: true}, nil
}

// Path is the file's name as given to Open or Create.
func (f *File) Path() string { return f.path }

// Size is the file's size in bytes when it was opened (0 for a created file).
func (f *File) Size() int64 { return f.size }

// Close closes the file; for a written file, it flushes it first.
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	var err error
	call(func() {
		if f.w {
			if e := f.f.Flush(hdf5.F_SCOPE_GLOBAL); e != nil {
				err = libErr("cannot flush")
			}
		}
		if e := f.f.Close(); e != nil && err == nil {
			err = libErr("cannot close")
		}
	})
	f.f = nil
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	return nil
}

// OpenObjects is the number of objects (groups, datasets, attributes, types) of the file
// still open; tests use it to find leaks.
func (f *File) OpenObjects() int {
	var n C.long
	call(func() { n = C.gn_open_objects(C.hid_t(f.f.ID())) })
	return int(n)
}

// OpenIDs is the number of files and objects open in the whole library (tests use it to
// find leaks).
func OpenIDs() int {
	var n C.long
	call(func() { n = C.gn_open_ids() })
	return int(n)
}

func (f *File) hid() C.hid_t { return C.hid_t(f.f.ID()) }

// Kind is the kind of an object.
type Kind int

const (
	None Kind = iota
	Group
	Dataset
	Other
)

func (k Kind) String() string {
	switch k {
	case None:
		return "nothing"
	case Group:
		return "group"
	case Dataset:
		return "dataset"
	}
	return "other object"
}

func cpath(obj string) *C.char {
	if obj == "" {
		obj = "/"
	}
	return C.CString(obj)
}

// Kind says what the object path (relative to the root, "/" for the root) names.
func (f *File) Kind(obj string) Kind {
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var k C.int
	call(func() { k = C.gn_kind(f.hid(), cs) })
	if k < 0 {
		return None
	}
	return Kind(k)
}

// Children lists the names of the links in a group, in name order, with their kinds.
func (f *File) Children(group string) (names []string, kinds []Kind, err error) {
	if k := f.Kind(group); k != Group {
		return nil, nil, fmt.Errorf("%s is not a group", objDesc(group))
	}
	call(func() {
		var g *hdf5.Group
		g, err = f.f.OpenGroup(rootDot(group))
		if err != nil {
			err = libErr(fmt.Sprintf("cannot open group %s", objDesc(group)))
			return
		}
		defer g.Close()
		n, e := g.NumObjects()
		if e != nil {
			err = libErr(fmt.Sprintf("cannot list group %s", objDesc(group)))
			return
		}
		for i := uint(0); i < n; i++ {
			name, e := g.ObjectNameByIndex(i)
			if e != nil {
				err = libErr(fmt.Sprintf("cannot list group %s", objDesc(group)))
				return
			}
			names = append(names, name)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		kinds = append(kinds, f.Kind(Join(group, n)))
	}
	return names, kinds, nil
}

func rootDot(obj string) string {
	if obj == "" || obj == "/" {
		return "."
	}
	return obj
}

// Join joins object path elements ("/" is the root).
func Join(elem ...string) string {
	var parts []string
	for _, e := range elem {
		e = strings.Trim(e, "/")
		if e != "" {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 {
		return "/"
	}
	return strings.Join(parts, "/")
}

func objDesc(obj string) string {
	if obj == "" || obj == "/" {
		return "the root group"
	}
	return fmt.Sprintf("%q", obj)
}
