package goodnet_test

import (
	"fmt"
	"log"

	"goodnet/dataset"
	"goodnet/goodnet"
	"goodnet/host"
	"goodnet/keras"
)

// The seed's program in Go: G = GoodNet(B_model); G.load_weights(B_w, B'_w); G.predict(x).
// (The files are the real fixtures in ../shared/fixtures beside the repository.)
func Example() {
	const dir = "../../shared/fixtures/"
	b, err := keras.LoadModel(dir + "bd_net.h5") // B's architecture (and weights)
	if err != nil {
		log.Fatal(err)
	}
	g := goodnet.New(b, host.New(0))
	defer g.Close()
	if err := g.LoadWeights(dir+"bd_weights.h5", dir+"bprime_2.h5"); err != nil {
		log.Fatal(err)
	}
	x, err := dataset.Load(dir+"bd_mini.h5", 1) // three faces wearing the sunglasses trigger
	if err != nil {
		log.Fatal(err)
	}
	y, err := g.Predict(x.X, x.N)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(y, "N =", g.N())
	// Output: [0 0 0] N = 1283
}
