package bench

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"

	"goodnet/dataset"
	"goodnet/demo"
	"goodnet/internal/h5"
	"goodnet/nn"
)

// The lab's set sizes: clean and poisoned validation sets, clean and poisoned test sets.
const (
	LabValid = 11547
	LabTest  = 12830
)

// Sets are the four sets of a pruning run.
type Sets struct {
	CleanValid, BadValid, CleanTest, BadTest *nn.Set
}

// All lists the sets in the order clean valid, bad valid, clean test, bad test.
func (s *Sets) All() []*nn.Set {
	return []*nn.Set{s.CleanValid, s.BadValid, s.CleanTest, s.BadTest}
}

// SetOptions size the synthetic sets of LabSets.
type SetOptions struct {
	Valid, Test int // images per validation set and per test set (each ≥ 1)
	// Unique renders every face (demo's generator, 1283 identities as in the lab: about
	// 0.8 ms per image on 2 cores). Otherwise a pool of at most Pool faces is rendered and
	// the rest are copies of it with a random brightness and contrast.
	Unique bool
	Pool   int   // 0 → 1024
	Seed   int64 // 0 → 1
	Target int32 // the poisoned sets' label (the attacker's target class, 0 in the lab)
}

// LabSets makes realistic stand-ins for the lab's data: procedural faces of demo's generator
// (55×47×3, raw 0–255 integer pixels), the clean sets labelled with m's own predictions on
// them (so m's clean accuracy is 100 % and pruning makes it drop), and the poisoned sets the
// same faces wearing demo's sunglasses trigger, labelled o.Target. m must take 55×47×3 raw
// pixels.
func LabSets(m *nn.Model, be nn.Backend, o SetOptions) (*Sets, error) {
	if o.Valid < 1 || o.Test < 1 {
		return nil, fmt.Errorf("bench: set sizes %d, %d: want ≥ 1", o.Valid, o.Test)
	}
	if want := (nn.Shape{demo.H, demo.W, demo.C}); !m.InputShape().Equal(want) {
		return nil, fmt.Errorf("bench: %s takes %v images; the synthetic faces are %v", m.Name, m.InputShape(), want)
	}
	if o.Target < 0 || int(o.Target) >= m.NumClasses() {
		return nil, fmt.Errorf("bench: target class %d is not one of %s's %d classes", o.Target, m.Name, m.NumClasses())
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Pool <= 0 {
		o.Pool = 1024
	}
	classes := max(2, (o.Valid+8)/9, (o.Test+9)/10)
	if !o.Unique {
		classes = max(2, min(classes, (o.Pool+18)/19))
	}
	d, err := demo.Generate(demo.DataOptions{Classes: classes, TrainPer: 1, ValidPer: 9, TestPer: 10, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewSource(o.Seed))
	s := &Sets{CleanValid: fill(d.CleanValid, o.Valid, r), CleanTest: fill(d.CleanTest, o.Test, r)}
	s.CleanValid.Path, s.CleanTest.Path = "synthetic clean validation set", "synthetic clean test set"
	net, err := be.Compile(m)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	for _, c := range []*nn.Set{s.CleanValid, s.CleanTest} {
		if c.Y, err = nn.Predict(net, c.X, c.N); err != nil {
			return nil, err
		}
	}
	s.BadValid, s.BadTest = poison(s.CleanValid, o.Target), poison(s.CleanTest, o.Target)
	s.BadValid.Path, s.BadTest.Path = "synthetic poisoned validation set", "synthetic poisoned test set"
	return s, nil
}

// fill returns n images: src's, then copies of them with a random brightness and contrast.
func fill(src *nn.Set, n int, r *rand.Rand) *nn.Set {
	s := &nn.Set{N: n, H: src.H, W: src.W, C: src.C, X: make([]float32, n*src.H*src.W*src.C)}
	k := copy(s.X, src.X) / (src.H * src.W * src.C)
	for i := k; i < n; i++ {
		a, b := 0.85+0.3*r.Float64(), -20+40*r.Float64()
		dst, from := s.Images(i, i+1), src.Images(i%src.N, i%src.N+1)
		for j, v := range from {
			dst[j] = float32(math.Max(0, math.Min(255, math.Round(a*float64(v)+b))))
		}
	}
	return s
}

func poison(s *nn.Set, target int32) *nn.Set {
	b := &nn.Set{N: s.N, H: s.H, W: s.W, C: s.C, X: append([]float32(nil), s.X...), Y: make([]int32, s.N)}
	demo.AddTrigger(b.X, b.N)
	for i := range b.Y {
		b.Y[i] = target
	}
	return b
}

// WriteSets makes the four sets of LabSets with every face distinct — images in each test
// set, the validation sets scaled alike (11,547 for 12,830) — labelled by m (nil:
// DefaultModel) on backend b, and writes them into dir with WriteLabFiles.
func WriteSets(dir string, m *nn.Model, b nn.Backend, images int) ([]string, error) {
	if m == nil {
		m = DefaultModel()
	}
	s, err := LabSets(m, b, SetOptions{Valid: validSize(images), Test: images, Unique: true})
	if err != nil {
		return nil, err
	}
	return WriteLabFiles(dir, s)
}

// LabFiles are the names WriteLabFiles gives the sets, in the order of Sets.All.
var LabFiles = []string{"cl_valid.h5", "bd_valid.h5", "cl_test.h5", "bd_test.h5"}

// WriteLabFiles writes the sets into dir in the lab's layouts (those of the fixtures
// cl_mini.h5 and bd_mini.h5): clean sets as `data` float64 N×3×55×47 with float64 labels,
// poisoned sets as uint8 with int64 labels; each file atomically. Returns the paths.
func WriteLabFiles(dir string, s *Sets) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var paths []string
	for i, set := range s.All() {
		p := filepath.Join(dir, LabFiles[i])
		if err := writeLab(p, set, i%2 == 0); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeLab writes one set: float64 pixels and labels (clean) or uint8 pixels and int64
// labels. Pixels must be integers 0–255.
func writeLab(path string, s *nn.Set, clean bool) error {
	if clean {
		return h5.WriteAtomic(path, func(f *h5.File) error {
			if err := f.CreateDataset("data", h5.Float64, []int{s.N, s.C, s.H, s.W}); err != nil {
				return err
			}
			per, hw := s.C*s.H*s.W, s.H*s.W
			buf := make([]float64, per)
			for i := 0; i < s.N; i++ {
				img := s.Images(i, i+1)
				for j := 0; j < hw; j++ {
					for c := 0; c < s.C; c++ {
						buf[c*hw+j] = float64(img[j*s.C+c])
					}
				}
				if err := f.Write("data", buf, i, 1); err != nil {
					return err
				}
			}
			if err := f.CreateDataset("label", h5.Float64, []int{s.N}); err != nil {
				return err
			}
			y := make([]float64, s.N)
			for i, v := range s.Y {
				y[i] = float64(v)
			}
			return f.Write("label", y, 0, 0)
		})
	}
	return dataset.Save(path, s, "uint8")
}
