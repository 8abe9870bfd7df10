package main

// Files that are small but ask for a lot, and requests that do (issue 18): memory bombs
// (item 2), graphs of many layers and files that link to themselves (item 7), incomplete
// compressed data (item 8), a runaway --images (item 9). Every file is made here, at test
// time: tensors of compressed zeros are written chunk by chunk, already deflated, so that a
// gigabyte of weights costs a few hundred KB of disk and of this process's memory.

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"goodnet/internal/h5"
	"goodnet/keras"
	"goodnet/nn"
)

// zlibZeros is the zlib stream (the deflate filter's format) of n zero bytes.
func zlibZeros(t testing.TB, n int) []byte {
	t.Helper()
	zerosMu.Lock()
	defer zerosMu.Unlock()
	if b, ok := zerosCache[n]; ok {
		return b
	}
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]byte, min(n, 1<<20))
	for left := n; left > 0; left -= len(z) {
		w.Write(z[:min(left, len(z))])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zerosCache[n] = b.Bytes()
	return b.Bytes()
}

var (
	zerosMu    sync.Mutex
	zerosCache = map[int][]byte{}
)

// zeroDataset creates a chunked, deflated dataset of zeros of shape dims (maxdims as
// h5.CreateChunked) and writes its chunks — all of them, or the first `write` when write > 0.
func zeroDataset(t testing.TB, f *h5.File, name, elem string, dims, maxdims, chunk []int, write int) error {
	if err := f.CreateChunked(name, elem, dims, maxdims, chunk, 6); err != nil {
		return err
	}
	size := map[string]int{h5.Uint8: 1, h5.Float32: 4, h5.Float64: 8, h5.Int64: 8}[elem]
	for _, c := range chunk {
		size *= c
	}
	z := zlibZeros(t, size)
	n := 0
	// every chunk offset, row-major
	off := make([]int, len(dims))
	for {
		if write > 0 && n == write {
			return nil
		}
		if err := f.WriteChunk(name, off, z); err != nil {
			return err
		}
		n++
		d := len(dims) - 1
		for ; d >= 0; d-- {
			off[d] += chunk[d]
			if off[d] < dims[d] {
				break
			}
			off[d] = 0
		}
		if d < 0 {
			return nil
		}
	}
}

// zeroSet writes a lab set of n images of c×h×w uint8 zeros (labels 0), deflated in chunks
// of per images: compressed, a few hundred bytes per million pixels.
func zeroSet(t testing.TB, path string, n, c, h, w, per int) string {
	return writeH5(t, path, func(f *h5.File) error {
		if err := zeroDataset(t, f, "data", h5.Uint8, []int{n, c, h, w}, nil, []int{min(per, n), c, h, w}, 0); err != nil {
			return err
		}
		return zeroDataset(t, f, "label", h5.Uint8, []int{n}, nil, []int{min(n, 1<<20)}, 0)
	})
}

