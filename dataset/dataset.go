// Package dataset reads the lab's HDF5 data sets (`data` N×3×H×W, `label` N) and image files
// into NHWC float32 batches, and writes sets in the lab's layout.
//
// The pixel transform is the seed's data_loader: x = data.transpose(0, 2, 3, 1), times a
// scale (1 for the lab's BadNets, which take raw 0–255 pixels; 1/255 for the 2020 CSAW
// models). Errors name the file and the problem.
package dataset

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// pixel converts a stored value to the model's input: float32(v·scale), computed in float64
// and rounded once. A scale that is the float32 of 1/k for an integer k divides by k instead,
// as numpy's x/255 does.
type pixel struct {
	mul, div float64
}

func newPixel(scale float32) (pixel, error) {
	if math.IsNaN(float64(scale)) || math.IsInf(float64(scale), 0) || scale == 0 {
		return pixel{}, fmt.Errorf("scale %v must be finite and non-zero", scale)
	}
	if a := math.Abs(float64(scale)); a < 1 {
		k := math.Round(1 / a)
		if k >= 2 && k <= 1<<24 && float32(1/k) == float32(a) {
			return pixel{mul: math.Copysign(1, float64(scale)), div: k}, nil
		}
	}
	return pixel{mul: float64(scale), div: 1}, nil
}

func (p pixel) conv(v float64) float32 {
	if p.div != 1 {
		return float32(p.mul * v / p.div)
	}
	return float32(v * p.mul)
}

// Load reads a lab h5 set: `data` N×C×H×W (uint8, float32 or float64; other integer types
// too) becomes X = data.transpose(0, 2, 3, 1) × scale, and `label` N (any integer or float
// type; fractional, negative or NaN labels are errors) becomes Y. NaN or infinite pixels are
// errors. Load is Open, then Read of every image into X.
func Load(path string, scale float32) (*nn.Set, error) {
	r, err := Open(path, scale)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.readAll()
}

// readAll reads the whole set (after checking X against the memory limit).
func (r *Reader) readAll() (*nn.Set, error) {
	if err := resource.Check(setNeed(r.d), setWhat(r.d, r.d.Elem)); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	s := &nn.Set{Path: r.Path, N: r.N, C: r.C, H: r.H, W: r.W, Y: r.Y, X: make([]float32, r.N*r.C*r.H*r.W)}
	if err := r.Read(0, r.N, s.X); err != nil {
		return nil, err
	}
	return s, nil
}

// Reader is a lab set opened for reading its images in pieces (Read), converted as Load
// converts them: a job that runs every image through a model once holds one piece at a time,
// never the whole set as float32 (goodnet predict --set).
//
// The file is opened once and parsed by libhdf5 in a child process (goodnet/internal/isolate),
// which returns the set's shape, its labels and where its pixels are: a file that crashes
// libhdf5 is an error, not a crash, and this process never runs libhdf5 on it. Pixels stored
// contiguously and uncompressed as little-endian uint8, float32 or float64 (the lab's files)
// are read here, from the descriptor the child read, and converted to NHWC float32 on all
// cores straight into the caller's buffer (through a small buffer per core); others (chunked,
// compressed, other types) come decompressed from the child. What the file declares is
// checked against the memory limit (goodnet/internal/resource) before it is allocated, and
// the reads here together get the child's time limit.
type Reader struct {
	Path       string
	N, H, W, C int
	Y          []int32 // the labels

	fh   *os.File
	own  bool // Close closes fh
	size int64
	px   pixel
	d    described
	r    *isolate.Result
	src  source
	left time.Duration // of the time limit for reading
}

