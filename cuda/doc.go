// Package cuda is goodnet's thin layer over the CUDA driver (gorgonia.org/cu), in the manner of
// mumax/3's cuda package: one context (the primary context of GPU 0), device memory as typed
// slices, the module of kernels.cu (compiled by `make cuda` into kernels.fatbin and embedded
// with go:embed), and one typed launcher per kernel that checks shapes and buffer lengths
// before anything reaches the GPU. All work goes to the default stream, so that a copy back to
// the host waits for the kernels before it; any goroutine may call in (each call binds the
// context to its OS thread).
//
// kernels.cu is the one place where a kernel's parameters and the launch constants are
// written: `go generate ./cuda` (internal/cuda2go, after mumax/3's cuda2go) reads its extern
// "C" signatures and #define GN_… constants and writes kernels_gen.go — the constants, the
// name table, and an argument builder per kernel with the kernel's parameter names in its
// order — and the emulator's dispatch in hostcheck/. A launch is a Call (kernel, geometry,
// argument slots), built in call.go; the GPU (kernels.go) and cuda/hostcheck's emulator run
// the same Calls. A test fails when the generated files are stale, and TestCallsByName checks
// each launcher's arguments by the kernels' parameter names.
//
// The binary embeds kernels.cu too: Init refuses a fatbin that `make cuda` compiled from
// another kernels.cu (source.go), so a GPU never runs kernels the host-emulation tests have
// not seen.
//
// Everything that needs the driver carries the build tag cuda. The launch geometries, the
// Calls and their checks are plain Go and build everywhere, so that cuda/hostcheck — the same
// per-element arithmetic of kernels.cu compiled for the CPU, and the kernels emulated on CPU
// threads — and the tests of gpu/ run in the default build.
package cuda

//go:generate go run ./internal/cuda2go
