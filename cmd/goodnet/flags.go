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
	"regexp"
	"strconv"
	"strings"

	"goodnet/internal/devprobe"
	"goodnet/internal/strict"
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
			return nil, usageError{flagError(err)}
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

// flagError rewrites the flag package's errors with the flag written --name first:
// `--scale "2abc": want a positive number …`, `unknown flag --bogus`.
func flagError(err error) string {
	msg := err.Error()
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		return "--" + m[2] + " " + m[1] + ": " + m[3]
	}
	if f, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(f, "-")
	}
	if f, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimPrefix(f, "-") + " needs a value"
	}
	return strings.Replace(msg, " -", " --", 1)
}

var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-(\S+): (.*)$`)

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

// intFlag is a whole number in [min, max], strictly decimal (internal/strict).
type intFlag struct {
	p        *int
	min, max int
}

func (f *intFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(v string) error {
	n, err := strict.Int(v)
	if err != nil || n < f.min || n > f.max {
		return fmt.Errorf("want a whole number %s", intRange(f.min, f.max))
	}
	*f.p = n
	return nil
}

func intRange(lo, hi int) string {
	if hi == math.MaxInt {
		return fmt.Sprintf("≥ %d", lo)
	}
	return fmt.Sprintf("from %d to %d", lo, hi)
}

// intVar defines a strict integer flag in [lo, hi].
func intVar(fs *flag.FlagSet, name string, def, lo, hi int, usage string) *int {
	p := new(int)
	*p = def
	fs.Var(&intFlag{p, lo, hi}, name, usage)
	return p
}

// int64Flag is any whole number that int64 holds (a seed).
type int64Flag struct{ p *int64 }

func (f *int64Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatInt(*f.p, 10)
}

func (f *int64Flag) Set(v string) error {
	n, err := strict.Int64(v)
	if err != nil {
		return fmt.Errorf("want a whole number")
	}
	*f.p = n
	return nil
}

func int64Var(fs *flag.FlagSet, name string, def int64, usage string) *int64 {
	p := new(int64)
	*p = def
	fs.Var(&int64Flag{p}, name, usage)
	return p
}

// thresholdFlag is --threshold of eval and predict: a percentage in (0, 100); 0 when not
// given.
type thresholdFlag float64

func (t *thresholdFlag) String() string { return strconv.FormatFloat(float64(*t), 'g', -1, 64) }
func (t *thresholdFlag) Set(v string) error {
	f, err := strict.Float(strings.TrimSuffix(v, "%"))
	if err != nil || !(f > 0 && f < 100) {
		return fmt.Errorf("want a percentage in (0, 100), one of the thresholds of goodnet prune")
	}
	*t = thresholdFlag(f)
	return nil
}

func thresholdVar(fs *flag.FlagSet, usage string) *float64 {
	t := new(float64)
	fs.Var((*thresholdFlag)(t), "threshold", usage)
	return t
}

// checkThreshold refuses --threshold without a directory to pick from: with a B' file it
// would be ignored.
func checkThreshold(threshold float64, bprime string, fineTuned bool) error {
	if threshold == 0 {
		if fineTuned {
			return usagef("--finetuned picks the fine-tuned B' of --threshold T from the --out directory of goodnet prune: give --threshold")
		}
		return nil
	}
	if bprime == "" {
		return usagef("--threshold %g picks a B' from the --out directory of goodnet prune given as --pruned_bad_model_weights, and there is none", threshold)
	}
	if st, err := os.Stat(bprime); err == nil && !st.IsDir() {
		return usagef("--threshold %g picks a B' from the --out directory of goodnet prune, and --pruned_bad_model_weights %s is a file: give the directory, or the file without --threshold", threshold, bprime)
	}
	return nil
}

// fineTunedVar is --finetuned of the commands that take --pruned_bad_model_weights DIR.
func fineTunedVar(fs *flag.FlagSet) *bool {
	return fs.Bool("finetuned", false, "with --pruned_bad_model_weights DIR and --threshold T: the fine-tuned B' (bprime_T_ft.h5 of prune --finetune-epochs) instead of B'")
}

// scaleFlag is --scale: a positive float multiplying pixels.
type scaleFlag float32

func (s *scaleFlag) String() string { return fmt.Sprint(float32(*s)) }
func (s *scaleFlag) Set(v string) error {
	if a, b, ok := strings.Cut(v, "/"); ok {
		x, err1 := strict.Float(a)
		y, err2 := strict.Float(b)
		if err1 == nil && err2 == nil && y != 0 {
			return fmt.Errorf("write the value (%s), not a fraction", strconv.FormatFloat(x/y, 'g', -1, 64))
		}
	}
	f, err := strict.Float32(v)
	if err != nil || !(f > 0) || f > 1e6 {
		return fmt.Errorf("want a positive number from 1.2e-38 to 1e6 (1 for raw 0–255 pixels, 0.00392156862745098 for x/255)")
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
		x, err := strict.Float32(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("%q is not a number float32 holds (want one per channel, comma-separated: 0.4914,0.4822,0.4465)", p)
		}
		out = append(out, x)
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
