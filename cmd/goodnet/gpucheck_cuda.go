//go:build cuda

package main

import (
	"io"

	"goodnet/gpucheck"
)

func gpuCheck(w io.Writer, o gpuCheckFlags) error {
	_, err := gpucheck.Main(w, gpucheck.Options{Fixtures: o.fixtures, NoFixtures: o.noFixtures, Faces: o.faces,
		Images: o.images, Repeats: o.repeats, NoTimings: o.noTimings, Small: o.small})
	return err
}
