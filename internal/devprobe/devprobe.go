//go:build cuda

package devprobe

// #cgo LDFLAGS: -ldl
// #include <dlfcn.h>
// #include <stdio.h>
//
// typedef int (*gn_cuInit)(unsigned int);
// typedef int (*gn_cuDeviceGetCount)(int *);
// typedef int (*gn_cuGetErrorName)(int, const char **);
//
// /* 0 when the driver initialises and has a device; else 1 and the reason in buf. */
// static int gn_probe(char *buf, int len) {
// 	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
// 	if (!h) {
// 		const char *e = dlerror();
// 		snprintf(buf, len, "cannot load libcuda.so.1: %s", e ? e : "unknown error");
// 		return 1;
// 	}
// 	gn_cuInit init = (gn_cuInit)dlsym(h, "cuInit");
// 	gn_cuDeviceGetCount count = (gn_cuDeviceGetCount)dlsym(h, "cuDeviceGetCount");
// 	gn_cuGetErrorName name = (gn_cuGetErrorName)dlsym(h, "cuGetErrorName");
// 	if (!init || !count) {
// 		snprintf(buf, len, "libcuda.so.1 has no cuInit or cuDeviceGetCount");
// 		return 1;
// 	}
// 	const char *s = 0;
// 	int r = init(0);
// 	if (r != 0) {
// 		if (name) name(r, &s);
// 		snprintf(buf, len, "cuInit: %s (%d)", s ? s : "unknown error", r);
// 		return 1;
// 	}
// 	int n = 0;
// 	r = count(&n);
// 	if (r != 0) {
// 		if (name) name(r, &s);
// 		snprintf(buf, len, "cuDeviceGetCount: %s (%d)", s ? s : "unknown error", r);
// 		return 1;
// 	}
// 	if (n < 1) {
// 		snprintf(buf, len, "the driver reports no CUDA device");
// 		return 1;
// 	}
// 	return 0; /* libcuda stays loaded: it is the one gorgonia.org/cu links */
// }
import "C"

import (
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
	"unsafe"

	"goodnet/nn"
)

// Imports: only goodnet/nn and packages that gorgonia.org/cu imports too (see the package
// doc; TestInitOrder in goodnet's floors test checks it).

func init() {
	// A child that only pre-reads a file (goodnet/internal/isolate) needs no GPU: it runs as
	// the CPU build, sparing the driver's start-up.
	if os.Getenv("GOODNET_ISOLATE_OP") != "" {
		if exe, err := os.Executable(); err == nil {
			cpu := path.Join(path.Dir(exe), "goodnet-cpu")
			if st, err := os.Stat(cpu); err == nil && !st.IsDir() {
				syscall.Exec(cpu, os.Args, os.Environ())
			}
		}
	}
	reason, ok := probe()
	if ok && os.Getenv("GOODNET_FORCE_CPU") == "" {
		return
	}
	if ok {
		reason = "GOODNET_FORCE_CPU is set"
	}
	device, _ := nn.ParseDevice(deviceArg(os.Args[1:])) // "" for a list or a bad value
	if device == nn.GPU {
		fmt.Fprintf(os.Stderr, "goodnet: --device gpu: no usable GPU (%s)\n", reason)
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "gpu-check" {
		// the check of the GPU has nothing to hand over: it fails, saying why
		fmt.Fprintf(os.Stderr, "goodnet: gpu-check: no usable GPU (%s)\n", reason)
		os.Exit(1)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "goodnet: no usable GPU (%s), and the path of this program is unknown: %v\n", reason, err)
		os.Exit(1)
	}
	cpu := path.Join(path.Dir(exe), "goodnet-cpu")
	if st, err := os.Stat(cpu); err != nil || st.IsDir() {
		fmt.Fprintf(os.Stderr, "goodnet: no usable GPU (%s), and the CPU build %s is missing (`make cuda` builds it)\n", reason, cpu)
		os.Exit(1)
	}
	if device == nn.Auto {
		fmt.Fprintf(os.Stderr, "goodnet: no usable GPU (%s); running on the CPU\n", reason)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envNoGPU+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, envNoGPU+"="+reason)
	err = syscall.Exec(cpu, os.Args, env)
	fmt.Fprintf(os.Stderr, "goodnet: no usable GPU (%s), and running the CPU build %s failed: %v\n", reason, cpu, err)
	os.Exit(1)
}

func probe() (reason string, ok bool) {
	var buf [512]C.char
	if C.gn_probe(&buf[0], C.int(len(buf))) == 0 {
		return "", true
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), false
}

// deviceArg is the value of the last --device flag (--device X, --device=X, -device X,
// -device=X); "auto" without one. Arguments after "--" are not flags.
func deviceArg(args []string) string {
	device := "auto"
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		switch {
		case a == "--device" || a == "-device":
			if i+1 < len(args) {
				device = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--device="):
			device = a[len("--device="):]
		case strings.HasPrefix(a, "-device="):
			device = a[len("-device="):]
		}
	}
	return device
}
