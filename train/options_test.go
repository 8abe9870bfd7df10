package train

import (
	"math"
	"math/rand"
	"testing"
)

func TestCosineSchedule(t *testing.T) {
	o := Options{LR: 3e-3, Schedule: Cosine}
	if got := o.lrAt(0, 100); got != 3e-3 {
		t.Fatalf("step 0: %g, want 3e-3", got)
	}
	if got := o.lrAt(50, 100); math.Abs(got-1.5e-3) > 1e-12 {
		t.Fatalf("half way: %g, want 1.5e-3", got)
	}
	prev := math.Inf(1)
	for s := 0; s < 100; s++ {
		lr := o.lrAt(s, 100)
		if lr > prev || lr <= 0 {
			t.Fatalf("step %d: %g after %g (want decreasing, positive)", s, lr, prev)
		}
		prev = lr
	}
	if c := (Options{LR: 1e-3}).lrAt(99, 100); c != 1e-3 {
		t.Fatalf("constant schedule gives %g", c)
	}
}

// TestAugmentApply checks each transformation against its definition, pixel by pixel:
// out(i, j) = scale·in(i − dy, m(j − dx)), m the mirror when flipped, 0 outside.
func TestAugmentApply(t *testing.T) {
	const H, W, C = 5, 4, 3
	r := rand.New(rand.NewSource(1))
	src := make([]float32, H*W*C)
	for i := range src {
		src[i] = 1 + r.Float32()
	}
	for _, x := range []xform{{}, {flip: true}, {dy: 2}, {dx: -1}, {dy: -2, dx: 3, flip: true}, {dy: 5}, {dx: -4, flip: true},
		{eraseArea: 0.2, eraseLogRatio: 0.5, eraseY: 0.3, eraseX: 0.9}, {flip: true, dy: 1, eraseArea: 0.33, eraseLogRatio: -1.2, eraseY: 0.99, eraseX: 0}} {
		y0, x0, h, w := x.rect(H, W)
		dst := make([]float32, len(src))
		for i := range dst {
			dst[i] = -7 // every value must be written
		}
		x.apply(dst, src, H, W, C, 0.5)
		for i := 0; i < H; i++ {
			for j := 0; j < W; j++ {
				for c := 0; c < C; c++ {
					want := float32(0)
					si, sj := i-x.dy, j-x.dx
					erased := i >= y0 && i < y0+h && j >= x0 && j < x0+w
					if si >= 0 && si < H && sj >= 0 && sj < W && !erased {
						if x.flip {
							sj = W - 1 - sj
						}
						want = 0.5 * src[(si*W+sj)*C+c]
					}
					if got := dst[(i*W+j)*C+c]; got != want {
						t.Fatalf("%+v: pixel (%d, %d, %d) = %g, want %g", x, i, j, c, got, want)
					}
				}
			}
		}
	}
}

// Erased rectangles lie inside the image and cover about the drawn share of it.
func TestEraseRect(t *testing.T) {
	a := Augment{Erase: 0.5}
	r := rand.New(rand.NewSource(4))
	const H, W = 55, 47
	erased := 0
	for i := 0; i < 4000; i++ {
		x := a.draw(r)
		y0, x0, h, w := x.rect(H, W)
		if h == 0 {
			continue
		}
		erased++
		if y0 < 0 || x0 < 0 || y0+h > H || x0+w > W || h < 1 || w < 1 {
			t.Fatalf("rectangle (%d, %d) %d×%d outside %d×%d", y0, x0, h, w, H, W)
		}
		if f := float64(h*w) / (H * W); f > 0.45 || (f < 0.01 && h < H && w < W) {
			t.Fatalf("rectangle %d×%d covers %.3f of the image, drawn %.3f", h, w, f, x.eraseArea)
		}
	}
	if erased < 1800 || erased > 2200 {
		t.Fatalf("%d of 4000 images erased at probability 0.5", erased)
	}
}

func TestAugmentDraws(t *testing.T) {
	a := Augment{Flip: true, Shift: 2}
	r := rand.New(rand.NewSource(3))
	seen := map[xform]bool{}
	for i := 0; i < 2000; i++ {
		x := a.draw(r)
		if x.dy < -2 || x.dy > 2 || x.dx < -2 || x.dx > 2 {
			t.Fatalf("draw %+v outside ±2", x)
		}
		seen[x] = true
	}
	if len(seen) != 2*5*5 {
		t.Fatalf("%d distinct transformations drawn, want 50", len(seen))
	}
	if (Augment{}).On() || !(Augment{Shift: 1}).On() || !(Augment{Flip: true}).On() || !(Augment{Erase: 0.1}).On() {
		t.Fatal("Augment.On")
	}
}
