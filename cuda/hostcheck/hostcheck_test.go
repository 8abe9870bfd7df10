package hostcheck

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"goodnet/cuda"
	"goodnet/host"
	"goodnet/nn"
	"goodnet/nn/ref"
)

const u32 = 1.0 / (1 << 24) // unit roundoff of float32

func randF32(r *rand.Rand, n int, lim float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * lim)
	}
	return v
}

func abs32(v []float32) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(math.Abs(float64(x)))
	}
	return o
}

// oneLayer is input → l, with l's weights random (bias per useBias).
func oneLayer(t *testing.T, in nn.Shape, l *nn.Layer, r *rand.Rand) *nn.Model {
	t.Helper()
	l.Name, l.InputNames = "l", []string{"input"}
	m, err := nn.New("one", []*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}, l}, "input", "l")
	if err != nil {
		t.Fatal(err)
	}
	if l.HasWeights() {
		nn.RandomWeights(m, r.Int63())
		if !l.UseBias {
			l.B = nil
		}
	}
	return m
}

// refWithBound runs the float64 reference on x and on |x| with |weights|: the second gives
// Σ|terms| of every output, from which the float32 error bound (K+2)·u·Σ|terms| of a
// recursive sum of K products follows.
func refWithBound(t *testing.T, m *nn.Model, x []float32, n int) (want, scale []float64) {
	t.Helper()
	l := m.Output
	want = ref.Layer(l, [][]float64{ref.Widen(x)}, n)
	a := *l
	a.Act = nn.Linear
	a.W, a.B = abs32(l.W), nil
	if l.B != nil {
		a.B = abs32(l.B)
	}
	scale = ref.Layer(&a, [][]float64{ref.Widen(abs32(x))}, n)
	return want, scale
}

func within(t *testing.T, what string, got []float32, want, scale []float64, k int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		tol := float64(k+2)*u32*scale[i] + 1e-30
		if d := math.Abs(float64(got[i]) - want[i]); d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: value %d is %g, want %g (|diff| %g > bound %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func cpuRun(t *testing.T, m *nn.Model, x []float32, n int) []float32 {
	t.Helper()
	net, err := host.New(1).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	r, err := net.Run(map[string][]float32{m.Input.Name: x}, n, m.Output.Name)
	if err != nil {
		t.Fatal(err)
	}
	return r[0]
}

// closeTo: two float32 computations of the same sums, each within the bound of the exact value.
func closeTo(t *testing.T, what string, got, other []float32, scale []float64, k int) {
	t.Helper()
	for i := range got {
		tol := 2*float64(k+2)*u32*scale[i] + 1e-30
		if d := math.Abs(float64(got[i]) - float64(other[i])); d > tol {
			t.Fatalf("%s: value %d is %g, host/ gives %g (|diff| %g > %g)", what, i, got[i], other[i], d, tol)
		}
	}
}

func TestConv2D(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for it := 0; it < 300; it++ {
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		in := nn.Shape{kh + r.Intn(9), kw + r.Intn(9), 1 + r.Intn(6)}
		l := &nn.Layer{Kind: nn.Conv2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)},
			Filters: 1 + r.Intn(9), Padding: nn.Padding(r.Intn(2)), Act: nn.Activation(r.Intn(2)), UseBias: r.Intn(4) != 0}
		m := oneLayer(t, in, l, r)
		n := 1 + r.Intn(4)
		x := randF32(r, n*in.Size(), 3)
		s, err := cuda.ConvShapeOf(l)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n*l.OutShape.Size())
		if err := Conv2D(got, x, l.W, l.B, s, n); err != nil {
			t.Fatal(err)
		}
		want, scale := refWithBound(t, m, x, n)
		what := fmt.Sprintf("case %d: %s on %v", it, l, in)
		within(t, what, got, want, scale, s.Taps())
		closeTo(t, what, got, cpuRun(t, m, x, n), scale, s.Taps())
	}
}

