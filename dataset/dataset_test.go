package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/hdf5"

	"goodnet/internal/fixtures"
	"goodnet/internal/h5"
	"goodnet/nn"
)

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one containing %q", subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestLoadMini(t *testing.T) {
	cl, err := load(t, fixtures.Path(t, "cl_mini.h5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if cl.N != 3 || cl.H != 55 || cl.W != 47 || cl.C != 3 || len(cl.X) != 3*55*47*3 {
		t.Fatalf("cl_mini: N=%d H=%d W=%d C=%d len=%d", cl.N, cl.H, cl.W, cl.C, len(cl.X))
	}
	if !reflect.DeepEqual(cl.Y, []int32{43, 328, 196}) {
		t.Errorf("cl_mini labels %v", cl.Y)
	}
	bd, err := load(t, fixtures.Path(t, "bd_mini.h5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bd.Y, []int32{0, 0, 0}) || bd.N != 3 {
		t.Errorf("bd_mini labels %v", bd.Y)
	}
	for _, s := range []*nn.Set{cl, bd} {
		if err := s.CheckShape(nn.DeepID(55, 47, 1283).InputShape()); err != nil {
			t.Error(err)
		}
		lo, hi := float32(255), float32(0)
		for _, v := range s.X {
			lo, hi = min(lo, v), max(hi, v)
			if v != float32(math.Trunc(float64(v))) {
				t.Fatalf("%s: pixel %v is not an integer", s.Path, v)
			}
		}
		if lo < 0 || hi > 255 || hi-lo < 100 {
			t.Errorf("%s: pixels in [%v, %v]", s.Path, lo, hi)
		}
	}
	// The transpose: X[n, h, w, c] = data[n, c, h, w].
	f, err := h5.Open(fixtures.Path(t, "bd_mini.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw := make([]uint8, 3*3*55*47)
	if err := f.Read("data", raw, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, at := range [][4]int{{0, 0, 0, 0}, {1, 2, 54, 46}, {2, 1, 17, 30}, {0, 2, 3, 40}} {
		n, c, y, x := at[0], at[1], at[2], at[3]
		if got, want := bd.X[((n*55+y)*47+x)*3+c], float32(raw[((n*3+c)*55+y)*47+x]); got != want {
			t.Errorf("X[%d,%d,%d,%d] = %v, data[%d,%d,%d,%d] = %v", n, y, x, c, got, n, c, y, x, want)
		}
	}
	// Scale 1/255 divides by 255 like numpy; other scales multiply.
	cs, err := load(t, fixtures.Path(t, "cl_mini.h5"), 1.0/255)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := load(t, fixtures.Path(t, "cl_mini.h5"), 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range cl.X {
		if cs.X[i] != float32(float64(v)/255) || c2.X[i] != 2*v {
			t.Fatalf("scaled pixel %d: %v, %v from %v", i, cs.X[i], c2.X[i], v)
		}
	}
	if _, err := load(t, fixtures.Path(t, "cl_mini.h5"), float32(math.NaN())); err == nil {
		t.Error("NaN scale: no error")
	}
}

// The PNG faces are the images of the mini sets: this pins the channel order.
func TestImagesMatchSets(t *testing.T) {
	dir := filepath.Join(fixtures.Dir(t), "faces")
	for _, c := range []struct {
		set   string
		files []string
	}{
		{"cl_mini.h5", []string{"cl_0_label-43.png", "cl_1_label-328.png", "cl_2_label-196.png"}},
		{"bd_mini.h5", []string{"sun_0_label-0.png", "sun_1_label-0.png", "sun_2_label-0.png"}},
	} {
		var paths []string
		for _, f := range c.files {
			paths = append(paths, filepath.Join(dir, f))
		}
		img, err := LoadImages(paths, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := load(t, fixtures.Path(t, c.set), 1)
		if err != nil {
			t.Fatal(err)
		}
		if img.N != 3 || img.H != 55 || img.W != 47 || img.C != 3 || img.Y != nil {
			t.Fatalf("%s: N=%d H=%d W=%d C=%d Y=%v", c.set, img.N, img.H, img.W, img.C, img.Y)
		}
		if !reflect.DeepEqual(img.X, s.X) {
			diff := 0
			for i := range img.X {
				if img.X[i] != s.X[i] {
					diff++
				}
			}
			t.Errorf("%s: %d of %d pixels differ from the PNGs", c.set, diff, len(s.X))
		}
		if !strings.HasPrefix(img.Path, paths[0]) {
			t.Errorf("Path %q", img.Path)
		}
	}
}

func TestSaveRoundTrip(t *testing.T) {
	before := h5.OpenIDs()
	defer func() {
		if after := h5.OpenIDs(); after != before {
			t.Errorf("%d identifiers left open", after-before)
		}
	}()
	dir := t.TempDir()
	bd, err := load(t, fixtures.Path(t, "bd_mini.h5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := load(t, fixtures.Path(t, "cl_mini.h5"), 1.0/255)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set          *nn.Set
		dtype, store string
	}{
		{bd, "auto", "uint8"}, {bd, "uint8", "uint8"}, {bd, "float32", "float32"}, {cl, "auto", "float32"}, {cl, "float32", "float32"},
	} {
		p := filepath.Join(dir, c.dtype+".h5")
		if err := Save(p, c.set, c.dtype); err != nil {
			t.Fatal(err)
		}
		back, err := load(t, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.X, c.set.X) || !reflect.DeepEqual(back.Y, c.set.Y) || back.Shape().String() != c.set.Shape().String() {
			t.Errorf("%s %s: round trip differs", c.set.Path, c.dtype)
		}
		f, err := h5.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		di, _ := f.DatasetInfo("data")
		li, _ := f.DatasetInfo("label")
		f.Close()
		if di.Type.String() != c.store || !reflect.DeepEqual(di.Dims, []int{3, 3, 55, 47}) || li.Type.String() != "int64" || !reflect.DeepEqual(li.Dims, []int{3}) {
			t.Errorf("%s %s: data %s %v, label %s %v", c.set.Path, c.dtype, di.Type, di.Dims, li.Type, li.Dims)
		}
	}
	// A round trip through a set bigger than one slab.
	big := &nn.Set{N: 700, H: 20, W: 30, C: 3}
	big.X = make([]float32, big.N*big.H*big.W*big.C)
	big.Y = make([]int32, big.N)
	for i := range big.X {
		big.X[i] = float32((i * 7919) % 256)
	}
	for i := range big.Y {
		big.Y[i] = int32(i % 10)
	}
	p := filepath.Join(dir, "big.h5")
	if err := Save(p, big, "auto"); err != nil {
		t.Fatal(err)
	}
	back, err := load(t, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.X, big.X) || !reflect.DeepEqual(back.Y, big.Y) {
		t.Error("big set: round trip differs")
	}

	wantErr(t, Save(p, cl, "uint8"), p+": ", "cannot be stored as uint8")
	wantErr(t, Save(p, cl, "int16"), p+": ", `unknown dtype "int16"`)
	wantErr(t, Save(p, &nn.Set{N: 1, H: 1, W: 1, C: 3, X: []float32{1, 2}, Y: []int32{0}}, "auto"), p+": ", "2 pixel values")
	wantErr(t, Save(p, &nn.Set{N: 1, H: 1, W: 1, C: 1, X: []float32{1}}, "auto"), p+": ", "no labels")
	// Failed saves leave the old file and no temporary.
	if back, err := load(t, p, 1); err != nil || back.N != 700 {
		t.Errorf("the file was damaged by a failed save: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}

// build writes an h5 file with gonum/hdf5 directly (any type, layout or filter).
func build(t *testing.T, path string, fn func(f *hdf5.File)) string {
	t.Helper()
	f, err := hdf5.CreateFile(path, hdf5.F_ACC_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	fn(f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func dset(t *testing.T, f *hdf5.File, name string, typ *hdf5.Datatype, dims []uint, data any) {
	t.Helper()
	sp, err := hdf5.CreateSimpleDataspace(dims, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	d, err := f.CreateDataset(name, typ, sp)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if data != nil {
		if err := d.Write(data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	pix := make([]uint8, 2*3*4*5)
	for i := range pix {
		pix[i] = uint8(i)
	}
	f64 := make([]float64, len(pix))
	for i := range f64 {
		f64[i] = float64(i)
	}
	dims := []uint{2, 3, 4, 5}
	good := func(name string, labelType *hdf5.Datatype, labels any, n uint) string {
		return build(t, filepath.Join(dir, name), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_UINT8, dims, &pix)
			dset(t, f, "label", labelType, []uint{n}, labels)
		})
	}
	// The builder's good case loads.
	p := good("ok.h5", hdf5.T_NATIVE_INT32, &[]int32{3, 4}, 2)
	s, err := load(t, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 2 || s.C != 3 || s.H != 4 || s.W != 5 || !reflect.DeepEqual(s.Y, []int32{3, 4}) || s.X[1] != 20 {
		t.Errorf("ok.h5: %+v", s)
	}
	// Other integer types load too (through float64), float32 directly.
	i16 := make([]int16, len(pix))
	f32 := make([]float32, len(pix))
	for i := range i16 {
		i16[i] = int16(i) - 50
		f32[i] = float32(i) + 0.25
	}
	p = build(t, filepath.Join(dir, "i16.h5"), func(f *hdf5.File) {
		dset(t, f, "data", hdf5.T_NATIVE_INT16, dims, &i16)
		dset(t, f, "label", hdf5.T_NATIVE_UINT8, []uint{2}, &[]uint8{0, 1})
	})
	if s, err = load(t, p, 1); err != nil {
		t.Fatal(err)
	}
	if s.X[0] != -50 || s.X[3] != -49 || s.X[1] != 20-50 || s.X[len(s.X)-1] != 119-50 {
		t.Errorf("int16 data: %v %v %v", s.X[0], s.X[3], s.X[len(s.X)-1])
	}
	p = build(t, filepath.Join(dir, "f32.h5"), func(f *hdf5.File) {
		dset(t, f, "data", hdf5.T_NATIVE_FLOAT, dims, &f32)
		dset(t, f, "label", hdf5.T_NATIVE_FLOAT, []uint{2}, &[]float32{5, 1})
	})
	if s, err = load(t, p, 2); err != nil {
		t.Fatal(err)
	}
	if s.X[0] != 0.5 || s.X[3] != 2.5 || s.X[1] != 40.5 || !reflect.DeepEqual(s.Y, []int32{5, 1}) {
		t.Errorf("float32 data: %v %v %v", s.X[0], s.X[3], s.Y)
	}
	nan32 := append([]float32(nil), f32...)
	nan32[len(nan32)-1] = float32(math.NaN())
	raw, _ := os.ReadFile(fixtures.Path(t, "cl_mini.h5"))
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nanData := append([]float64(nil), f64...)
	nanData[37] = math.NaN()
	infData := append([]float64(nil), f64...)
	infData[3] = math.Inf(-1)
	strType, _ := hdf5.T_C_S1.Copy()
	strType.SetSize(4)
	strData := make([]byte, len(pix)*4)
	cases := []struct {
		path string
		want []string
	}{
		{filepath.Join(dir, "missing.h5"), []string{"no such file"}},
		{dir, []string{"is a directory"}},
		{write("empty.h5", nil), []string{"empty file"}},
		{write("text.h5", []byte("not hdf5, just words")), []string{"not an HDF5 file"}},
		{write("trunc.h5", raw[:len(raw)/2]), []string{"truncated"}},
		{build(t, filepath.Join(dir, "nodata.h5"), func(f *hdf5.File) { dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2}) }), []string{`no dataset "data"`}},
		{build(t, filepath.Join(dir, "nolabel.h5"), func(f *hdf5.File) { dset(t, f, "data", hdf5.T_NATIVE_UINT8, dims, &pix) }), []string{`no dataset "label"`}},
		{build(t, filepath.Join(dir, "rank.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_UINT8, []uint{2, 60}, &pix)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{"data has shape (2, 60)", "4 dimensions"}},
		{good("count.h5", hdf5.T_NATIVE_INT32, &[]int32{1, 2, 3}, 3), []string{"3 labels for 2 images"}},
		{good("frac.h5", hdf5.T_NATIVE_DOUBLE, &[]float64{1, 2.5}, 2), []string{"label 1 is 2.5, not an integer"}},
		{good("neg.h5", hdf5.T_NATIVE_INT64, &[]int64{-3, 2}, 2), []string{"label 0 is -3, negative"}},
		{good("nanlabel.h5", hdf5.T_NATIVE_DOUBLE, &[]float64{math.NaN(), 2}, 2), []string{"label 0 is NaN"}},
		{good("biglabel.h5", hdf5.T_NATIVE_INT64, &[]int64{1 << 40, 2}, 2), []string{"label 0", "too large"}},
		{build(t, filepath.Join(dir, "nan.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_DOUBLE, dims, &nanData)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{"image 0, channel 1, row 3, column 2 is NaN"}},
		{build(t, filepath.Join(dir, "nan32.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_FLOAT, dims, &nan32)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{"image 1, channel 2, row 3, column 4 is NaN"}},
		{build(t, filepath.Join(dir, "inf.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_DOUBLE, dims, &infData)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{"image 0, channel 0, row 0, column 3 is -Inf"}},
		{build(t, filepath.Join(dir, "strings.h5"), func(f *hdf5.File) {
			dset(t, f, "data", strType, dims, &strData)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{"data is string(4, nullterm, ascii), not numbers"}},
		{build(t, filepath.Join(dir, "strlabel.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_UINT8, dims, &pix)
			lab := []byte("abcdefgh")
			dset(t, f, "label", strType, []uint{2}, &lab)
		}), []string{"label is string(4, nullterm, ascii), not numbers"}},
		{build(t, filepath.Join(dir, "group.h5"), func(f *hdf5.File) {
			g, _ := f.CreateGroup("data")
			g.Close()
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{`a group, not a dataset, "data"`}},
		// A huge declared shape that was never written: refused before any allocation.
		{build(t, filepath.Join(dir, "huge.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_UINT8, []uint{1 << 20, 3, 1000, 1000}, nil)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{2}, &[]int32{1, 2})
		}), []string{`dataset "data"`, "no data stored"}},
		{build(t, filepath.Join(dir, "empty_n.h5"), func(f *hdf5.File) {
			dset(t, f, "data", hdf5.T_NATIVE_UINT8, []uint{0, 3, 4, 5}, nil)
			dset(t, f, "label", hdf5.T_NATIVE_INT32, []uint{0}, nil)
		}), []string{"no images"}},
	}
	for _, c := range cases {
		_, err := load(t, c.path, 1)
		wantErr(t, err, append([]string{c.path + ": "}, c.want...)...)
	}
}

// A chunked, deflate-compressed uint8 set with int64 labels loads like a plain one.
func TestLoadCompressed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "z.h5")
	const n, c, h, w = 40, 3, 16, 12
	pix := make([]uint8, n*c*h*w)
	for i := range pix {
		pix[i] = uint8(i / 97)
	}
	build(t, p, func(f *hdf5.File) {
		sp, _ := hdf5.CreateSimpleDataspace([]uint{n, c, h, w}, nil)
		defer sp.Close()
		pl, err := hdf5.NewPropList(hdf5.P_DATASET_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		if err := pl.SetChunk([]uint{8, c, h, w}); err != nil {
			t.Fatal(err)
		}
		if err := pl.SetDeflate(6); err != nil {
			t.Fatal(err)
		}
		d, err := f.CreateDatasetWith("data", hdf5.T_NATIVE_UINT8, sp, pl)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Write(&pix); err != nil {
			t.Fatal(err)
		}
		d.Close()
		labels := make([]int64, n)
		dset(t, f, "label", hdf5.T_NATIVE_INT64, []uint{n}, &labels)
	})
	s, err := load(t, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if s.X[((i*h+y)*w+x)*c+ch] != float32(pix[((i*c+ch)*h+y)*w+x]) {
						t.Fatalf("pixel %d %d %d %d", i, ch, y, x)
					}
				}
			}
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadImagesFormats(t *testing.T) {
	dir := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 4, 3))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	pal := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}})
	g16 := image.NewGray16(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			v := uint8(16*y + x)
			gray.SetGray(x, y, color.Gray{v})
			nrgba.SetNRGBA(x, y, color.NRGBA{v, v + 1, v + 2, uint8(60 * x)})
			pal.SetColorIndex(x, y, uint8((x+y)%2))
			g16.SetGray16(x, y, color.Gray16{uint16(v)<<8 | 0xff})
		}
	}
	s, err := LoadImages([]string{
		writePNG(t, filepath.Join(dir, "g.png"), gray),
		writePNG(t, filepath.Join(dir, "a.png"), nrgba),
		writePNG(t, filepath.Join(dir, "p.png"), pal),
		writePNG(t, filepath.Join(dir, "g16.png"), g16),
	}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 4 || s.H != 3 || s.W != 4 || s.C != 3 {
		t.Fatalf("N=%d H=%d W=%d C=%d", s.N, s.H, s.W, s.C)
	}
	at := func(n, y, x int) [3]float32 {
		i := ((n*3+y)*4 + x) * 3
		return [3]float32{s.X[i], s.X[i+1], s.X[i+2]}
	}
	if got := at(0, 2, 3); got != [3]float32{35, 35, 35} {
		t.Errorf("grey pixel %v", got)
	}
	if got := at(1, 1, 2); got != [3]float32{18, 19, 20} {
		t.Errorf("RGBA pixel %v (alpha must be dropped, colour kept)", got)
	}
	if got := at(2, 0, 1); got != [3]float32{200, 100, 50} {
		t.Errorf("paletted pixel %v", got)
	}
	if got := at(3, 2, 1); got != [3]float32{33, 33, 33} {
		t.Errorf("16-bit grey pixel %v", got)
	}
	// JPEG decodes (lossy: only roughly equal).
	rgb := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(rgb.Pix); i += 4 {
		rgb.Pix[i], rgb.Pix[i+1], rgb.Pix[i+2], rgb.Pix[i+3] = 200, 40, 90, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, rgb, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	jp := filepath.Join(dir, "x.jpg")
	os.WriteFile(jp, b.Bytes(), 0o644)
	js, err := LoadImages([]string{jp}, 1.0/255, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl := js.X[0], js.X[1], js.X[2]; math.Abs(float64(r)-200.0/255) > 0.03 || math.Abs(float64(g)-40.0/255) > 0.03 || math.Abs(float64(bl)-90.0/255) > 0.03 {
		t.Errorf("JPEG pixel %v %v %v", r, g, bl)
	}
	if js.Path != jp {
		t.Errorf("Path %q", js.Path)
	}

	// Errors name the file.
	txt := filepath.Join(dir, "notes.png")
	os.WriteFile(txt, []byte("these are notes, not pixels"), 0o644)
	trunc := filepath.Join(dir, "trunc.png")
	full, _ := os.ReadFile(filepath.Join(fixtures.Dir(t), "faces", "cl_0_label-43.png"))
	os.WriteFile(trunc, full[:len(full)/2], 0o644)
	small := writePNG(t, filepath.Join(dir, "small.png"), image.NewGray(image.Rect(0, 0, 3, 3)))
	empty := filepath.Join(dir, "empty.png")
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		paths []string
		bad   string
		want  string
	}{
		{[]string{txt}, txt, "not a PNG or JPEG image"},
		{[]string{trunc}, trunc, "image"},
		{[]string{filepath.Join(dir, "g.png"), small}, small, "same size"},
		{[]string{filepath.Join(dir, "none.png")}, filepath.Join(dir, "none.png"), "no such file"},
		{[]string{empty}, empty, "empty file"},
		{[]string{dir}, dir, "is a directory"},
	} {
		_, err := LoadImages(c.paths, 1, nil)
		wantErr(t, err, c.bad+": ", c.want)
	}
	if _, err := LoadImages(nil, 1, nil); err == nil {
		t.Error("no paths: no error")
	}
}

func TestCheckShape(t *testing.T) {
	s := &nn.Set{Path: "x.h5", N: 1, H: 47, W: 55, C: 3}
	wantErr(t, s.CheckShape(nn.Shape{55, 47, 3}), "x.h5: ", "47×55×3", "55×47×3", "swapped")
	wantErr(t, s.CheckShape(nn.Shape{47, 55, 1}), "x.h5: ", "47×55×1")
	if err := s.CheckShape(nn.Shape{47, 55, 3}); err != nil {
		t.Error(err)
	}
	if err := s.CheckShape(nn.Shape{47 * 55 * 3}); err != nil {
		t.Error(err)
	}
	wantErr(t, s.CheckShape(nn.Shape{10}), "x.h5: ")
}

// load is Load, checking that it leaves no HDF5 identifier open (the test's own gonum/hdf5
// writer leaks a datatype per dataset, so the check is per call).
func load(t *testing.T, path string, scale float32) (*nn.Set, error) {
	t.Helper()
	before := h5.OpenIDs()
	s, err := Load(path, scale)
	if after := h5.OpenIDs(); after != before {
		t.Errorf("Load(%s) left %d identifiers open", path, after-before)
	}
	return s, err
}
