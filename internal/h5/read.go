package h5

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// Class is the class of an HDF5 datatype.
type Class int

const (
	Int Class = iota
	Float
	String
	OtherClass
)

// Type describes an HDF5 datatype.
type Type struct {
	Class  Class
	Size   int  // bytes per element (fixed-length strings: the string size)
	Signed bool // Int
	VarLen bool // String: variable length
	// String: "nullterm", "nullpad" or "spacepad"; "ascii" or "utf8".
	Pad, CSet string
	// BigEndian is set for big-endian numbers.
	BigEndian bool
	raw       int    // H5T class, for OtherClass descriptions
	odd       string // a number of a non-standard layout (OtherClass): its description
}

// String is a short description: "float32", "uint8", "int64", "string(12, nullpad, ascii)",
// "string(variable, nullterm, utf8)".
func (t Type) String() string {
	be := ""
	if t.BigEndian {
		be = "-be"
	}
	switch t.Class {
	case Int:
		if t.Signed {
			return fmt.Sprintf("int%d%s", 8*t.Size, be)
		}
		return fmt.Sprintf("uint%d%s", 8*t.Size, be)
	case Float:
		return fmt.Sprintf("float%d%s", 8*t.Size, be)
	case String:
		n := fmt.Sprint(t.Size)
		if t.VarLen {
			n = "variable"
		}
		return fmt.Sprintf("string(%s, %s, %s)", n, t.Pad, t.CSet)
	}
	if t.odd != "" {
		return t.odd
	}
	names := map[int]string{2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 8: "enum", 9: "variable-length sequence", 10: "array"}
	if n, ok := names[t.raw]; ok {
		return n
	}
	return fmt.Sprintf("HDF5 type class %d", t.raw)
}

// Info is the type and shape of an attribute or dataset.
type Info struct {
	Type Type
	// Dims is the shape; nil for a scalar (and for a null dataspace: see Null).
	Dims []int
	Null bool // an attribute with no dataspace at all
	// Datasets only: bytes stored in the file, whether a filter (compression) is used, and
	// whether the data lives in external files.
	Storage  int64
	Filtered bool
	External bool
	// Datasets only: where the data is. Offset is a contiguous dataset's offset in the file
	// (-1: not contiguous, or not allocated); Chunk a chunked one's chunk shape and Chunks
	// how many chunks the file stores (-1: unknown).
	Layout  Layout
	Offset  int64
	Chunk   []int
	Chunks  int64
	Filters []int // the filter pipeline's ids (1: deflate, 2: shuffle, ...)
}

// Layout is a dataset's storage layout.
type Layout int

const (
	Compact Layout = iota
	Contiguous
	Chunked
	Virtual
	OtherLayout
)

// Raw reports whether the dataset's bytes lie in the file as they are, in one piece
// (contiguous, no filter), at Offset, in a layout goodnet reads without libhdf5: integers and
// IEEE floats of a standard layout, little-endian.
func (in Info) Raw() bool {
	return in.Layout == Contiguous && in.Offset >= 0 && !in.Filtered && !in.External &&
		(in.Type.Class == Int || in.Type.Class == Float) && !in.Type.BigEndian
}

// ReadNeed is the memory a read of the whole dataset into elements of elem bytes needs: the
// elements, and for a chunked dataset the chunk that libhdf5 decompresses into.
func (in Info) ReadNeed(elem int) int64 {
	n := int64(in.Len()) * int64(elem)
	if in.Layout == Chunked {
		n += in.chunkBytes()
	}
	return n
}

// chunkBytes is the size of one chunk (0: not chunked).
func (in Info) chunkBytes() int64 {
	if in.Layout != Chunked || len(in.Chunk) == 0 {
		return 0
	}
	b := int64(in.Type.Size)
	for _, c := range in.Chunk {
		if c <= 0 || b > math.MaxInt64/4/int64(c) {
			return math.MaxInt64 / 4
		}
		b *= int64(c)
	}
	return b
}

// chunksNeeded is the number of chunks that cover the dataset's shape.
func (in Info) chunksNeeded() int64 {
	if len(in.Chunk) != len(in.Dims) {
		return -1
	}
	n := int64(1)
	for i, d := range in.Dims {
		c := int64(in.Chunk[i])
		if c <= 0 {
			return -1
		}
		k := (int64(d) + c - 1) / c
		if k > 0 && n > math.MaxInt64/4/k {
			return math.MaxInt64 / 4
		}
		n *= k
	}
	return n
}

