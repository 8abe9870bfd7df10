package host

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"goodnet/internal/simd"
)

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {12, 32, 256}, {13, 33, 257}, {97, 31, 300}, {200, 160, 1200},
		{5, 700, 40}, {1000, 3, 9}, {96, 512, 256}, {0, 4, 4}, {4, 4, 0}}
	for it := 0; it < 20; it++ {
		shapes = append(shapes, [3]int{1 + r.Intn(150), 1 + r.Intn(150), 1 + r.Intn(600)})
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, b := uniform(r, m*k, -1, 1), uniform(r, k*n, -1, 1)
		c0 := uniform(r, m*n, -1, 1)
		for _, acc := range []bool{false, true} {
			want := make([]float64, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					v := 0.0
					if acc {
						v = float64(c0[i*n+j])
					}
					for p := 0; p < k; p++ {
						v += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					want[i*n+j] = v
				}
			}
			for _, i := range supportedISAs() {
				for _, threads := range []int{1, 3} {
					c := append([]float32(nil), c0...)
					gemm(i, threads, m, n, k, a, b, c, acc)
					for e := range want {
						if d := math.Abs(float64(c[e]) - want[e]); !(d <= 1e-5*math.Sqrt(float64(k))+1e-6) {
							t.Fatalf("%s m=%d n=%d k=%d acc=%v threads=%d: C[%d] = %g, want %g", i, m, n, k, acc, threads, e, c[e], want[e])
						}
					}
				}
			}
		}
	}
	c := make([]float32, 4)
	Gemm(2, 2, 2, []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}, c, false)
	if c[0] != 19 || c[1] != 22 || c[2] != 43 || c[3] != 50 {
		t.Errorf("Gemm 2×2: %v", c)
	}
}

func TestISAIndices(t *testing.T) {
	if got, want := fmt.Sprint(engineISAs()), fmt.Sprint(simd.All); got != want {
		t.Fatalf("engine.h's variants %v, simd's %v", got, want)
	}
}
