package keras_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"goodnet/keras"
	"goodnet/nn"
)

// B as a Keras full-model file, and B' (a conv channel zeroed) as a weights-only file like
// the lab's bd_weights.h5: keras writes both and reads them back into nn.Models.
func Example() {
	dir, err := os.MkdirTemp("", "keras-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	b := nn.DeepID(31, 31, 5) // the lab's architecture on small images, 5 classes
	nn.RandomWeights(b, 1)
	if err := keras.SaveModel(b, filepath.Join(dir, "b.h5")); err != nil {
		log.Fatal(err)
	}
	bprime := b.Clone()
	conv := bprime.Layer("conv_3")
	for i := 7; i < len(conv.W); i += conv.Filters { // kernel[..., 7]
		conv.W[i] = 0
	}
	conv.B[7] = 0
	if err := keras.SaveWeights(bprime, filepath.Join(dir, "bprime.h5")); err != nil {
		log.Fatal(err)
	}

	m, err := keras.LoadModel(filepath.Join(dir, "b.h5")) // architecture and weights
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name, m.InputShape(), "→", m.NumClasses(), "classes,", m.Params(), "parameters")
	fmt.Println("same weights as B:", m.Layer("fc_1").W[17] == b.Layer("fc_1").W[17])
	if err := keras.LoadWeights(m, filepath.Join(dir, "bprime.h5")); err != nil { // B' into B's architecture
		log.Fatal(err)
	}
	fmt.Println("conv_3 bias 7 now:", m.Layer("conv_3").B[7])

	info, err := keras.Inspect(filepath.Join(dir, "bprime.h5"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bprime.h5: full model:", info.HasArchitecture, "weights in", info.WeightsGroup, "of", len(info.Layers), "layers")
	// Output:
	// model_1 (31, 31, 3) → 5 classes, 101485 parameters
	// same weights as B: true
	// conv_3 bias 7 now: 0
	// bprime.h5: full model: false weights in / of 15 layers
}
