// Package gpu is goodnet's GPU backend ("gpu"): nn.Backend and nn.Net on the CUDA kernels of
// cuda/kernels.cu through package cuda. A compiled Net keeps its weights in device memory; a
// call streams its samples through device buffers in batches sized to the free device memory
// (at most half of it, at most MaxBatch samples), and only what the caller asked for comes
// back: the outputs of Run, the classes of Predict (the argmax runs on the device), and the
// answers of the capabilities of package nn that the algorithms ask for — nn.PairPredictor
// (GoodNet: B and B' on the same uploaded batch, the argmax of each and the merge on the
// device; three class lists come back) and nn.ChannelSummer (the pruning defense's channel
// statistics, reduced in float64 on the device; only the sums come back).
//
// Pruning itself stays on the host: prune zeroes channels of an nn.Model and sweeps on the
// features at the cut, and a B' is compiled like any model — so there is no device-side
// pruning kernel.
//
// The package is a leaf: it imports nn, cuda (and cuda/hostcheck for OpenEmulated) only. The
// engine (engine.go) is plain Go over a small device interface, in every build; its tests run
// it on the CPU over cuda/hostcheck — the same per-element code as the GPU kernels, or the
// kernels themselves emulated on CPU threads — and OpenEmulated offers that device to other
// packages' tests (gpucheck's). The backend on a real GPU (Open, registered as "gpu" with
// nn.Register) needs the build tag cuda (`make cuda`); the self-test and the CPU/GPU
// comparison are package gpucheck. How a cuda build that finds no usable GPU hands over to the
// CPU build is in internal/devprobe.
package gpu
