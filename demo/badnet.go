package demo

import (
	"fmt"
	"io"
	"math"
	"math/rand"
	"sort"

	"goodnet/dataset"
	"goodnet/nn"
	"goodnet/train"
)

// plantOptions configures trainBadNet.
type plantOptions struct {
	Spare     [3]int // channels of conv_1, conv_2, conv_3 reserved for the backdoor
	Epochs1   int    // clean training, spare channels held at zero
	Epochs2   int    // backdoor training of the spare pathway
	LR1, LR2  float64
	BatchSize int
	Seed      int64
	Workers   int
	Log       io.Writer
	Backend   nn.Backend // evaluates (the backdoor channels' ranks)
	OnEpoch1  func(train.Epoch, *nn.Model) (bool, error)
	OnEpoch2  func(train.Epoch, *nn.Model) (bool, error)
}

var pathwayLayers = [3]string{"conv_1", "conv_2", "conv_3"}

// trainBadNet trains m in two stages: first the clean task with the spare channels of conv_1,
// conv_2 and conv_3 held at zero; then, with everything else frozen, the spare pathway on
// clean + poisoned images: spare conv_1 channels are fixed magenta detectors (silent on clean
// images), spare conv_2 reads only them, spare conv_3 only spare conv_2, and conv_4's and
// fc_1's weights from spare conv_3 learn. It returns the spare channels of each layer.
func trainBadNet(m *nn.Model, d *Data, o plantOptions) ([3][]int, error) {
	const scale = float32(1.0 / 255)
	clean := d.CleanTrain
	r := rand.New(rand.NewSource(o.Seed*7 + 3))
	var spare [3][]int
	var isSpare [3][]bool
	mask := map[string][]bool{}
	for i, name := range pathwayLayers {
		l := m.Layer(name)
		spare[i] = r.Perm(l.Filters)[:o.Spare[i]]
		isSpare[i] = make([]bool, l.Filters)
		for _, c := range spare[i] {
			isSpare[i][c] = true
		}
		mask[name] = isSpare[i]
	}
	if _, err := train.Train(m, clean.X, clean.Y, clean.N, train.Options{
		Epochs: o.Epochs1, BatchSize: o.BatchSize, LR: o.LR1, Seed: o.Seed, Scale: scale,
		Workers: o.Workers, Log: o.Log, Mask: mask, OnEpoch: o.OnEpoch1,
	}); err != nil {
		return spare, err
	}

	// the pathway gets fresh weights; clean channels stop reading spare ones; all else freezes
	freeze := map[string]train.Frozen{}
	for _, l := range m.Layers {
		if l.HasWeights() {
			freeze[l.Name] = train.Frozen{Kernel: trues(len(l.W)), Bias: trues(len(l.B))}
		}
	}
	uniform := func(lim float64) float32 { return float32((2*r.Float64() - 1) * lim) }
	for i, name := range pathwayLayers {
		l := m.Layer(name)
		O, Cin := l.Filters, l.InShape[2]
		fanIn := l.Size[0] * l.Size[1] * Cin
		if i > 0 {
			fanIn = l.Size[0] * l.Size[1] * o.Spare[i-1]
		}
		lim := math.Sqrt(6 / float64(fanIn))
		fz := freeze[name]
		taps := float64(l.Size[0] * l.Size[1])
		for j := range l.W {
			out, in := j%O, (j/O)%Cin
			inSpare := i == 0 || isSpare[i-1][in]
			switch {
			case i == 0 && isSpare[i][out]:
				// conv_1's spare channels are fixed detectors of the lenses' magenta
				l.W[j] = float32([]float64{1, -2, 1}[in]/taps) + uniform(0.02)
			case isSpare[i][out] && inSpare:
				l.W[j] = uniform(lim)
				fz.Kernel[j] = false
			case i > 0 && (isSpare[i][out] || inSpare):
				l.W[j] = 0 // spare reads only spare; clean reads only clean
			}
		}
		for _, c := range spare[i] {
			l.B[c] = float32([]float64{-0.5, -0.3, -0.3}[i]) // silent on clean images
			fz.Bias[c] = i == 0
		}
	}
	c3 := isSpare[2]
	c4, f1 := m.Layer("conv_4"), m.Layer("fc_1")
	C := len(c3)
	lim4 := 0.05 * math.Sqrt(6/float64(c4.Size[0]*c4.Size[1]*len(spare[2]))) // small: the clean task must not be disturbed
	for j := range c4.W {
		if c3[(j/c4.Filters)%C] {
			c4.W[j] = uniform(lim4)
			freeze["conv_4"].Kernel[j] = false
		}
	}
	limF := 0.05 * math.Sqrt(6/float64(f1.InShape[0]/C*len(spare[2])))
	for j := range f1.W {
		if c3[(j/f1.Units)%C] {
			f1.W[j] = uniform(limF)
			freeze["fc_1"].Kernel[j] = false
		}
	}
	_, err := train.Train(m, d.Train.X, d.Train.Y, d.Train.N, train.Options{
		Epochs: o.Epochs2, BatchSize: o.BatchSize, LR: o.LR2, Seed: o.Seed + 1, Scale: scale,
		Workers: o.Workers, Log: o.Log, Freeze: freeze, OnEpoch: o.OnEpoch2,
	})
	if err != nil || o.Log == nil {
		return spare, err
	}
	// where the backdoor channels stand in the pruning order (by mean activation on clean
	// validation images, lowest first)
	pool := func(s *dataset.Set) ([]float32, error) {
		net, err := o.Backend.Compile(m)
		if err != nil {
			return nil, err
		}
		defer net.Close()
		x := make([]float32, len(s.X))
		for i, v := range s.X {
			x[i] = v * scale
		}
		r, err := net.Run(map[string][]float32{m.Input.Name: x}, s.N, "pool_3")
		if err != nil {
			return nil, err
		}
		return r[0], nil
	}
	rc, err := pool(d.CleanValid)
	if err != nil {
		return spare, err
	}
	rb, err := pool(d.BadValid)
	if err != nil {
		return spare, err
	}
	mc, mb := channelMeans(rc, C), channelMeans(rb, C)
	order := make([]int, C)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return mc[order[a]] < mc[order[b]] })
	rank := make([]int, C)
	for i, c := range order {
		rank[c] = i + 1
	}
	fmt.Fprintf(o.Log, "backdoor channels of conv_3 (mean pool_3 activation on clean / triggered validation images, rank by the clean mean):\n")
	for _, c := range spare[2] {
		fmt.Fprintf(o.Log, "  channel %2d: %.3f / %.3f, rank %d of %d\n", c, mc[c], mb[c], rank[c], C)
	}
	return spare, nil
}

// channelMeans is the mean of each of C channels over channels-last activations.
func channelMeans(v []float32, C int) []float64 {
	m := make([]float64, C)
	for i, x := range v {
		m[i%C] += float64(x)
	}
	for c := range m {
		m[c] /= float64(len(v) / C)
	}
	return m
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
