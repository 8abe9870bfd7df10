package nn_test

import (
	"fmt"
	"log"

	"goodnet/nn"

	_ "goodnet/host" // registers the CPU backend ("cpu")
)

// A graph is a list of layers naming their inputs; nn.New checks it and infers every shape.
func Example() {
	m, err := nn.New("tiny", []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{6, 5, 3}},
		{Name: "conv", Kind: nn.Conv2D, InputNames: []string{"in"}, Size: [2]int{3, 3}, Strides: [2]int{1, 1},
			Filters: 4, Act: nn.ReLU, UseBias: true},
		{Name: "pool", Kind: nn.MaxPool2D, InputNames: []string{"conv"}, Size: [2]int{2, 2}, Strides: [2]int{2, 2}},
		{Name: "flat", Kind: nn.Flatten, InputNames: []string{"pool"}},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 3, Act: nn.Softmax, UseBias: true},
	}, "in", "out")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range m.Layers {
		fmt.Printf("%-4s %-12s %v\n", l.Name, l.Kind, l.OutShape)
	}
	fmt.Println("parameters:", m.Params(), "classes:", m.NumClasses())
	fmt.Println("the conv feeding the last pool:", m.LastPool().Inputs[0].Name)
	// Output:
	// in   InputLayer   (6, 5, 3)
	// conv Conv2D       (4, 3, 4)
	// pool MaxPooling2D (2, 1, 4)
	// flat Flatten      (8)
	// out  Dense        (3)
	// parameters: 139 classes: 3
	// the conv feeding the last pool: conv
}

// A model runs on a backend: nn.Open picks one by device, Compile prepares the model, and
// Predict returns the class of each image (the first largest logit).
func ExamplePredict() {
	// two classes of 1×1×2 images: class c is the larger of the two values
	m, err := nn.New("pick", []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{1, 1, 2}},
		{Name: "flat", Kind: nn.Flatten, InputNames: []string{"in"}},
		{Name: "out", Kind: nn.Dense, InputNames: []string{"flat"}, Units: 2, Act: nn.Softmax, UseBias: true,
			W: []float32{1, 0, 0, 1}, B: []float32{0, 0}},
	}, "in", "out")
	if err != nil {
		log.Fatal(err)
	}
	backend, err := nn.Open(nn.CPU)
	if err != nil {
		log.Fatal(err)
	}
	net, err := backend.Compile(m)
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	classes, err := nn.Predict(net, []float32{3, 1, 0, 2, 5, 5}, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(classes)
	// Output: [0 1 0]
}

func ExampleParseDevice() {
	for _, s := range []string{"auto", "GPU", "tpu"} {
		d, err := nn.ParseDevice(s)
		fmt.Printf("%q %v\n", d, err)
	}
	ds, err := nn.ParseDevices("cpu,gpu")
	fmt.Println(ds, err)
	// Output:
	// "auto" <nil>
	// "gpu" <nil>
	// "" "tpu": want auto, cpu or gpu
	// [cpu gpu] <nil>
}