// zeroModel writes m as a full Keras model file whose every weight tensor is deflated zeros
// in chunks of at most 64 MB; config (nil: m's) is the model_config.
func zeroModel(t testing.TB, path string, m *nn.Model, config []byte) string {
	t.Helper()
	if config == nil {
		var err error
		if config, err = keras.MarshalConfig(m); err != nil {
			t.Fatal(err)
		}
	}
	return writeH5(t, path, func(f *h5.File) error {
		for _, g := range []string{"/", "model_weights"} {
			if g != "/" {
				if err := f.CreateGroup(g); err != nil {
					return err
				}
			}
			if err := f.SetString(g, "backend", "tensorflow", false); err != nil {
				return err
			}
			if err := f.SetString(g, "keras_version", "2.4.0", false); err != nil {
				return err
			}
		}
		if err := f.SetString("/", "model_config", string(config), false); err != nil {
			return err
		}
		var names []string
		longest := 0
		for _, l := range m.Layers {
			names = append(names, l.Name)
			longest = max(longest, len(l.Name))
		}
		// an object header holds 64 KB of attributes: Keras splits longer lists (layer_names0,
		// layer_names1, ...), which goodnet does not need
		if len(names)*longest < 60000 {
			if err := f.SetStrings("model_weights", "layer_names", names); err != nil {
				return err
			}
		}
		for _, l := range m.Layers {
			lg := h5.Join("model_weights", l.Name)
			if err := f.CreateGroup(lg); err != nil {
				return err
			}
			shapes := l.WeightShapes()
			if len(shapes) == 0 {
				if err := f.SetEmptyFloats(lg, "weight_names"); err != nil {
					return err
				}
				continue
			}
			var wn []string
			for _, w := range l.Weights() {
				wn = append(wn, l.Name+"/"+w.Name+":0")
			}
			if err := f.SetStrings(lg, "weight_names", wn); err != nil {
				return err
			}
			if err := f.CreateGroup(h5.Join(lg, l.Name)); err != nil {
				return err
			}
			for i, dims := range shapes {
				chunk := append([]int(nil), dims...)
				for k := 0; k < len(chunk); k++ {
					rest := 4
					for _, c := range chunk[k+1:] {
						rest *= c
					}
					chunk[k] = max(1, min(chunk[k], (64<<20)/rest))
				}
				if err := zeroDataset(t, f, h5.Join(lg, wn[i]), h5.Float32, dims, nil, chunk, 0); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// build makes a model (no weights) from layers, input first, output last.
func build(t testing.TB, layers ...*nn.Layer) *nn.Model {
	t.Helper()
	m, err := nn.New("bomb", layers, layers[0].Name, layers[len(layers)-1].Name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func input(h, w, c int) *nn.Layer {
	return &nn.Layer{Name: "input_1", Kind: nn.Input, InShape: nn.Shape{h, w, c}}
}

func conv(name, in string, filters, k int) *nn.Layer {
	return &nn.Layer{Name: name, Kind: nn.Conv2D, Filters: filters, Size: [2]int{k, k}, Strides: [2]int{1, 1},
		Act: nn.ReLU, UseBias: true, InputNames: []string{in}}
}

func pool(name, in string) *nn.Layer {
	return &nn.Layer{Name: name, Kind: nn.MaxPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, InputNames: []string{in}}
}

func dense(name, in string, units int, act nn.Activation) *nn.Layer {
	return &nn.Layer{Name: name, Kind: nn.Dense, Units: units, Act: act, UseBias: true, InputNames: []string{in}}
}

// bombs are the files of issue 18 item 2, crafted once per test binary, with the command
// lines that reach them: what each would need is refused in one line before it is allocated.
type bombFile struct {
	name string
	make func(t *testing.T, e *badEnv) (path string, cmds []bombCmd)
	want string // the problem, as the error line says it
	size int64  // the most bytes the file may have (0: 2 MB)
}

// bombCmd is a command line and what its error line must name (a file, --images).
type bombCmd struct {
	args  []string
	names string
}

// modelCommands are the command lines that read a model file m, with a set s of its input;
// the error names m, or s when it is the set that cannot be held (and bench's --images).
// finetune runs on the models the trainer takes (the others it refuses by their layers).
func modelCommands(e *badEnv, m, s string, inspect bool, setTooLarge, imagesTooLarge, finetune bool) []bombCmd {
	out := filepath.Join(e.dir, "bomb-out")
	names, images := m, m
	if setTooLarge {
		names = s
	}
	if imagesTooLarge {
		images = "--images"
	}
	cmds := []bombCmd{
		{[]string{"predict", "--device", "cpu", "--bad_model", m, "--set", s}, names},
		{[]string{"eval", "--device", "cpu", "--bad_model", m, "--clean_set", s, "--bad_set", s, "--pruned_bad_model_weights", m}, names},
		{[]string{"prune", "--device", "cpu", "--quiet", "--bad_model", m, "--clean_valid", s, "--bad_valid", s, "--out", out}, names},
		{[]string{"bench", "--device", "cpu", "--bad_model", m, "--images", "64", "--repeats", "1"}, images},
	}
	if finetune {
		cmds = append(cmds, bombCmd{[]string{"finetune", "--device", "cpu", "--quiet", "--bad_model", m, "--pruned_bad_model_weights", m,
			"--clean_set", s, "--epochs", "1", "--out", filepath.Join(e.dir, "bomb_ft.h5")}, names})
	}
	if inspect {
		cmds = append(cmds, bombCmd{[]string{"inspect", m}, m})
	}
	return cmds
}

// setCommands are the command lines that read a set s (B: e's model).
func setCommands(t *testing.T, e *badEnv, s string) []bombCmd {
	out := filepath.Join(e.dir, "bomb-out")
	return []bombCmd{
		{[]string{"predict", "--device", "cpu", "--bad_model", e.model, "--set", s}, s},
		{[]string{"eval", "--device", "cpu", "--bad_model", e.model, "--clean_set", s, "--bad_set", e.poison, "--pruned_bad_model_weights", e.weights}, s},
		{[]string{"eval", "--device", "cpu", "--bad_model", e.model, "--clean_set", e.clean, "--bad_set", s, "--pruned_bad_model_weights", e.weights}, s},
		{[]string{"prune", "--device", "cpu", "--quiet", "--bad_model", e.model, "--clean_valid", s, "--bad_valid", e.poison, "--out", out}, s},
		{[]string{"finetune", "--device", "cpu", "--quiet", "--bad_model", e.model, "--pruned_bad_model_weights", e.bprime(t), "--clean_set", s,
			"--epochs", "1", "--out", filepath.Join(e.dir, "bomb_ft.h5")}, s},
	}
}

func bombFiles() []bombFile {
	return []bombFile{
		// 1.5 GB of float32 images from 380 KB: 1,562,500 images of 10×8×3 (the model's input),
		// as the 48,355 images of 55×47×3, deflated zeros.
		{name: "set-of-compressed-zeros", want: "its 1562500 images of 10×8×3 (uint8", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			p := zeroSet(t, e.path("zeros.h5"), 1_562_500, 3, 10, 8, 4096)
			return p, setCommands(t, e, p)
		}},
		// 4 images in one chunk of 960 MB (of 1,000,000 images' room): libhdf5 would allocate
		// and inflate the whole chunk to read them.
		{name: "set-in-one-960MB-chunk", want: "is not plausible", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			p := writeH5(t, e.path("onechunk.h5"), func(f *h5.File) error {
				if err := zeroDataset(t, f, "data", h5.Float32, []int{4, 3, 10, 8}, []int{0, 3, 10, 8}, []int{1_000_000, 3, 10, 8}, 0); err != nil {
					return err
				}
				return ds(f, "label", h5.Int64, []int{4}, []int64{0, 1, 2, 0})
			})
			return p, setCommands(t, e, p)
		}},
		// a 1 MB model with a 65536×4096 Dense of compressed zeros: 1.07 GB of weights
		{name: "model-with-a-1GB-dense", want: "its weights (268", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			m := build(t, input(128, 128, 4), &nn.Layer{Name: "flatten", Kind: nn.Flatten, InputNames: []string{"input_1"}},
				dense("fc", "flatten", 4096, nn.ReLU), dense("output", "fc", 3, nn.Softmax))
			p := zeroModel(t, e.path("dense.h5"), m, nil)
			s := zeroSet(t, e.path("dense_set.h5"), 2, 4, 128, 128, 2)
			return p, modelCommands(e, p, s, true, false, false, true)
		}},
		// a small model of 4096×4096×3 images: one image's input and activations are 470 MB, a
		// block of 16 (the CPU engine's unit) 7.5 GB
		{name: "model-of-4096x4096-images", want: "would need", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			m := build(t, input(4096, 4096, 3), conv("conv", "input_1", 4, 3), pool("pool", "conv"),
				&nn.Layer{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"pool"}}, dense("output", "gap", 3, nn.Softmax))
			p := zeroModel(t, e.path("giant_input.h5"), m, nil)
			s := zeroSet(t, e.path("giant_set.h5"), 1, 3, 4096, 4096, 1)
			return p, modelCommands(e, p, s, false, true, true, false)
		}},
		// 2,000 chained 1×1 convolutions of 1024×1024×3 (38 GFLOP per image, under the cap):
		// 400 MB of activations per block of 16 images
		{name: "model-of-2000-chained-convs", want: "would need", size: 20 << 20, make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			layers := []*nn.Layer{input(1024, 1024, 3)}
			for i := 0; i < 2000; i++ {
				layers = append(layers, conv(fmt.Sprintf("conv_%d", i), layers[len(layers)-1].Name, 3, 1))
			}
			layers = append(layers, pool("pool", layers[len(layers)-1].Name),
				&nn.Layer{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"pool"}}, dense("output", "gap", 3, nn.Softmax))
			p := zeroModel(t, e.path("chain.h5"), build(t, layers...), nil)
			s := zeroSet(t, e.path("chain_set.h5"), 2, 3, 1024, 1024, 2)
			return p, modelCommands(e, p, s, false, false, true, false)
		}},
		// a 50 MB model_config carrying a 25 M-element array in an ignored option
		{name: "model-with-a-50MB-config", want: "reading its model config (up to", size: 60 << 20, make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			js := config(t, e.m, func(top map[string]any, layers map[string]map[string]any) {
				layerCfg(layers["conv_1"])["kernel_regularizer"] = json.RawMessage("[" + strings.Repeat("0,", 25_000_000) + "0]")
			})
			p := zeroModel(t, e.path("bigconfig.h5"), e.m, js)
			return p, modelCommands(e, p, e.clean, true, false, false, true)
		}},
		// 137 GFLOP per image
		{name: "model-of-137-GFLOP", want: "GFLOP per image, above the cap of 50 GFLOP", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			m := build(t, input(128, 128, 256), conv("conv_a", "input_1", 1024, 3), conv("conv_b", "conv_a", 220, 3), pool("pool", "conv_b"),
				&nn.Layer{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"pool"}}, dense("output", "gap", 3, nn.Softmax))
			if g := float64(m.FLOPs()) / 1e9; g < 135 || g > 140 {
				t.Fatalf("%.1f GFLOP per image", g)
			}
			p := zeroModel(t, e.path("flops.h5"), m, nil)
			s := zeroSet(t, e.path("flops_set.h5"), 2, 256, 128, 128, 2)
			return p, modelCommands(e, p, s, false, false, false, false)
		}},
		// 137 GFLOP per image in a model the trainer takes (Flatten, not global pooling):
		// finetune ran it with no cap (and under prlimit died of the Go runtime's "out of memory")
		{name: "trainable-model-of-137-GFLOP", want: "GFLOP per image, above the cap of 50 GFLOP", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			m := build(t, input(128, 128, 256), conv("conv_a", "input_1", 1024, 3), conv("conv_b", "conv_a", 220, 3), pool("pool", "conv_b"),
				&nn.Layer{Name: "flatten", Kind: nn.Flatten, InputNames: []string{"pool"}}, dense("output", "flatten", 3, nn.Softmax))
			p := zeroModel(t, e.path("tflops.h5"), m, nil)
			s := zeroSet(t, e.path("tflops_set.h5"), 2, 256, 128, 128, 2)
			return p, modelCommands(e, p, s, false, false, false, true)
		}},
		// 2.4 GFLOP per image, 80k weights, but 512 channels of 256×256 after the first conv:
		// the trainer's activations and gradients for its blocks of 16 images are GBs (finetune
		// allocated them unchecked: "panic: train: out of memory" under prlimit)
		{name: "model-of-wide-activations-to-train", want: "training's buffers (parameters, gradients, the activations of its blocks of 16 images) would need", make: func(t *testing.T, e *badEnv) (string, []bombCmd) {
			m := build(t, input(256, 256, 3), conv("conv_a", "input_1", 512, 3), pool("pool", "conv_a"), conv("conv_b", "pool", 4, 3), pool("pool2", "conv_b"),
				&nn.Layer{Name: "flatten", Kind: nn.Flatten, InputNames: []string{"pool2"}}, dense("output", "flatten", 3, nn.Softmax))
			nn.RandomWeights(m, 3)
			b := e.path("wide.h5")
			if err := keras.SaveModel(m, b); err != nil {
				t.Fatal(err)
			}
			l := m.Layer("conv_b") // B': channel 0 of conv_b pruned
			for i := 0; i < len(l.W); i += l.Filters {
				l.W[i] = 0
			}
			l.B[0] = 0
			bp := e.path("wide_bprime.h5")
			if err := keras.SaveWeights(m, bp); err != nil {
				t.Fatal(err)
			}
			s := zeroSet(t, e.path("wide_set.h5"), 64, 3, 256, 256, 16)
			return bp, []bombCmd{{[]string{"finetune", "--device", "cpu", "--quiet", "--bad_model", b, "--pruned_bad_model_weights", bp,
				"--clean_set", s, "--epochs", "1", "--out", filepath.Join(e.dir, "bomb_ft.h5")}, bp}}
		}},
	}
}