// Len is the number of elements (1 for a scalar, 0 for a null dataspace).
func (in Info) Len() int {
	if in.Null {
		return 0
	}
	n := 1
	for _, d := range in.Dims {
		n *= d
	}
	return n
}

// ShapeString is "(3, 3, 55, 47)", "()" for a scalar.
func (in Info) ShapeString() string { return ShapeString(in.Dims) }

// ShapeString formats a shape as Keras and numpy do: "(3, 3, 40, 60)", "(60,)" for rank 1.
func ShapeString(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = fmt.Sprint(d)
	}
	if len(dims) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

const maxElems = 1 << 50

func fromC(ci *C.gn_info) (Info, error) {
	var in Info
	t := &in.Type
	t.raw = int(ci.tclass)
	t.Size = int(ci.size)
	switch ci.tclass {
	case C.H5T_INTEGER:
		t.Class = Int
		t.Signed = ci.sign == C.H5T_SGN_2
	case C.H5T_FLOAT:
		t.Class = Float
	case C.H5T_STRING:
		t.Class = String
		t.VarLen = ci.vlen_str != 0
		switch ci.strpad {
		case C.H5T_STR_NULLTERM:
			t.Pad = "nullterm"
		case C.H5T_STR_NULLPAD:
			t.Pad = "nullpad"
		case C.H5T_STR_SPACEPAD:
			t.Pad = "spacepad"
		default:
			t.Pad = fmt.Sprintf("pad%d", int(ci.strpad))
		}
		switch ci.cset {
		case C.H5T_CSET_ASCII:
			t.CSet = "ascii"
		case C.H5T_CSET_UTF8:
			t.CSet = "utf8"
		default:
			t.CSet = fmt.Sprintf("cset%d", int(ci.cset))
		}
	default:
		t.Class = OtherClass
	}
	t.BigEndian = ci.order == C.H5T_ORDER_BE && (t.Class == Int || t.Class == Float)
	if (t.Class == Int || t.Class == Float) && ci.std_layout == 0 {
		// Only standard layouts are read: libhdf5's conversions of others are not safe.
		kind := "integer"
		if t.Class == Float {
			kind = "float"
		}
		t.odd = fmt.Sprintf("%d-byte %s of a non-standard layout (%d-bit precision at bit offset %d)", t.Size, kind, int(ci.precision), int(ci.offset))
		t.Class = OtherClass
	}
	switch ci.space_class {
	case C.H5S_NULL:
		in.Null = true
	case C.H5S_SCALAR:
	default:
		n := uint64(1)
		for i := 0; i < int(ci.rank); i++ {
			d := uint64(ci.dims[i])
			if d > maxElems || (d > 0 && n > maxElems/d) {
				return in, fmt.Errorf("declared shape is too large")
			}
			n *= d
			in.Dims = append(in.Dims, int(d))
		}
		if in.Dims == nil {
			in.Dims = []int{}
		}
	}
	in.Storage = int64(ci.storage)
	in.Filtered = ci.nfilters > 0
	in.External = ci.external > 0
	return in, nil
}

// AttrNames lists the attributes of an object, in name order.
func (f *File) AttrNames(obj string) ([]string, error) {
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var names []string
	var err error
	call(func() {
		n := C.gn_attr_count(f.hid(), cs)
		if n < 0 {
			err = libErr(fmt.Sprintf("cannot list the attributes of %s", objDesc(obj)))
			return
		}
		for i := 0; i < int(n); i++ {
			l := C.gn_attr_name(f.hid(), cs, C.hsize_t(i), nil, 0)
			if l < 0 || l > 1<<16 {
				err = libErr(fmt.Sprintf("cannot list the attributes of %s", objDesc(obj)))
				return
			}
			buf := make([]C.char, l+1)
			C.gn_attr_name(f.hid(), cs, C.hsize_t(i), &buf[0], C.size_t(l+1))
			names = append(names, C.GoString(&buf[0]))
		}
	})
	return names, err
}

// HasAttr reports whether the object exists and has the attribute.
func (f *File) HasAttr(obj, name string) bool {
	if f.Kind(obj) == None {
		return false
	}
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	var r C.int
	call(func() { r = C.gn_attr_exists(f.hid(), cs, cn) })
	return r > 0
}

func attrDesc(obj, name string) string {
	if obj == "" || obj == "/" {
		return fmt.Sprintf("attribute %q", name)
	}
	return fmt.Sprintf("attribute %q of %q", name, obj)
}

