package train

/*
#cgo CFLAGS: -O3 -Wno-psabi
#cgo LDFLAGS: -lm
#include "engine.h"
*/
import "C"

import (
	"os"
	"strings"
	"sync"
	"unsafe"
)

// isa is an instruction-set variant of the kernels (engine.h), chosen as host/ chooses its
// own: the best the CPU supports, or the one GOODNET_CPU_KERNEL=portable|avx2|avx512 names.
type isa int

const (
	isaPortable isa = C.ISA_PORTABLE
	isaAVX2     isa = C.ISA_AVX2
	isaAVX512   isa = C.ISA_AVX512
)

var isaNames = map[isa]string{isaPortable: "portable", isaAVX2: "AVX2", isaAVX512: "AVX-512"}

func (i isa) String() string { return isaNames[i] }

func (i isa) supported() bool { return C.train_isa_supported(C.int(i)) != 0 }

// supportedISAs lists the variants this CPU runs, best last.
func supportedISAs() []isa {
	var out []isa
	for _, i := range []isa{isaPortable, isaAVX2, isaAVX512} {
		if i.supported() {
			out = append(out, i)
		}
	}
	return out
}

var defaultISA = sync.OnceValue(func() isa {
	all := supportedISAs()
	if want := strings.ToLower(os.Getenv("GOODNET_CPU_KERNEL")); want != "" {
		for _, i := range all {
			if strings.ReplaceAll(strings.ToLower(i.String()), "-", "") == strings.ReplaceAll(want, "-", "") {
				return i
			}
		}
	}
	return all[len(all)-1]
})

// kernelISA is the variant compile uses (the tests run each one).
var kernelISA = defaultISA

// Kernels names the kernel variant training runs on this CPU ("AVX-512", "AVX2", "portable").
func Kernels() string { return kernelISA().String() }

// alignedFloats returns n zeroed floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&s[0])) % 64); r != 0 {
		off = (64 - r) / 4
	}
	return s[off : off+n : off+n]
}

// fp is the C pointer to s[0] (s must not be empty), nil for an empty s.
func fp(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
