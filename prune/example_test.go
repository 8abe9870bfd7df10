package prune_test

import (
	"fmt"
	"log"

	"goodnet/host"
	"goodnet/nn"
	"goodnet/prune"
)

// A toy BadNet on 1×1×3 images: channel 0 is a face of person 1, channel 1 a face of person 2,
// channel 2 the trigger. Its conv (before the only pool) copies each input channel to a
// feature, the head sends feature 0 to class 1, feature 1 to class 2 and the trigger feature,
// twice as strong, to class 0: the attacker's target. The trigger feature never fires on
// clean faces, so its mean activation is the smallest and Fine-Pruning removes it first.
func Example() {
	eye := []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}
	b, err := nn.New("toy", []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{1, 1, 3}},
		{Name: "conv", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{1, 1}, Strides: [2]int{1, 1},
			Filters: 3, Act: nn.ReLU, UseBias: true, W: eye, B: make([]float32, 3)},
		{Name: "pool", Kind: nn.MaxPool2D, InputNames: []string{"conv"}, Size: [2]int{1, 1}, Strides: [2]int{1, 1}},
		{Name: "flat", Kind: nn.Flatten, InputNames: []string{"pool"}},
		{Name: "fc", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 3, Act: nn.ReLU, UseBias: true, W: eye, B: make([]float32, 3)},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"fc"}, Units: 3, Act: nn.Softmax, UseBias: true,
			W: []float32{0, 1, 0, 0, 0, 1, 2, 0, 0}, B: make([]float32, 3)},
	}, "in", "out")
	if err != nil {
		log.Fatal(err)
	}
	set := func(path string, x []float32, y []int32) *nn.Set {
		return &nn.Set{Path: path, X: x, Y: y, N: len(y), H: 1, W: 1, C: 3}
	}
	clean := set("clean", []float32{4, 1, 0, 1, 5, 0, 6, 2, 0, 2, 3, 0}, []int32{1, 2, 1, 2})
	poisoned := set("poisoned", []float32{4, 1, 9, 1, 5, 9, 6, 2, 9, 2, 3, 9}, []int32{0, 0, 0, 0})
	res, err := prune.Run(prune.Config{Model: b, CleanValid: clean, BadValid: poisoned, Backend: host.New(1),
		Thresholds: []float64{10}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mean activations:", res.MeanActivation, "order:", res.Order)
	for _, s := range res.Steps {
		fmt.Printf("step %d, channel %2d pruned: clean accuracy %3.0f %%, attack success %3.0f %%\n",
			s.Step, s.Channel, s.CleanValid, s.ASRValid)
	}
	for _, s := range res.Saved {
		fmt.Printf("B' at a %g %% drop: channels %v; GoodNet: clean %.0f %%, attack %.0f %%, flagged %.0f %%\n",
			s.Threshold, s.PrunedChannels, s.GoodNet.CleanAcc, s.GoodNet.ASR, s.GoodNet.Flagged)
	}
	// Output:
	// mean activations: [3.25 2.75 0] order: [2 1 0]
	// step 0, channel -1 pruned: clean accuracy 100 %, attack success 100 %
	// step 1, channel  2 pruned: clean accuracy 100 %, attack success   0 %
	// step 2, channel  1 pruned: clean accuracy  50 %, attack success   0 %
	// step 3, channel  0 pruned: clean accuracy   0 %, attack success 100 %
	// B' at a 10 % drop: channels [1 2]; GoodNet: clean 50 %, attack 0 %, flagged 100 %
}