// AttrInfo is the type and shape of an attribute.
func (f *File) AttrInfo(obj, name string) (Info, error) {
	if !f.HasAttr(obj, name) {
		return Info{}, fmt.Errorf("no %s", attrDesc(obj, name))
	}
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	var ci C.gn_info
	var err error
	call(func() {
		if C.gn_attr_info(f.hid(), cs, cn, &ci) < 0 {
			err = libErr(fmt.Sprintf("cannot read %s", attrDesc(obj, name)))
		}
	})
	if err != nil {
		return Info{}, err
	}
	in, err := fromC(&ci)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", attrDesc(obj, name), err)
	}
	return in, nil
}

// maxAttrBytes bounds what an attribute read may allocate (Keras' model_config of a large
// model is a few hundred KB; libhdf5 itself stores dense attributes of any size).
const maxAttrBytes = 64 << 20

// AttrStrings reads a string attribute (fixed or variable length, scalar or any shape) as a
// list of strings. Fixed-length strings end at their first NUL (space-padded ones lose their
// trailing spaces). An empty numeric array (Keras writes an empty weight_names so) gives an
// empty list.
func (f *File) AttrStrings(obj, name string) ([]string, error) {
	in, err := f.AttrInfo(obj, name)
	if err != nil {
		return nil, err
	}
	n := in.Len()
	if in.Type.Class != String {
		if n == 0 && (in.Type.Class == Float || in.Type.Class == Int) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("%s is %s, not a string", attrDesc(obj, name), in.Type)
	}
	if n == 0 {
		return []string{}, nil
	}
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	if !in.Type.VarLen {
		total := n * in.Type.Size
		if in.Type.Size <= 0 || total/in.Type.Size != n || total > maxAttrBytes {
			return nil, fmt.Errorf("%s is too large (%d strings of %d bytes)", attrDesc(obj, name), n, in.Type.Size)
		}
		buf := make([]byte, total)
		call(func() {
			if C.gn_attr_read_fixed_str(f.hid(), cs, cn, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(total)) < 0 {
				err = libErr(fmt.Sprintf("cannot read %s", attrDesc(obj, name)))
			}
		})
		if err != nil {
			return nil, err
		}
		out := make([]string, n)
		for i := range out {
			s := buf[i*in.Type.Size : (i+1)*in.Type.Size]
			if j := strings.IndexByte(string(s), 0); j >= 0 {
				s = s[:j]
			}
			str := string(s)
			if in.Type.Pad == "spacepad" {
				str = strings.TrimRight(str, " ")
			}
			out[i] = str
		}
		return out, nil
	}
	if n > maxAttrBytes/8 {
		return nil, fmt.Errorf("%s is too large (%d strings)", attrDesc(obj, name), n)
	}
	var out []string
	call(func() {
		var total C.size_t
		p := C.gn_attr_read_vlen_str(f.hid(), cs, cn, C.hssize_t(n), &total)
		if p == nil {
			err = libErr(fmt.Sprintf("cannot read %s", attrDesc(obj, name)))
			return
		}
		defer C.free(unsafe.Pointer(p))
		if total > maxAttrBytes {
			err = fmt.Errorf("%s is too large (%d bytes)", attrDesc(obj, name), int64(total))
			return
		}
		b := C.GoBytes(unsafe.Pointer(p), C.int(total))
		out = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	})
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("%s: read %d strings, expected %d", attrDesc(obj, name), len(out), n)
	}
	return out, nil
}

// AttrString reads a string attribute holding one string (a scalar or a 1-element array).
func (f *File) AttrString(obj, name string) (string, error) {
	s, err := f.AttrStrings(obj, name)
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("%s holds %d strings, expected 1", attrDesc(obj, name), len(s))
	}
	return s[0], nil
}

// AttrFloats reads a numeric attribute as float64 values.
func (f *File) AttrFloats(obj, name string) ([]float64, error) {
	in, err := f.AttrInfo(obj, name)
	if err != nil {
		return nil, err
	}
	if in.Type.Class != Float && in.Type.Class != Int {
		return nil, fmt.Errorf("%s is %s, not a number", attrDesc(obj, name), in.Type)
	}
	n := in.Len()
	if n > maxAttrBytes/8 {
		return nil, fmt.Errorf("%s is too large (%d values)", attrDesc(obj, name), n)
	}
	out := make([]float64, n)
	cs, cn := cpath(obj), C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cn))
	call(func() {
		var p *C.double
		if n > 0 {
			p = (*C.double)(unsafe.Pointer(&out[0]))
		}
		if C.gn_attr_read_double(f.hid(), cs, cn, p, C.hssize_t(n)) < 0 {
			err = libErr(fmt.Sprintf("cannot read %s", attrDesc(obj, name)))
		}
	})
	return out, err
}