// Open opens a lab set for Read (see Load).
func Open(path string, scale float32) (*Reader, error) {
	px, err := newPixel(scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fh, size, err := h5.OpenForRead(path)
	if err != nil {
		return nil, err
	}
	r, err := openFD(fh, path, size, px, false)
	if err != nil {
		fh.Close()
		return nil, err
	}
	r.own = true
	return r, nil
}

// openFD opens the set in fh: parsed in a child process, or here when local (the fuzz target
// of the parsing).
func openFD(fh *os.File, path string, size int64, px pixel, local bool) (*Reader, error) {
	var res *isolate.Result
	var err error
	if local {
		var oe *isolate.OpError
		if res, err = isolate.Local(opLoad, fh, []string{path}, nil); errors.As(err, &oe) {
			err = errors.New(oe.Msg)
		}
	} else {
		res, err = h5.Call(opLoad, fh, path, []string{path}, nil, size)
	}
	if err != nil {
		return nil, err
	}
	r, err := newReader(fh, path, size, px, res)
	if err != nil {
		res.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the file and what the child returned.
func (r *Reader) Close() error {
	r.r.Close()
	if r.own {
		return r.fh.Close()
	}
	return nil
}

// opLoad is the child's part of Load (see goodnet/internal/isolate): describe.
const opLoad = "dataset.Load"

func init() {
	isolate.Register(opLoad, func(fh *os.File, a []string, _ []byte, out *isolate.Writer) error {
		return describe(fh, a[0], out)
	})
}

// described is what the child says of a set: its shape, the blob of its labels (int32), and
// either where its raw pixels are in the file (Offset, Elem) or the blob of its pixels in
// file order (N×C×H×W of Elem).
type described struct {
	N, C, H, W int
	Labels     int
	Elem       string // "uint8", "float32", "float64"
	Raw        bool
	Offset     int64
	Data       int // blob, when not Raw
}

func elemSize(e string) int {
	switch e {
	case "uint8":
		return 1
	case "float32":
		return 4
	case "float64":
		return 8
	}
	return 0
}

// describe is the child's part of Load: it checks the set's structure, shape, types, storage
// and labels, and writes the description (and the labels, and the pixels unless they are raw
// in the file).
func describe(fh *os.File, path string, out *isolate.Writer) error {
	f, err := h5.OpenFile(fh, path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, name := range []string{"data", "label"} {
		if k := f.Kind(name); k != h5.Dataset {
			what := "no dataset"
			if k != h5.None {
				what = "a " + k.String() + ", not a dataset,"
			}
			return fmt.Errorf("%s: %s %q (a lab set holds data N×3×H×W and label N)", path, what, name)
		}
	}
	di, err := f.DatasetInfo("data")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if di.Type.Class != h5.Int && di.Type.Class != h5.Float {
		return fmt.Errorf("%s: data is %s, not numbers (want uint8, float32 or float64)", path, di.Type)
	}
	if len(di.Dims) != 4 {
		return fmt.Errorf("%s: data has shape %s, want 4 dimensions N×C×H×W", path, di.ShapeString())
	}
	d := described{N: di.Dims[0], C: di.Dims[1], H: di.Dims[2], W: di.Dims[3]}
	if d.N == 0 || d.C == 0 || d.H == 0 || d.W == 0 {
		return fmt.Errorf("%s: data has shape %s: no images", path, di.ShapeString())
	}
	if err := f.CheckStorage("data", di); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	per := d.C * d.H * d.W
	if per > 1<<28 || d.N > (1<<40)/per {
		return fmt.Errorf("%s: data %s is too large", path, di.ShapeString())
	}
	switch {
	case di.Type.Class == h5.Int && di.Type.Size == 1 && !di.Type.Signed:
		d.Elem = "uint8"
	case di.Type.Class == h5.Float && di.Type.Size == 4:
		d.Elem = "float32"
	default:
		d.Elem = "float64"
	}
	d.Raw = di.Raw() && d.Elem != "float64" || di.Raw() && di.Type.Class == h5.Float && di.Type.Size == 8
	// What this child reads and returns: the labels and, unless the pixels are raw in the
	// file, the pixels (the parent checks what it will hold itself).
	need := 4 * int64(d.N)
	if !d.Raw {
		need += di.ReadNeed(elemSize(d.Elem))
	}
	if err := resource.Check(need, fmt.Sprintf("its %d images of %d×%d×%d (%s)", d.N, d.H, d.W, d.C, di.Type)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if d.Raw {
		if d.Offset = di.Offset; d.Offset < 0 || d.Offset > f.Size()-int64(d.N)*int64(per)*int64(elemSize(d.Elem)) {
			return fmt.Errorf("%s: data lies outside the file (truncated file?)", path)
		}
	}
	y, err := loadLabels(f, d.N)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	lb, li, err := out.Blob(4 * len(y))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	copy(lb, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(y))), 4*len(y)))
	d.Labels = li
	if !d.Raw {
		b, i, err := out.Blob(d.N * per * elemSize(d.Elem))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		d.Data = i
		switch d.Elem {
		case "uint8":
			err = readRows(f, b, d.N, per)
		case "float32":
			err = readRows(f, unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4), d.N, per)
		default:
			err = readRows(f, unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8), d.N, per)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return out.Meta(d)
}

// setNeed is the memory a set's X takes.
func setNeed(d described) int64 { return int64(d.N) * int64(d.C*d.H*d.W) * 4 }

func setWhat(d described, elem string) string {
	return fmt.Sprintf("its %d images of %d×%d×%d (%s, read as float32)", d.N, d.H, d.W, d.C, elem)
}

// readRows reads `data` into dst (N×per of T) in slabs of about 8 MB.
func readRows[T uint8 | float32 | float64](f *h5.File, dst []T, n, per int) error {
	var zero T
	rows := min(n, max(1, (8<<20)/(int(unsafe.Sizeof(zero))*per)))
	for n0 := 0; n0 < n; n0 += rows {
		r := min(rows, n-n0)
		if err := f.Read("data", dst[n0*per:(n0+r)*per], n0, r); err != nil {
			return err
		}
	}
	return nil
}

// newReader checks the child's description and takes the labels.
func newReader(fh *os.File, path string, size int64, px pixel, res *isolate.Result) (*Reader, error) {
	var d described
	if err := res.Meta(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	es := elemSize(d.Elem)
	if d.N <= 0 || d.C <= 0 || d.H <= 0 || d.W <= 0 || es == 0 || d.C*d.H*d.W > 1<<28 || d.N > (1<<40)/(d.C*d.H*d.W) {
		return nil, fmt.Errorf("%s: bad description of the set from the reading child", path)
	}
	per := d.C * d.H * d.W
	lb := res.Blob(d.Labels)
	if len(lb) != 4*d.N {
		return nil, fmt.Errorf("%s: bad labels from the reading child", path)
	}
	r := &Reader{Path: path, N: d.N, C: d.C, H: d.H, W: d.W, Y: make([]int32, d.N), fh: fh, size: size, px: px, d: d, r: res,
		left: isolate.Timeout(size)}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(r.Y))), 4*d.N), lb)
	if d.Raw {
		if !littleEndian || d.Offset < 0 || d.Offset > size-int64(d.N)*int64(per)*int64(es) {
			return nil, fmt.Errorf("%s: data lies outside the file (truncated file?)", path)
		}
		r.src = fileSource{fh, d.Offset}
	} else {
		b := res.Blob(d.Data)
		if len(b) != d.N*per*es {
			return nil, fmt.Errorf("%s: bad pixels from the reading child", path)
		}
		r.src = memSource(b)
	}
	return r, nil
}

