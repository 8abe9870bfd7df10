package gpucheck

import (
	"fmt"
	"math"
	"math/rand"

	"goodnet/cuda"
	"goodnet/cuda/hostcheck"
	"goodnet/nn"
	"goodnet/nn/ref"
)

const u32 = 1.0 / (1 << 24) // unit roundoff of float32

func randF32(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + r.Float64()*(hi-lo))
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

// stats compares a GPU result with the CPU's per-element code (bits) and nn/ref (bound).
type stats struct {
	cases, values, identical int
	worst                    float64 // largest |gpu − ref| in units of the bound (K+2)u·Σ|terms|
}

func (s *stats) add(gpu, cpu []float32, want, scale []float64, k int) error {
	for i := range gpu {
		s.values++
		if math.Float32bits(gpu[i]) == math.Float32bits(cpu[i]) {
			s.identical++
		}
		bound := float64(k+2)*u32*scale[i] + 1e-30
		d := math.Abs(float64(gpu[i]) - want[i])
		if !(d <= bound) {
			return fmt.Errorf("value %d is %g, nn/ref %g, kernels.cu on the CPU %g (|diff| %g > bound %g)", i, gpu[i], want[i], cpu[i], d, bound)
		}
		s.worst = math.Max(s.worst, d/bound)
	}
	return nil
}

func (s *stats) result() (string, string, error) {
	return fmt.Sprintf("%.2f of the float32 bound", s.worst),
		fmt.Sprintf("%d cases, %d values within the bound of nn/ref; bit-identical to kernels.cu on the CPU: %d/%d", s.cases, s.values, s.identical, s.values), nil
}

// oneLayer is input → l with random weights.
func oneLayer(in nn.Shape, l *nn.Layer, seed int64) (*nn.Model, error) {
	l.Name, l.InputNames = "l", []string{"input"}
	m, err := nn.New("one", []*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}, l}, "input", "l")
	if err != nil {
		return nil, err
	}
	if l.HasWeights() {
		nn.RandomWeights(m, seed)
		if !l.UseBias {
			l.B = nil
		}
	}
	return m, nil
}

// refBound is nn/ref's output and Σ|terms| of each value (ref on |x|, |w|, |b|, linear).
func refBound(l *nn.Layer, x []float32, n int) (want, scale []float64) {
	want = ref.Layer(l, [][]float64{ref.Widen(x)}, n)
	a := *l
	a.Act, a.W, a.B = nn.Linear, abs32(l.W), nil
	if l.B != nil {
		a.B = abs32(l.B)
	}
	return want, ref.Layer(&a, [][]float64{ref.Widen(abs32(x))}, n)
}

// size picks the full or the small (sanitizer) size.
func (r *run) size(full, small int) int {
	if r.o.Small {
		return small
	}
	return full
}