// DatasetInfo is the type, shape and storage of a dataset.
func (f *File) DatasetInfo(obj string) (Info, error) {
	if in, ok := f.infos[obj]; ok {
		return in, nil
	}
	in, err := f.datasetInfo(obj)
	if err == nil && f.f == nil {
		if f.infos == nil {
			f.infos = map[string]Info{}
		}
		f.infos[obj] = in
	}
	return in, err
}

func (f *File) datasetInfo(obj string) (Info, error) {
	switch k := f.Kind(obj); k {
	case Dataset:
	case None:
		return Info{}, fmt.Errorf("no dataset %q", obj)
	default:
		return Info{}, fmt.Errorf("%q is a %s, not a dataset", obj, k)
	}
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var ci C.gn_info
	var err error
	call(func() {
		if C.gn_dset_info(f.hid(), cs, &ci) < 0 {
			err = libErr(fmt.Sprintf("cannot read dataset %q", obj))
		}
	})
	if err != nil {
		return Info{}, err
	}
	in, err := fromC(&ci)
	if err != nil {
		return Info{}, fmt.Errorf("dataset %q: %w", obj, err)
	}
	var lo C.gn_layout
	call(func() {
		if C.gn_dset_layout(f.hid(), cs, &lo) < 0 {
			err = libErr(fmt.Sprintf("cannot read dataset %q", obj))
		}
	})
	if err != nil {
		return Info{}, err
	}
	in.Offset, in.Chunks = int64(lo.offset), int64(lo.nchunks)
	switch lo.layout {
	case C.H5D_COMPACT:
		in.Layout = Compact
	case C.H5D_CONTIGUOUS:
		in.Layout = Contiguous
	case C.H5D_CHUNKED:
		in.Layout = Chunked
		if lo.chunk_rank < 0 || int(lo.chunk_rank) > C.GN_MAX_RANK {
			return Info{}, fmt.Errorf("dataset %q: bad chunk shape", obj)
		}
		for i := 0; i < int(lo.chunk_rank); i++ {
			in.Chunk = append(in.Chunk, int(min(lo.chunk[i], C.hsize_t(maxElems))))
		}
	case C.H5D_VIRTUAL:
		in.Layout = Virtual
	default:
		in.Layout = OtherLayout
	}
	for i := 0; i < int(min(lo.nfilters, 8)); i++ {
		in.Filters = append(in.Filters, int(lo.filters[i]))
	}
	return in, nil
}

// maxRatio bounds the compression ratio believed for a filtered dataset (zlib's limit is
// about 1032:1).
const maxRatio = 1100

// CheckStorage verifies, before anything is allocated from a dataset's declared shape, that
// the file really holds that much data: an unfiltered dataset must store all its bytes, a
// compressed one at least 1/1100 of them, and neither more than the file's size.
func (f *File) CheckStorage(obj string, in Info) error {
	if in.Null {
		return fmt.Errorf("dataset %q has no dataspace", obj)
	}
	if in.External {
		return fmt.Errorf("dataset %q keeps its data in external files (not supported)", obj)
	}
	n := int64(in.Len())
	if n == 0 {
		return nil
	}
	if in.Type.Size <= 0 || n > math.MaxInt64/int64(in.Type.Size) {
		return fmt.Errorf("dataset %q: declared size is too large", obj)
	}
	bytes := n * int64(in.Type.Size)
	switch {
	case in.Storage == 0:
		return fmt.Errorf("dataset %q %s has no data stored (never written)", obj, in.ShapeString())
	case f.size > 0 && in.Storage > f.size:
		return fmt.Errorf("dataset %q claims %d bytes, more than the file's %d (truncated file?)", obj, in.Storage, f.size)
	case !in.Filtered && in.Storage < bytes:
		return fmt.Errorf("dataset %q %s %s needs %d bytes, the file stores only %d (incomplete or truncated)", obj, in.ShapeString(), in.Type, bytes, in.Storage)
	case in.Filtered && bytes/maxRatio > in.Storage:
		return fmt.Errorf("dataset %q %s %s: %d bytes compressed into %d is not plausible", obj, in.ShapeString(), in.Type, bytes, in.Storage)
	case in.Layout == Virtual || in.Layout == OtherLayout:
		return fmt.Errorf("dataset %q has a virtual layout (data in other files: not supported)", obj)
	}
	if in.Layout != Chunked {
		return nil
	}
	cb, want := in.chunkBytes(), in.chunksNeeded()
	switch {
	case want < 0:
		return fmt.Errorf("dataset %q %s: chunk shape %s does not fit it", obj, in.ShapeString(), ShapeString(in.Chunk))
	case in.Chunks >= 0 && in.Chunks < want:
		return fmt.Errorf("dataset %q %s: the file stores %d of its %d chunks (incomplete: the rest would read as fill values)", obj, in.ShapeString(), in.Chunks, want)
	case cb > 64<<20 && cb > 16*bytes:
		return fmt.Errorf("dataset %q %s %s: one chunk of %s %s (%d bytes) for %d bytes of data is not plausible", obj, in.ShapeString(), in.Type, ShapeString(in.Chunk), in.Type, cb, bytes)
	case in.Filtered && in.Chunks > 0 && cb/maxRatio > in.Storage/in.Chunks+1:
		return fmt.Errorf("dataset %q %s %s: chunks of %d bytes compressed into %d on average is not plausible", obj, in.ShapeString(), in.Type, cb, in.Storage/in.Chunks)
	}
	return nil
}

