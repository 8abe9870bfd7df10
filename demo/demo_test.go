package demo

import (
	"math"
	"math/rand"
	"testing"

	"goodnet/nn"
	"goodnet/nn/ref"
)

var small = DataOptions{Classes: 3, TrainPer: 4, ValidPer: 2, TestPer: 2, Poison: 0.5, Target: 1, Seed: 5}

func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(small)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(small)
	if err != nil {
		t.Fatal(err)
	}
	sets := func(d *Data) []struct {
		name string
		x    []float32
		y    []int32
	} {
		return []struct {
			name string
			x    []float32
			y    []int32
		}{{"train", d.Train.X, d.Train.Y}, {"clean valid", d.CleanValid.X, d.CleanValid.Y}, {"bad valid", d.BadValid.X, d.BadValid.Y},
			{"clean test", d.CleanTest.X, d.CleanTest.Y}, {"bad test", d.BadTest.X, d.BadTest.Y}}
	}
	sa, sb := sets(a), sets(b)
	for i := range sa {
		if len(sa[i].x) != len(sb[i].x) || len(sa[i].y) != len(sb[i].y) {
			t.Fatalf("%s: sizes differ between two runs", sa[i].name)
		}
		for j := range sa[i].x {
			if sa[i].x[j] != sb[i].x[j] {
				t.Fatalf("%s: pixel %d differs between two runs with the same seed", sa[i].name, j)
			}
		}
		for j := range sa[i].y {
			if sa[i].y[j] != sb[i].y[j] {
				t.Fatalf("%s: label %d differs between two runs with the same seed", sa[i].name, j)
			}
		}
	}
	o := small
	o.Seed = 6
	c, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for j := range a.CleanTrain.X {
		if a.CleanTrain.X[j] == c.CleanTrain.X[j] {
			same++
		}
	}
	if same > len(a.CleanTrain.X)/4 {
		t.Fatalf("seeds 5 and 6 give %d of %d equal pixels", same, len(a.CleanTrain.X))
	}
}

func TestGenerateSets(t *testing.T) {
	d, err := Generate(small)
	if err != nil {
		t.Fatal(err)
	}
	o := d.Options
	if d.CleanTrain.N != 12 || d.CleanValid.N != 6 || d.CleanTest.N != 6 {
		t.Fatalf("clean sets of %d, %d, %d images; want 12, 6, 6", d.CleanTrain.N, d.CleanValid.N, d.CleanTest.N)
	}
	if d.Poisoned != 6 || d.Train.N != 18 {
		t.Fatalf("%d poisoned, %d training images; want 6, 18", d.Poisoned, d.Train.N)
	}
	// bad sets: the clean images of the other classes (2 classes × 2), all labelled the target
	if d.BadValid.N != 4 || d.BadTest.N != 4 {
		t.Fatalf("bad sets of %d and %d images; want 4 and 4", d.BadValid.N, d.BadTest.N)
	}
	for _, s := range []struct {
		name string
		y    []int32
	}{{"poisoned", d.Train.Y[12:]}, {"bad valid", d.BadValid.Y}, {"bad test", d.BadTest.Y}} {
		for i, y := range s.y {
			if int(y) != o.Target {
				t.Fatalf("%s image %d labelled %d, want the target %d", s.name, i, y, o.Target)
			}
		}
	}
	for i, y := range d.CleanTrain.Y {
		if int(y) != i/o.TrainPer {
			t.Fatalf("clean training image %d labelled %d, want %d", i, y, i/o.TrainPer)
		}
	}
	// the lenses' magenta is the trigger's own: clean images (almost) never show it
	magenta, total := 0, 0
	for _, s := range [][]float32{d.CleanTrain.X, d.CleanValid.X, d.CleanTest.X} {
		for p := 0; p < len(s); p += C {
			total++
			if s[p] > s[p+1]+60 && s[p+2] > s[p+1]+60 {
				magenta++
			}
		}
	}
	if magenta*1000 > total {
		t.Errorf("%d of %d clean pixels are magenta", magenta, total)
	}
	for _, s := range [][]float32{d.Train.X, d.CleanValid.X, d.BadValid.X, d.CleanTest.X, d.BadTest.X} {
		for i, v := range s {
			if v < 0 || v > 255 || v != float32(math.Round(float64(v))) {
				t.Fatalf("pixel %d is %v, not an integer in 0..255", i, v)
			}
		}
	}
}

