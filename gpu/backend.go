package gpu

import (
	"goodnet/internal/resource"
	"goodnet/nn"
)

// Backend is the GPU backend (Open; OpenEmulated for tests).
type Backend struct{ c *core }

// Name is "gpu".
func (b *Backend) Name() string { return "gpu" }

// Describe names the GPU, its memory and the driver.
func (b *Backend) Describe() string { return "GPU: " + b.c.dev.describe() }

// Compile uploads m's weights to the GPU (see nn.Backend).
func (b *Backend) Compile(m *nn.Model) (nn.Net, error) {
	if err := m.CheckWeights(); err != nil {
		return nil, err
	}
	if err := resource.CheckModel(m, 1); err != nil { // the clone; the device holds the rest
		return nil, err
	}
	n, err := b.CompileNet(m)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// CompileNet is Compile returning the *Net.
func (b *Backend) CompileNet(m *nn.Model) (*Net, error) { return compile(b.c, m) }

// WithMaxBatch is a backend on the same device whose Nets put at most maxBatch samples
// through it at once (0: MaxBatch): the self-test's check that batching changes no bit. Its
// Nets are not serialised with b's (use one at a time) and PredictPair does not mix them.
func (b *Backend) WithMaxBatch(maxBatch int) *Backend {
	return &Backend{c: &core{dev: b.c.dev, maxBatch: maxBatch, memShare: b.c.memShare}}
}

var _ nn.Backend = (*Backend)(nil)