// Read reads a whole dataset, or with rows > 0 the rows [row, row+rows) of its first
// dimension, into dst: a []float32, []float64, []uint8 or []int64 of exactly the number of
// elements read. libhdf5 converts from the file's type (integers and floats); the caller
// checks the type, shape and storage first (DatasetInfo, CheckStorage).
func (f *File) Read(obj string, dst any, row, rows int) error {
	return f.rw(obj, dst, row, rows, false)
}

// Write writes a whole dataset, or rows of it, from src (see Read).
func (f *File) Write(obj string, src any, row, rows int) error {
	return f.rw(obj, src, row, rows, true)
}

func (f *File) rw(obj string, buf any, row, rows int, write bool) error {
	in, err := f.DatasetInfo(obj)
	if err != nil {
		return err
	}
	var kind C.int
	var ptr unsafe.Pointer
	var n int
	switch b := buf.(type) {
	case []float32:
		kind, n = C.GN_F32, len(b)
		if n > 0 {
			ptr = unsafe.Pointer(&b[0])
		}
	case []float64:
		kind, n = C.GN_F64, len(b)
		if n > 0 {
			ptr = unsafe.Pointer(&b[0])
		}
	case []uint8:
		kind, n = C.GN_U8, len(b)
		if n > 0 {
			ptr = unsafe.Pointer(&b[0])
		}
	case []int64:
		kind, n = C.GN_I64, len(b)
		if n > 0 {
			ptr = unsafe.Pointer(&b[0])
		}
	default:
		return fmt.Errorf("dataset %q: unsupported buffer type %T", obj, buf)
	}
	if in.Type.Class != Int && in.Type.Class != Float {
		return fmt.Errorf("dataset %q is %s, not numbers", obj, in.Type)
	}
	var start, count []C.hsize_t
	want := in.Len()
	if rows > 0 {
		if len(in.Dims) == 0 || row < 0 || row+rows > in.Dims[0] {
			return fmt.Errorf("dataset %q %s: rows %d..%d out of range", obj, in.ShapeString(), row, row+rows)
		}
		start = make([]C.hsize_t, len(in.Dims))
		count = make([]C.hsize_t, len(in.Dims))
		start[0], count[0] = C.hsize_t(row), C.hsize_t(rows)
		want = rows
		for i := 1; i < len(in.Dims); i++ {
			count[i] = C.hsize_t(in.Dims[i])
			want *= in.Dims[i]
		}
	}
	if n != want {
		return fmt.Errorf("dataset %q %s: buffer of %d elements for %d", obj, in.ShapeString(), n, want)
	}
	if n == 0 {
		return nil
	}
	cs := cpath(obj)
	defer C.free(unsafe.Pointer(cs))
	var ps, pc *C.hsize_t
	if start != nil {
		ps, pc = &start[0], &count[0]
	}
	call(func() {
		var rc C.int
		if write {
			rc = C.gn_dset_write(f.hid(), cs, kind, C.int(len(in.Dims)), ps, pc, ptr)
		} else {
			rc = C.gn_dset_read(f.hid(), cs, kind, C.int(len(in.Dims)), ps, pc, ptr)
		}
		if rc < 0 {
			verb := "read"
			if write {
				verb = "write"
			}
			err = libErr(fmt.Sprintf("cannot %s dataset %q", verb, obj))
		}
	})
	return err
}