func TestDense(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for it := 0; it < 200; it++ {
		in := nn.Shape{1 + r.Intn(300)}
		l := &nn.Layer{Kind: nn.Dense, Units: 1 + r.Intn(70), Act: nn.Activation(r.Intn(3)), UseBias: r.Intn(4) != 0}
		m := oneLayer(t, in, l, r)
		n := 1 + r.Intn(5)
		x := randF32(r, n*in.Size(), 2)
		s, err := cuda.DenseShapeOf(l)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n*l.Units)
		if err := Dense(got, x, l.W, l.B, s, n); err != nil {
			t.Fatal(err)
		}
		want, scale := refWithBound(t, m, x, n)
		what := fmt.Sprintf("case %d: %s on %v", it, l, in)
		within(t, what, got, want, scale, s.K)
		closeTo(t, what, got, cpuRun(t, m, x, n), scale, s.K)
	}
}

func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for it := 0; it < 300; it++ {
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		in := nn.Shape{kh + r.Intn(9), kw + r.Intn(9), 1 + r.Intn(6)}
		l := &nn.Layer{Kind: nn.MaxPool2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, Padding: nn.Padding(r.Intn(2))}
		m := oneLayer(t, in, l, r)
		n := 1 + r.Intn(4)
		x := randF32(r, n*in.Size(), 5)
		s, err := cuda.PoolShapeOf(l)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, n*l.OutShape.Size())
		if err := MaxPool(got, x, s, n); err != nil {
			t.Fatal(err)
		}
		want := ref.MaxPool(l, ref.Widen(x), n)
		cpu := cpuRun(t, m, x, n)
		for i := range got {
			if float64(got[i]) != want[i] || got[i] != cpu[i] {
				t.Fatalf("case %d: %s on %v: value %d is %g, ref %g, host/ %g", it, l, in, i, got[i], want[i], cpu[i])
			}
		}
	}
}

func TestMaxPoolNaN(t *testing.T) {
	l := &nn.Layer{Kind: nn.MaxPool2D, Size: [2]int{2, 2}, Strides: [2]int{2, 2}}
	oneLayer(t, nn.Shape{2, 4, 1}, l, rand.New(rand.NewSource(1)))
	nan := float32(math.NaN())
	x := []float32{1, nan, 3, 4, 5, 2, 0, -1} // windows {1, nan, 5, 2} and {3, 4, 0, -1}
	s, _ := cuda.PoolShapeOf(l)
	got := make([]float32, 2)
	if err := MaxPool(got, x, s, 1); err != nil {
		t.Fatal(err)
	}
	want := ref.MaxPool(l, ref.Widen(x), 1)
	if !math.IsNaN(float64(got[0])) || !math.IsNaN(want[0]) || got[1] != 4 || want[1] != 4 {
		t.Fatalf("max pool with a NaN: %v, ref %v", got, want)
	}
}

func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, n := range []int{0, 1, 7, 1000} {
		a, b := randF32(r, n, 10), randF32(r, n, 10)
		out := make([]float32, n)
		if err := ReLU(out, a); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if want := float32(math.Max(float64(a[i]), 0)); out[i] != want {
				t.Fatalf("relu(%g) = %g", a[i], out[i])
			}
		}
		if err := Add(out, a, b); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if want := float32(float64(a[i]) + float64(b[i])); out[i] != want {
				t.Fatalf("%g + %g = %g, want %g", a[i], b[i], out[i], want)
			}
		}
	}
	if err := Add(make([]float32, 2), make([]float32, 2), make([]float32, 3)); err == nil {
		t.Fatal("add of different lengths accepted")
	}
}

func TestMerge(t *testing.T) {
	b := []int32{0, 5, 7, 1282, 3}
	bp := []int32{0, 4, 7, 1282, 9}
	out := make([]int32, len(b))
	if err := Merge(out, b, bp, 1283); err != nil {
		t.Fatal(err)
	}
	want := []int32{0, 1283, 7, 1282, 1283}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("merge = %v, want %v", out, want)
		}
	}
}

