// Package fuzzseed gives fuzz targets that read files their seed variants.
package fuzzseed

import (
	"flag"
	"testing"
	"time"

	"goodnet/internal/isolate"
)

// Add adds, for a file's bytes, the file and a few truncated and bit-flipped variants of it:
// the damage a download or a disk does, and what a crafted file starts from.
func Add(f *testing.F, b []byte) {
	f.Add(b)
	for _, n := range []int{8, 96, 512, 2048, len(b) / 2, len(b) - 1} {
		if n > 0 && n < len(b) {
			f.Add(b[:n])
		}
	}
	for _, off := range []int{0, 8, 40, 100, 300, 700, 1500, 3000, len(b) / 3, len(b) - 10} {
		if off >= 0 && off < len(b) {
			c := append([]byte(nil), b...)
			c[off] ^= 0x5a
			f.Add(c)
		}
	}
}

// Fuzzing reports whether this test binary is fuzzing (go test -fuzz), rather than running
// the seed corpus as regression tests.
func Fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FastIsolation gives each isolated read 2 s while fuzzing (the inputs are small files that
// load in milliseconds; mutants of a file on which libhdf5 loops would otherwise take the
// tests' 5 s each and dominate the run). Call it at the start of a fuzz target.
func FastIsolation() {
	if Fuzzing() {
		isolate.Timeout = func(int64) time.Duration { return 2 * time.Second }
	}
}
