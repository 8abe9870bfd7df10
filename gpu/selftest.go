//go:build cuda

package gpu

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"

	"goodnet/cuda"
	"goodnet/cuda/hostcheck"
	"goodnet/dataset"
	"goodnet/host"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/nn/ref"
)

const u32 = 1.0 / (1 << 24) // unit roundoff of float32

// SelfTest checks the GPU against the CPU and writes what it checked to w:
//
//   - every kernel on random inputs against kernels.cu's per-element code on the CPU
//     (cuda/hostcheck; the same sums in the same order, so normally bit-identical) and
//     against nn/ref (float64) within the float32 rounding bound;
//   - DeepID with random weights against host/ and nn/ref: logits within 1e-4 of each
//     image's largest |logit|, the same predictions (where host/'s top two logits are not
//     within that tolerance), GoodNet, channel means, pruning, and batching;
//   - with fixturesDir (else skipped): the lab's B (bd_net.h5) and B' (bprime_2.h5) on
//     cl_mini.h5 and bd_mini.h5 against expected.json: the same predictions of B, B' and
//     GoodNet, B's top logit within 1e-4 relative.
//
// It returns an error describing the first failure.
func SelfTest(w io.Writer, fixturesDir string) error {
	b, err := Open()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "self-test on %s\n", b.Describe())
	for _, step := range []struct {
		name string
		f    func(io.Writer) error
	}{
		{"kernels", kernelChecks},
		{"DeepID, random weights", func(w io.Writer) error { return netChecks(w, b) }},
	} {
		fmt.Fprintf(w, "%s:\n", step.name)
		if err := step.f(w); err != nil {
			return fmt.Errorf("self-test, %s: %v", step.name, err)
		}
	}
	if fixturesDir == "" {
		fmt.Fprintf(w, "fixtures: skipped (no directory given)\n")
	} else {
		fmt.Fprintf(w, "fixtures (%s):\n", fixturesDir)
		if err := fixtureChecks(w, b, fixturesDir); err != nil {
			return fmt.Errorf("self-test, fixtures: %v", err)
		}
	}
	fmt.Fprintf(w, "self-test passed\n")
	return nil
}

// ---------------------------------------------------------------- kernels

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

// dev holds device copies made by a check, freed at the end.
type dev struct{ allocs []cuda.Float32s }

func (d *dev) f32(v []float32) (cuda.Float32s, error) {
	s, err := cuda.Alloc[float32](len(v))
	if err != nil {
		return s, err
	}
	d.allocs = append(d.allocs, s)
	return s, s.Upload(v)
}

func (d *dev) free() {
	for _, s := range d.allocs {
		s.Free()
	}
}

func i32Dev(v []int32) (cuda.Int32s, error) {
	s, err := cuda.Alloc[int32](len(v))
	if err != nil {
		return s, err
	}
	return s, s.Upload(v)
}

// stats compares a GPU result with the CPU's per-element code (bits) and nn/ref (bound).
type stats struct {
	values, identical int
	maxRel            float64 // largest |gpu − ref| / bound·(K+2)u, in units of the bound
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
		s.maxRel = math.Max(s.maxRel, d/bound)
	}
	return nil
}

