package host

import (
	"fmt"
	"math/rand"
	"testing"

	"goodnet/nn"
	"goodnet/nn/ref"
)

// The layers of issue 14, each against nn/ref on random shapes.

func randPads(r *rand.Rand, k [2]int) [4]int {
	return [4]int{r.Intn(k[0] + 1), r.Intn(k[0] + 1), r.Intn(k[1] + 1), r.Intn(k[1] + 1)}
}

// TestExplicitPaddingConv: ONNX-style (possibly asymmetric, possibly larger than the kernel)
// zero padding.
func TestExplicitPaddingConv(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	for it := 0; it < 30; it++ {
		in := randImage(r)
		c := &nn.Layer{Name: "conv", Kind: nn.Conv2D, InputNames: []string{"input"}, Filters: 1 + r.Intn(40),
			Size: [2]int{1 + r.Intn(5), 1 + r.Intn(5)}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, UseBias: r.Intn(2) == 0,
			Padding: nn.Explicit}
		c.Pad = randPads(r, c.Size)
		if r.Intn(2) == 0 {
			c.Act = nn.ReLU
		}
		m, err := nn.New("t", []*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}, c}, "input", "conv")
		if err != nil {
			continue
		}
		nn.RandomWeights(m, int64(it))
		check(t, fmt.Sprintf("%v→%s", in, c), m, batches[it%len(batches)], int64(it), "conv")
	}
}

func TestPools(t *testing.T) {
	r := rand.New(rand.NewSource(22))
	for it := 0; it < 40; it++ {
		in := randImage(r)
		p := &nn.Layer{Name: "pool", Kind: []nn.Kind{nn.MaxPool2D, nn.AvgPool2D}[it%2], InputNames: []string{"input"},
			Size: [2]int{1 + r.Intn(4), 1 + r.Intn(4)}, Strides: [2]int{1 + r.Intn(3), 1 + r.Intn(3)}, CountPad: r.Intn(2) == 0}
		if p.Kind == nn.MaxPool2D {
			p.CountPad = false
		}
		switch r.Intn(3) {
		case 0:
			p.Padding = nn.Same
		case 1:
			p.Padding = nn.Explicit
			p.Pad = [4]int{r.Intn(p.Size[0]), r.Intn(p.Size[0]), r.Intn(p.Size[1]), r.Intn(p.Size[1])}
		}
		m, err := nn.New("t", []*nn.Layer{{Name: "input", Kind: nn.Input, InShape: in}, p}, "input", "pool")
		if err != nil {
			continue
		}
		check(t, fmt.Sprintf("%v→%s", in, p), m, batches[it%len(batches)], int64(it), "pool")
	}
}

func TestGlobalAvgPoolZeroPadConcat(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	for it := 0; it < 12; it++ {
		in := randImage(r)
		ls := []*nn.Layer{
			{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"input"}, KeepDims: it%2 == 0},
			{Name: "zp", Kind: nn.ZeroPad2D, InputNames: []string{"input"}, Pad: [4]int{r.Intn(3), r.Intn(3), r.Intn(3), r.Intn(3)}},
			{Name: "c1", Kind: nn.Conv2D, InputNames: []string{"input"}, Filters: 1 + r.Intn(9), Size: [2]int{1, 1}, Strides: [2]int{1, 1}},
			{Name: "cat", Kind: nn.Concat, InputNames: []string{"c1", "input", "c1"}},
			{Name: "flat", Kind: nn.Flatten, InputNames: []string{"gap"}},
			{Name: "d", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 5},
			{Name: "d2", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 3},
			{Name: "vcat", Kind: nn.Concat, InputNames: []string{"d", "d2"}},
		}
		m := build(t, int64(it), in, ls, "vcat")
		check(t, fmt.Sprint(in), m, batches[it%len(batches)], int64(it), "gap", "zp", "cat", "vcat")
	}
}

