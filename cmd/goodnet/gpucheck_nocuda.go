//go:build !cuda

package main

import (
	"errors"
	"io"

	"goodnet/nn"
)

func gpuCheck(io.Writer, string, int, int, bool) error {
	return errors.New(nn.GPUUnavailable(openOptions()...))
}
