package h5

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"gonum.org/v1/hdf5"

	"goodnet/internal/atomicfile"
)

// CreateGroup creates a group (its parent must exist).
func (f *File) CreateGroup(obj string) error {
	var err error
	call(func() {
		g, e := f.f.CreateGroup(obj)
		if e != nil {
			err = libErr(fmt.Sprintf("cannot create group %q", obj))
			return
		}
		if e := g.Close(); e != nil {
			err = libErr(fmt.Sprintf("cannot close group %q", obj))
		}
	})
	return err
}

// SetStrings writes a 1-D attribute of fixed-length, NUL-padded ASCII strings as long as the
// longest one (at least 1 byte), as h5py writes a numpy bytes array.
func (f *File) SetStrings(obj, name string, vals []string) error {
	size := 1
	for _, v := range vals {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%s: string %q contains a NUL byte", attrDesc(obj, name), v)
		}
		size = max(size, len(v))
	}
	buf := make([]byte, size*len(vals)+1)
	for i, v := range vals {
		copy(buf[i*size:], v)
	}
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	var err error
	call(func() {
		if C.gn_attr_write_fixed_str(f.hid(), cs, cn, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(size), C.hsize_t(len(vals))) < 0 {
			err = libErr(fmt.Sprintf("cannot write %s", attrDesc(obj, name)))
		}
	})
	return err
}

// SetString writes a scalar variable-length string attribute: ASCII as h5py writes bytes,
// UTF-8 as it writes str.
func (f *File) SetString(obj, name, val string, utf8 bool) error {
	if strings.IndexByte(val, 0) >= 0 {
		return fmt.Errorf("%s: the value contains a NUL byte", attrDesc(obj, name))
	}
	cs, cn, cv := cpath(obj), C.CString(name), C.CString(val)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	u := C.int(0)
	if utf8 {
		u = 1
	}
	var err error
	call(func() {
		if C.gn_attr_write_vlen_str(f.hid(), cs, cn, cv, u) < 0 {
			err = libErr(fmt.Sprintf("cannot write %s", attrDesc(obj, name)))
		}
	})
	return err
}

// SetVarStrings writes a 1-D attribute of variable-length strings (h5py's list of str).
func (f *File) SetVarStrings(obj, name string, vals []string, utf8 bool) error {
	raw := C.malloc(C.size_t(max(1, len(vals))) * C.size_t(unsafe.Sizeof((*C.char)(nil))))
	defer C.free(raw)
	ptrs := unsafe.Slice((**C.char)(raw), len(vals))
	for i, v := range vals {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%s: string %q contains a NUL byte", attrDesc(obj, name), v)
		}
		ptrs[i] = C.CString(v)
		defer C.free(unsafe.Pointer(ptrs[i]))
	}
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	u := C.int(0)
	if utf8 {
		u = 1
	}
	var err error
	call(func() {
		var p **C.char
		if len(vals) > 0 {
			p = &ptrs[0]
		}
		if C.gn_attr_write_vlen_strs(f.hid(), cs, cn, p, C.hsize_t(len(vals)), u) < 0 {
			err = libErr(fmt.Sprintf("cannot write %s", attrDesc(obj, name)))
		}
	})
	return err
}

// SetEmptyFloats writes an empty 1-D float64 attribute (what h5py writes for np.array([])).
func (f *File) SetEmptyFloats(obj, name string) error {
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	var err error
	call(func() {
		if C.gn_attr_write_empty_f64(f.hid(), cs, cn) < 0 {
			err = libErr(fmt.Sprintf("cannot write %s", attrDesc(obj, name)))
		}
	})
	return err
}

// Element types of created datasets (little-endian, as numpy writes them on x86).
const (
	Float32 = "float32"
	Uint8   = "uint8"
	Int64   = "int64"
	Float64 = "float64"
)

// CreateDataset creates a contiguous dataset of the given element type and shape; fill it
// with Write.
func (f *File) CreateDataset(obj, elem string, dims []int) error {
	var kind C.int
	switch elem {
	case Float32:
		kind = C.GN_F32
	case Float64:
		kind = C.GN_F64
	case Uint8:
		kind = C.GN_U8
	case Int64:
		kind = C.GN_I64
	default:
		return fmt.Errorf("dataset %q: unsupported element type %q", obj, elem)
	}
	if len(dims) > C.GN_MAX_RANK {
		return fmt.Errorf("dataset %q: rank %d is too large", obj, len(dims))
	}
	cd := make([]C.hsize_t, len(dims)+1)
	for i, d := range dims {
		if d < 0 {
			return fmt.Errorf("dataset %q: negative dimension in %v", obj, dims)
		}
		cd[i] = C.hsize_t(d)
	}
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var err error
	call(func() {
		if C.gn_dset_create(f.hid(), cs, kind, C.int(len(dims)), &cd[0]) < 0 {
			err = libErr(fmt.Sprintf("cannot create dataset %q %s", obj, ShapeString(dims)))
		}
	})
	return err
}

