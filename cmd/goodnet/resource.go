package main

// The resource policy's flags, which every command has (goodnet/internal/resource): the
// memory limit and the FLOP cap per image.

import (
	"flag"
	"fmt"
	"math"
	"strconv"

	"goodnet/internal/resource"
)

// memoryFlag is --max-memory: a size (512M, 8G), or 0 for the default.
type memoryFlag int64

func (m *memoryFlag) String() string {
	if *m == 0 {
		return ""
	}
	return resource.Bytes(int64(*m))
}

func (m *memoryFlag) Set(v string) error {
	if v == "0" {
		*m = 0
		return nil
	}
	n, err := resource.ParseSize(v)
	if err != nil {
		return err
	}
	*m = memoryFlag(n)
	return nil
}

// gflopsFlag is --max-gflops: a number ≥ 0 (0 lifts the cap).
type gflopsFlag float64

func (g *gflopsFlag) String() string { return strconv.FormatFloat(float64(*g), 'g', -1, 64) }

func (g *gflopsFlag) Set(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("want a number of GFLOP ≥ 0 (0 lifts the cap)")
	}
	*g = gflopsFlag(f)
	return nil
}

// resourceFlags are one command line's values.
type resourceFlags struct {
	memory memoryFlag
	gflops gflopsFlag
}

var resources = map[*flag.FlagSet]*resourceFlags{}

// resourceVars adds --max-memory and --max-gflops to a command's flags.
func resourceVars(fs *flag.FlagSet) {
	r := &resourceFlags{gflops: resource.DefaultGFLOPs}
	fs.Var(&r.memory, "max-memory", "`size` of memory the run may use (512M, 8G; default: 3/4 of what this process may use: the machine's memory, its cgroup's limit, ulimit -v): files and requests that need more are refused before anything is allocated")
	fs.Var(&r.gflops, "max-gflops", "`G`: refuse models of more than G GFLOP per image (0: no cap)")
	resources[fs] = r
}

// applyResources sets the limits of a parsed command line (for this process and its children).
func applyResources(fs *flag.FlagSet) {
	r := resources[fs]
	if r == nil {
		return
	}
	resource.SetMemory(int64(r.memory))
	resource.SetGFLOPs(float64(r.gflops))
}