// prlimitAS is the address-space limit of the bombs' processes: 1.5 GB.
const prlimitAS = 1_500_000_000

// TestBombsUnderPrlimit runs every command on each bomb under prlimit --as of 1.5 GB: one
// clear line naming the file and what it would need, exit status 1, in seconds of CPU time.
func TestBombsUnderPrlimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary on large requests")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	e := newBadEnv(t)
	bin := buildGoodnet(t)
	for _, b := range bombFiles() {
		t.Run(b.name, func(t *testing.T) {
			path, cmds := b.make(t, e)
			if st, err := os.Stat(path); err != nil || st.Size() > max(b.size, 2<<20) {
				t.Fatalf("the bomb is %v bytes (%v): want a small file", st.Size(), err)
			}
			for _, c := range cmds {
				full := append([]string{fmt.Sprintf("--as=%d", prlimitAS), bin}, c.args...)
				r := runBinary(t, prlimit, 2*time.Minute, nil, full...)
				checkBad(t, "under prlimit", badCase{code: 1, want: b.want}, c.args[0], c.names, r.stdout, r.stderr, r.code)
				// In seconds: CPU time, which a busy machine (CI, `make test-busy`) does not
				// stretch as it does the wall clock (runBinary's 2-minute limit bounds that).
				if r.cpu > 20*time.Second {
					t.Errorf("%s: took %v of CPU time (%v wall)", c.args[0], r.cpu, r.elapsed)
				}
			}
		})
	}
}