// TestBatchNormAndActivations: a BN folded into its conv (the conv read by nothing else), one
// after a conv with two readers, one after an Add with an activation (one step), standalone,
// on flat vectors; LeakyReLU and ReLU layers.
func TestBatchNormAndActivations(t *testing.T) {
	r := rand.New(rand.NewSource(24))
	for it := 0; it < 12; it++ {
		in := randImage(r)
		f := 1 + r.Intn(20)
		conv := func(name, input string) *nn.Layer {
			return &nn.Layer{Name: name, Kind: nn.Conv2D, InputNames: []string{input}, Filters: f, Size: [2]int{3, 3},
				Strides: [2]int{1, 1}, Padding: nn.Explicit, Pad: [4]int{1, 1, 1, 1}, UseBias: r.Intn(2) == 0}
		}
		bn := func(name, input string) *nn.Layer {
			return &nn.Layer{Name: name, Kind: nn.BatchNorm, InputNames: []string{input}, Eps: 1e-3, Scale: r.Intn(3) > 0, Center: r.Intn(3) > 0}
		}
		act := []nn.Activation{nn.ReLU, nn.LeakyReLU}[it%2]
		ls := []*nn.Layer{
			conv("c1", "input"), bn("bn1", "c1"), // folded
			{Name: "a1", Kind: nn.Act, Act: act, Alpha: 0.1, InputNames: []string{"bn1"}},
			conv("c2", "a1"), bn("bn2", "c2"), // c2 read twice: not folded
			{Name: "add", Kind: nn.Add, InputNames: []string{"bn2", "c2"}},
			bn("bn3", "add"),
			{Name: "a3", Kind: nn.Act, Act: nn.ReLU, InputNames: []string{"bn3"}},
			{Name: "gap", Kind: nn.GlobalAvgPool, InputNames: []string{"a3"}},
			bn("bn4", "gap"), // flat
			{Name: "a4", Kind: nn.Act, Act: nn.LeakyReLU, Alpha: 0.3, InputNames: []string{"bn4"}},
			{Name: "out", Kind: nn.Dense, InputNames: []string{"a4"}, Units: 4},
		}
		m := build(t, int64(it), in, ls, "out")
		name := fmt.Sprint(in, f)
		n := batches[it%len(batches)]
		check(t, name, m, n, int64(it), "out")
		// every intermediate value requested: nothing fused away
		check(t, name, m, n, int64(it), "c1", "bn1", "a1", "c2", "bn2", "add", "bn3", "a3", "gap", "bn4", "a4", "out")
		check(t, name, m, n, int64(it), "bn1", "add", "out")
	}
}

// preactNet is a small PreAct-ResNet (the fixture's shape: widths 16/32/64, one block each)
// with random weights and BN statistics.
func preactNet(seed int64, widths, blocks []int) *nn.Model {
	m := nn.PreActResNet(32, 32, 10, widths, blocks)
	nn.RandomWeights(m, seed)
	return m
}

func TestPreActResNet(t *testing.T) {
	m := preactNet(3, []int{8, 16, 24}, []int{2, 1, 1})
	const n = 19
	x := uniform(rand.New(rand.NewSource(4)), n*m.InputShape().Size(), 0, 1)
	outs := []string{"linear", "relu", "layer1.1.add"}
	want, err := ref.Run(m, map[string][]float64{"input": ref.Widen(x)}, n, outs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends(t) {
		net, err := b.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := net.Run(map[string][]float32{"input": x}, n, outs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if e := relErr(got[i], want[i]); !(e <= tol) {
				t.Errorf("%s: %s relative error %.3g", b.isa, o, e)
			}
		}
		// the head from the cut before global pooling
		head, err := net.Run(map[string][]float32{"relu": got[1]}, n, "linear")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(head[0], ref.Widen(got[0])); e > 1e-6 {
			t.Errorf("%s: logits from fed relu differ by %.3g", b.isa, e)
		}
		// logits alone (everything fused) equal logits among other outputs
		only, err := net.Run(map[string][]float32{"input": x}, n, "linear")
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(only[0], ref.Widen(got[0])); e > 1e-5 {
			t.Errorf("%s: fused and unfused logits differ by %.3g", b.isa, e)
		}
		net.Close()
	}
}
