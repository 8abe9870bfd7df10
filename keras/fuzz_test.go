package keras

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"goodnet/internal/fixtures"
	"goodnet/internal/fuzzseed"
	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// tinyModel is a small net of every supported layer kind (a few KB as a Keras file).
func tinyModel(t testing.TB) *nn.Model {
	t.Helper()
	layers := []*nn.Layer{
		{Name: "input", Kind: nn.Input, InShape: nn.Shape{6, 5, 3}},
		{Name: "conv_a", Kind: nn.Conv2D, Filters: 4, Size: [2]int{2, 2}, Strides: [2]int{1, 1}, Act: nn.ReLU, UseBias: true, InputNames: []string{"input"}},
		{Name: "pool", Kind: nn.MaxPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, InputNames: []string{"conv_a"}},
		{Name: "flat", Kind: nn.Flatten, InputNames: []string{"pool"}},
		{Name: "fc_a", Kind: nn.Dense, Units: 5, Act: nn.Linear, UseBias: true, InputNames: []string{"flat"}},
		{Name: "conv_b", Kind: nn.Conv2D, Filters: 2, Size: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: nn.Same, Act: nn.Linear, UseBias: true, InputNames: []string{"pool"}},
		{Name: "flat_b", Kind: nn.Flatten, InputNames: []string{"conv_b"}},
		{Name: "fc_b", Kind: nn.Dense, Units: 5, Act: nn.Linear, UseBias: true, InputNames: []string{"flat_b"}},
		{Name: "add", Kind: nn.Add, InputNames: []string{"fc_a", "fc_b"}},
		{Name: "relu", Kind: nn.Act, Act: nn.ReLU, InputNames: []string{"add"}},
		{Name: "drop", Kind: nn.Dropout, Rate: 0.5, InputNames: []string{"relu"}},
		{Name: "output", Kind: nn.Dense, Units: 3, Act: nn.Softmax, UseBias: true, InputNames: []string{"drop"}},
	}
	m, err := nn.New("tiny", layers, "input", "output")
	if err != nil {
		t.Fatal(err)
	}
	nn.RandomWeights(m, 7)
	return m
}

func readFuzzSeed(f *testing.F, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzLoadModel feeds files built from the fuzz input to LoadModel, LoadWeights and Inspect:
// each returns an error or a valid result, and never panics or crashes — also where libhdf5
// itself crashes or loops, in the child process (a few inputs a second: children for each;
// FuzzReadModel fuzzes the parsing itself). Seeds: small files written here (full model and
// weights-only), the real fixtures (read at test time) and truncated and bit-flipped variants
// of both.
func FuzzLoadModel(f *testing.F) {
	fuzzseed.FastIsolation()
	tiny := addModelSeeds(f)
	deepid := nn.DeepID(55, 47, 1283)
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Each loader below reads the file in a child process first: four children per
		// input, which on a loaded machine can outlast the 10 s the fuzz engine allows an
		// input before it kills the worker as deadlocked. Past 5 s the rest is skipped.
		start := time.Now()
		p, err := os.CreateTemp(work, "in*.h5")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p.Name())
		if _, err := p.Write(data); err != nil {
			t.Fatal(err)
		}
		p.Close()
		before := h5.OpenIDs()
		m, err := LoadModel(p.Name())
		if err == nil {
			checkLoaded(t, m)
		}
		// A file whose reading child crashed or looped is refused by every loader, each
		// after its own child: one is enough (the fuzz engine calls an input taking
		// over 10 s a hang).
		var crash *isolate.Crash
		if errors.As(err, &crash) {
			return
		}
		for _, arch := range []*nn.Model{tiny, deepid} {
			if time.Since(start) > 5*time.Second {
				return
			}
			m := arch.Clone()
			for _, l := range m.Layers {
				l.W, l.B = nil, nil
			}
			if err := LoadWeights(m, p.Name()); err == nil {
				checkLoaded(t, m)
			} else {
				for _, l := range m.Layers {
					if l.W != nil || l.B != nil {
						t.Fatalf("LoadWeights failed (%v) but set weights of %q", err, l.Name)
					}
				}
			}
		}
		if time.Since(start) > 5*time.Second {
			return
		}
		if in, err := Inspect(p.Name()); err == nil {
			_ = in.String()
		}
		if after := h5.OpenIDs(); after != before {
			t.Fatalf("%d HDF5 identifiers left open", after-before)
		}
	})
}

// checkLoaded: a model that loads has all its weights, finite.
func checkLoaded(t *testing.T, m *nn.Model) {
	t.Helper()
	if err := m.CheckWeights(); err != nil {
		t.Fatalf("loaded model fails CheckWeights: %v", err)
	}
	for _, l := range m.Layers {
		for _, v := range append(append([]float32(nil), l.W...), l.B...) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("layer %q: loaded a non-finite weight", l.Name)
			}
		}
	}
}

// addModelSeeds adds the seeds of the model targets and returns the tiny model.
func addModelSeeds(f *testing.F) *nn.Model {
	dir := f.TempDir()
	tiny := tinyModel(f)
	full, weights := filepath.Join(dir, "tiny.h5"), filepath.Join(dir, "tiny_w.h5")
	if err := SaveModel(tiny, full); err != nil {
		f.Fatal(err)
	}
	if err := SaveWeights(tiny, weights); err != nil {
		f.Fatal(err)
	}
	fuzzseed.Add(f, readFuzzSeed(f, full))
	fuzzseed.Add(f, readFuzzSeed(f, weights))
	for _, n := range []string{"bd_net.h5", "bd_weights.h5"} {
		b := readFuzzSeed(f, fixtures.Path(f, n))
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	return tiny
}

// FuzzReadModel is FuzzLoadModel without the child processes: the children's parsing (on
// libhdf5) and the parent's assembly run here, on the input in a memory file — LoadModel,
// LoadWeights into two architectures and the full Inspect — at hundreds of inputs a second.
// An input on which libhdf5 crashes or loops crashes this target: such inputs belong to
// FuzzLoadModel's corpus (the child catches them), not this one's.
func FuzzReadModel(f *testing.F) {
	resource.SetMemory(256 << 20)
	tiny := addModelSeeds(f)
	deepid := nn.DeepID(55, 47, 1283)
	f.Fuzz(func(t *testing.T, data []byte) {
		fh, err := isolate.MemFile("fuzz.h5")
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if _, err := fh.Write(data); err != nil {
			t.Fatal(err)
		}
		size, err := h5.Precheck(fh, "fuzz.h5")
		if err != nil {
			return
		}
		src := source{fh: fh, path: "fuzz.h5", size: size, local: true}
		before := h5.OpenIDs()
		if m, err := src.loadModel(); err == nil {
			checkLoaded(t, m)
		}
		for _, arch := range []*nn.Model{tiny, deepid} {
			m := arch.Clone()
			for _, l := range m.Layers {
				l.W, l.B = nil, nil
			}
			config, err := MarshalConfig(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := src.loadWeights(m, config); err == nil {
				checkLoaded(t, m)
			} else {
				for _, l := range m.Layers {
					if l.W != nil || l.B != nil {
						t.Fatalf("LoadWeights failed (%v) but set weights of %q", err, l.Name)
					}
				}
			}
		}
		if in, err := src.inspect(true); err == nil {
			_ = in.String()
		}
		if after := h5.OpenIDs(); after != before {
			t.Fatalf("%d HDF5 identifiers left open", after-before)
		}
	})
}
