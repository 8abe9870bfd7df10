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
	"syscall"
	"unsafe"

	"gonum.org/v1/hdf5"

	"goodnet/internal/isolate"
)

// File is an open HDF5 file.
type File struct {
	f    *hdf5.File // a created file (gonum's binding writes)
	id   C.hid_t    // an opened file (the goodnet-fd driver)
	path string
	size int64
	w    bool
	own  *os.File // the descriptor Open opened (closed with the file)
	// an opened file does not change: what was asked of it once is kept
	kinds map[string]Kind
	infos map[string]Info
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

// Open opens an existing HDF5 file read-only: OpenFile on the file at path. Its errors name
// the file and the problem: "no such file", "is a directory", "empty file", "not an HDF5
// file", "truncated or corrupt HDF5 file (...)".
func Open(path string) (*File, error) {
	fh, size, err := OpenForRead(path)
	if err != nil {
		return nil, err
	}
	f, err := openFD(fh, path, size)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.own = fh
	return f, nil
}

// OpenFile opens the HDF5 file fh read-only, through that descriptor (libhdf5 opens
// /proc/self/fd/N: the file fh is, whatever its name now points to). name is the file's name
// in messages. fh must stay open until the File is closed.
func OpenFile(fh *os.File, name string) (*File, error) {
	size, err := precheck(fh, name)
	if err != nil {
		return nil, err
	}
	return openFD(fh, name, size)
}

// openFD opens the file through goodnet's read-only file driver on the descriptor (fdvfd.c):
// libhdf5 reads with pread on fh's file and never opens a path.
func openFD(fh *os.File, name string, size int64) (*File, error) {
	var id C.hid_t
	var err error
	fd := C.int(fh.Fd())
	call(func() {
		id = C.gn_open_fd(fd)
		if id < 0 {
			err = libErr("truncated or corrupt HDF5 file")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &File{id: id, path: name, size: size}, nil
}

// noSuchFile reads "<path>: no such file" and wraps the error of os.Stat, so that
// errors.Is(err, fs.ErrNotExist) holds.
type noSuchFile struct {
	path string
	err  error
}

func (e *noSuchFile) Error() string { return e.path + ": no such file" }
func (e *noSuchFile) Unwrap() error { return e.err }

// OpenForRead opens the file at path for a loader, once: a readable, non-empty regular file
// with the HDF5 signature (checked here, so that the messages are ours, and without
// libhdf5). It returns the descriptor and the file's size. A FIFO or device is refused
// without blocking on it.
func OpenForRead(path string) (*os.File, int64, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, 0, &noSuchFile{path, err}
	case err != nil:
		return nil, 0, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	size, err := precheck(fh, path)
	if err != nil {
		fh.Close()
		return nil, 0, err
	}
	return fh, size, nil
}

// Precheck is what OpenForRead checks of an open file (fuzz targets make theirs in memory).
func Precheck(fh *os.File, name string) (int64, error) { return precheck(fh, name) }

// precheck is what OpenFile checks before libhdf5 sees the file: a non-empty regular file
// with the HDF5 signature. It returns the file's size.
func precheck(fh *os.File, path string) (int64, error) {
	st, err := fh.Stat()
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	case st.IsDir():
		return 0, fmt.Errorf("%s: is a directory, not an HDF5 file", path)
	case !st.Mode().IsRegular():
		return 0, fmt.Errorf("%s: not a regular file", path)
	case st.Size() == 0:
		return 0, fmt.Errorf("%s: empty file, not an HDF5 file", path)
	}
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

// Call runs the operation op, registered with goodnet/internal/isolate, on the HDF5 file fh
// (named name, of size bytes) in a child process, and returns what the child parsed: a file
// that crashes libhdf5, makes it loop or exhausts the memory is an error naming the file
// and what happened, not a crash or a hang of this process. The operation's own error is
// returned as its message (it names the file itself).
func Call(op string, fh *os.File, name string, args []string, input []byte, size int64) (*isolate.Result, error) {
	r, err := isolate.Call(op, fh, args, input, size)
	if err == nil {
		return r, nil
	}
	var stop *isolate.Interrupted
	var crash *isolate.Crash
	var opErr *isolate.OpError
	switch {
	case errors.As(err, &opErr):
		return nil, errors.New(opErr.Msg)
	case errors.As(err, &stop):
		return nil, fmt.Errorf("%s: %w", name, err)
	case errors.As(err, &crash) && crash.Kind == isolate.TimedOut:
		return nil, fmt.Errorf("%s: too slow to read: reading it %w (a file on which libhdf5 loops, or more than this machine reads in that time)", name, err)
	case errors.As(err, &crash) && crash.Kind == isolate.OutOfMemory:
		return nil, fmt.Errorf("%s: too large to read: reading it %w", name, err)
	case errors.As(err, &crash):
		return nil, fmt.Errorf("%s: corrupt HDF5 file: reading it %w", name, err)
	}
	return nil, fmt.Errorf("%s: %w", name, err)
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
	return &File{f: f, id: C.hid_t(f.ID()), path: path, w: true}, nil
}

// Path is the file's name as given to Open or Create.
func (f *File) Path() string { return f.path }

// Size is the file's size in bytes when it was opened (0 for a created file).
func (f *File) Size() int64 { return f.size }

// Close closes the file; for a written file, it flushes it first.
func (f *File) Close() error {
	if f.f == nil && f.id == 0 {
		return nil
	}
	var err error
	call(func() {
		if f.f == nil {
			if C.gn_close_file(f.id) < 0 {
				err = libErr("cannot close")
			}
			return
		}
		if f.w {
			if e := f.f.Flush(hdf5.F_SCOPE_GLOBAL); e != nil {
				err = libErr("cannot flush")
			}
		}
		if e := f.f.Close(); e != nil && err == nil {
			err = libErr("cannot close")
		}
	})
	f.f, f.id = nil, 0
	if f.own != nil {
		f.own.Close()
		f.own = nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	return nil
}

// OpenObjects is the number of objects (groups, datasets, attributes, types) of the file
// still open; tests use it to find leaks.
func (f *File) OpenObjects() int {
	var n C.long
	call(func() { n = C.gn_open_objects(f.id) })
	return int(n)
}

// OpenIDs is the number of files and objects open in the whole library (tests use it to
// find leaks).
func OpenIDs() int {
	var n C.long
	call(func() { n = C.gn_open_ids() })
	return int(n)
}

func (f *File) hid() C.hid_t { return f.id }

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
	if k, ok := f.kinds[obj]; ok {
		return k
	}
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var k C.int
	call(func() { k = C.gn_kind(f.hid(), cs) })
	kind := Kind(k)
	if k < 0 {
		kind = None
	}
	if f.f == nil {
		if f.kinds == nil {
			f.kinds = map[string]Kind{}
		}
		f.kinds[obj] = kind
	}
	return kind
}

// MaxChildren bounds the links of one group that Children lists.
const MaxChildren = 1 << 20

// Children lists the names of the links in a group, in name order, with their kinds (a link
// to another file is an Other, never followed). A group of more than MaxChildren links is an
// error.
func (f *File) Children(group string) (names []string, kinds []Kind, err error) {
	if k := f.Kind(group); k != Group {
		return nil, nil, fmt.Errorf("%s is not a group", objDesc(group))
	}
	cs := cpath(group)
	defer C.free(unsafe.Pointer(cs))
	call(func() {
		var total C.size_t
		var count C.long
		p := C.gn_children(f.hid(), cs, MaxChildren, &total, &count)
		defer C.free(unsafe.Pointer(p))
		switch {
		case count < 0:
			err = libErr(fmt.Sprintf("cannot list group %s", objDesc(group)))
		case count > MaxChildren:
			err = fmt.Errorf("group %s has more than %d links", objDesc(group), MaxChildren)
		case count > 0:
			b := C.GoBytes(unsafe.Pointer(p), C.int(total))
			names = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
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

// Addr is the address of the object at path in the file — the same for every hard link to
// it, so that a walk can tell an object it has seen — and its number of hard links.
func (f *File) Addr(obj string) (addr uint64, links int, err error) {
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	call(func() {
		var a C.ulonglong
		var r C.unsigned
		if C.gn_obj_addr(f.hid(), cs, &a, &r) < 0 {
			err = libErr(fmt.Sprintf("cannot read %s", objDesc(obj)))
			return
		}
		addr, links = uint64(a), int(r)
	})
	return addr, links, err
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
