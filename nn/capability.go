package nn

// Capabilities are optional interfaces that an engine's Backend or Net may implement beyond
// Backend and Net. Algorithms (prune, goodnet, finetune) ask for one with a type assertion and
// fall back to the plain Net.Run path when it is absent; they never test an engine's name.

// IntoRunner is a Net that writes Run's outputs into the caller's slices, so that a caller
// running many batches reuses its buffers (no fresh memory to fault in for every batch).
type IntoRunner interface {
	// RunInto is Run with dst[i] receiving the output of outs[i] (n × its OutShape.Size()
	// values; a longer slice is written at its start).
	RunInto(feeds map[string][]float32, n int, outs []string, dst [][]float32) error
}

// ChannelSummer is a Net that reduces a layer's activations per channel where it computes
// them (on a GPU only the sums cross the bus).
type ChannelSummer interface {
	// ChannelSums evaluates the net on count samples fed as in Net.Run and returns, for each
	// channel of the named layer's output (the last axis), the sum over samples, rows and
	// columns in float64.
	ChannelSums(feeds map[string][]float32, count int, layer string) ([]float64, error)
}

// PairPredictor is a Net that runs itself and another Net of the same engine on the same
// images and merges their classes where it computes them: GoodNet G(B, B').
type PairPredictor interface {
	// PredictPair returns the classes of this net (a) and of other (b) on count images x, and
	// merged[i] = a[i] where a[i] == b[i], else flag.
	PredictPair(other Net, x []float32, count int, flag int32) (a, b, merged []int32, err error)
}