// littleEndian: the raw path reads the file's little-endian numbers as they are.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// Read converts the images [n0, n0+n) into dst (n×H×W×C float32, NHWC, × the scale). A
// non-finite pixel is an error naming the first one, in file order.
func (r *Reader) Read(n0, n int, dst []float32) error {
	per := r.C * r.H * r.W
	if n0 < 0 || n < 0 || n0+n > r.N || len(dst) != n*per {
		return fmt.Errorf("%s: Read(%d, %d) of %d images into %d values", r.Path, n0, n, r.N, len(dst))
	}
	if n == 0 {
		return nil
	}
	if r.left <= 0 {
		return fmt.Errorf("%s: too slow to read: reading the data did not finish in %v", r.Path, isolate.Timeout(r.size))
	}
	t0 := time.Now()
	s := &nn.Set{N: n, C: r.C, H: r.H, W: r.W, X: dst}
	var bad badPixel
	var err error
	src := offsetSource{r.src, int64(n0) * int64(per) * int64(elemSize(r.d.Elem))}
	switch r.d.Elem {
	case "uint8":
		bad, err = convert[uint8](s, r.px, src, r.left)
	case "float32":
		bad, err = convert[float32](s, r.px, src, r.left)
	default:
		bad, err = convert[float64](s, r.px, src, r.left)
	}
	r.left -= time.Since(t0)
	if err != nil {
		if strings.HasPrefix(err.Error(), "too slow") {
			err = fmt.Errorf("too slow to read: reading the data did not finish in %v", isolate.Timeout(r.size))
		}
		return fmt.Errorf("%s: %w", r.Path, err)
	}
	if bad.n >= 0 {
		return fmt.Errorf("%s: data: image %d, channel %d, row %d, column %d is %v (pixels must be finite)", r.Path, n0+bad.n, bad.c, bad.y, bad.x, bad.v)
	}
	return nil
}

