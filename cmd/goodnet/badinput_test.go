package main

// The bad-input suite (issue #7): every bad input gets one clear error line naming the file
// (or flag) and the problem, a non-zero exit status, no panic, no cgo crash, no libhdf5 error
// stack, no stray output and no stray files. Each case runs twice: in-process through run
// (with file descriptor 2 captured, so that anything written around the stderr writer — a
// libhdf5 error stack, a progress bar — is seen) and as a real process of a goodnet binary
// built into a temporary directory (real exit status, real stderr, peak memory). The bad
// files are built here, in temporary directories.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/hdf5"

	"goodnet/dataset"
	"goodnet/internal/fixtures"
	"goodnet/internal/h5"
	"goodnet/keras"
	"goodnet/nn"
)

// buildGoodnet builds the goodnet binary into a temporary directory (skipped, with the reason,
// when the go tool is not available).
func buildGoodnet(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		if g := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
			gotool = g
		} else {
			t.Skipf("no go tool to build the goodnet binary: %v", err)
		}
	}
	bin := filepath.Join(t.TempDir(), "goodnet")
	cmd := exec.Command(gotool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// procResult is one run of the binary.
type procResult struct {
	stdout, stderr string
	code           int // exit status; -1 when killed by a signal
	signal         string
	maxRSS         int64 // peak resident memory in bytes (the process and its children)
	elapsed        time.Duration
	cpu            time.Duration // user + system time (the process and its children): what load does not stretch
}

// runBinary runs the binary with args (and extra environment), killing it after limit.
func runBinary(t *testing.T, bin string, limit time.Duration, env []string, args ...string) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := procResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(t0)}
	if ctx.Err() != nil {
		t.Fatalf("goodnet %s: still running after %v", strings.Join(args, " "), limit)
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("goodnet: %v", err)
		}
	}
	r.code = cmd.ProcessState.ExitCode()
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.signal = ws.Signal().String()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = int64(ru.Maxrss) * 1024
	}
	return r
}

// captureFD2 runs fn with file descriptor 2 redirected to a file and returns what was
// written there: a libhdf5 error stack or anything else that bypasses run's stderr.
func captureFD2(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "fd2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			syscall.Dup3(saved, 2, 0)
			syscall.Close(saved)
		}()
		fn()
	}()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// badNet is a small net of the lab's kind: input 10×8×3 → conv_1 → pool_1 → conv_2 → pool_2 →
// flatten → output (classes, softmax). conv2 sets conv_2's filter count (3 for B).
func badNet(t testing.TB, conv2, classes int) *nn.Model {
	t.Helper()
	conv := func(name, in string, filters, k int) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.Conv2D, Filters: filters, Size: [2]int{k, k}, Strides: [2]int{1, 1},
			Act: nn.ReLU, UseBias: true, InputNames: []string{in}}
	}
	pool := func(name, in string) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.MaxPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, InputNames: []string{in}}
	}
	m, err := nn.New("bad", []*nn.Layer{
		{Name: "input_1", Kind: nn.Input, InShape: nn.Shape{10, 8, 3}},
		conv("conv_1", "input_1", 4, 3), pool("pool_1", "conv_1"),
		conv("conv_2", "pool_1", conv2, 2), pool("pool_2", "conv_2"),
		{Name: "flatten_1", Kind: nn.Flatten, InputNames: []string{"pool_2"}},
		{Name: "output", Kind: nn.Dense, Units: classes, Act: nn.Softmax, UseBias: true, InputNames: []string{"flatten_1"}},
	}, "input_1", "output")
	if err != nil {
		t.Fatal(err)
	}
	nn.RandomWeights(m, 11)
	return m
}

// badEnv holds the good files the bad cases start from.
type badEnv struct {
	dir           string
	m             *nn.Model
	model         string // B: a full model file of badNet(3, 3)
	weights       string // B's weights, weights-only
	clean, poison string // sets of 4 images of 10×8×3, labels 0..2 and all 0
	png           string // a 8×10 (W×H) PNG
	pngBytes      []byte
}

func newBadEnv(t *testing.T) *badEnv {
	t.Helper()
	dir := t.TempDir()
	e := &badEnv{dir: dir, m: badNet(t, 3, 3)}
	e.model, e.weights = e.path("b.h5"), e.path("b_weights.h5")
	if err := keras.SaveModel(e.m, e.model); err != nil {
		t.Fatal(err)
	}
	if err := keras.SaveWeights(e.m, e.weights); err != nil {
		t.Fatal(err)
	}
	e.clean, e.poison = e.path("clean.h5"), e.path("poison.h5")
	for _, s := range []struct {
		path   string
		labels []int32
	}{{e.clean, []int32{0, 1, 2, 1}}, {e.poison, []int32{0, 0, 0, 0}}} {
		set := &nn.Set{X: pixels(4*10*8*3, len(s.path)), Y: s.labels, N: 4, H: 10, W: 8, C: 3}
		if err := dataset.Save(s.path, set, "uint8"); err != nil {
			t.Fatal(err)
		}
	}
	e.pngBytes = pngOf(t, 8, 10)
	e.png = e.write(t, "face.png", e.pngBytes)
	return e
}

func (e *badEnv) path(name string) string { return filepath.Join(e.dir, name) }

// write puts b into a new file of the environment and returns its path.
func (e *badEnv) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := e.path(name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// read returns the bytes of a file.
func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pixels is n integer pixel values in 0..255.
func pixels(n, seed int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32((i*37 + seed*101) % 256)
	}
	return x
}

