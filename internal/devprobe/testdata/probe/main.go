// A cuda-build stand-in for goodnet: the probe, then gorgonia.org/cu's init, then main.
package main

import (
	"fmt"
	"os"

	_ "goodnet/internal/devprobe"
	_ "gorgonia.org/cu"
)

func main() { fmt.Printf("gpu build: args=%q\n", os.Args[1:]) }
