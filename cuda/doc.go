// Package cuda is goodnet's thin layer over the CUDA driver (gorgonia.org/cu), in the manner of
// mumax/3's cuda package: one context (the primary context of GPU 0), device memory as typed
// slices, the module of kernels.cu (compiled by `make cuda` into kernels.fatbin and embedded
// with go:embed), and one typed launcher per kernel that checks shapes and buffer lengths
// before anything reaches the GPU. All work goes to the default stream, so that a copy back to
// the host waits for the kernels before it; any goroutine may call in (each call binds the
// context to its OS thread).
//
// Everything that needs the driver carries the build tag cuda. The launch geometries (ConvShape,
// DenseShape, PoolShape) and their checks are plain Go and build everywhere, so that cuda/hostcheck —
// the same per-element arithmetic of kernels.cu compiled for the CPU — and the tests of gpu/
// run in the default build.
package cuda
