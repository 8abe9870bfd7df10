package gpu

import (
	"math/rand"
	"testing"

	"goodnet/goodnet"
	"goodnet/host"
	"goodnet/nn"
	"goodnet/prune"
)

// TestAlgorithmsOnTheDevice: the algorithms, given the GPU backend, ask it for its
// capabilities and get them on the device — goodnet's G(B, B') through PredictPair (the merge
// launched on the device), the brute-force sweep's channel means through ChannelSums — with
// the CPU's results.
func TestAlgorithmsOnTheDevice(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	m := deepID(9)
	pm := pruned(m, "conv_3", r.Perm(60)[:40])
	const n = 12
	x := images(r, n, m.InputShape(), 255)
	c, d := fakeCore(1 << 30)
	b := &Backend{c: c}
	cpu := host.New(1)

	g, err := goodnet.New(m, pm, b)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got, err := g.PredictAll(x, n)
	if err != nil {
		t.Fatal(err)
	}
	if d.kernels["merge"] == 0 {
		t.Fatal("goodnet on the GPU did not merge on the device")
	}
	gc, err := goodnet.New(m, pm, cpu)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	want, err := gc.PredictAll(x, n)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got.B, want.B) || !equal(got.Bprime, want.Bprime) || !equal(got.G, want.G) {
		t.Fatalf("G on the device %v, on the CPU %v", got.G, want.G)
	}

	set := &nn.Set{Path: "random", N: n, H: 55, W: 47, C: 3, X: x, Y: want.B}
	bad := &nn.Set{Path: "random bad", N: n, H: 55, W: 47, C: 3, X: x, Y: make([]int32, n)}
	cfg := prune.Config{Model: m, CleanValid: set, BadValid: bad, Method: prune.Brute, MaxSteps: 3}
	before := d.kernels["channelSum"]
	cfg.Backend = b
	res, err := prune.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.kernels["channelSum"] == before {
		t.Fatal("the brute-force sweep on the GPU did not sum the channels on the device")
	}
	cfg.Backend = cpu
	ref, err := prune.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ref.MeanActivation {
		if d := ref.MeanActivation[i] - res.MeanActivation[i]; d > 1e-4*ref.MeanActivation[i]+1e-6 || -d > 1e-4*ref.MeanActivation[i]+1e-6 {
			t.Fatalf("channel %d: mean %g on the device, %g on the CPU", i, res.MeanActivation[i], ref.MeanActivation[i])
		}
	}
	for i := range ref.Order {
		if res.Order[i] != ref.Order[i] {
			t.Fatalf("order %v on the device, %v on the CPU", res.Order, ref.Order)
		}
	}
}
