// Package simd chooses the instruction-set variant of goodnet's C kernels, for every package
// that has some (host's engine, prune's sweep): the scheme is one C source compiled once per
// variant (the same kernels included under a `#pragma GCC target` of Targets, see
// host/engine.c and prune/sweep.c), and a dispatch on the variant index this package picks at
// run time: the best the CPU supports, or a supported one that GOODNET_CPU_KERNEL names
// (portable, avx2 or avx512; for checks and comparisons).
package simd

/*
static int simd_supported(int isa) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	switch (isa) {
	case 0:
		return 1;
	case 1:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case 2:
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return 0;
#else
	return isa == 0;
#endif
}
*/
import "C"

import (
	"os"
	"strings"
)

// ISA is a variant of the kernels. Its value is the index the C dispatchers take.
type ISA int

// The variants, in increasing speed.
const (
	Portable ISA = 0 // the build target's vectors (SSE2 on x86-64, NEON on arm64)
	AVX2     ISA = 1 // AVX2 + FMA (x86-64)
	AVX512   ISA = 2 // AVX-512 F/VL/DQ/BW (x86-64)
)

// All lists the variants, in increasing speed.
var All = []ISA{Portable, AVX2, AVX512}

// Targets are the GCC target attributes each C source compiles a variant with (host/engine.c,
// prune/sweep.c; TestTargets checks that they do).
var Targets = map[ISA]string{
	AVX2:   "avx2,fma",
	AVX512: "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma",
}

var names = map[ISA]string{Portable: "portable", AVX2: "AVX2", AVX512: "AVX-512"}

func (i ISA) String() string { return names[i] }

// Supported reports whether this CPU runs variant i.
func (i ISA) Supported() bool { return C.simd_supported(C.int(i)) != 0 }

// Supported lists the variants this CPU runs, fastest last.
func Supported() []ISA {
	var out []ISA
	for _, i := range All {
		if i.Supported() {
			out = append(out, i)
		}
	}
	return out
}

// Env is the environment variable that forces a variant.
const Env = "GOODNET_CPU_KERNEL"

// Best is the variant to run: the one GOODNET_CPU_KERNEL names (portable, avx2, avx512; any
// case, "-" ignored) when the CPU supports it, else the fastest supported. It reads the
// variable on every call.
func Best() ISA {
	all := Supported()
	if want := strings.ReplaceAll(strings.ToLower(os.Getenv(Env)), "-", ""); want != "" {
		for _, i := range all {
			if strings.ReplaceAll(strings.ToLower(i.String()), "-", "") == want {
				return i
			}
		}
	}
	return all[len(all)-1]
}
