//go:build !cuda

package main

import (
	"errors"
	"io"

	"goodnet/nn"
)

func gpuCheck(io.Writer, gpuCheckFlags) error {
	return errors.New(nn.GPUUnavailable(openOptions()...))
}
