//go:build cuda

package main

// The cuda build (`make cuda` → bin/goodnet): the driver probe, initialised before
// gorgonia.org/cu, hands over to bin/goodnet-cpu when no GPU is usable (see
// internal/devprobe); the GPU backend registers itself as "gpu".
import (
	_ "goodnet/gpu"
	_ "goodnet/internal/devprobe"
)