// offsetSource is a source from byte off on.
type offsetSource struct {
	s   source
	off int64
}

func (o offsetSource) slab(buf []byte, off, n int64) ([]byte, error) {
	return o.s.slab(buf, o.off+off, n)
}

// file reports whether the source reads from a file (into the caller's buffer, which the
// workers then allocate) rather than handing out views of memory.
func (o offsetSource) file() bool {
	f, ok := o.s.(interface{ file() bool })
	return ok && f.file()
}

// badPixel locates a non-finite pixel (n < 0: none).
type badPixel struct {
	n, c, y, x int
	v          float64
}

// source is where the pixels are, in file order: the file (raw) or the child's result.
type source interface {
	// slab returns bytes [off, off+n) of the pixels, in buf (of at least n bytes) or a view.
	slab(buf []byte, off, n int64) ([]byte, error)
}

type fileSource struct {
	fh  *os.File
	off int64
}

func (fileSource) file() bool { return true }

func (s fileSource) slab(buf []byte, off, n int64) ([]byte, error) {
	k, err := s.fh.ReadAt(buf[:n], s.off+off)
	if int64(k) < n {
		if err == nil || err == io.EOF {
			err = errors.New("the file is shorter than when it was opened")
		}
		return nil, fmt.Errorf("reading the data: %w", err)
	}
	return buf[:n], nil
}

type memSource []byte

func (s memSource) slab(_ []byte, off, n int64) ([]byte, error) { return s[off : off+n], nil }

// slabBytes is the size of the pieces the workers convert: a few hundred KB, so that a piece
// read from the file is still in cache when it is converted.
const slabBytes = 512 << 10

// convert transposes the pixels of src (N×C×H×W of T) into s.X (N×H×W×C float32, × the
// pixel transform) on all cores, a slab of whole images per task, within limit. It returns the
// first non-finite pixel in file order.
func convert[T uint8 | float32 | float64](s *nn.Set, px pixel, src source, limit time.Duration) (badPixel, error) {
	per := s.C * s.H * s.W
	var zero T
	es := int(unsafe.Sizeof(zero))
	rows := min(s.N, max(1, slabBytes/(es*per)))
	tasks := (s.N + rows - 1) / rows
	workers := max(1, min(runtime.GOMAXPROCS(0), tasks))
	var next atomic.Int64
	var mu sync.Mutex
	bad := badPixel{n: -1}
	var firstErr error
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			if f, ok := src.(interface{ file() bool }); ok && f.file() {
				buf = make([]byte, rows*per*es)
			}
			for {
				t := int(next.Add(1) - 1)
				if t >= tasks {
					return
				}
				n0 := t * rows
				r := min(rows, s.N-n0)
				mu.Lock()
				stop := firstErr != nil || (bad.n >= 0 && bad.n < n0)
				mu.Unlock()
				if stop {
					return
				}
				b, err := src.slab(buf, int64(n0)*int64(per*es), int64(r*per*es))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				img := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), r*per)
				if bp := convertSlab(s, px, img, n0, r); bp.n >= 0 {
					mu.Lock()
					if bad.n < 0 || bp.n < bad.n {
						bad = bp
					}
					mu.Unlock()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		return bad, fmt.Errorf("too slow to read: reading the data did not finish in %v", limit)
	}
	if bad.n >= 0 {
		return bad, nil // before any slab that failed to read
	}
	return bad, firstErr
}

// convertSlab transposes the r images of buf (C×H×W each) into s.X from image n0 on and
// returns the first non-finite pixel (n < 0: none).
func convertSlab[T uint8 | float32 | float64](s *nn.Set, px pixel, buf []T, n0, r int) badPixel {
	per, hw := s.C*s.H*s.W, s.H*s.W
	var zero T
	_, isByte := any(zero).(uint8)
	k := transposeC(px, s.X[n0*per:(n0+r)*per], buf[:r*per], r, s.C, hw, !isByte || !px.finiteOnBytes())
	if k < 0 {
		return badPixel{n: -1}
	}
	i, k := k/per, k%per
	j, c := k/s.C, k%s.C
	return badPixel{n0 + i, c, j / s.W, j % s.W, float64(buf[i*per+c*hw+j])}
}

