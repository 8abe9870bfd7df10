// Package devprobe lets a cuda build of goodnet start where no GPU is usable.
//
// The problem: gorgonia.org/cu calls cuInit in its package init and, when that fails, prints
// a message and exits the process. A cuda build therefore cannot even reach main on a machine
// without a working GPU.
//
// The mechanism: the cuda build's main package (cmd/goodnet/cuda.go) imports devprobe. Go
// initialises packages in import-path order among those whose imports are initialised, and
// devprobe imports only goodnet/nn (for its device parser) and packages that gorgonia.org/cu
// also imports (the standard library and cgo) — as does goodnet/nn — so
// "goodnet/internal/devprobe" is initialised before "gorgonia.org/cu" (goodnet's floors test
// checks these imports). Its init loads libcuda.so.1 with dlopen and calls cuInit(0) and
// cuDeviceGetCount. When they work, it returns and the program goes on as a cuda build (cu's
// init then succeeds). When they fail, it looks at the --device flag in the command line (--device X, --device=X, -device X;
// default auto; read by nn.ParseDevice):
//
//   - gpu: it prints `goodnet: --device gpu: no usable GPU (<reason>)` and exits with 1;
//   - the command gpu-check (the check of the GPU itself) prints `goodnet: gpu-check: no
//     usable GPU (<reason>)` and exits with 1 — there is nothing to hand over;
//   - otherwise it replaces the process (execve) with the CPU build, goodnet-cpu, from the
//     same directory as the running executable, with the same arguments and environment plus
//     GOODNET_NO_GPU=<reason>; for auto it first prints
//     `goodnet: no usable GPU (<reason>); running on the CPU`. In the CPU build, NoGPU reads
//     that reason back and the CLI hands it to nn.Open (nn.NoGPUReason), which reports it for
//     --device gpu.
//
// A missing goodnet-cpu is one clear error (exit 1). GOODNET_FORCE_CPU=1 forces the hand-over
// even when a GPU works (for tests). `make cuda` builds both binaries into bin/; the Docker
// image installs both.
//
// A GPU that the driver reports but that cannot run the kernels (compute capability below
// 8.0) passes the probe; the gpu backend then fails to open and --device auto uses the CPU
// backend of the same process. Without libcuda.so.1 at all, the cuda build cannot start
// (gorgonia.org/cu links it): run goodnet-cpu there.
//
// The probe has code only in cuda builds; NoGPU is in every build.
package devprobe