// bombCases are the bombs in the bad-input suite (in-process and as a process): each bomb's
// first command line with --max-memory 128M (the suite runs every case under 512 MB).
func bombCases() []badCase {
	var out []badCase
	for _, b := range bombFiles() {
		out = append(out, badCase{name: "bomb/" + b.name, code: 1, want: b.want, args: func(t *testing.T, e *badEnv) ([]string, string) {
			_, cmds := b.make(t, e)
			return append(cmds[0].args, "--max-memory", "128M"), cmds[0].names
		}})
	}
	return out
}

// moreCases are issue 18's items 7, 8 and 9 in the bad-input suite.
func moreCases() []badCase {
	return []badCase{
		// item 8: a compressed set with 1 of its 4 chunks written reads as fill values
		{name: "set/compressed-incomplete", code: 1, want: "the file stores 1 of its 4 chunks (incomplete", args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := writeH5(t, e.path("gzip_partial.h5"), func(f *h5.File) error {
				if err := zeroDataset(t, f, "data", h5.Uint8, []int{4, 3, 10, 8}, nil, []int{1, 3, 10, 8}, 1); err != nil {
					return err
				}
				return ds(f, "label", h5.Int64, []int{4}, []int64{0, 1, 2, 0})
			})
			return predictSet(e, p), p
		}},
		// item 9: a runaway request is one line of the resource policy
		{name: "bench/a-billion-images", code: 1, want: "its four synthetic sets (3800000000 images of (55, 47, 3) as float32) would need", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"bench", "--device", "cpu", "--images", "1000000000"}, "--images 1000000000"
		}},
		// the FLOP cap and --max-memory are read strictly
		{name: "flags/max-memory-word", code: 2, want: `"lots" is not a size`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--max-memory", "lots"), "--max-memory"
		}},
		{name: "flags/max-gflops-negative", code: 2, want: "want a number of GFLOP ≥ 0", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--max-gflops", "-1"), "--max-gflops"
		}},
		{name: "flags/max-gflops-low", code: 1, want: "kFLOP per image, above the cap of 1e-05 GFLOP", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--max-gflops", "0.00001"), e.model
		}},
	}
}

