package prune

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/nn/ref"
	"goodnet/onnx"
)

func preact(seed int64) *nn.Model {
	m := nn.PreActResNet(12, 12, 5, []int{10, 12}, []int{1, 1})
	nn.RandomWeights(m, seed)
	return m
}

// TestPruneAtPoints: on a PreAct-ResNet, pruning at the default point (the activation before
// global pooling), at a conv followed by BatchNormalization, at a residual Add and at a block's
// pre-activation gives, with every sweep method, the order, metrics and B' of the definition
// computed in float64 (the pruned channels of the point's output set to zero for every
// reader, after the BN for the conv).
func TestPruneAtPoints(t *testing.T) {
	for _, c := range []struct {
		layer, x, mask, cut string
	}{
		{"", "relu", "relu", "avgpool"},
		{"layer1.0.conv1", "layer1.0.conv1", "layer1.0.bn2", "layer1.0.relu2"},
		{"layer2.0.add", "layer2.0.add", "layer2.0.add", "layer2.0.add"},
		{"layer2.0.relu1", "layer2.0.relu1", "layer2.0.relu1", "layer2.0.relu1"},
		{"bn", "bn", "bn", "avgpool"},
	} {
		r := rand.New(rand.NewSource(int64(len(c.layer))))
		m := preact(r.Int63())
		sets := randomSets(t, m, r, 23)
		want := runBruteRef(t, m, c.mask, c.cut, sets, 8)
		for _, method := range []Method{Incremental, HeadOnly, Brute} {
			cfg := Config{Model: m, Layer: c.layer, CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
				Backend: host.New(0), Method: method, MaxSteps: 8, Thresholds: []float64{2, 5, 10, 30}}
			res, err := Run(cfg)
			if err != nil {
				t.Fatalf("--layer %q: %v", c.layer, err)
			}
			if res.Layer != c.x || res.Cut != c.cut {
				t.Fatalf("--layer %q: layer %s, cut %s; want %s, %s", c.layer, res.Layer, res.Cut, c.x, c.cut)
			}
			checkAgainst(t, res, want, cfg)
		}
	}
}

// TestConvBNChannelIsZero: pruning a conv that a BatchNormalization reads makes the channel
// zero after the BN (not beta − gamma·mean/√(var+ε)); the other channels are B's.
func TestConvBNChannelIsZero(t *testing.T) {
	m := preact(5)
	bp := ZeroChannels(m, "layer1.0.conv1", []int{1, 4})
	x := make([]float64, 3*m.InputShape().Size())
	r := rand.New(rand.NewSource(1))
	for i := range x {
		x[i] = r.Float64()
	}
	a, _ := ref.Run(m, map[string][]float64{"input": x}, 3, "layer1.0.bn2")
	b, _ := ref.Run(bp, map[string][]float64{"input": x}, 3, "layer1.0.bn2")
	C := 10
	for i := range a[0] {
		switch c := i % C; {
		case c == 1 || c == 4:
			if b[0][i] != 0 {
				t.Fatalf("channel %d after the BN is %g, not 0", c, b[0][i])
			}
			if a[0][i] == 0 {
				t.Fatal("the unpruned channel is zero already")
			}
		case a[0][i] != b[0][i]:
			t.Fatalf("channel %d changed", c)
		}
	}
	for _, l := range []string{"layer1.0.conv1", "layer1.0.bn2"} {
		if !strings.Contains(strings.Join(zeroNames(bp, m), " "), l) {
			t.Errorf("%s unchanged", l)
		}
	}
	if got := zeroNames(bp, m); len(got) != 2 {
		t.Errorf("changed layers %v, want the conv and its BN", got)
	}
}

// zeroNames lists the layers whose weights differ between a and b.
func zeroNames(a, b *nn.Model) []string {
	var out []string
	for _, l := range a.Layers {
		k := b.Layer(l.Name)
		diff := false
		for i, w := range l.Weights() {
			x, y := *w.Data, *k.Weights()[i].Data
			for j := range x {
				diff = diff || x[j] != y[j]
			}
		}
		if diff {
			out = append(out, l.Name)
		}
	}
	return out
}

func TestPointErrors(t *testing.T) {
	m := preact(1)
	for _, c := range []struct{ layer, want string }{
		{"layer1.0.add", `layer "layer1.0.add" cannot be pruned: "layer1.0.add" (Add): its input "conv1" is read by other layers too`},
		{"linear", `layer "linear" is the output layer`},
		{"input", `"input" is a InputLayer, whose channels goodnet cannot zero`},
	} {
		_, _, err := Target(m, c.layer)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.layer, err, c.want)
		}
	}
}

// TestONNXDeepIDSameAsKeras: pruning the lab's B read from PyTorch's ONNX export gives the
// order, every step's metrics and the thresholds that pruning bd_net.h5 gives (default
// point: the conv before the last pool, /conv_3/Conv, cut at /MaxPool_2 as conv_3 at pool_3).
func TestONNXDeepIDSameAsKeras(t *testing.T) {
	k, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := onnx.Load(filepath.Join(fixtures.Dir(t), "onnx", "deepid.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cl, bd := loadSet(t, "cl_mini.h5"), loadSet(t, "bd_mini.h5")
	run := func(m *nn.Model) *Result {
		res, err := Run(Config{Model: m, CleanValid: cl, BadValid: bd, CleanTest: cl, BadTest: bd, Backend: host.New(0),
			Thresholds: []float64{2, 4, 10, 50}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(k), run(o)
	if b.Layer != "/conv_3/Conv" || b.Cut != "/MaxPool_2" || b.Method != a.Method {
		t.Errorf("ONNX: layer %s, cut %s, method %s (Keras: %s)", b.Layer, b.Cut, b.Method, a.Method)
	}
	if fmt.Sprint(a.Order) != fmt.Sprint(b.Order) {
		t.Fatalf("order\n ONNX %v\nKeras %v", b.Order, a.Order)
	}
	for j := range a.MeanActivation {
		if d := math.Abs(a.MeanActivation[j] - b.MeanActivation[j]); d > 1e-5*(1+math.Abs(a.MeanActivation[j])) {
			t.Errorf("mean of channel %d: %g, Keras %g", j, b.MeanActivation[j], a.MeanActivation[j])
		}
	}
	if fmt.Sprint(a.Steps) != fmt.Sprint(b.Steps) {
		t.Errorf("steps differ:\n ONNX %v\nKeras %v", b.Steps, a.Steps)
	}
	if len(a.Saved) != len(b.Saved) {
		t.Fatalf("%d B' saved, Keras %d", len(b.Saved), len(a.Saved))
	}
	for i := range a.Saved {
		if a.Saved[i].Step != b.Saved[i].Step || fmt.Sprint(a.Saved[i].GoodNet) != fmt.Sprint(b.Saved[i].GoodNet) {
			t.Errorf("B' %d: %+v, Keras %+v", i, b.Saved[i], a.Saved[i])
		}
	}
}
