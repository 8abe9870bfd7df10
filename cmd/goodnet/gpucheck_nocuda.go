//go:build !cuda

package main

import (
	"fmt"
	"io"

	"goodnet/nn"
)

func gpuCheck(io.Writer, gpuCheckFlags) error {
	return fmt.Errorf("%s", nn.NoGPUReason())
}
