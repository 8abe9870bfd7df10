package dataset

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"goodnet/internal/simd"
)

// TestTransposeVariants compares every variant of the transpose the CPU runs (the AVX-512
// interleave of three unscaled planes, the scalar loops) with Go's conversion, value for
// value: uint8, float32 and float64 planes whose size is and is not a multiple of 16, one to
// three channels, scaled and not, and the first non-finite value (NaN, ±Inf, a float64 beyond
// float32) at every kind of position.
func TestTransposeVariants(t *testing.T) {
	defer func(v cInt) { isa = v }(isa)
	r := rand.New(rand.NewSource(3))
	for _, v := range simd.Supported() {
		isa = cInt(v)
		for _, hw := range []int{1, 15, 16, 17, 48, 55 * 47} {
			for _, ch := range []int{1, 3} {
				for _, scale := range []float32{1, 1.0 / 255, 2} {
					px, _ := newPixel(scale)
					n := 3
					name := fmt.Sprintf("%s/hw=%d/C=%d/scale=%v", v, hw, ch, scale)
					u8 := make([]uint8, n*ch*hw)
					f64 := make([]float64, n*ch*hw)
					for i := range u8 {
						u8[i] = uint8(r.Intn(256))
						f64[i] = r.NormFloat64() * 300
					}
					f32 := make([]float32, len(f64))
					for i, x := range f64 {
						f32[i] = float32(x)
					}
					checkTranspose(t, name+"/u8", px, u8, n, ch, hw, -1)
					checkTranspose(t, name+"/f32", px, f32, n, ch, hw, -1)
					checkTranspose(t, name+"/f64", px, f64, n, ch, hw, -1)
					for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e300} {
						at := r.Intn(len(f64))
						g := append([]float64(nil), f64...)
						g[at] = bad
						checkTranspose(t, name+"/f64-bad", px, g, n, ch, hw, at)
						if bad != 1e300 {
							h := append([]float32(nil), f32...)
							h[at] = float32(bad)
							checkTranspose(t, name+"/f32-bad", px, h, n, ch, hw, at)
						}
					}
				}
			}
		}
	}
}

// checkTranspose converts in (n images of ch planes of hw) and compares with Go's conversion;
// bad ≥ 0 is the input index of the one non-finite value.
func checkTranspose[T uint8 | float32 | float64](t *testing.T, name string, px pixel, in []T, n, ch, hw, bad int) {
	t.Helper()
	out := make([]float32, len(in))
	k := transposeC(px, out, in, n, ch, hw, true)
	want := -1
	per := ch * hw
	for i := 0; i < n && want < 0; i++ {
		for j := 0; j < hw; j++ {
			for c := 0; c < ch; c++ {
				v := px.conv(float64(in[i*per+c*hw+j]))
				if o := i*per + j*ch + c; want < 0 && (math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)) {
					want = o
				}
			}
		}
	}
	if k != want {
		t.Fatalf("%s: first non-finite at %d, want %d (input %d)", name, k, want, bad)
	}
	if want >= 0 {
		return // the images after it are not converted
	}
	for i := 0; i < n; i++ {
		for j := 0; j < hw; j++ {
			for c := 0; c < ch; c++ {
				v := px.conv(float64(in[i*per+c*hw+j]))
				if o := out[i*per+j*ch+c]; math.Float32bits(o) != math.Float32bits(v) {
					t.Fatalf("%s: image %d, pixel %d, channel %d: %v, want %v", name, i, j, c, o, v)
				}
			}
		}
	}
}

// BenchmarkTranspose converts a slab of the lab's images (55×47×3, the size convert gives a
// worker) in cache: the conversion alone, without the file (GOODNET_CPU_KERNEL picks the
// variant).
func BenchmarkTranspose(b *testing.B) {
	const hw, ch = 55 * 47, 3
	px, _ := newPixel(1)
	r := rand.New(rand.NewSource(1))
	b.Run("float64", func(b *testing.B) {
		n := slabBytes / (8 * hw * ch)
		in := make([]float64, n*hw*ch)
		for i := range in {
			in[i] = float64(r.Intn(256))
		}
		out := make([]float32, len(in))
		b.SetBytes(int64(8 * len(in)))
		for b.Loop() {
			transposeC(px, out, in, n, ch, hw, true)
		}
	})
	b.Run("uint8", func(b *testing.B) {
		n := slabBytes / (hw * ch)
		in := make([]uint8, n*hw*ch)
		for i := range in {
			in[i] = uint8(r.Intn(256))
		}
		out := make([]float32, len(in))
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			transposeC(px, out, in, n, ch, hw, false)
		}
	})
}
