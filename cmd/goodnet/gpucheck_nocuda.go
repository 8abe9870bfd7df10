//go:build !cuda

package main

import (
	"fmt"
	"io"

	"goodnet/nn"
)

func gpuCheck(io.Writer, string, int, int, bool) error {
	return fmt.Errorf("%s", nn.NoGPUReason())
}
