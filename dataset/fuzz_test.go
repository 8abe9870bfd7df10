package dataset

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"goodnet/internal/fixtures"
	"goodnet/internal/fuzzseed"
	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// FuzzLoadSet feeds files built from the fuzz input to Load: it returns an error or a valid
// set, and never panics or crashes — also where libhdf5 itself crashes or loops, in the child
// process (about 4 inputs a second: one child each; FuzzReadSet fuzzes the parsing itself).
// Seeds: small sets written here (uint8 and float32 data), the real mini sets (read at test
// time) and truncated and bit-flipped variants.
func FuzzLoadSet(f *testing.F) {
	fuzzseed.FastIsolation()
	addSetSeeds(f)
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
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
		s, err := Load(p.Name(), 1)
		if after := h5.OpenIDs(); after != before {
			t.Fatalf("%d HDF5 identifiers left open", after-before)
		}
		checkSet(t, s, err)
	})
}

// FuzzReadSet is FuzzLoadSet without the child process: the child's parsing (describe, on
// libhdf5) and the parent's assembly run here, on the input in a memory file, at hundreds of
// inputs a second. An input on which libhdf5 crashes or loops crashes this target: such
// inputs belong to FuzzLoadSet's corpus (the child catches them), not this one's.
func FuzzReadSet(f *testing.F) {
	resource.SetMemory(256 << 20)
	addSetSeeds(f)
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
		before := h5.OpenIDs()
		px, _ := newPixel(1)
		r, err := openFD(fh, "fuzz.h5", size, px, true)
		var s *nn.Set
		if err == nil {
			s, err = r.readAll()
			r.Close()
		}
		if after := h5.OpenIDs(); after != before {
			t.Fatalf("%d HDF5 identifiers left open", after-before)
		}
		checkSet(t, s, err)
	})
}

// checkSet: a set that loads is valid.
func checkSet(t *testing.T, s *nn.Set, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if s.N <= 0 || s.H <= 0 || s.W <= 0 || s.C <= 0 || len(s.X) != s.N*s.H*s.W*s.C || len(s.Y) != s.N {
		t.Fatalf("invalid set: N=%d H=%d W=%d C=%d, %d values, %d labels", s.N, s.H, s.W, s.C, len(s.X), len(s.Y))
	}
	for i, v := range s.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("pixel %d is %v", i, v)
		}
	}
	for i, y := range s.Y {
		if y < 0 {
			t.Fatalf("label %d is %d", i, y)
		}
	}
}

func addSetSeeds(f *testing.F) {
	dir := f.TempDir()
	for i, dtype := range []string{"uint8", "float32"} {
		s := &nn.Set{N: 2, H: 4, W: 3, C: 3, X: make([]float32, 2*4*3*3), Y: []int32{1, 0}}
		for j := range s.X {
			s.X[j] = float32(j % 256)
		}
		if dtype == "float32" {
			s.X[5] = 0.5
		}
		p := filepath.Join(dir, "seed"+string(rune('a'+i))+".h5")
		if err := Save(p, s, dtype); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		fuzzseed.Add(f, b)
	}
	for _, n := range []string{"bd_mini.h5", "cl_mini.h5"} {
		b, err := os.ReadFile(fixtures.Path(f, n))
		if err != nil {
			f.Fatal(err)
		}
		fuzzseed.Add(f, b)
	}
}
