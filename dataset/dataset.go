// Package dataset reads the lab's HDF5 data sets (`data` N×3×H×W, `label` N) and image files
// into NHWC float32 batches, and writes sets in the lab's layout.
//
// The pixel transform is the seed's data_loader: x = data.transpose(0, 2, 3, 1), times a
// scale (1 for the lab's BadNets, which take raw 0–255 pixels; 1/255 for the 2020 CSAW
// models). Errors name the file and the problem.
package dataset

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"goodnet/internal/h5"
	"goodnet/internal/isolate"
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
// errors. The data is read in slabs of about 8 MB, converted on all cores while the next
// slabs are read; memory is X plus a slab per core.
//
// The file is first read in a child process (h5.Isolated): a file that crashes libhdf5 is an
// error, not a crash.
func Load(path string, scale float32) (*nn.Set, error) {
	px, err := newPixel(scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := h5.Isolated(opLoad, path, []string{path, strconv.FormatFloat(float64(scale), 'g', -1, 32)}, nil); err != nil {
		return nil, err
	}
	return loadSet(path, px)
}

// opLoad is Load run in a child process first (see goodnet/internal/isolate).
const opLoad = "dataset.Load"

func init() {
	isolate.Register(opLoad, func(a []string, _ []byte) error {
		scale, err := strconv.ParseFloat(a[1], 32)
		if err != nil {
			return err
		}
		px, err := newPixel(float32(scale))
		if err != nil {
			return err
		}
		_, err = loadSet(a[0], px)
		return err
	})
}

func loadSet(path string, px pixel) (*nn.Set, error) {
	f, err := h5.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, name := range []string{"data", "label"} {
		if k := f.Kind(name); k != h5.Dataset {
			what := "no dataset"
			if k != h5.None {
				what = "a " + k.String() + ", not a dataset,"
			}
			return nil, fmt.Errorf("%s: %s %q (a lab set holds data N×3×H×W and label N)", path, what, name)
		}
	}
	di, err := f.DatasetInfo("data")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if di.Type.Class != h5.Int && di.Type.Class != h5.Float {
		return nil, fmt.Errorf("%s: data is %s, not numbers (want uint8, float32 or float64)", path, di.Type)
	}
	if len(di.Dims) != 4 {
		return nil, fmt.Errorf("%s: data has shape %s, want 4 dimensions N×C×H×W", path, di.ShapeString())
	}
	s := &nn.Set{Path: path, N: di.Dims[0], C: di.Dims[1], H: di.Dims[2], W: di.Dims[3]}
	if s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0 {
		return nil, fmt.Errorf("%s: data has shape %s: no images", path, di.ShapeString())
	}
	if err := f.CheckStorage("data", di); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	per := s.C * s.H * s.W
	if per > 1<<28 || s.N > (1<<40)/per {
		return nil, fmt.Errorf("%s: data %s is too large", path, di.ShapeString())
	}
	Y, err := loadLabels(f, s.N)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Y = Y
	s.X = make([]float32, s.N*per)
	var bad badPixel
	switch {
	case di.Type.Class == h5.Int && di.Type.Size == 1 && !di.Type.Signed:
		bad, err = readData[uint8](f, s, px)
	case di.Type.Class == h5.Float && di.Type.Size == 4:
		bad, err = readData[float32](f, s, px)
	default:
		bad, err = readData[float64](f, s, px)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if bad.n >= 0 {
		return nil, fmt.Errorf("%s: data: image %d, channel %d, row %d, column %d is %v (pixels must be finite)", path, bad.n, bad.c, bad.y, bad.x, bad.v)
	}
	return s, nil
}

// badPixel locates a non-finite pixel (n < 0: none).
type badPixel struct {
	n, c, y, x int
	v          float64
}

// readData reads `data` in slabs of about 8 MB of T (the file's type when it is uint8,
// float32 or float64, so libhdf5 converts nothing) and transposes each image into s.X. This
// goroutine makes every libhdf5 call; the transposes run on all cores meanwhile, a slab
// behind. The first non-finite pixel in file order is reported, as a serial read would.
func readData[T uint8 | float32 | float64](f *h5.File, s *nn.Set, px pixel) (badPixel, error) {
	per := s.C * s.H * s.W
	var zero T
	size := int(unsafe.Sizeof(zero))
	rows := min(s.N, max(1, (8<<20)/(size*per)))
	workers := max(1, min(runtime.NumCPU(), (s.N+rows-1)/rows))
	type slab struct {
		n0, r int
		buf   []T
	}
	free := make(chan []T, workers+1)
	for i := 0; i < workers+1; i++ {
		free <- make([]T, rows*per)
	}
	jobs := make(chan slab)
	var mu sync.Mutex
	bad := badPixel{n: -1}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				b := convertSlab(s, px, j.buf, j.n0, j.r)
				free <- j.buf
				if b.n >= 0 {
					mu.Lock()
					if bad.n < 0 || b.n < bad.n {
						bad = b
					}
					mu.Unlock()
				}
			}
		}()
	}
	var err error
	for n0 := 0; n0 < s.N; n0 += rows {
		mu.Lock()
		stop := bad.n >= 0
		mu.Unlock()
		if stop {
			break
		}
		r := min(rows, s.N-n0)
		buf := <-free
		if err = f.Read("data", buf[:r*per], n0, r); err != nil {
			break
		}
		jobs <- slab{n0, r, buf}
	}
	close(jobs)
	wg.Wait()
	if bad.n >= 0 {
		return bad, nil // before any slab that failed to read
	}
	return bad, err
}

// convertSlab transposes the r images of buf (C×H×W each) into s.X from image n0 on and
// returns the first non-finite pixel (n < 0: none).
func convertSlab[T uint8 | float32 | float64](s *nn.Set, px pixel, buf []T, n0, r int) badPixel {
	per, hw := s.C*s.H*s.W, s.H*s.W
	for i := 0; i < r; i++ {
		img := buf[i*per : (i+1)*per]
		out := s.X[(n0+i)*per : (n0+i+1)*per]
		transpose(px, out, img, s.C, hw)
		for k, x := range out {
			if x-x != 0 { // NaN or ±Inf
				j, c := k/s.C, k%s.C
				return badPixel{n0 + i, c, j / s.W, j % s.W, float64(img[c*hw+j])}
			}
		}
	}
	return badPixel{n: -1}
}

// transpose converts one C×H×W image into H×W×C with p's conversion.
func transpose[T uint8 | float32 | float64](p pixel, out []float32, img []T, C, hw int) {
	for c := 0; c < C; c++ {
		plane := img[c*hw : (c+1)*hw]
		o := out[c:]
		switch {
		case p.div == 1 && p.mul == 1:
			for j, v := range plane {
				o[j*C] = float32(v)
			}
		case p.div == 1:
			for j, v := range plane {
				o[j*C] = float32(float64(v) * p.mul)
			}
		default:
			for j, v := range plane {
				o[j*C] = float32(p.mul * float64(v) / p.div)
			}
		}
	}
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