func (s *stats) line(w io.Writer, name string, cases int) {
	fmt.Fprintf(w, "  %-14s %3d cases, %9d values: ok; bit-identical to the CPU: %d/%d; worst error %.2f of the float32 bound\n",
		name, cases, s.values, s.identical, s.values, s.maxRel)
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

func kernelChecks(w io.Writer) error {
	r := rand.New(rand.NewSource(1))
	d := &dev{}
	defer d.free()

	// conv2d: random geometries, then DeepID's conv_1 on 32 images (many tiles)
	var st stats
	cases := 0
	for it := 0; it < 41; it++ {
		var in nn.Shape
		var l *nn.Layer
		n := 1 + r.Intn(4)
		if it == 40 {
			in, n = nn.Shape{55, 47, 3}, 32
			l = &nn.Layer{Kind: nn.Conv2D, Size: [2]int{4, 4}, Strides: [2]int{1, 1}, Filters: 20, Act: nn.ReLU, UseBias: true}
		} else {
			kh, kw := 1+r.Intn(4), 1+r.Intn(4)
			in = nn.Shape{kh + r.Intn(20), kw + r.Intn(20), 1 + r.Intn(8)}
			l = &nn.Layer{Kind: nn.Conv2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)},
				Filters: 1 + r.Intn(70), Padding: nn.Padding(r.Intn(2)), Act: nn.Activation(r.Intn(2)), UseBias: r.Intn(4) != 0}
		}
		if _, err := oneLayer(in, l, r.Int63()); err != nil {
			return err
		}
		s, err := cuda.ConvShapeOf(l)
		if err != nil {
			return err
		}
		x := randF32(r, n*in.Size(), -3, 3)
		out := make([]float32, n*s.Out())
		cpu := make([]float32, len(out))
		if err := hostcheck.Conv2D(cpu, x, l.W, l.B, s, n); err != nil {
			return err
		}
		dx, e1 := d.f32(x)
		dw, e2 := d.f32(l.W)
		db, e3 := d.f32(l.B)
		do, e4 := d.f32(out)
		if err := firstErr(e1, e2, e3, e4); err != nil {
			return err
		}
		if err := cuda.Conv2D(do, dx, dw, db, s, n); err != nil {
			return err
		}
		if err := do.Download(out); err != nil {
			return err
		}
		want, scale := refBound(l, x, n)
		if err := st.add(out, cpu, want, scale, s.Taps()); err != nil {
			return fmt.Errorf("conv2d %s on %d×%v: %v", l, n, in, err)
		}
		cases++
	}
	st.line(w, "conv2d", cases)

	// dense: random sizes, then DeepID's output layer on 200 rows
	st, cases = stats{}, 0
	for it := 0; it < 31; it++ {
		in, n := nn.Shape{1 + r.Intn(1500)}, 1+r.Intn(130)
		l := &nn.Layer{Kind: nn.Dense, Units: 1 + r.Intn(300), Act: nn.Activation(r.Intn(3)), UseBias: r.Intn(4) != 0}
		if it == 30 {
			in, n = nn.Shape{160}, 200
			l = &nn.Layer{Kind: nn.Dense, Units: 1283, Act: nn.Softmax, UseBias: true}
		}
		if _, err := oneLayer(in, l, r.Int63()); err != nil {
			return err
		}
		s, err := cuda.DenseShapeOf(l)
		if err != nil {
			return err
		}
		x := randF32(r, n*in.Size(), -2, 2)
		out := make([]float32, n*s.O)
		cpu := make([]float32, len(out))
		if err := hostcheck.Dense(cpu, x, l.W, l.B, s, n); err != nil {
			return err
		}
		dx, e1 := d.f32(x)
		dw, e2 := d.f32(l.W)
		db, e3 := d.f32(l.B)
		do, e4 := d.f32(out)
		if err := firstErr(e1, e2, e3, e4); err != nil {
			return err
		}
		if err := cuda.Dense(do, dx, dw, db, s, n); err != nil {
			return err
		}
		if err := do.Download(out); err != nil {
			return err
		}
		want, scale := refBound(l, x, n)
		if err := st.add(out, cpu, want, scale, s.K); err != nil {
			return fmt.Errorf("dense %s on %d×%v: %v", l, n, in, err)
		}
		cases++
	}
	st.line(w, "dense", cases)

	// maxpool: exact
	st, cases = stats{}, 0
	for it := 0; it < 40; it++ {
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		in, n := nn.Shape{kh + r.Intn(20), kw + r.Intn(20), 1 + r.Intn(70)}, 1+r.Intn(4)
		l := &nn.Layer{Kind: nn.MaxPool2D, Size: [2]int{kh, kw}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, Padding: nn.Padding(r.Intn(2))}
		if _, err := oneLayer(in, l, 0); err != nil {
			return err
		}
		s, err := cuda.PoolShapeOf(l)
		if err != nil {
			return err
		}
		x := randF32(r, n*in.Size(), -5, 5)
		out := make([]float32, n*s.Out())
		cpu := make([]float32, len(out))
		if err := hostcheck.MaxPool(cpu, x, s, n); err != nil {
			return err
		}
		dx, e1 := d.f32(x)
		do, e2 := d.f32(out)
		if err := firstErr(e1, e2); err != nil {
			return err
		}
		if err := cuda.MaxPool(do, dx, s, n); err != nil {
			return err
		}
		if err := do.Download(out); err != nil {
			return err
		}
		want := ref.MaxPool(l, ref.Widen(x), n)
		if err := st.add(out, cpu, want, make([]float64, len(want)), 0); err != nil {
			return fmt.Errorf("maxpool %s on %d×%v: %v", l, n, in, err)
		}
		cases++
	}
	st.line(w, "maxpool", cases)

	// relu, add: exact
	{
		const n = 1 << 20
		a, b := randF32(r, n, -10, 10), randF32(r, n, -10, 10)
		da, e1 := d.f32(a)
		db, e2 := d.f32(b)
		do, e3 := d.f32(make([]float32, n))
		if err := firstErr(e1, e2, e3); err != nil {
			return err
		}
		got, cpu := make([]float32, n), make([]float32, n)
		want := make([]float64, n)
		for _, op := range []string{"relu", "add"} {
			var err error
			if op == "relu" {
				err = cuda.ReLU(do, da)
				hostcheck.ReLU(cpu, a)
				for i := range want {
					want[i] = math.Max(float64(a[i]), 0)
				}
			} else {
				err = cuda.Add(do, da, db)
				hostcheck.Add(cpu, a, b)
				for i := range want {
					want[i] = float64(a[i] + b[i])
				}
			}
			if err == nil {
				err = do.Download(got)
			}
			if err != nil {
				return err
			}
			st = stats{}
			if err := st.add(got, cpu, want, make([]float64, n), 0); err != nil {
				return fmt.Errorf("%s: %v", op, err)
			}
			st.line(w, op, 1)
		}
	}

	// argmax: nn.Argmax's answer, ties and NaNs included
	{
		const rows, k = 1000, 1283
		x := randF32(r, rows*k, -1, 1)
		for i := range x {
			if r.Intn(50) == 0 {
				x[i] = float32(r.Intn(3)) // exact ties
			}
		}
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		x[0] = nan                     // row 0: NaN first → 0
		x[k+5], x[k+900] = nan, inf    // row 1: NaN skipped, +inf wins
		for j := 2 * k; j < 3*k; j++ { // row 2: all -inf → 0
			x[j] = -inf
		}
		want := nn.Argmax(x, rows, k)
		cpu := make([]int32, rows)
		hostcheck.Argmax(cpu, x, rows, k)
		dx, err := d.f32(x)
		if err != nil {
			return err
		}
		do, err := cuda.Alloc[int32](rows)
		if err != nil {
			return err
		}
		defer do.Free()
		if err := cuda.Argmax(do, dx, rows, k); err != nil {
			return err
		}
		got := make([]int32, rows)
		if err := do.Download(got); err != nil {
			return err
		}
		for i := range got {
			if got[i] != want[i] || cpu[i] != want[i] {
				return fmt.Errorf("argmax row %d: GPU %d, CPU %d, nn.Argmax %d", i, got[i], cpu[i], want[i])
			}
		}
		fmt.Fprintf(w, "  %-14s %3d cases, %9d rows: ok (ties, NaN, ±inf included)\n", "argmax", 1, rows)
	}

	// merge: exact
	{
		const n = 100000
		b, bp := make([]int32, n), make([]int32, n)
		for i := range b {
			b[i], bp[i] = int32(r.Intn(1283)), int32(r.Intn(1283))
			if r.Intn(2) == 0 {
				bp[i] = b[i]
			}
		}
		db, e1 := i32Dev(b)
		dp, e2 := i32Dev(bp)
		dm, e3 := i32Dev(make([]int32, n))
		if err := firstErr(e1, e2, e3); err != nil {
			return err
		}
		defer db.Free()
		defer dp.Free()
		defer dm.Free()
		if err := cuda.Merge(dm, db, dp, 1283); err != nil {
			return err
		}
		got := make([]int32, n)
		if err := dm.Download(got); err != nil {
			return err
		}
		for i := range got {
			want := b[i]
			if b[i] != bp[i] {
				want = 1283
			}
			if got[i] != want {
				return fmt.Errorf("merge %d: B %d, B' %d, got %d", i, b[i], bp[i], got[i])
			}
		}
		fmt.Fprintf(w, "  %-14s %3d cases, %9d values: ok\n", "merge", 1, n)
	}

	// channel sums: 12,830 images × 20 positions × 60 channels, twice (accumulating)
	{
		const rows, C = 12830 * 20, 60
		x := randF32(r, rows*C, 0, 1000)
		cpu := make([]float64, C)
		hostcheck.ChannelSum(cpu, x, rows, C)
		hostcheck.ChannelSum(cpu, x, rows, C)
		dx, err := d.f32(x)
		if err != nil {
			return err
		}
		acc, err := cuda.Alloc[float64](C)
		if err != nil {
			return err
		}
		defer acc.Free()
		scratch, err := cuda.Alloc[float64](cuda.SumScratch(rows, C))
		if err != nil {
			return err
		}
		defer scratch.Free()
		if err := acc.Zero(); err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			if err := cuda.ChannelSum(acc, scratch, dx, rows, C); err != nil {
				return err
			}
		}
		got := make([]float64, C)
		if err := acc.Download(got); err != nil {
			return err
		}
		identical := 0
		for c := 0; c < C; c++ {
			want := 0.0
			for i := c; i < len(x); i += C {
				want += float64(x[i])
			}
			want *= 2
			if d := math.Abs(got[c] - want); d > 1e-12*want {
				return fmt.Errorf("channel sum %d: GPU %.17g, float64 sum %.17g", c, got[c], want)
			}
			if got[c] == cpu[c] {
				identical++
			}
		}
		fmt.Fprintf(w, "  %-14s %3d cases, %9d values: ok (within 1e-12 of a float64 sum); bit-identical to the CPU: %d/%d\n", "channel sums", 1, rows*C, identical, C)
	}

	// zero channels
	{
		const taps, O = 3 * 3 * 40, 60
		wt, bs := randF32(r, taps*O, -1, 1), randF32(r, O, -1, 1)
		chans := []int32{59, 0, 17, 33}
		dw, e1 := d.f32(wt)
		db, e2 := d.f32(bs)
		if err := firstErr(e1, e2); err != nil {
			return err
		}
		if err := cuda.ZeroChannels(dw, db, taps, O, chans); err != nil {
			return err
		}
		if err := hostcheck.ZeroChannels(wt, bs, taps, O, chans); err != nil {
			return err
		}
		gw, gb := make([]float32, taps*O), make([]float32, O)
		if err := firstErr(dw.Download(gw), db.Download(gb)); err != nil {
			return err
		}
		for i := range gw {
			if gw[i] != wt[i] || (i < O && gb[i] != bs[i]) {
				return fmt.Errorf("zero channels: value %d differs", i)
			}
		}
		for _, c := range chans {
			if gb[c] != 0 || gw[c] != 0 || gw[(taps-1)*O+int(c)] != 0 {
				return fmt.Errorf("zero channels: channel %d not zero", c)
			}
		}
		fmt.Fprintf(w, "  %-14s %3d cases, %9d values: ok\n", "zero channels", 1, taps*O+O)
	}
	return cuda.Sync()
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// ---------------------------------------------------------------- whole nets