func TestArgmax(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	rows := [][]float32{
		{1, 3, 3, 2},                          // first of ties
		{nan, 5, 6},                           // NaN first: 0, as a sequential scan
		{1, nan, 0.5, 1},                      // NaN skipped, tie keeps first
		{-inf, -inf, -inf},                    // all -inf: 0
		{-1, -inf, inf, inf},                  // +inf, first
		{2},                                   // one value
		{0, float32(math.Copysign(0, -1)), 0}, // -0 == 0: first
	}
	for _, row := range rows {
		got := make([]int32, 1)
		if err := Argmax(got, row, 1, len(row)); err != nil {
			t.Fatal(err)
		}
		if want := nn.Argmax(row, 1, len(row)); got[0] != want[0] {
			t.Fatalf("argmax %v = %d, nn.Argmax %d", row, got[0], want[0])
		}
	}
	r := rand.New(rand.NewSource(5))
	n, k := 300, 1283
	x := randF32(r, n*k, 1)
	for i := range x {
		if r.Intn(50) == 0 {
			x[i] = float32(r.Intn(3)) // many exact ties
		}
	}
	got := make([]int32, n)
	if err := Argmax(got, x, n, k); err != nil {
		t.Fatal(err)
	}
	want := nn.Argmax(x, n, k)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d: argmax %d, nn.Argmax %d", i, got[i], want[i])
		}
	}
}

func TestChannelSum(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, tc := range []struct{ rows, C int }{{1, 1}, {5, 3}, {1023, 7}, {1024, 60}, {1025, 33}, {12830 * 20, 60}} {
		x := randF32(r, tc.rows*tc.C, 1)
		for i := range x {
			x[i] = float32(math.Abs(float64(x[i]))) * 1000 // post-ReLU activations
		}
		acc := make([]float64, tc.C)
		acc[0] = 1 // accumulates
		if err := ChannelSum(acc, x, tc.rows, tc.C); err != nil {
			t.Fatal(err)
		}
		for c := 0; c < tc.C; c++ {
			want := 0.0
			if c == 0 {
				want = 1
			}
			for row := 0; row < tc.rows; row++ {
				want += float64(x[row*tc.C+c])
			}
			if d := math.Abs(acc[c] - want); d > 1e-12*want {
				t.Fatalf("%d×%d: channel %d sums to %.17g, want %.17g", tc.rows, tc.C, c, acc[c], want)
			}
		}
	}
}

func TestBadLengths(t *testing.T) {
	s := cuda.ConvShape{H: 4, W: 4, C: 2, OH: 3, OW: 3, O: 3, KH: 2, KW: 2, SH: 1, SW: 1}
	x, w := make([]float32, 2*4*4*2), make([]float32, 2*2*2*3)
	if err := Conv2D(make([]float32, 2*3*3*3), x, w, nil, s, 2); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		out, x, w, b []float32
		n            int
	}{
		{make([]float32, 2*3*3*3-1), x, w, nil, 2},
		{make([]float32, 2*3*3*3), x[1:], w, nil, 2},
		{make([]float32, 2*3*3*3), x, w[1:], nil, 2},
		{make([]float32, 2*3*3*3), x, w, make([]float32, 2), 2},
		{nil, nil, w, nil, -1},
	} {
		if err := Conv2D(c.out, c.x, c.w, c.b, s, c.n); err == nil {
			t.Fatalf("bad conv2d launch (%d, %d, %d, %d, n=%d) accepted", len(c.out), len(c.x), len(c.w), len(c.b), c.n)
		}
	}
	bad := s
	bad.PT = 2
	if err := Conv2D(make([]float32, 2*3*3*3), x, w, nil, bad, 2); err == nil {
		t.Fatal("padding outside the kernel accepted")
	}
}