// finiteOnBytes reports whether every byte value converts to a finite float32.
func (p pixel) finiteOnBytes() bool {
	return !math.IsInf(float64(float32(255*math.Abs(p.mul)/p.div)), 0)
}

func loadLabels(f *h5.File, n int) ([]int32, error) {
	li, err := f.DatasetInfo("label")
	if err != nil {
		return nil, err
	}
	if li.Type.Class != h5.Int && li.Type.Class != h5.Float {
		return nil, fmt.Errorf("label is %s, not numbers", li.Type)
	}
	if !(len(li.Dims) == 1 || (len(li.Dims) == 2 && li.Dims[1] == 1)) {
		return nil, fmt.Errorf("label has shape %s, want (N,)", li.ShapeString())
	}
	if li.Dims[0] != n {
		return nil, fmt.Errorf("%d labels for %d images", li.Dims[0], n)
	}
	if err := f.CheckStorage("label", li); err != nil {
		return nil, err
	}
	raw := make([]float64, n)
	if err := f.Read("label", raw, 0, 0); err != nil {
		return nil, err
	}
	y := make([]int32, n)
	for i, v := range raw {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, fmt.Errorf("label %d is %v", i, v)
		case v != math.Trunc(v):
			return nil, fmt.Errorf("label %d is %v, not an integer", i, v)
		case v < 0:
			return nil, fmt.Errorf("label %d is %v, negative", i, v)
		case v > math.MaxInt32:
			return nil, fmt.Errorf("label %d is %v, too large", i, v)
		}
		y[i] = int32(v)
	}
	return y, nil
}

// Save writes s in the lab's layout: `data` N×C×H×W and `label` N int64. dtype "uint8"
// stores the pixels as uint8 (they must be integers in 0..255), "float32" as float32, and
// "auto" as uint8 when they all are integers in 0..255 and float32 otherwise. X is written as
// it is (no unscaling). The file is written atomically.
func Save(path string, s *nn.Set, dtype string) error {
	if err := s.Check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if s.Y == nil {
		return fmt.Errorf("%s: the set has no labels (a lab set needs label N)", path)
	}
	bytesOK := true
	for i, v := range s.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: pixel %d is %v", path, i, v)
		}
		if bytesOK && (v < 0 || v > 255 || v != float32(math.Trunc(float64(v)))) {
			bytesOK = false
			if dtype == "uint8" {
				return fmt.Errorf("%s: pixel %d is %v: cannot be stored as uint8 (integers 0..255)", path, i, v)
			}
		}
	}
	for i, y := range s.Y {
		if y < 0 {
			return fmt.Errorf("%s: label %d is %d, negative", path, i, y)
		}
	}
	elem := h5.Float32
	switch dtype {
	case "auto":
		if bytesOK {
			elem = h5.Uint8
		}
	case "uint8":
		elem = h5.Uint8
	case "float32":
	default:
		return fmt.Errorf("%s: unknown dtype %q (auto, uint8, float32)", path, dtype)
	}
	return h5.WriteAtomic(path, func(f *h5.File) error {
		if err := f.CreateDataset("data", elem, []int{s.N, s.C, s.H, s.W}); err != nil {
			return err
		}
		per := s.C * s.H * s.W
		rows := max(1, (16<<20)/(4*per))
		f32 := make([]float32, min(rows, s.N)*per)
		var u8 []uint8
		if elem == h5.Uint8 {
			u8 = make([]uint8, len(f32))
		}
		hw := s.H * s.W
		for n0 := 0; n0 < s.N; n0 += rows {
			r := min(rows, s.N-n0)
			for i := 0; i < r; i++ {
				in := s.X[(n0+i)*per : (n0+i+1)*per]
				out := f32[i*per : (i+1)*per]
				for j := 0; j < hw; j++ {
					for c := 0; c < s.C; c++ {
						out[c*hw+j] = in[j*s.C+c]
					}
				}
			}
			var buf any = f32[:r*per]
			if u8 != nil {
				for i, v := range f32[:r*per] {
					u8[i] = uint8(v)
				}
				buf = u8[:r*per]
			}
			if err := f.Write("data", buf, n0, r); err != nil {
				return err
			}
		}
		if err := f.CreateDataset("label", h5.Int64, []int{s.N}); err != nil {
			return err
		}
		y := make([]int64, s.N)
		for i, v := range s.Y {
			y[i] = int64(v)
		}
		return f.Write("label", y, 0, 0)
	})
}
