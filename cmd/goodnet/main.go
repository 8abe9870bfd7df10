// Command goodnet repairs backdoored Keras classifiers with Fine-Pruning and evaluates the
// repaired GoodNet G(B, B'). Run `goodnet -h` for the subcommands.
//
// This file only dispatches; each subcommand parses its flags in its own file and calls the
// library (package pipeline and below).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"goodnet/internal/atomicfile"
	"goodnet/internal/isolate"
	"goodnet/nn"

	_ "goodnet/host" // registers the CPU backend
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// helpRequested is returned for -h: the help text was printed, exit 0.
var helpRequested = errors.New("help requested")

func main() {
	if r := os.Getenv("GOODNET_NO_GPU"); r != "" {
		nn.SetNoGPUReason("no usable GPU (" + r + ")")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		stop(<-sig, os.Stderr)
		os.Exit(130)
	}()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c := commands[args[1]]; c != nil {
				return run([]string{c.name, "-h"}, stdout, stderr)
			}
		}
		mainUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := commands[args[0]]
	if c == nil {
		fmt.Fprintf(stderr, "goodnet: unknown command %q\n\n", args[0])
		mainUsage(stderr)
		return 2
	}
	helpOut = stdout
	err := c.run(args[1:], stdout, stderr)
	var ue usageError
	var intr *isolate.Interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &intr):
		// A child reading a file was stopped by the user's Ctrl-C, which this process got
		// too: the same exit as the signal handler's, whichever comes first.
		stop(intr.Signal, stderr)
		return 130
	case errors.Is(err, helpRequested):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "goodnet %s: %v (see 'goodnet %s -h')\n", c.name, oneLine(err.Error()), c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "goodnet %s: %v\n", c.name, oneLine(err.Error()))
		return 1
	}
}

var stopOnce sync.Once

// stop ends a run interrupted by signal s (exit status 130 follows): temporary files are
// removed and no output is renamed into place any more (atomicfile.Interrupt); one line says
// so, once.
func stop(s os.Signal, stderr io.Writer) {
	stopOnce.Do(func() {
		atomicfile.Interrupt()
		fmt.Fprintf(stderr, "goodnet: %v: stopped; every output file is as it was or complete, none half-written\n", s)
	})
}

// oneLine keeps an error on one line (libhdf5 and JSON errors can carry newlines).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `goodnet repairs backdoored neural networks (Fine-Pruning) and evaluates the repaired
GoodNet G(B, B'): B's class when B and its pruned copy B' agree, else class N ("looks poisoned").

Usage: goodnet <command> [flags]

Commands:
`)
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run 'goodnet <command> -h' for a command's flags. Exit status: 0 ok, 1 failure, 2 usage error,
130 interrupted (Ctrl-C).
`)
}

// newFlags makes a FlagSet whose errors are returned (not printed), with a help text that
// parse prints for -h.
func newFlags(name, synopsis, about string, _ io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helps[fs] = fmt.Sprintf("Usage: goodnet %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(about))
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
			return pos, nil
		}
		if args[0] == "--" {
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
	switch strings.ToLower(device) {
	case "auto", "cpu", "gpu":
	default:
		return nil, usagef("--device %q: want auto, cpu or gpu", device)
	}
	return nn.Open(device)
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