func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		img.Set(i%w, i/w, color.NRGBA{uint8(i), uint8(3 * i), uint8(7 * i), 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeaderOnly is a PNG whose IHDR declares w×h pixels, followed by the data of a 1×1 image.
func pngHeaderOnly(t testing.TB, w, h uint32) []byte {
	b := pngOf(t, 1, 1)
	for i, v := range []uint32{w, h} {
		for k := 0; k < 4; k++ {
			b[16+4*i+k] = byte(v >> (24 - 8*k))
		}
	}
	c := crc32.ChecksumIEEE(b[12:29])
	for k := 0; k < 4; k++ {
		b[29+k] = byte(c >> (24 - 8*k))
	}
	return b
}

// writeH5 writes an HDF5 file through goodnet's own writer.
func writeH5(t testing.TB, path string, fn func(f *h5.File) error) string {
	t.Helper()
	if err := h5.WriteAtomic(path, fn); err != nil {
		t.Fatal(err)
	}
	return path
}

// ds creates and fills one dataset.
func ds(f *h5.File, name, elem string, dims []int, data any) error {
	if err := f.CreateDataset(name, elem, dims); err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	return f.Write(name, data, 0, 0)
}

// labSet writes a lab set of n 10×8×3 images as float64 with the given labels (nil: none).
func labSet(t testing.TB, path string, dims []int, x []float64, labels []float64) string {
	return writeH5(t, path, func(f *h5.File) error {
		if x != nil {
			if err := ds(f, "data", h5.Float64, dims, x); err != nil {
				return err
			}
		}
		if labels != nil {
			return ds(f, "label", h5.Float64, []int{len(labels)}, labels)
		}
		return nil
	})
}

// goodPixels is the float64 pixels of n 3×10×8 images.
func goodPixels(n int) []float64 {
	x := make([]float64, n*3*10*8)
	for i := range x {
		x[i] = float64(i % 256)
	}
	return x
}

// writeRaw builds an HDF5 file with gonum's binding directly, for what goodnet's writer
// never writes (strings, compounds, chunked and compressed layouts).
func writeRaw(t testing.TB, path string, fn func(f *hdf5.File) error) string {
	t.Helper()
	f, err := hdf5.CreateFile(path, hdf5.F_ACC_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawDataset creates a dataset of type dt and shape dims, optionally chunked (and deflated),
// and writes data (a pointer to a slice) into its first rows rows (0: nothing written).
func rawDataset(f *hdf5.File, name string, dt *hdf5.Datatype, dims, chunk []uint, deflate bool, data any, rows uint) error {
	sp, err := hdf5.CreateSimpleDataspace(dims, nil)
	if err != nil {
		return err
	}
	defer sp.Close()
	dcpl, err := hdf5.NewPropList(hdf5.P_DATASET_CREATE)
	if err != nil {
		return err
	}
	defer dcpl.Close()
	if chunk != nil {
		if err := dcpl.SetChunk(chunk); err != nil {
			return err
		}
		if deflate {
			if err := dcpl.SetDeflate(6); err != nil {
				return err
			}
		}
	}
	d, err := f.CreateDatasetWith(name, dt, sp, dcpl)
	if err != nil {
		return err
	}
	defer d.Close()
	if data == nil {
		return nil
	}
	if rows == 0 {
		return d.Write(data)
	}
	count := append([]uint{rows}, dims[1:]...)
	mem, err := hdf5.CreateSimpleDataspace(count, nil)
	if err != nil {
		return err
	}
	defer mem.Close()
	fsp := d.Space()
	defer fsp.Close()
	if err := fsp.SelectHyperslab(make([]uint, len(dims)), nil, count, nil); err != nil {
		return err
	}
	return d.WriteSubset(data, mem, fsp)
}

// writeModel writes a full Keras model file by hand: config as the model_config attribute and
// m's weights in Keras' layout under model_weights (keras.WriteLayers); edit (may be nil) sees
// each tensor of each layer before it is written, and skip names a layer whose group is left
// out.
func writeModel(t testing.TB, path string, config []byte, m *nn.Model, skip string, edit func(layer string, w *keras.WeightTensor)) string {
	return writeH5(t, path, func(f *h5.File) error {
		if err := f.SetString("/", "backend", "tensorflow", true); err != nil {
			return err
		}
		if err := f.SetString("/", "keras_version", "2.4.0", true); err != nil {
			return err
		}
		if config != nil {
			if err := f.SetString("/", "model_config", string(config), false); err != nil {
				return err
			}
		}
		if err := f.CreateGroup("model_weights"); err != nil {
			return err
		}
		return keras.WriteLayers(f, m, "model_weights", "2.4.0", func(layer string, ts []*keras.WeightTensor) bool {
			if edit != nil {
				for _, w := range ts {
					edit(layer, w)
				}
			}
			return layer != skip
		})
	})
}

// config is m's model_config with fn applied to its decoded JSON (the layer list and the
// layers by name).
func config(t testing.TB, m *nn.Model, fn func(top map[string]any, layers map[string]map[string]any)) []byte {
	t.Helper()
	js, err := keras.MarshalConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, l := range top["config"].(map[string]any)["layers"].([]any) {
		l := l.(map[string]any)
		byName[l["name"].(string)] = l
	}
	if fn != nil {
		fn(top, byName)
	}
	out, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layerCfg is the "config" object of a layer entry.
func layerCfg(l map[string]any) map[string]any { return l["config"].(map[string]any) }

// inbound makes a layer's inbound_nodes call the named layers.
func inbound(names ...string) []any {
	var node []any
	for _, n := range names {
		node = append(node, []any{n, 0, 0, map[string]any{}})
	}
	return []any{node}
}

// badCase is one bad command line.
type badCase struct {
	name string
	// args builds the bad inputs and returns the command line and the file (or flag) the
	// error line must name.
	args func(t *testing.T, e *badEnv) (args []string, names string)
	code int    // 1: a failure, 2: a usage error
	want string // the problem, as the error line must say it
	env  []string
	// procOnly: run only as a process of the binary (a file that makes libhdf5 loop).
	procOnly bool
	// after, when set, checks more after each run (what must not have been created).
	after func(t *testing.T, how string)
}

// Commands that reach each loader with the other inputs good.
func predictSet(e *badEnv, set string) []string {
	return []string{"predict", "--device", "cpu", "--bad_model", e.model, "--set", set}
}

func predictModel(e *badEnv, model string) []string {
	return []string{"predict", "--device", "cpu", "--bad_model", model, "--set", e.clean}
}

func predictWeights(e *badEnv, weights string) []string {
	return []string{"predict", "--device", "cpu", "--bad_model", e.model, "--bad_model_weights", weights, "--set", e.clean}
}

func predictImages(e *badEnv, images ...string) []string {
	return append([]string{"predict", "--device", "cpu", "--bad_model", e.model}, images...)
}

func evalSets(e *badEnv, clean string) []string {
	return []string{"eval", "--device", "cpu", "--clean_set", clean, "--bad_set", e.poison, "--bad_model", e.model,
		"--pruned_bad_model_weights", e.weights}
}

func evalBprime(e *badEnv, bprime string, extra ...string) []string {
	return append([]string{"eval", "--device", "cpu", "--clean_set", e.clean, "--bad_set", e.poison, "--bad_model", e.model,
		"--pruned_bad_model_weights", bprime}, extra...)
}

// pruneTo is a prune command line writing into out.
func pruneTo(e *badEnv, out string, extra ...string) []string {
	return append([]string{"prune", "--device", "cpu", "--quiet", "--bad_model", e.model, "--clean_valid", e.clean,
		"--bad_valid", e.poison, "--out", out}, extra...)
}

// finetuneTo is a finetune command line writing B” to out, B' a pruned copy of B.
func finetuneTo(t *testing.T, e *badEnv, out string, extra ...string) []string {
	return append([]string{"finetune", "--device", "cpu", "--quiet", "--bad_model", e.model, "--pruned_bad_model_weights", e.bprime(t),
		"--clean_set", e.clean, "--epochs", "1", "--out", out}, extra...)
}

// bprime writes B' (channel 1 of conv_2 pruned) once and returns its path.
func (e *badEnv) bprime(t *testing.T) string {
	p := e.path("bprime.h5")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	m := e.m.Clone()
	l := m.Layer("conv_2")
	for i := 1; i < len(l.W); i += l.Filters {
		l.W[i] = 0
	}
	l.B[1] = 0
	if err := keras.SaveWeights(m, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// mount mounts a tmpfs of size bytes on dir (root only), unmounted when the test ends.
func mount(t *testing.T, dir string, size int, readOnly bool) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (needs root or CAP_SYS_ADMIN): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if readOnly {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount %s read-only: %v", dir, err)
		}
	}
}

func badCases() []badCase {
	f32 := func(v ...float32) []float32 { return v }
	return append([]badCase{
		// --- the lab set (dataset.Load) ---
		{name: "set/missing", code: 1, want: "no such file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("nope.h5")
			return predictSet(e, p), p
		}},
		{name: "set/directory", code: 1, want: "is a directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("adir.h5")
			os.Mkdir(p, 0o755)
			return predictSet(e, p), p
		}},
		{name: "set/empty", code: 1, want: "empty file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "empty.h5", nil)
			return predictSet(e, p), p
		}},
		{name: "set/not-hdf5", code: 1, want: "not an HDF5 file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "text.h5", []byte("data,label\n1,2\n"))
			return predictSet(e, p), p
		}},
		{name: "set/signature-then-garbage", code: 1, want: "corrupt HDF5 file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := append([]byte("\x89HDF\r\n\x1a\n"), bytes.Repeat([]byte{0xA5, 0x13, 0x77}, 700)...)
			p := e.write(t, "garbage.h5", b)
			return predictSet(e, p), p
		}},
		{name: "set/truncated-half", code: 1, want: "corrupt HDF5 file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := read(t, e.clean)
			p := e.write(t, "half.h5", b[:len(b)/2])
			return predictSet(e, p), p
		}},
		{name: "set/truncated-tail", code: 1, want: "truncated", args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := read(t, e.clean)
			p := e.write(t, "tail.h5", b[:len(b)-64])
			return predictSet(e, p), p
		}},
		{name: "set/no-data", code: 1, want: `no dataset "data"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("nodata.h5"), nil, nil, []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/no-label", code: 1, want: `no dataset "label"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("nolabel.h5"), []int{2, 3, 10, 8}, goodPixels(2), nil)
			return predictSet(e, p), p
		}},
		{name: "set/data-is-a-group", code: 1, want: `a group, not a dataset, "data"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("group.h5"), func(f *h5.File) error {
				if err := f.CreateGroup("data"); err != nil {
					return err
				}
				return ds(f, "label", h5.Float64, []int{1}, []float64{0})
			})
			return predictSet(e, p), p
		}},
		{name: "set/rank-3", code: 1, want: "want 4 dimensions N×C×H×W", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("rank3.h5"), []int{6, 10, 8}, goodPixels(2), []float64{0, 1, 2, 0, 1, 2})
			return predictSet(e, p), p
		}},
		{name: "set/rank-5", code: 1, want: "want 4 dimensions N×C×H×W", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("rank5.h5"), []int{2, 1, 3, 10, 8}, goodPixels(2), []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/image-size", code: 1, want: "images are 12×8×3 (H×W×C), the model takes 10×8×3", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("size.h5"), []int{2, 3, 12, 8}, make([]float64, 2*3*12*8), []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/height-width-swapped", code: 1, want: "(height and width swapped?)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("swapped.h5"), []int{2, 3, 8, 10}, goodPixels(2), []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/one-channel", code: 1, want: "images are 10×8×1 (H×W×C), the model takes 10×8×3", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("grey.h5"), []int{3, 1, 10, 8}, make([]float64, 3*80), []float64{0, 1, 2})
			return predictSet(e, p), p
		}},
		{name: "set/no-images", code: 1, want: "no images", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("none.h5"), []int{0, 3, 10, 8}, []float64{}, []float64{})
			return predictSet(e, p), p
		}},
		{name: "set/dtype-string", code: 1, want: "data is string", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("str.h5"), func(f *hdf5.File) error {
				if err := rawDataset(f, "data", hdf5.T_GO_STRING, []uint{2, 3, 10, 8}, nil, false, nil, 0); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{2}, nil, false, &[]int64{0, 1}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/dtype-compound", code: 1, want: "data is compound, not numbers", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("compound.h5"), func(f *hdf5.File) error {
				ct, err := hdf5.NewCompoundType(8)
				if err != nil {
					return err
				}
				ct.Insert("re", 0, hdf5.T_NATIVE_FLOAT)
				ct.Insert("im", 4, hdf5.T_NATIVE_FLOAT)
				if err := rawDataset(f, "data", &ct.Datatype, []uint{2, 3, 10, 8}, nil, false, &[]complex64{0, 0}, 0); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{2}, nil, false, &[]int64{0, 1}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/dtype-opaque", code: 1, want: "data is opaque, not numbers", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("opaque.h5"), func(f *hdf5.File) error {
				dt, err := hdf5.CreateDatatype(hdf5.T_OPAQUE, 4)
				if err != nil {
					return err
				}
				if err := rawDataset(f, "data", dt, []uint{2, 3, 10, 8}, nil, false, nil, 0); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{2}, nil, false, &[]int64{0, 1}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/label-count", code: 1, want: "2 labels for 3 images", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("count.h5"), []int{3, 3, 10, 8}, goodPixels(3), []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/label-rank-2", code: 1, want: "label has shape (2, 2), want (N,)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("label2.h5"), func(f *h5.File) error {
				if err := ds(f, "data", h5.Float64, []int{2, 3, 10, 8}, goodPixels(2)); err != nil {
					return err
				}
				return ds(f, "label", h5.Float64, []int{2, 2}, []float64{0, 1, 0, 1})
			})
			return predictSet(e, p), p
		}},
		{name: "set/label-string", code: 1, want: "label is string", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("labelstr.h5"), func(f *hdf5.File) error {
				x := make([]float32, 2*3*10*8)
				if err := rawDataset(f, "data", hdf5.T_NATIVE_FLOAT, []uint{2, 3, 10, 8}, nil, false, &x, 0); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_GO_STRING, []uint{2}, nil, false, nil, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/nan-pixel", code: 1, want: "image 1, channel 2, row 3, column 4 is NaN (pixels must be finite)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			x := goodPixels(2)
			x[1*240+2*80+3*8+4] = math.NaN()
			p := labSet(t, e.path("nan.h5"), []int{2, 3, 10, 8}, x, []float64{0, 1})
			return predictSet(e, p), p
		}},
		{name: "set/inf-pixel", code: 1, want: "is +Inf (pixels must be finite)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("inf.h5"), func(f *h5.File) error {
				x := make([]float32, 2*3*10*8)
				x[7] = float32(math.Inf(1))
				if err := ds(f, "data", h5.Float32, []int{2, 3, 10, 8}, x); err != nil {
					return err
				}
				return ds(f, "label", h5.Int64, []int{2}, []int64{0, 1})
			})
			return predictSet(e, p), p
		}},
		// Giant declared shapes: refused from the file's size before anything is allocated
		// (every run of the binary is also held to a peak memory of 512 MB).
		{name: "set/giant-never-written", code: 1, want: "has no data stored (never written)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("giant.h5"), func(f *h5.File) error {
				if err := f.CreateDataset("data", h5.Float32, []int{1_000_000_000, 3, 10, 8}); err != nil {
					return err
				}
				return ds(f, "label", h5.Int64, []int{2}, []int64{0, 1})
			})
			return predictSet(e, p), p
		}},
		{name: "set/giant-chunked-one-chunk", code: 1, want: "the file stores only", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("chunked.h5"), func(f *hdf5.File) error {
				x := make([]float32, 3*10*8)
				if err := rawDataset(f, "data", hdf5.T_NATIVE_FLOAT, []uint{1_000_000_000, 3, 10, 8}, []uint{1, 3, 10, 8}, false, &x, 1); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{1}, nil, false, &[]int64{0}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/giant-chunked-none-written", code: 1, want: "has no data stored (never written)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("chunked0.h5"), func(f *hdf5.File) error {
				if err := rawDataset(f, "data", hdf5.T_NATIVE_UCHAR, []uint{1 << 40, 3, 10, 8}, []uint{1, 3, 10, 8}, false, nil, 0); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{1}, nil, false, &[]int64{0}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/giant-compressed", code: 1, want: "is not plausible", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeRaw(t, e.path("deflate.h5"), func(f *hdf5.File) error {
				x := make([]float32, 3*10*8)
				if err := rawDataset(f, "data", hdf5.T_NATIVE_FLOAT, []uint{100_000_000, 3, 10, 8}, []uint{1, 3, 10, 8}, true, &x, 1); err != nil {
					return err
				}
				return rawDataset(f, "label", hdf5.T_NATIVE_INT64, []uint{1}, nil, false, &[]int64{0}, 0)
			})
			return predictSet(e, p), p
		}},
		{name: "set/giant-labels", code: 1, want: "1000000000000 labels for 2 images", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("giantlabels.h5"), func(f *h5.File) error {
				if err := ds(f, "data", h5.Float64, []int{2, 3, 10, 8}, goodPixels(2)); err != nil {
					return err
				}
				return f.CreateDataset("label", h5.Int64, []int{1_000_000_000_000})
			})
			return predictSet(e, p), p
		}},
		// --- labels against the model (eval, prune) ---
		{name: "labels/out-of-range", code: 1, want: "label 3 of image 2 is outside the model's 3 classes", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("range.h5"), []int{3, 3, 10, 8}, goodPixels(3), []float64{0, 1, 3})
			return evalSets(e, p), p
		}},
		{name: "labels/out-of-range-prune", code: 1, want: "label 1283 of image 0 is outside the model's 3 classes", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("range2.h5"), []int{1, 3, 10, 8}, goodPixels(1), []float64{1283})
			a := pruneTo(e, filepath.Join(t.TempDir(), "out"))
			a[slices.Index(a, "--bad_valid")+1] = p
			return a, p
		}},
		{name: "labels/negative", code: 1, want: "label 1 is -1, negative", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("neg.h5"), []int{2, 3, 10, 8}, goodPixels(2), []float64{0, -1})
			return evalSets(e, p), p
		}},
		{name: "labels/fractional", code: 1, want: "label 0 is 1.5, not an integer", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("frac.h5"), []int{2, 3, 10, 8}, goodPixels(2), []float64{1.5, 0})
			return evalSets(e, p), p
		}},
		{name: "labels/nan", code: 1, want: "label 1 is NaN", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("labelnan.h5"), []int{2, 3, 10, 8}, goodPixels(2), []float64{0, math.NaN()})
			return evalSets(e, p), p
		}},
		{name: "labels/huge", code: 1, want: "label 0 is 1e+10, too large", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("labelhuge.h5"), []int{1, 3, 10, 8}, goodPixels(1), []float64{1e10})
			return evalSets(e, p), p
		}},
		// --- the model file (keras.LoadModel) ---
		{name: "model/missing", code: 1, want: "no such file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("nomodel.h5")
			return predictModel(e, p), p
		}},
		{name: "model/directory", code: 1, want: "is a directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictModel(e, e.dir), e.dir
		}},
		{name: "model/empty", code: 1, want: "empty file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "emptymodel.h5", nil)
			return predictModel(e, p), p
		}},
		{name: "model/a-png", code: 1, want: "not an HDF5 file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictModel(e, e.png), e.png
		}},
		{name: "model/truncated", code: 1, want: "corrupt HDF5 file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := read(t, e.model)
			p := e.write(t, "cut.h5", b[:len(b)*2/5])
			return predictModel(e, p), p
		}},
		{name: "model/onnx-truncated", code: 1, want: "not a valid ONNX model (truncated or corrupt protobuf", args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := read(t, fixtures.Path(t, "onnx/deepid.onnx"))
			p := e.write(t, "cut.onnx", b[:len(b)*2/5])
			return predictModel(e, p), p
		}},
		{name: "model/onnx-unknown-op", code: 1, want: `(GlobalXxxxxxxPool): operator GlobalXxxxxxxPool is not supported`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			b := bytes.ReplaceAll(read(t, fixtures.Path(t, "onnx/preact_resnet.onnx")), []byte("GlobalAveragePool"), []byte("GlobalXxxxxxxPool"))
			p := e.write(t, "op.onnx", b)
			return predictModel(e, p), p
		}},
		{name: "model/a-data-set", code: 1, want: "no model_config attribute: not a Keras model file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictModel(e, e.clean), e.clean
		}},
		{name: "model/weights-only", code: 1, want: "a weights-only file (save_weights): it has no architecture", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictModel(e, e.weights), e.weights
		}},
		{name: "model/config-not-json", code: 1, want: "model_config: not valid JSON", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("notjson.h5"), []byte(`{"class_name": "Functional", "config": {`), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/config-an-array", code: 1, want: "model_config: the model config is a JSON array, not an object", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("array.h5"), []byte(`[1, 2, 3]`), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/config-no-layers", code: 1, want: `model_config: the model config has no "layers" list`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("nolayers.h5"), config(t, e.m, func(top map[string]any, _ map[string]map[string]any) {
				delete(top["config"].(map[string]any), "layers")
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/config-layer-not-object", code: 1, want: "layer 2 is a JSON string, not an object", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("layerstr.h5"), config(t, e.m, func(top map[string]any, _ map[string]map[string]any) {
				top["config"].(map[string]any)["layers"].([]any)[2] = "pool_1"
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/config-missing-attribute", code: 1, want: "no model_config attribute", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("noconfig.h5"), nil, e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/unknown-layer-class", code: 1, want: `layer "conv_2": unsupported layer class "LSTM"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("lstm.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				l["conv_2"]["class_name"] = "LSTM"
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/padding", code: 1, want: `layer "conv_1": unsupported padding "causal"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("padding.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				layerCfg(l["conv_1"])["padding"] = "causal"
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/activation", code: 1, want: `layer "output": unsupported activation "tanh"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("tanh.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				layerCfg(l["output"])["activation"] = "tanh"
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/dilation", code: 1, want: `layer "conv_2": unsupported dilation_rate [2 2]`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("dilation.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				layerCfg(l["conv_2"])["dilation_rate"] = []any{2, 2}
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/channels-first", code: 1, want: `unsupported data_format "channels_first"`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("chfirst.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				layerCfg(l["pool_1"])["data_format"] = "channels_first"
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/cycle", code: 1, want: "cycle", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("cycle.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				l["pool_1"]["inbound_nodes"] = inbound("pool_2")
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/dangling-inbound", code: 1, want: `inbound layer "pool_9" does not exist`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("dangling.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				l["conv_2"]["inbound_nodes"] = inbound("pool_9")
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/giant-input", code: 1, want: "too large", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("giantinput.h5"), config(t, e.m, func(_ map[string]any, l map[string]map[string]any) {
				layerCfg(l["input_1"])["batch_input_shape"] = []any{nil, 1 << 20, 1 << 20, 3}
			}), e.m, "", nil)
			return predictModel(e, p), p
		}},
		{name: "model/missing-weight-dataset", code: 1, want: `layer "conv_2": weight "conv_2/kernel:0" (listed in weight_names) is not in the file`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("nokernel.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				w.NoDataset = layer == "conv_2" && strings.HasSuffix(w.Name, "kernel:0")
			})
			return predictModel(e, p), p
		}},
		{name: "model/missing-layer-group", code: 1, want: `layer "output": no weights in the file`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("nooutput.h5"), config(t, e.m, nil), e.m, "output", nil)
			return predictModel(e, p), p
		}},
		{name: "model/no-bias", code: 1, want: `layer "conv_1": the file has 1 weight tensors [conv_1/kernel:0], the architecture needs 2`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("nobias.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				if layer == "conv_1" && strings.HasSuffix(w.Name, "bias:0") {
					w.Unlisted = true
				}
			})
			return predictModel(e, p), p
		}},
		{name: "model/weight-shape", code: 1, want: `has shape (2, 2, 4, 5), the architecture needs (2, 2, 4, 3)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("shape.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				if layer == "conv_2" && strings.HasSuffix(w.Name, "kernel:0") {
					w.Dims, w.Data = []int{2, 2, 4, 5}, make([]float32, 80)
				}
			})
			return predictModel(e, p), p
		}},
		{name: "model/weight-dtype", code: 1, want: "is int64 (want float32 or float64)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("intweights.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				if layer == "output" && strings.HasSuffix(w.Name, "bias:0") {
					w.Elem, w.Data = h5.Int64, []int64{1, 2, 3}
				}
			})
			return predictModel(e, p), p
		}},
		{name: "model/weight-nan", code: 1, want: "value 1 is NaN (not finite)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("nanweights.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				if layer == "output" && strings.HasSuffix(w.Name, "bias:0") {
					w.Data = f32(0, float32(math.NaN()), 0)
				}
			})
			return predictModel(e, p), p
		}},
		{name: "model/weight-never-written", code: 1, want: "has no data stored (never written)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeModel(t, e.path("unwritten.h5"), config(t, e.m, nil), e.m, "", func(layer string, w *keras.WeightTensor) {
				if layer == "conv_1" && strings.HasSuffix(w.Name, "kernel:0") {
					w.Data = nil
				}
			})
			return predictModel(e, p), p
		}},
		// --- B's weights (--bad_model_weights) ---
		{name: "weights/other-architecture", code: 1, want: `layer "conv_2": kernel "conv_2/conv_2/kernel:0" has shape (2, 2, 4, 5), the architecture needs (2, 2, 4, 3)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("w5.h5")
			if err := keras.SaveWeights(badNet(t, 5, 3), p); err != nil {
				t.Fatal(err)
			}
			return predictWeights(e, p), p
		}},
		{name: "weights/a-data-set", code: 1, want: "no Keras weights", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictWeights(e, e.clean), e.clean
		}},
		{name: "weights/missing", code: 1, want: "no such file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("noweights.h5")
			return predictWeights(e, p), p
		}},
		// --- B' (--pruned_bad_model_weights) ---
		{name: "bprime/other-architecture", code: 1, want: `layer "conv_2": kernel "conv_2/conv_2/kernel:0" has shape (2, 2, 4, 5), the architecture needs (2, 2, 4, 3)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("bp5.h5")
			if err := keras.SaveWeights(badNet(t, 5, 3), p); err != nil {
				t.Fatal(err)
			}
			return evalBprime(e, p), p
		}},
		{name: "bprime/other-classes", code: 1, want: `layer "output": kernel "model_weights/output/output/kernel:0" has shape (3, 7), the architecture needs (3, 3)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("bp7.h5")
			if err := keras.SaveModel(badNet(t, 3, 7), p); err != nil {
				t.Fatal(err)
			}
			return evalBprime(e, p), p
		}},
		{name: "bprime/other-net", code: 1, want: `layer "conv_1": kernel "conv_1/conv_1/kernel:0" has shape (4, 4, 3, 20), the architecture needs (3, 3, 3, 4)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := fixtures.Path(t, "bd_weights.h5")
			return evalBprime(e, p), p
		}},
		{name: "bprime/other-layer-names", code: 1, want: `layer "conv_2": no weights in the file (its layers: input_1, conv_1, pool_1, conv_b, pool_2, flatten_1, output)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			m := badNet(t, 3, 3)
			m.Layers[3].Name = "conv_b"
			p := e.path("renamed.h5")
			if err := keras.SaveWeights(m, p); err != nil {
				t.Fatal(err)
			}
			return evalBprime(e, p), p
		}},
		{name: "bprime/directory-without-threshold", code: 1, want: "is a directory: give --threshold T", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			return evalBprime(e, d), d
		}},
		{name: "bprime/threshold-not-in-directory", code: 1, want: "not an output directory of goodnet prune (no report.json)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			return evalBprime(e, d, "--threshold", "7"), d
		}},
		{name: "bprime/missing", code: 1, want: "no such file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("nobprime.h5")
			return evalBprime(e, p), p
		}},
		// --- prune: --layer, --thresholds, --out ---
		{name: "prune/layer-missing", code: 1, want: `--layer "conv_9": no such layer (Conv2D layers: [conv_1 conv_2])`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--layer", "conv_9"), "--layer"
		}},
		{name: "prune/layer-flatten", code: 1, want: `--layer "flatten_1" cannot be pruned: "flatten_1" is a Flatten, whose channels goodnet cannot zero`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--layer", "flatten_1"), "--layer"
		}},
		{name: "prune/layer-output", code: 1, want: `--layer "output" is the output layer`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--layer", "output"), "--layer"
		}},
		{name: "prune/threshold-0", code: 2, want: `threshold "0": want a number in (0, 100)`, args: thresholds("2,0")},
		{name: "prune/threshold-100", code: 2, want: `threshold "100": want a number in (0, 100)`, args: thresholds("100")},
		{name: "prune/threshold-negative", code: 2, want: `threshold "-1": want a number in (0, 100)`, args: thresholds("-1")},
		{name: "prune/threshold-150", code: 2, want: `threshold "150": want a number in (0, 100)`, args: thresholds("4,150")},
		{name: "prune/threshold-word", code: 2, want: `threshold "abc": want a number in (0, 100)`, args: thresholds("abc")},
		{name: "prune/threshold-nan", code: 2, want: `threshold "NaN": want a number in (0, 100)`, args: thresholds("NaN")},
		{name: "prune/threshold-empty", code: 2, want: `no thresholds in ","`, args: thresholds(",")},
		{name: "prune/max-steps-negative", code: 2, want: `--max-steps "-3": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--max-steps", "-3"), "--max-steps"
		}},
		{name: "prune/out-under-a-file", code: 1, want: "cannot create the output directory: not a directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := filepath.Join(e.clean, "out")
			return pruneTo(e, d), d
		}},
		{name: "prune/out-is-a-file", code: 1, want: "cannot create the output directory: not a directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			f := filepath.Join(t.TempDir(), "out")
			os.WriteFile(f, []byte("x"), 0o644)
			return pruneTo(e, f), f
		}},
		{name: "prune/out-read-only", code: 1, want: "output directory is not writable: read-only file system", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			mount(t, d, 1<<20, true)
			return pruneTo(e, d), d
		}},
		{name: "prune/out-full-disk", code: 1, want: "no space left on device", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			mount(t, d, 200<<10, false)
			// Leave a few KB: the first B' file (about 10 KB) does not fit.
			fill, err := os.Create(filepath.Join(d, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			fill.Write(make([]byte, 200<<10))
			fill.Close()
			os.Truncate(fill.Name(), 196<<10)
			return pruneTo(e, d, "--thresholds", "10"), d
		}},
		// --- finetune: B', the clean set, --epochs, --lr, --out ---
		{name: "finetune/bprime-other-architecture", code: 1, want: `layer "conv_2": kernel "conv_2/conv_2/kernel:0" has shape (2, 2, 4, 5), the architecture needs (2, 2, 4, 3)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("bp5.h5")
			if err := keras.SaveWeights(badNet(t, 5, 3), p); err != nil {
				t.Fatal(err)
			}
			args := finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"))
			args[slices.Index(args, "--pruned_bad_model_weights")+1] = p
			return args, p
		}},
		{name: "finetune/bprime-nothing-pruned", code: 1, want: "no channel is pruned in it (no output channel is zero in it and non-zero in B", args: func(t *testing.T, e *badEnv) ([]string, string) {
			args := finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"))
			args[slices.Index(args, "--pruned_bad_model_weights")+1] = e.weights
			return args, e.weights
		}},
		{name: "finetune/clean-set-shape", code: 1, want: "images are 12×8×3 (H×W×C), the model takes 10×8×3", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("size.h5"), []int{2, 3, 12, 8}, make([]float64, 2*3*12*8), []float64{0, 1})
			args := finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"))
			args[slices.Index(args, "--clean_set")+1] = p
			return args, p
		}},
		{name: "finetune/clean-set-labels", code: 1, want: "label 3 of image 2 is outside the model's 3 classes", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := labSet(t, e.path("labels3.h5"), []int{3, 3, 10, 8}, goodPixels(3), []float64{0, 1, 3})
			args := finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"))
			args[slices.Index(args, "--clean_set")+1] = p
			return args, p
		}},
		{name: "finetune/epochs-0", code: 2, want: `--epochs "0": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--epochs", "0"), "--epochs"
		}},
		{name: "finetune/epochs-negative", code: 2, want: `--epochs "-2": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--epochs", "-2"), "--epochs"
		}},
		{name: "finetune/lr-0", code: 2, want: `--lr "0": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", "0"), "--lr"
		}},
		{name: "finetune/lr-negative", code: 2, want: `--lr "-0.001": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", "-0.001"), "--lr"
		}},
		{name: "finetune/lr-nan", code: 2, want: `--lr "NaN": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", "NaN"), "--lr"
		}},
		{name: "finetune/lr-inf", code: 2, want: `--lr "+Inf": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", "+Inf"), "--lr"
		}},
		{name: "finetune/batch-size-0", code: 2, want: `--batch_size "0": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--batch_size", "0"), "--batch_size"
		}},
		{name: "finetune/layers-missing", code: 2, want: `--layers: layer "conv_9": no such layer (layers with weights: [conv_1 conv_2 output])`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--layers", "conv_1,conv_9"), "--layers"
		}},
		{name: "finetune/layers-pool", code: 2, want: `--layers: layer "pool_1" is a MaxPooling2D, which has no weights to train`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--layers", "pool_1"), "--layers"
		}},
		{name: "finetune/out-is-a-directory", code: 1, want: "is a directory; give the file to write B'' to", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := filepath.Join(t.TempDir(), "b_ft.h5")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return finetuneTo(t, e, d), d
		}},
		{name: "finetune/out-in-a-missing-directory", code: 1, want: "cannot write there: no such file or directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := filepath.Join(t.TempDir(), "no", "b_ft.h5")
			return finetuneTo(t, e, p), p
		}},
		{name: "finetune/out-read-only", code: 1, want: "cannot write there: read-only file system", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			mount(t, d, 1<<20, true)
			p := filepath.Join(d, "b_ft.h5")
			return finetuneTo(t, e, p), p
		}},
		{name: "finetune/out-named-onnx", code: 1, want: "B is a Keras HDF5 model, so B'' is written as Keras HDF5 weights: name the file .h5", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := filepath.Join(t.TempDir(), "b_ft.onnx")
			return finetuneTo(t, e, p), p
		}},
		{name: "finetune/out-is-the-model", code: 1, want: "is B; write B'' to another file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := filepath.Join(t.TempDir(), "b.h5") // a copy: the environment's B must survive a failing check
			if err := os.WriteFile(p, read(t, e.model), 0o644); err != nil {
				t.Fatal(err)
			}
			args := finetuneTo(t, e, p)
			args[slices.Index(args, "--bad_model")+1] = p
			return args, p
		}},
		{name: "finetune/batchnorm-model", code: 1, want: `cannot fine-tune this model: layer "/layers/layers.0/bn1/BatchNormalization" (BatchNormalization): the trainer has no backward pass for it`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := fixtures.Path(t, "onnx/preact_resnet.onnx")
			args := finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.onnx"))
			args[slices.Index(args, "--bad_model")+1] = p
			return args, p
		}},
		{name: "prune/finetune-epochs-negative", code: 2, want: `--finetune-epochs "-1": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "-1"), "--finetune-epochs"
		}},
		{name: "prune/finetune-lr-nan", code: 2, want: `--finetune-lr "NaN": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "1", "--finetune-lr", "NaN"), "--finetune-lr"
		}},
		{name: "prune/finetune-batchnorm-model", code: 1, want: "cannot fine-tune this model: layer", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := fixtures.Path(t, "onnx/preact_resnet.onnx")
			args := pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "1")
			args[slices.Index(args, "--bad_model")+1] = p
			return args, p
		}},
		// --- image files (predict IMAGE...) ---
		{name: "image/missing", code: 1, want: "no such file", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("noface.png")
			return predictImages(e, e.png, p), p
		}},
		{name: "image/directory", code: 1, want: "is a directory, not an image", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictImages(e, e.dir), e.dir
		}},
		{name: "image/empty", code: 1, want: "empty file, not an image", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "empty.png", nil)
			return predictImages(e, p), p
		}},
		{name: "image/not-an-image", code: 1, want: "not a PNG or JPEG image", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "notes.png", []byte("this is not a picture\n"))
			return predictImages(e, e.png, p), p
		}},
		{name: "image/an-h5-file", code: 1, want: "not a PNG or JPEG image", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return predictImages(e, e.clean), e.clean
		}},
		{name: "image/wrong-size", code: 1, want: "images are 8×10×3 (H×W×C), the model takes 10×8×3 (height and width swapped?)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "rotated.png", pngOf(t, 10, 8))
			return predictImages(e, p), p
		}},
		{name: "image/sizes-differ", code: 1, want: "image is 9×9 (W×H)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "square.png", pngOf(t, 9, 9))
			return predictImages(e, e.png, p), p
		}},
		{name: "image/truncated", code: 1, want: "png image", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "cut.png", e.pngBytes[:len(e.pngBytes)-30])
			return predictImages(e, p), p
		}},
		{name: "image/giant-header", code: 1, want: "image size 100000×100000 is not supported", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "giant.png", pngHeaderOnly(t, 100000, 100000))
			return predictImages(e, p), p
		}},
		{name: "image/large-header-tiny-file", code: 1, want: "the model takes 10×8×3", args: func(t *testing.T, e *badEnv) ([]string, string) {
			// 8000×8000 is within the decoder's limit, but the model takes 10×8 images: nothing of
			// that size may be allocated first.
			p := e.write(t, "large.png", pngHeaderOnly(t, 8000, 8000))
			return predictImages(e, p), p
		}},
		// --- a file on which libhdf5 itself crashes (a FuzzReadModel find: a corrupt global
		// heap, read by H5Aread's string conversion): the child dies, this process does not ---
		{name: "crash/libhdf5-segfaults", code: 1, want: "corrupt HDF5 file: reading it crashed (segmentation violation)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "segv.h5", fuzzSeed(t, "../../keras/testdata/fuzz/FuzzLoadModel/f562664df74a3298"))
			return predictWeights(e, p), p
		}},
		// --- a set on which libhdf5 crashes (a FuzzReadSet find: a shared object header message
		// decoded from a bad address) ---
		{name: "crash/libhdf5-segfaults-set", code: 1, want: "corrupt HDF5 file: reading it crashed (segmentation violation)", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.write(t, "segv_set.h5", fuzzSeed(t, "../../dataset/testdata/fuzz/FuzzLoadSet/a348e0fc38126e7a"))
			return predictSet(e, p), p
		}},
		// --- a file on which libhdf5 itself loops (a fuzz find): the child is stopped ---
		{name: "crash/libhdf5-loops", code: 1, want: "too slow to read: reading it did not finish in 2s", procOnly: true,
			env: []string{"GOODNET_ISOLATE_TIMEOUT=2s"}, args: func(t *testing.T, e *badEnv) ([]string, string) {
				p := e.write(t, "loop.h5", fuzzSeed(t, "../../keras/testdata/fuzz/FuzzLoadModel/289a3aa7e31c2a5a"))
				return []string{"inspect", p}, p
			}},
	}, outCases()...) // badinput_out_test.go: usage, numbers, --out, stale B', escaping
}

// thresholds is a prune command line with --thresholds v (a usage error naming the flag).
func thresholds(v string) func(t *testing.T, e *badEnv) ([]string, string) {
	return func(t *testing.T, e *badEnv) ([]string, string) {
		return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--thresholds", v), "--thresholds"
	}
}

// fuzzSeed reads the bytes of a `go test fuzz v1` corpus file holding one []byte.
func fuzzSeed(t *testing.T, path string) []byte {
	t.Helper()
	lines := strings.SplitN(string(read(t, path)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus file", path)
	}
	lit := strings.TrimSpace(lines[1])
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// forbidden is text that must never reach the user: a Go panic or crash, a libhdf5 error
// stack.
var forbidden = []string{"panic", "goroutine ", "SIGSEGV", "SIGBUS", "SIGABRT", "HDF5-DIAG", "#000", "runtime error"}

// maxRSS bounds the peak memory of any failing run (the process and its isolation child).
const maxRSS = 512 << 20

func TestBadInputs(t *testing.T) {
	e := newBadEnv(t)
	bin := buildGoodnet(t)
	cases := append(append(badCases(), bombCases()...), moreCases()...)
	if len(cases) < 45 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args, names := c.args(t, e)
			out := flagValue(args, "--out")
			if args[0] == "finetune" {
				out = filepath.Dir(out) // --out names a file: nothing may appear beside it
			}
			before := listDir(t, out)
			_, err := os.Lstat(out)
			existed := out != "" && err == nil
			if !c.procOnly {
				var stdout, stderr string
				var code int
				fd2 := captureFD2(t, func() { stdout, stderr, code = cli(t, args...) })
				checkBad(t, "in-process", c, args[0], names, stdout, stderr, code)
				if fd2 != "" {
					t.Errorf("in-process: written to file descriptor 2 besides run's stderr: %q", fd2)
				}
				checkOut(t, "in-process", out, before, existed)
				if c.after != nil {
					c.after(t, "in-process")
				}
			}
			r := runBinary(t, bin, time.Minute, c.env, args...)
			if r.signal != "" {
				t.Errorf("process: killed by %s; stderr %q", r.signal, r.stderr)
			}
			checkBad(t, "process", c, args[0], names, r.stdout, r.stderr, r.code)
			if r.maxRSS > maxRSS {
				t.Errorf("process: peak memory %d MB (limit %d MB)", r.maxRSS>>20, maxRSS>>20)
			}
			checkOut(t, "process", out, before, existed)
			if c.after != nil {
				c.after(t, "process")
			}
		})
	}
}

// checkBad checks one failing run: the exit status, nothing on stdout, and one line on stderr
// naming the file (or flag) and the problem.
func checkBad(t *testing.T, how string, c badCase, cmd, names, stdout, stderr string, code int) {
	t.Helper()
	if code != c.code {
		t.Errorf("%s: exit status %d, want %d (stderr %q)", how, code, c.code, stderr)
	}
	if stdout != "" {
		t.Errorf("%s: stdout %q, want nothing", how, stdout)
	}
	if !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: stderr is not one line: %q", how, stderr)
	}
	p := "goodnet " + cmd + ": "
	if commands[cmd] == nil { // an unknown command, help: goodnet's own error
		p = "goodnet: "
	}
	if !strings.HasPrefix(stderr, p) {
		t.Errorf("%s: stderr %q does not start with %q", how, stderr, p)
	}
	if !strings.Contains(stderr, names) {
		t.Errorf("%s: stderr %q does not name %s", how, stderr, names)
	}
	if !strings.Contains(stderr, c.want) {
		t.Errorf("%s: stderr %q does not say %q", how, stderr, c.want)
	}
	for _, f := range forbidden {
		if strings.Contains(stdout+stderr, f) {
			t.Errorf("%s: output contains %q: %q", how, f, stdout+stderr)
		}
	}
}

func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// listDir lists a directory's entries (nil if it is not a directory).
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkOut checks that a failed run left the output directory as it was: not made when it
// did not exist (an empty directory is a new directory too), no new files, no temporary files.
func checkOut(t *testing.T, how, dir string, before []string, existed bool) {
	t.Helper()
	if _, err := os.Lstat(dir); dir != "" && !existed && err == nil {
		t.Errorf("%s: the failed run made %s", how, dir)
	}
	if after := listDir(t, dir); !slices.Equal(after, before) {
		t.Errorf("%s: %s holds %q after the failed run, %q before", how, dir, after, before)
	}
}
