//go:build cuda

package main

import (
	"io"

	"goodnet/gpu"
)

func gpuCheck(w io.Writer, fixtures string, images, repeats int, noTimings bool) error {
	return gpu.GPUCheck(w, gpu.CheckOptions{Fixtures: fixtures, Images: images, Repeats: repeats, NoTimings: noTimings})
}
