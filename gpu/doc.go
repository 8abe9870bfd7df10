// Package gpu is goodnet's GPU backend ("gpu"): nn.Backend and nn.Net on the CUDA kernels of
// kernels.cu through package cuda. A compiled Net keeps its weights in device memory; a call
// streams its samples through device buffers in batches sized to the free device memory (at
// most half of it, at most MaxBatch samples), and only what the caller asked for comes back:
// the outputs of Run, the classes of Predict (the argmax runs on the device), the three class
// lists of GoodNet (B and B' on the same uploaded batch, merged on the device), the float64
// channel sums of ChannelMeans.
//
// The engine (engine.go) is plain Go over a small device interface, in every build; its tests
// run it on the CPU over cuda/hostcheck — the same per-element code as the GPU kernels. The
// backend on a real GPU (Open, registered as "gpu" with nn.Register), the self-test and the
// gpu-check timings need the build tag cuda (`make cuda`). How a cuda build that finds no
// usable GPU hands over to the CPU build is in internal/devprobe.
package gpu