// logitsClose checks GPU logits against another computation within tol of each row's largest
// |value|, and returns the largest relative difference.
func logitsClose(gpu []float32, other []float64, n int, tol float64) (float64, error) {
	k := len(other) / n
	worst := 0.0
	for s := 0; s < n; s++ {
		scale := 1e-30
		for _, v := range other[s*k : (s+1)*k] {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := s * k; i < (s+1)*k; i++ {
			d := math.Abs(float64(gpu[i])-other[i]) / scale
			if !(d <= tol) {
				return d, fmt.Errorf("sample %d value %d: GPU %g, expected %g (relative difference %.3g > %g)", s, i-s*k, gpu[i], other[i], d, tol)
			}
			worst = math.Max(worst, d)
		}
	}
	return worst, nil
}

// samePredictions compares GPU classes with the CPU's, ignoring images whose top two CPU
// logits are within tol·max|logit| (a float32 rounding may order them either way).
func samePredictions(gpu []int32, cpuLogits []float32, n, k int, tol float64) (close int, err error) {
	for s := 0; s < n; s++ {
		row := cpuLogits[s*k : (s+1)*k]
		idx := make([]int, k)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		scale := 0.0
		for _, v := range row {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		if float64(row[idx[0]]-row[idx[1]]) <= tol*scale {
			close++
			continue
		}
		if int(gpu[s]) != idx[0] {
			return close, fmt.Errorf("image %d: GPU class %d, CPU class %d (margin %g)", s, gpu[s], idx[0], row[idx[0]]-row[idx[1]])
		}
	}
	return close, nil
}

func widen(v []float32) []float64 { return ref.Widen(v) }

func netChecks(w io.Writer, b *Backend) error {
	const n, nref = 512, 8
	r := rand.New(rand.NewSource(2))
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 2)
	x := randF32(r, n*m.InputShape().Size(), 0, 255)
	net, err := b.CompileNet(m)
	if err != nil {
		return err
	}
	defer net.Close()
	cpuNet, err := host.New(0).Compile(m)
	if err != nil {
		return err
	}
	defer cpuNet.Close()
	outs := []string{"output", "pool_3", "conv_1", "fc_2"}
	feeds := map[string][]float32{"input": x}
	got, err := net.Run(feeds, n, outs...)
	if err != nil {
		return err
	}
	cpu, err := cpuNet.Run(feeds, n, outs...)
	if err != nil {
		return err
	}
	want, err := ref.Run(m, map[string][]float64{"input": widen(x[:nref*m.InputShape().Size()])}, nref, outs...)
	if err != nil {
		return err
	}
	for i, o := range outs {
		dc, err := logitsClose(got[i], widen(cpu[i]), n, 1e-4)
		if err != nil {
			return fmt.Errorf("%s vs host/: %v", o, err)
		}
		dr, err := logitsClose(got[i][:nref*len(got[i])/n], want[i], nref, 1e-4)
		if err != nil {
			return fmt.Errorf("%s vs nn/ref: %v", o, err)
		}
		fmt.Fprintf(w, "  Run %-12s %d images: ok; largest difference vs host/ %.2g, vs nn/ref (%d images) %.2g (relative to the largest |value|)\n", o, n, dc, nref, dr)
	}
	cls, err := net.Predict(x, n)
	if err != nil {
		return err
	}
	close, err := samePredictions(cls, cpu[0], n, 1283, 1e-4)
	if err != nil {
		return fmt.Errorf("Predict: %v", err)
	}
	if a := nn.Argmax(got[0], n, 1283); !equalClasses(a, cls) {
		return fmt.Errorf("Predict differs from the argmax of Run's logits")
	}
	fmt.Fprintf(w, "  Predict         %d images: ok, the CPU's classes (%d near-ties not compared)\n", n, close)

	// batching: a small MaxBatch gives the same bits
	small := &core{dev: cudaDevice{}, maxBatch: 37}
	sn, err := compile(small, m)
	if err != nil {
		return err
	}
	sgot, err := sn.Run(feeds, n, "output")
	sn.Close()
	if err != nil {
		return err
	}
	for i := range sgot[0] {
		if math.Float32bits(sgot[0][i]) != math.Float32bits(got[0][i]) {
			return fmt.Errorf("batches of 37 differ from one batch at value %d", i)
		}
	}
	fmt.Fprintf(w, "  batches of 37   %d images: ok, bit-identical to one batch\n", n)

	// channel means at pool_3
	means, err := net.ChannelMeans(feeds, n, "pool_3")
	if err != nil {
		return err
	}
	for c := 0; c < 60; c++ {
		s := 0.0
		for i := c; i < len(cpu[1]); i += 60 {
			s += float64(cpu[1][i])
		}
		s /= float64(len(cpu[1]) / 60)
		if d := math.Abs(means[c] - s); d > 1e-4*math.Abs(s)+1e-6 {
			return fmt.Errorf("channel mean %d: GPU %g, host/ %g", c, means[c], s)
		}
	}
	fmt.Fprintf(w, "  ChannelMeans    pool_3, %d images: ok (host/'s within 1e-4)\n", n)

	// pruning and GoodNet: B' = B with 30 channels of conv_3 pruned
	chans := r.Perm(60)[:30]
	bp, err := b.CompileNet(m)
	if err != nil {
		return err
	}
	defer bp.Close()
	if err := bp.PruneChannels("conv_3", chans); err != nil {
		return err
	}
	pm := m.Clone()
	l := pm.Layer("conv_3")
	for _, c := range chans {
		for t := c; t < len(l.W); t += 60 {
			l.W[t] = 0
		}
		l.B[c] = 0
	}
	cpuBp, err := host.New(0).Compile(pm)
	if err != nil {
		return err
	}
	defer cpuBp.Close()
	cpuP, err := cpuBp.Run(feeds, n, "output")
	if err != nil {
		return err
	}
	gb, gp, gm, err := net.GoodNet(bp, x, n)
	if err != nil {
		return err
	}
	if !equalClasses(gb, cls) {
		return fmt.Errorf("GoodNet: B's classes differ from Predict")
	}
	closeP, err := samePredictions(gp, cpuP[0], n, 1283, 1e-4)
	if err != nil {
		return fmt.Errorf("GoodNet, B' (pruned on the device) vs host/ on the pruned model: %v", err)
	}
	disagree := 0
	for i := range gm {
		want := gb[i]
		if gb[i] != gp[i] {
			want = 1283
			disagree++
		}
		if gm[i] != want {
			return fmt.Errorf("GoodNet image %d: B %d, B' %d, merged %d", i, gb[i], gp[i], gm[i])
		}
	}
	fmt.Fprintf(w, "  GoodNet         %d images: ok (B' = 30 channels of conv_3 pruned on the device; %d disagreements → class N; %d near-ties not compared)\n", n, disagree, closeP)
	return nil
}

func equalClasses(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- fixtures

type expectedSet struct {
	B        []int32   `json:"B"`
	Bprime   []int32   `json:"Bprime_2"`
	GoodNet  []int32   `json:"GoodNet_2"`
	TopLogit []float64 `json:"B_top_logit"`
}

func fixtureChecks(w io.Writer, b *Backend, dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		return err
	}
	var expected map[string]expectedSet
	if err := json.Unmarshal(raw, &expected); err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(dir, "expected.json"), err)
	}
	mb, err := keras.LoadModel(filepath.Join(dir, "bd_net.h5"))
	if err != nil {
		return err
	}
	mp, err := keras.LoadModel(filepath.Join(dir, "bprime_2.h5"))
	if err != nil {
		return err
	}
	nb, err := b.CompileNet(mb)
	if err != nil {
		return err
	}
	defer nb.Close()
	np, err := b.CompileNet(mp)
	if err != nil {
		return err
	}
	defer np.Close()
	cpuB, err := host.New(0).Compile(mb)
	if err != nil {
		return err
	}
	defer cpuB.Close()
	for _, name := range []string{"cl_mini", "bd_mini"} {
		e, ok := expected[name]
		if !ok {
			return fmt.Errorf("expected.json has no %q", name)
		}
		set, err := dataset.Load(filepath.Join(dir, name+".h5"), 1)
		if err != nil {
			return err
		}
		if err := set.CheckShape(mb.InputShape()); err != nil {
			return err
		}
		gb, gp, gm, err := nb.GoodNet(np, set.X, set.N)
		if err != nil {
			return err
		}
		for _, c := range []struct {
			what      string
			got, want []int32
		}{{"B", gb, e.B}, {"B'", gp, e.Bprime}, {"GoodNet", gm, e.GoodNet}} {
			if !equalClasses(c.got, c.want) {
				return fmt.Errorf("%s.h5: %s predicts %v, expected.json %v", name, c.what, c.got, c.want)
			}
		}
		logits, err := nb.Run(map[string][]float32{mb.Input.Name: set.X}, set.N, mb.Output.Name)
		if err != nil {
			return err
		}
		cpu, err := cpuB.Run(map[string][]float32{mb.Input.Name: set.X}, set.N, mb.Output.Name)
		if err != nil {
			return err
		}
		k := mb.NumClasses()
		worst := 0.0
		for i := 0; i < set.N; i++ {
			top := float64(logits[0][i*k+int(gb[i])])
			if d := math.Abs(top-e.TopLogit[i]) / math.Abs(e.TopLogit[i]); !(d <= 1e-4) {
				return fmt.Errorf("%s.h5 image %d: B's top logit %g, expected.json %g", name, i, top, e.TopLogit[i])
			}
			worst = math.Max(worst, math.Abs(top-e.TopLogit[i])/math.Abs(e.TopLogit[i]))
		}
		dc, err := logitsClose(logits[0], widen(cpu[0]), set.N, 1e-4)
		if err != nil {
			return fmt.Errorf("%s.h5: logits vs host/: %v", name, err)
		}
		fmt.Fprintf(w, "  %-8s B %v, B' %v, GoodNet %v = expected.json; top logits within %.2g relative; all logits vs host/ %.2g\n",
			name+".h5", gb, gp, gm, worst, dc)
	}
	return nil
}
