package goodnet_test

import (
	"fmt"
	"log"

	"goodnet/goodnet"
	"goodnet/host"
	"goodnet/nn"
)

// A toy BadNet B reads one pixel of two channels: conv channel 0 passes channel 0 ("the
// face"), conv channel 1 channel 1 ("the trigger"), and the output layer's class c is conv
// channel c. B' is B with channel 1 pruned. Where B and B' agree GoodNet gives their class;
// where they disagree it gives class N = 2, "looks poisoned".
func Example() {
	b, err := nn.New("toy", []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{1, 1, 2}},
		{Name: "conv", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{1, 1}, Strides: [2]int{1, 1},
			Filters: 2, Act: nn.ReLU, UseBias: true,
			W: []float32{1, 0, 0, 1}, B: []float32{0, 0}},
		{Name: "flat", Kind: nn.Flatten, InputNames: []string{"conv"}},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 2, Act: nn.Softmax, UseBias: true,
			W: []float32{1, 0, 0, 1}, B: []float32{0, 0}},
	}, "in", "out")
	if err != nil {
		log.Fatal(err)
	}
	bprime := b.Clone()
	conv := bprime.Layer("conv")
	conv.W[1], conv.W[3], conv.B[1] = 0, 0, 0 // kernel[..., 1] and bias[1]

	g, err := goodnet.New(b, bprime, host.New(1))
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	x := []float32{
		3, 1, // a clean face: B says 0, B' too
		1, 5, // the trigger: B says 1, B' 0
		4, 0, // B and B' say 0
	}
	p, err := g.PredictAll(x, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("B: ", p.B)
	fmt.Println("B':", p.Bprime)
	fmt.Println("G: ", p.G, "N =", g.N())
	// Output:
	// B:  [0 1 0]
	// B': [0 0 0]
	// G:  [0 2 0] N = 2
}