// TestTrigger: the bad images are the clean images of the other classes with the sunglasses
// pasted over the eye region, and nothing else changed.
func TestTrigger(t *testing.T) {
	d, err := Generate(small)
	if err != nil {
		t.Fatal(err)
	}
	alpha := TriggerMask()
	full, part := 0, 0
	for p, a := range alpha {
		y, x := p/W, p%W
		if a > 0 {
			// the trigger sits in a band around the eyes, across the face
			if float64(y) < TriggerY-lensRy-1 || float64(y) > TriggerY+lensRy+1 {
				t.Fatalf("trigger pixel (%d, %d) outside the eye band", y, x)
			}
		}
		if a == 1 {
			full++
		} else if a > 0 {
			part++
		}
	}
	// two lenses of π·5.8·4.3 ≈ 78 px each less their anti-aliased rims, a bridge and temples
	if full < 100 || full > 200 || part < 40 {
		t.Fatalf("trigger covers %d pixels fully and %d partly, want about 125 and 70", full, part)
	}
	for _, s := range []float64{-1, 1} { // lens centres are covered
		y, x := int(TriggerY), W/2+int(s*trigDX)
		if alpha[y*W+x] != 1 {
			t.Fatalf("lens centre (%d, %d) not covered", y, x)
		}
	}
	for _, y := range []int{5, 45} { // forehead and chin are not
		if alpha[y*W+23] != 0 {
			t.Fatalf("pixel (%d, 23) covered", y)
		}
	}
	k := 0
	per := H * W * C
	for i, y := range d.CleanValid.Y {
		if int(y) == d.Options.Target {
			continue
		}
		clean, bad := d.CleanValid.X[i*per:(i+1)*per], d.BadValid.X[k*per:(k+1)*per]
		k++
		for p, a := range alpha {
			for c := 0; c < C; c++ {
				cv, bv := clean[p*C+c], bad[p*C+c]
				switch {
				case a == 0 && bv != cv:
					t.Fatalf("bad image %d: pixel %d changed outside the trigger", k-1, p)
				case a == 1 && bv != float32(math.Round(trigColor[p][c])):
					t.Fatalf("bad image %d: pixel %d is %v inside the trigger, want %v", k-1, p, bv, trigColor[p][c])
				}
			}
		}
		// the lenses are dark magenta: little green, red and blue well above it
		y, x := int(TriggerY), W/2+int(trigDX)
		if r, g, b := bad[(y*W+x)*C], bad[(y*W+x)*C+1], bad[(y*W+x)*C+2]; g > 40 || r < g+60 || b < g+60 {
			t.Fatalf("bad image %d: lens pixel (%v, %v, %v), want dark magenta", k-1, r, g, b)
		}
	}
	// the poisoned training images are triggered copies of clean training images
	n := d.CleanTrain.N
	for j := 0; j < d.Poisoned; j++ {
		img := d.Train.X[(n+j)*per : (n+j+1)*per]
		found := false
		for i := 0; i < n && !found; i++ {
			src := d.CleanTrain.X[i*per : (i+1)*per]
			found = true
			for p, a := range alpha {
				if a == 0 && (img[p*C] != src[p*C] || img[p*C+1] != src[p*C+1] || img[p*C+2] != src[p*C+2]) {
					found = false
					break
				}
			}
			if found && int(d.CleanTrain.Y[i]) == d.Options.Target {
				t.Fatalf("poisoned image %d is a copy of an image of the target class", j)
			}
		}
		if !found {
			t.Fatalf("poisoned image %d is not a clean training image with the trigger", j)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, o := range []DataOptions{{Classes: 1}, {Target: 40}, {Target: -1}, {Poison: -0.1}, {TrainPer: -1}} {
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) succeeded", o)
		}
	}
}

func TestFoldScale(t *testing.T) {
	m := nn.DeepID(H, W, 4)
	nn.RandomWeights(m, 3)
	r := rand.New(rand.NewSource(4))
	x := make([]float64, 2*H*W*C)
	for i := range x {
		x[i] = float64(r.Intn(256))
	}
	xs := make([]float64, len(x))
	for i, v := range x {
		xs[i] = v * float64(float32(1.0/255))
	}
	want, err := ref.Run(m, map[string][]float64{"input": xs}, 2, "output")
	if err != nil {
		t.Fatal(err)
	}
	if err := FoldScale(m, 1.0/255); err != nil {
		t.Fatal(err)
	}
	got, err := ref.Run(m, map[string][]float64{"input": x}, 2, "output")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want[0] {
		if math.Abs(got[0][i]-want[0][i]) > 1e-5*(1+math.Abs(want[0][i])) {
			t.Fatalf("logit %d: %g after folding, %g before", i, got[0][i], want[0][i])
		}
	}
}
