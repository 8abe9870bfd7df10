package cuda

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// source is kernels.cu as this binary was built: go:embed puts it in, and Go's build cache
// rebuilds the binary when it changes. The fatbin the cuda build embeds is a build output of
// `make cuda`, which writes beside it the SHA-256 of the kernels.cu it compiled
// (kernels.fatbin.sha256). Init refuses a fatbin compiled from another kernels.cu: the
// host-emulation tests check the source, so a stale fatbin would run code no test has seen.
//
//go:embed kernels.cu
var source string

// SourceHash is the SHA-256 (hex) of the kernels.cu this binary was built with.
func SourceHash() string {
	h := sha256.Sum256([]byte(source))
	return hex.EncodeToString(h[:])
}

// ErrStaleFatbin is the error (wrapped) of a fatbin compiled from another kernels.cu.
var ErrStaleFatbin = errors.New("stale fatbin")

// checkFatbin compares the hash recorded beside the fatbin (the first 64 hex digits of the
// file kernels.fatbin.sha256; sha256sum's output is accepted) with SourceHash.
func checkFatbin(recorded string) error {
	f := strings.Fields(recorded)
	if len(f) == 0 || len(f[0]) != 64 {
		return fmt.Errorf("%w: cuda/kernels.fatbin.sha256 does not hold a SHA-256 (%q): run `make cuda`", ErrStaleFatbin, recorded)
	}
	if got := strings.ToLower(f[0]); got != SourceHash() {
		return fmt.Errorf("%w: cuda/kernels.fatbin was compiled from a kernels.cu with SHA-256 %.12s…, this binary was built with kernels.cu %.12s…: run `make cuda` (it recompiles the fatbin, then the binary)",
			ErrStaleFatbin, got, SourceHash())
	}
	return nil
}