func (r *run) kernelChecks() {
	r.section("kernels (each against kernels.cu's arithmetic on the CPU and nn/ref, float64)")
	k := r.env.Kernels
	rnd := rand.New(rand.NewSource(1))

	// conv2d: random geometries, then DeepID's conv_1 on 32 images (many tiles)
	r.check("kernel conv2d", func() (string, string, error) {
		var st stats
		cases := r.size(40, 6)
		for it := 0; it <= cases; it++ {
			var in nn.Shape
			var l *nn.Layer
			n := 1 + rnd.Intn(4)
			if it == cases {
				in, n = nn.Shape{55, 47, 3}, r.size(32, 2)
				l = &nn.Layer{Kind: nn.Conv2D, Size: [2]int{4, 4}, Strides: [2]int{1, 1}, Filters: 20, Act: nn.ReLU, UseBias: true}
			} else {
				kh, kw := 1+rnd.Intn(4), 1+rnd.Intn(4)
				in = nn.Shape{kh + rnd.Intn(20), kw + rnd.Intn(20), 1 + rnd.Intn(8)}
				l = &nn.Layer{Kind: nn.Conv2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + rnd.Intn(3), 1 + rnd.Intn(3)},
					Filters: 1 + rnd.Intn(70), Padding: nn.Padding(rnd.Intn(2)), Act: nn.Activation(rnd.Intn(2)), UseBias: rnd.Intn(4) != 0}
			}
			if _, err := oneLayer(in, l, rnd.Int63()); err != nil {
				return "", "", err
			}
			s, err := cuda.ConvShapeOf(l)
			if err != nil {
				return "", "", err
			}
			x := randF32(rnd, n*in.Size(), -3, 3)
			out, cpu := make([]float32, n*s.Out()), make([]float32, n*s.Out())
			if err := hostcheck.Conv2D(cpu, x, l.W, l.B, s, n); err != nil {
				return "", "", err
			}
			if err := k.Conv2D(out, x, l.W, l.B, s, n); err != nil {
				return "", "", err
			}
			want, scale := refBound(l, x, n)
			if err := st.add(out, cpu, want, scale, s.Taps()); err != nil {
				return "", "", fmt.Errorf("conv2d %s on %d×%v: %w", l, n, in, err)
			}
			st.cases++
		}
		return st.result()
	})

	// dense: random sizes, then DeepID's output layer on 200 rows
	r.check("kernel dense", func() (string, string, error) {
		var st stats
		cases := r.size(30, 5)
		for it := 0; it <= cases; it++ {
			in, n := nn.Shape{1 + rnd.Intn(r.size(1500, 200))}, 1+rnd.Intn(r.size(130, 20))
			l := &nn.Layer{Kind: nn.Dense, Units: 1 + rnd.Intn(r.size(300, 70)), Act: nn.Activation(rnd.Intn(3)), UseBias: rnd.Intn(4) != 0}
			if it == cases {
				in, n = nn.Shape{160}, r.size(200, 9)
				l = &nn.Layer{Kind: nn.Dense, Units: 1283, Act: nn.Softmax, UseBias: true}
			}
			if _, err := oneLayer(in, l, rnd.Int63()); err != nil {
				return "", "", err
			}
			s, err := cuda.DenseShapeOf(l)
			if err != nil {
				return "", "", err
			}
			x := randF32(rnd, n*in.Size(), -2, 2)
			out, cpu := make([]float32, n*s.O), make([]float32, n*s.O)
			if err := hostcheck.Dense(cpu, x, l.W, l.B, s, n); err != nil {
				return "", "", err
			}
			if err := k.Dense(out, x, l.W, l.B, s, n); err != nil {
				return "", "", err
			}
			want, scale := refBound(l, x, n)
			if err := st.add(out, cpu, want, scale, s.K); err != nil {
				return "", "", fmt.Errorf("dense %s on %d×%v: %w", l, n, in, err)
			}
			st.cases++
		}
		return st.result()
	})

	// maxpool: exact
	r.check("kernel maxpool", func() (string, string, error) {
		var st stats
		for it := 0; it < r.size(40, 6); it++ {
			kh, kw := 1+rnd.Intn(4), 1+rnd.Intn(4)
			in, n := nn.Shape{kh + rnd.Intn(20), kw + rnd.Intn(20), 1 + rnd.Intn(70)}, 1+rnd.Intn(4)
			l := &nn.Layer{Kind: nn.MaxPool2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + rnd.Intn(3), 1 + rnd.Intn(3)}, Padding: nn.Padding(rnd.Intn(2))}
			if _, err := oneLayer(in, l, 0); err != nil {
				return "", "", err
			}
			s, err := cuda.PoolShapeOf(l)
			if err != nil {
				return "", "", err
			}
			x := randF32(rnd, n*in.Size(), -5, 5)
			out, cpu := make([]float32, n*s.Out()), make([]float32, n*s.Out())
			if err := hostcheck.MaxPool(cpu, x, s, n); err != nil {
				return "", "", err
			}
			if err := k.MaxPool(out, x, s, n); err != nil {
				return "", "", err
			}
			want := ref.MaxPool(l, ref.Widen(x), n)
			if err := st.add(out, cpu, want, make([]float64, len(want)), 0); err != nil {
				return "", "", fmt.Errorf("maxpool %s on %d×%v: %w", l, n, in, err)
			}
			st.cases++
		}
		return st.result()
	})

	// relu, add: exact
	n := r.size(1<<20, 5000)
	a, b := randF32(rnd, n, -10, 10), randF32(rnd, n, -10, 10)
	for _, op := range []string{"relu", "add"} {
		r.check("kernel "+op, func() (string, string, error) {
			got, cpu, want := make([]float32, n), make([]float32, n), make([]float64, n)
			var err error
			if op == "relu" {
				err = k.ReLU(got, a)
				hostcheck.ReLU(cpu, a)
				for i := range want {
					want[i] = math.Max(float64(a[i]), 0)
				}
			} else {
				err = k.Add(got, a, b)
				hostcheck.Add(cpu, a, b)
				for i := range want {
					want[i] = float64(a[i] + b[i])
				}
			}
			if err != nil {
				return "", "", err
			}
			st := stats{cases: 1}
			if err := st.add(got, cpu, want, make([]float64, n), 0); err != nil {
				return "", "", err
			}
			return st.result()
		})
	}

	// argmax: nn.Argmax's answer, ties and NaNs included
	r.check("kernel argmax", func() (string, string, error) {
		rows, kk := r.size(1000, 20), 1283
		x := randF32(rnd, rows*kk, -1, 1)
		for i := range x {
			if rnd.Intn(50) == 0 {
				x[i] = float32(rnd.Intn(3)) // exact ties
			}
		}
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		x[0] = nan                       // row 0: NaN first → 0
		x[kk+5], x[kk+900] = nan, inf    // row 1: NaN skipped, +inf wins
		for j := 2 * kk; j < 3*kk; j++ { // row 2: all -inf → 0
			x[j] = -inf
		}
		want := nn.Argmax(x, rows, kk)
		cpu := make([]int32, rows)
		hostcheck.Argmax(cpu, x, rows, kk)
		got := make([]int32, rows)
		if err := k.Argmax(got, x, rows, kk); err != nil {
			return "", "", err
		}
		for i := range got {
			if got[i] != want[i] || cpu[i] != want[i] {
				return "", "", fmt.Errorf("row %d: GPU %d, CPU %d, nn.Argmax %d", i, got[i], cpu[i], want[i])
			}
		}
		return "exact", fmt.Sprintf("%d rows of %d = nn.Argmax (ties, NaN, ±inf included)", rows, kk), nil
	})

	// merge: exact
	r.check("kernel merge", func() (string, string, error) {
		n := r.size(100000, 1000)
		b, bp := make([]int32, n), make([]int32, n)
		for i := range b {
			b[i], bp[i] = int32(rnd.Intn(1283)), int32(rnd.Intn(1283))
			if rnd.Intn(2) == 0 {
				bp[i] = b[i]
			}
		}
		got := make([]int32, n)
		if err := k.Merge(got, b, bp, 1283); err != nil {
			return "", "", err
		}
		for i := range got {
			want := b[i]
			if b[i] != bp[i] {
				want = 1283
			}
			if got[i] != want {
				return "", "", fmt.Errorf("value %d: B %d, B' %d, merged %d", i, b[i], bp[i], got[i])
			}
		}
		return "exact", fmt.Sprintf("%d pairs merged", n), nil
	})

	// channel sums: 12,830 images × 20 positions × 60 channels, twice (accumulating)
	r.check("kernel channel sums", func() (string, string, error) {
		rows, C := r.size(12830*20, 3000), 60
		x := randF32(rnd, rows*C, 0, 1000)
		cpu := make([]float64, C)
		hostcheck.ChannelSum(cpu, x, rows, C)
		hostcheck.ChannelSum(cpu, x, rows, C)
		got := make([]float64, C)
		for i := 0; i < 2; i++ {
			if err := k.ChannelSum(got, x, rows, C); err != nil {
				return "", "", err
			}
		}
		identical, worst := 0, 0.0
		for c := 0; c < C; c++ {
			want := 0.0
			for i := c; i < len(x); i += C {
				want += float64(x[i])
			}
			want *= 2
			d := math.Abs(got[c]-want) / want
			if !(d <= 1e-12) {
				return "", "", fmt.Errorf("channel %d: GPU %.17g, float64 sum %.17g", c, got[c], want)
			}
			worst = math.Max(worst, d)
			if got[c] == cpu[c] {
				identical++
			}
		}
		return fmt.Sprintf("%.2g relative (bound 1e-12)", worst),
			fmt.Sprintf("%d rows × %d channels, summed twice; bit-identical to kernels.cu on the CPU: %d/%d", rows, C, identical, C), nil
	})
}
