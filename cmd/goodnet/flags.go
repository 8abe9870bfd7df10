package main

// Flag parsing shared by the subcommands: --name flags in any order with positional
// arguments, help texts, and the flags every command has (--device, --scale).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"goodnet/internal/devprobe"
	"goodnet/nn"
)

// newFlags makes a FlagSet whose errors are returned (not printed), with a help text that
// parse prints for -h.
func newFlags(name, synopsis, about string, _ io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helps[fs] = fmt.Sprintf("Usage: goodnet %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(about))
	resourceVars(fs)
	return fs
}

var helps = map[*flag.FlagSet]string{}

// help renders a command's help text with its flags written --name.
func help(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(helps[fs])
	b.WriteString("\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// parse parses flags and positional arguments in any order (Go's flag package stops at the
// first positional one). -h prints the help text to stdout.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(helpOut, help(fs))
				return nil, helpRequested
			}
			return nil, usageError{strings.Replace(err.Error(), " -", " --", 1)}
		}
		args = fs.Args()
		if len(args) == 0 {
			applyResources(fs)
			return pos, nil
		}
		if args[0] == "--" {
			applyResources(fs)
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// helpOut is where -h goes: the stdout of the running command line.
var helpOut io.Writer = os.Stdout

// required checks that the named string flags were given.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			return usagef("--%s is required", n)
		}
	}
	return nil
}

// openBackend opens the --device backend.
func openBackend(device string) (nn.Backend, error) {
	d, err := nn.ParseDevice(device)
	if err != nil {
		return nil, usagef("--device %v", err)
	}
	b, err := nn.Open(d, openOptions()...)
	if err != nil {
		return nil, fmt.Errorf("--device %s: %w", d, err)
	}
	return b, nil
}

// openOptions pass to nn.Open why this process has no GPU when a cuda build handed the
// command over to this one (internal/devprobe).
func openOptions() []nn.OpenOption {
	return []nn.OpenOption{nn.NoGPUReason(devprobe.NoGPU())}
}

// scaleFlag is --scale: a positive float multiplying pixels.
type scaleFlag float32

func (s *scaleFlag) String() string { return fmt.Sprint(float32(*s)) }
func (s *scaleFlag) Set(v string) error {
	var f float64
	if _, err := fmt.Sscanf(v, "%g", &f); err != nil || !(f > 0) || f > 1e6 {
		return fmt.Errorf("want a positive number (1 for raw 0–255 pixels, 0.00392156862745098 for x/255)")
	}
	if strings.Contains(v, "/") {
		return fmt.Errorf("write the value, not a fraction")
	}
	*s = scaleFlag(f)
	return nil
}

func scaleVar(fs *flag.FlagSet) *scaleFlag {
	s := scaleFlag(1)
	fs.Var(&s, "scale", "`factor` multiplying the pixels (the lab's B takes raw 0–255 pixels: 1; the 2020 CSAW models x/255: 0.00392156862745098)")
	return &s
}

func deviceVar(fs *flag.FlagSet) *string {
	return fs.String("device", "auto", "where to compute: auto (the GPU when one is usable), cpu or gpu")
}

// floatsFlag is a comma-separated list of numbers (--mean, --std).
type floatsFlag []float32

func (f *floatsFlag) String() string { return fmt.Sprint([]float32(*f)) }
func (f *floatsFlag) Set(v string) error {
	var out []float32
	for _, p := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%q is not a number (want one per channel, comma-separated: 0.4914,0.4822,0.4465)", p)
		}
		out = append(out, float32(x))
	}
	*f = out
	return nil
}

// normVars are --mean and --std: torchvision's per-channel normalisation after --scale.
func normVars(fs *flag.FlagSet) (mean, std *floatsFlag) {
	mean, std = new(floatsFlag), new(floatsFlag)
	fs.Var(mean, "mean", "`m1,m2,m3`: per-channel means subtracted after --scale, as torchvision's Normalize (with --std)")
	fs.Var(std, "std", "`s1,s2,s3`: per-channel standard deviations dividing after --mean (with --mean)")
	return mean, std
}

// checkNorm checks --mean and --std together: both or neither, positive std.
func checkNorm(mean, std *floatsFlag) error {
	if (*mean == nil) != (*std == nil) {
		return usagef("--mean and --std go together (torchvision's Normalize(mean, std))")
	}
	if len(*mean) != len(*std) {
		return usagef("--mean has %d values, --std %d: give one per channel to each", len(*mean), len(*std))
	}
	for _, s := range *std {
		if !(s > 0) {
			return usagef("--std %v: every value must be positive", []float32(*std))
		}
	}
	return nil
}
