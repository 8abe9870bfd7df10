// A stand-in for goodnet-cpu: says how it was started.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("cpu build: args=%q GOODNET_NO_GPU=%q\n", os.Args[1:], os.Getenv("GOODNET_NO_GPU"))
	for _, a := range os.Args[1:] {
		if a == "fail" {
			os.Exit(3)
		}
	}
}
