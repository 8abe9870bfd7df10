package h5

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"goodnet/internal/fixtures"
)

func TestReadKerasWeights(t *testing.T) {
	f, err := Open(fixtures.Path(t, "bd_weights.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.AttrNames("/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"backend", "keras_version", "layer_names"}; !reflect.DeepEqual(names, want) {
		t.Errorf("root attributes %v, want %v", names, want)
	}
	ln, err := f.AttrStrings("/", "layer_names")
	if err != nil {
		t.Fatal(err)
	}
	if len(ln) != 15 || ln[0] != "input" || ln[1] != "conv_1" || ln[14] != "output" {
		t.Errorf("layer_names %q", ln)
	}
	in, _ := f.AttrInfo("/", "layer_names")
	if got := in.Type.String(); got != "string(12, nullpad, ascii)" || !reflect.DeepEqual(in.Dims, []int{15}) {
		t.Errorf("layer_names is %s %v", got, in.Dims)
	}
	v, err := f.AttrString("/", "keras_version")
	if err != nil || v != "2.3.1" {
		t.Errorf("keras_version %q %v", v, err)
	}
	in, _ = f.AttrInfo("/", "keras_version")
	if got := in.Type.String(); got != "string(variable, nullterm, ascii)" || in.Dims != nil {
		t.Errorf("keras_version is %s %v", got, in.Dims)
	}
	wn, err := f.AttrStrings("conv_1", "weight_names")
	if err != nil || !reflect.DeepEqual(wn, []string{"conv_1/kernel:0", "conv_1/bias:0"}) {
		t.Errorf("weight_names %q %v", wn, err)
	}
	wn, err = f.AttrStrings("add_1", "weight_names")
	if err != nil || wn == nil || len(wn) != 0 {
		t.Errorf("empty weight_names %q %v", wn, err)
	}
	in, _ = f.AttrInfo("add_1", "weight_names")
	if in.Type.String() != "float64" || !reflect.DeepEqual(in.Dims, []int{0}) {
		t.Errorf("empty weight_names is %s %v", in.Type, in.Dims)
	}
	children, kinds, err := f.Children("/")
	if err != nil || len(children) != 15 || children[0] != "activation_1" || kinds[0] != Group {
		t.Errorf("children %v %v %v", children, kinds, err)
	}
	if k := f.Kind("conv_3/conv_3/kernel:0"); k != Dataset {
		t.Errorf("kind %v", k)
	}
	if k := f.Kind("conv_9/conv_3/kernel:0"); k != None {
		t.Errorf("kind of a missing path %v", k)
	}
	di, err := f.DatasetInfo("conv_3/conv_3/kernel:0")
	if err != nil || di.Type.String() != "float32" || !reflect.DeepEqual(di.Dims, []int{3, 3, 40, 60}) {
		t.Fatalf("dataset info %+v %v", di, err)
	}
	if err := f.CheckStorage("conv_3/conv_3/kernel:0", di); err != nil {
		t.Error(err)
	}
	k32 := make([]float32, di.Len())
	k64 := make([]float64, di.Len())
	if err := f.Read("conv_3/conv_3/kernel:0", k32, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Read("conv_3/conv_3/kernel:0", k64, 0, 0); err != nil {
		t.Fatal(err)
	}
	nz := 0
	for i := range k32 {
		if float64(k32[i]) != k64[i] {
			t.Fatalf("element %d: %v vs %v", i, k32[i], k64[i])
		}
		if k32[i] != 0 {
			nz++
		}
	}
	if nz < len(k32)/2 {
		t.Errorf("only %d of %d kernel values are non-zero", nz, len(k32))
	}
	// Rows 1..2 of the first dimension.
	part := make([]float32, 2*3*40*60)
	if err := f.Read("conv_3/conv_3/kernel:0", part, 1, 2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(part, k32[3*40*60:]) {
		t.Error("row read differs from the whole read")
	}
	if err := f.Read("conv_3/conv_3/kernel:0", part, 2, 2); err == nil {
		t.Error("rows out of range: no error")
	}
	if err := f.Read("conv_3/conv_3/kernel:0", make([]float32, 5), 0, 0); err == nil {
		t.Error("short buffer: no error")
	}
	if _, err := f.AttrStrings("/", "nothing"); err == nil || !strings.Contains(err.Error(), `no attribute "nothing"`) {
		t.Errorf("missing attribute: %v", err)
	}
	if n := f.OpenObjects(); n != 0 {
		t.Errorf("%d objects left open", n)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	real, err := os.ReadFile(fixtures.Path(t, "bd_mini.h5"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing.h5"), "no such file"},
		{dir, "is a directory"},
		{write("empty.h5", nil), "empty file"},
		{write("text.h5", []byte("this is not HDF5 at all, just text\n")), "not an HDF5 file"},
		{write("trunc.h5", real[:len(real)/2]), "truncated or corrupt HDF5 file"},
		{write("head.h5", real[:600]), "truncated or corrupt HDF5 file"},
	}
	for _, c := range cases {
		f, err := Open(c.path)
		if err == nil {
			f.Close()
			t.Errorf("%s: no error", c.path)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want the path and %q", c.path, err, c.want)
		}
	}
}

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.h5")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.CreateGroup("g"))
	must(f.CreateGroup("g/h"))
	must(f.SetStrings("/", "names", []string{"a", "conv_10", ""}))
	must(f.SetString("/", "v", "2.4.0", true))
	must(f.SetString("g", "cfg", `{"x": 1}`, false))
	must(f.SetEmptyFloats("g", "empty"))
	must(f.SetVarStrings("g", "vs", []string{"conv_1", "", "ü"}, true))
	must(f.SetVarStrings("g", "vs0", nil, false))
	must(f.CreateDataset("g/h/x:0", Float32, []int{2, 3}))
	must(f.Write("g/h/x:0", []float32{1, 2, 3, 4, 5, 6}, 0, 0))
	must(f.CreateDataset("u8", Uint8, []int{4}))
	must(f.Write("u8", []uint8{0, 1, 254, 255}, 0, 0))
	must(f.CreateDataset("i64", Int64, []int{3}))
	must(f.Write("i64", []int64{7, 8, 9}, 0, 0))
	must(f.Write("i64", []int64{-1}, 1, 1))
	if err := f.SetStrings("/", "bad", []string{"a\x00b"}); err == nil {
		t.Error("NUL in a string: no error")
	}
	if n := f.OpenObjects(); n != 0 {
		t.Errorf("%d objects left open", n)
	}
	must(f.Close())

	f, err = Open(p)
	must(err)
	defer f.Close()
	s, err := f.AttrStrings("/", "names")
	must(err)
	if !reflect.DeepEqual(s, []string{"a", "conv_10", ""}) {
		t.Errorf("names %q", s)
	}
	in, _ := f.AttrInfo("/", "names")
	if in.Type.String() != "string(7, nullpad, ascii)" {
		t.Errorf("names type %s", in.Type)
	}
	v, err := f.AttrString("/", "v")
	must(err)
	in, _ = f.AttrInfo("/", "v")
	if v != "2.4.0" || in.Type.String() != "string(variable, nullterm, utf8)" {
		t.Errorf("v %q %s", v, in.Type)
	}
	c, err := f.AttrString("g", "cfg")
	must(err)
	if c != `{"x": 1}` {
		t.Errorf("cfg %q", c)
	}
	vs, err := f.AttrStrings("g", "vs")
	must(err)
	in, _ = f.AttrInfo("g", "vs")
	if !reflect.DeepEqual(vs, []string{"conv_1", "", "ü"}) || in.Type.String() != "string(variable, nullterm, utf8)" || !reflect.DeepEqual(in.Dims, []int{3}) {
		t.Errorf("vs %q %s %v", vs, in.Type, in.Dims)
	}
	vs, err = f.AttrStrings("g", "vs0")
	if err != nil || len(vs) != 0 {
		t.Errorf("vs0 %q %v", vs, err)
	}
	e, err := f.AttrStrings("g", "empty")
	must(err)
	if len(e) != 0 {
		t.Errorf("empty %q", e)
	}
	x := make([]float64, 6)
	must(f.Read("g/h/x:0", x, 0, 0))
	if !reflect.DeepEqual(x, []float64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("x %v", x)
	}
	u := make([]float32, 4)
	must(f.Read("u8", u, 0, 0))
	if !reflect.DeepEqual(u, []float32{0, 1, 254, 255}) {
		t.Errorf("u8 %v", u)
	}
	i := make([]float64, 3)
	must(f.Read("i64", i, 0, 0))
	if !reflect.DeepEqual(i, []float64{7, -1, 9}) {
		t.Errorf("i64 %v", i)
	}
}

// Concurrent use from many goroutines (libhdf5 is thread-safe; our calls lock their thread).
func TestConcurrent(t *testing.T) {
	p := fixtures.Path(t, "bd_weights.h5")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				f, err := Open(p)
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.AttrStrings("/", "layer_names"); err != nil {
					errs <- err
				}
				if _, err := f.AttrStrings("/", "missing"); err == nil {
					errs <- os.ErrInvalid
				}
				f.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