// selfLinked writes B as a full model file whose conv_1 group also holds a group linked to
// itself ten times (and no weight_names, so that its datasets are found by walking it).
func selfLinked(t *testing.T, e *badEnv) string {
	p := writeModel(t, e.path("selflinked.h5"), config(t, e.m, nil), e.m, "", nil)
	f, err := h5.OpenRW(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.CreateGroup("model_weights/conv_1/loop"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := f.LinkHard("model_weights/conv_1/loop", fmt.Sprintf("model_weights/conv_1/loop/self_%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.DeleteAttr("model_weights/conv_1", "weight_names"); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 18 item 7: valid files that take long are read, linearly in their size; a group that
// contains itself is walked once.
func TestLargeAndSelfLinkedModels(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 37 MB model")
	}
	e := newBadEnv(t)
	bin := buildGoodnet(t)
	p := selfLinked(t, e)
	for _, args := range [][]string{{"inspect", p}, {"predict", "--device", "cpu", "--bad_model", p, "--set", e.clean}} {
		r := runBinary(t, bin, time.Minute, []string{"GOODNET_ISOLATE_TIMEOUT=10s"}, args...)
		if r.code != 0 || r.elapsed > 10*time.Second {
			t.Errorf("%s on a group linked to itself: exit %d after %v: %s", args[0], r.code, r.elapsed, r.stderr)
		}
	}
	in, err := keras.Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, o := range in.Objects {
		if o.Same == "model_weights/conv_1/loop" {
			same++
		}
	}
	if same != 10 {
		t.Errorf("Inspect lists %d links back to the looping group, want 10", same)
	}
	// 34,000 layers: inspect was quadratic (43 s for 29k) and called the file corrupt at 20 s
	layers := []*nn.Layer{input(10, 8, 3)}
	for i := 0; i < 34000; i++ {
		kind := nn.Dropout
		if i%2 == 1 {
			kind = nn.Act
		}
		layers = append(layers, &nn.Layer{Name: fmt.Sprintf("l_%d", i), Kind: kind, Act: nn.ReLU, InputNames: []string{layers[len(layers)-1].Name}})
	}
	layers = append(layers, &nn.Layer{Name: "flatten", Kind: nn.Flatten, InputNames: []string{layers[len(layers)-1].Name}},
		dense("output", "flatten", 3, nn.Softmax))
	big := zeroModel(t, e.path("layers34k.h5"), build(t, layers...), nil)
	r := runBinary(t, bin, 2*time.Minute, nil, "inspect", big)
	if r.code != 0 || !strings.Contains(r.stdout, "l_33999") {
		t.Fatalf("inspect of 34,000 layers: exit %d after %v: %s", r.code, r.elapsed, r.stderr)
	}
	t.Logf("inspect of 34,000 layers: %v", r.elapsed)
}

// Issue 18 item 7: a child that runs out of memory reading a file says so, not "corrupt":
// under prlimit --as of 1.5 GB with the limit lifted (--max-memory 100G), the children reading
// the compressed set and the 1 GB Dense cannot hold what they read.
func TestOutOfMemoryIsNotCorrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	e := newBadEnv(t)
	bin := buildGoodnet(t)
	for _, b := range bombFiles()[:3] {
		if b.name == "set-in-one-960MB-chunk" {
			continue
		}
		_, cmds := b.make(t, e)
		c := cmds[0]
		full := append([]string{fmt.Sprintf("--as=%d", prlimitAS), bin}, append(c.args, "--max-memory", "100G")...)
		r := runBinary(t, prlimit, 2*time.Minute, nil, full...)
		checkBad(t, b.name, badCase{code: 1, want: "too large to read"}, c.args[0], c.names, r.stdout, r.stderr, r.code)
		if strings.Contains(r.stderr, "corrupt") {
			t.Errorf("%s: %q", b.name, r.stderr)
		}
	}
}
