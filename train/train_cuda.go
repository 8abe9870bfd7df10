//go:build cuda

package train

import "goodnet/nn"

// Train is not available in the cuda build (gorgonia's cuda tag needs cuDNN): it returns
// ErrCUDABuild.
func Train(m *nn.Model, x []float32, y []int32, n int, opt Options) (*History, error) {
	return nil, ErrCUDABuild
}

// EvalBatch is the batch size of Run and Forward.
const EvalBatch = 256

// Forward is not available in the cuda build: it returns ErrCUDABuild.
func Forward(m *nn.Model, x []float32, n int, scale float32) ([]float32, error) {
	return nil, ErrCUDABuild
}

// Run is not available in the cuda build: it returns ErrCUDABuild.
func Run(m *nn.Model, x []float32, n int, scale float32, outs ...string) ([][]float32, error) {
	return nil, ErrCUDABuild
}