// WriteAtomic writes an HDF5 file through fn into a temporary file beside path, flushes,
// syncs and renames it to path (goodnet/internal/atomicfile: a temporary file left by an
// interrupted run is removed on SIGINT); on error nothing is left behind. Errors name path.
func WriteAtomic(path string, fn func(*File) error) error {
	return WriteIn(nil, path, fn)
}

// WriteIn is WriteAtomic staged in b: the file appears at path when b is committed (a nil b
// renames it at once).
func WriteIn(b *atomicfile.Batch, path string, fn func(*File) error) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	return b.WritePath(path, func(tmp string) error {
		f, err := Create(tmp)
		if err != nil {
			return fmt.Errorf("%s: cannot create a temporary file", path)
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// CreateChunked creates a chunked dataset of shape dims (maxdims nil: fixed; a 0 in maxdims:
// unlimited along that dimension) with chunks of shape chunk, deflated at level deflate (0:
// not compressed). goodnet writes no such files; its tests craft them.
func (f *File) CreateChunked(obj, elem string, dims, maxdims, chunk []int, deflate int) error {
	kind, ok := map[string]C.int{Float32: C.GN_F32, Float64: C.GN_F64, Uint8: C.GN_U8, Int64: C.GN_I64}[elem]
	if !ok {
		return fmt.Errorf("dataset %q: unsupported element type %q", obj, elem)
	}
	if len(dims) == 0 || len(dims) > C.GN_MAX_RANK || len(chunk) != len(dims) || (maxdims != nil && len(maxdims) != len(dims)) {
		return fmt.Errorf("dataset %q: bad shapes %v %v %v", obj, dims, maxdims, chunk)
	}
	cd, cc, cm := hsizes(dims), hsizes(chunk), hsizes(maxdims)
	var pm *C.hsize_t
	if maxdims != nil {
		pm = &cm[0]
	}
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var err error
	call(func() {
		if C.gn_dset_create_chunked(f.hid(), cs, kind, C.int(len(dims)), &cd[0], pm, &cc[0], C.int(deflate)) < 0 {
			err = libErr(fmt.Sprintf("cannot create dataset %q %s", obj, ShapeString(dims)))
		}
	})
	return err
}

// WriteChunk writes the stored bytes of the chunk at offset (element coordinates of its first
// element) as they are: data already compressed by the dataset's filters (zlib for deflate).
func (f *File) WriteChunk(obj string, offset []int, data []byte) error {
	if len(offset) == 0 || len(data) == 0 {
		return fmt.Errorf("dataset %q: empty chunk write", obj)
	}
	co := hsizes(offset)
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var err error
	call(func() {
		if C.gn_dset_write_chunk(f.hid(), cs, C.int(len(offset)), &co[0], 0, unsafe.Pointer(&data[0]), C.size_t(len(data))) < 0 {
			err = libErr(fmt.Sprintf("cannot write a chunk of dataset %q", obj))
		}
	})
	return err
}

// LinkHard makes name another hard link to the object target (a group may so contain itself).
func (f *File) LinkHard(target, name string) error {
	ct, cn := cpath(target), cpath(name)
	defer C.free(unsafe.Pointer(ct))
	defer C.free(unsafe.Pointer(cn))
	var err error
	call(func() {
		if C.gn_link_hard(f.hid(), ct, cn) < 0 {
			err = libErr(fmt.Sprintf("cannot link %q to %q", name, target))
		}
	})
	return err
}

func hsizes(v []int) []C.hsize_t {
	out := make([]C.hsize_t, len(v)+1)
	for i, d := range v {
		out[i] = C.hsize_t(d)
	}
	return out
}

// OpenRW opens an existing file for writing (tests change files goodnet wrote).
func OpenRW(path string) (*File, error) {
	var f *hdf5.File
	var err error
	call(func() {
		f, err = hdf5.OpenFile(path, hdf5.F_ACC_RDWR)
		if err != nil {
			err = libErr("cannot open for writing")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{f: f, id: C.hid_t(f.ID()), path: path, w: true}, nil
}

// DeleteAttr removes an attribute.
func (f *File) DeleteAttr(obj, name string) error {
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	var err error
	call(func() {
		if C.gn_attr_delete(f.hid(), cs, cn) < 0 {
			err = libErr(fmt.Sprintf("cannot delete %s", attrDesc(obj, name)))
		}
	})
	return err
}
