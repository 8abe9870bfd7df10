package hostcheck

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"goodnet/cuda"
	"goodnet/nn"
)

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d: kernel %g, per-element loop %g", what, i, got[i], want[i])
		}
	}
}

// The emulated GPU kernels (tiles, warps, blocks, grid-stride loops) give exactly the per-
// element loops' bits: every tile edge (M, O, K not multiples of 64, 32, 16), several tiles
// in both grid dimensions.
func TestKernelConv2D(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for it := 0; it < 24; it++ {
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		in := nn.Shape{kh + r.Intn(12), kw + r.Intn(12), 1 + r.Intn(6)}
		l := &nn.Layer{Kind: nn.Conv2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(2), 1 + r.Intn(2)},
			Filters: 1 + r.Intn(70), Padding: nn.Padding(r.Intn(2)), Act: nn.Activation(r.Intn(2)), UseBias: r.Intn(4) != 0}
		oneLayer(t, in, l, r)
		s, _ := cuda.ConvShapeOf(l)
		n := 1 + r.Intn(3)
		x := randF32(r, n*in.Size(), 3)
		want, got := make([]float32, n*s.Out()), make([]float32, n*s.Out())
		if err := Conv2D(want, x, l.W, l.B, s, n); err != nil {
			t.Fatal(err)
		}
		if err := KernelConv2D(got, x, l.W, l.B, s, n); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("conv %s on %d×%v", l, n, in), got, want)
	}
}

func TestKernelDense(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, c := range []struct{ n, K, O int }{{1, 1, 1}, {3, 15, 31}, {64, 16, 32}, {65, 17, 33}, {130, 160, 70}, {7, 300, 1283}} {
		s := cuda.DenseShape{K: c.K, O: c.O, ReLU: c.n%2 == 1}
		x, w, b := randF32(r, c.n*c.K, 1), randF32(r, c.K*c.O, 1), randF32(r, c.O, 1)
		if c.K == 15 {
			b = nil
		}
		want, got := make([]float32, c.n*c.O), make([]float32, c.n*c.O)
		if err := Dense(want, x, w, b, s, c.n); err != nil {
			t.Fatal(err)
		}
		if err := KernelDense(got, x, w, b, s, c.n); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("dense %+v", c), got, want)
	}
}

func TestKernelMaxPool(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	for it := 0; it < 12; it++ {
		kh, kw := 1+r.Intn(3), 1+r.Intn(3)
		in := nn.Shape{kh + r.Intn(10), kw + r.Intn(10), 1 + r.Intn(9)}
		l := &nn.Layer{Kind: nn.MaxPool2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, Padding: nn.Padding(r.Intn(2))}
		oneLayer(t, in, l, r)
		s, _ := cuda.PoolShapeOf(l)
		n := 1 + r.Intn(3)
		x := randF32(r, n*in.Size(), 5)
		want, got := make([]float32, n*s.Out()), make([]float32, n*s.Out())
		MaxPool(want, x, s, n)
		if err := KernelMaxPool(got, x, s, n); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("maxpool %s on %d×%v", l, n, in), got, want)
	}
}

func TestKernelElementwise(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	n := 3*256*MaxStrideBlocks + 77 // the grid-stride loops wrap
	a, b := randF32(r, n, 5), randF32(r, n, 5)
	want, got := make([]float32, n), make([]float32, n)
	ReLU(want, a)
	KernelReLU(got, a)
	sameBits(t, "relu", got, want)
	Add(want, a, b)
	KernelAdd(got, a, b)
	sameBits(t, "add", got, want)
	ib, ip := make([]int32, n), make([]int32, n)
	for i := range ib {
		ib[i], ip[i] = int32(r.Intn(5)), int32(r.Intn(5))
	}
	wi, gi := make([]int32, n), make([]int32, n)
	Merge(wi, ib, ip, 1283)
	KernelMerge(gi, ib, ip, 1283)
	for i := range wi {
		if wi[i] != gi[i] {
			t.Fatalf("merge %d: kernel %d, loop %d", i, gi[i], wi[i])
		}
	}
}

func TestKernelArgmax(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct{ rows, k int }{{1, 1}, {3, 5}, {9, 31}, {17, 32}, {20, 33}, {13, 1283}} {
		x := randF32(r, c.rows*c.k, 1)
		for i := range x {
			switch r.Intn(40) {
			case 0:
				x[i] = float32(r.Intn(2)) // ties, across lanes
			case 1:
				x[i] = nan
			case 2:
				x[i] = -inf
			}
		}
		if c.rows > 2 {
			x[c.k] = nan // a row starting with NaN
			for j := 2 * c.k; j < 3*c.k; j++ {
				x[j] = -inf
			}
		}
		want, got := make([]int32, c.rows), make([]int32, c.rows)
		Argmax(want, x, c.rows, c.k)
		if err := KernelArgmax(got, x, c.rows, c.k); err != nil {
			t.Fatal(err)
		}
		ref := nn.Argmax(x, c.rows, c.k)
		for i := range want {
			if got[i] != want[i] || got[i] != ref[i] {
				t.Fatalf("argmax %+v row %d: kernel %d, loop %d, nn.Argmax %d", c, i, got[i], want[i], ref[i])
			}
		}
	}
}

func TestKernelChannelSum(t *testing.T) {
	r := rand.New(rand.NewSource(16))
	for _, c := range []struct{ rows, C int }{{1, 1}, {100, 7}, {1024, 32}, {2500, 33}, {3000, 60}} {
		x := randF32(r, c.rows*c.C, 1000)
		want, got := make([]float64, c.C), make([]float64, c.C)
		for i := range want {
			want[i], got[i] = float64(i), float64(i)
		}
		ChannelSum(want, x, c.rows, c.C)
		if err := KernelChannelSum(got, x, c.rows, c.C); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("channel sum %+v channel %d: kernel %.17g, loop %.17g", c, i, got[i], want[i])
			}
		}
	}
}
