// Command goodnet repairs backdoored Keras classifiers with Fine-Pruning and evaluates the
// repaired GoodNet G(B, B'). Run `goodnet -h` for the subcommands.
//
// This file only dispatches; each subcommand parses its flags in its own file and calls the
// library (package pipeline and below).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	"goodnet/internal/atomicfile"
	"goodnet/internal/esc"
	"goodnet/internal/isolate"

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

// Signals that stop a run cleanly: temporary files removed, outputs as they were or
// complete, one line on stderr, exit status 128 + the signal's number (SIGHUP 129, SIGINT 130,
// SIGQUIT 131, SIGTERM 143). GOODNET_SIGQUIT=dump leaves SIGQUIT to Go's runtime (a stack
// dump of every goroutine, exit status 2) for debugging a run that hangs.
func stopSignals() []os.Signal {
	s := []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM}
	if os.Getenv("GOODNET_SIGQUIT") != "dump" {
		s = append(s, syscall.SIGQUIT)
	}
	return s
}

// signalStatus is the exit status of a run stopped by s: 128 + its number, as a shell
// reports a process killed by it.
func signalStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 130
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, stopSignals()...)
	go func() {
		s := <-sig
		stop(s, os.Stderr)
		os.Exit(signalStatus(s))
	}()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status. Every write to stdout is
// checked: a command whose results could not be written (a full disk, /dev/full, a closed
// pipe's EPIPE) fails with one line and exit status 1.
func run(args []string, stdout, stderr io.Writer) int {
	out := &checkedWriter{w: stdout}
	helpOut = out
	name, err := dispatch(args, out, stderr)
	prefix, hint := "goodnet", "goodnet -h"
	if name != "" {
		prefix, hint = "goodnet "+name, "goodnet "+name+" -h"
	}
	var ue usageError
	var intr *isolate.Interrupted
	var crash *isolate.Crash
	switch {
	case errors.As(err, &intr):
		// A child reading a file was stopped by the user's signal, which this process got
		// too: the same exit as the signal handler's, whichever comes first.
		stop(intr.Signal, stderr)
		return signalStatus(intr.Signal)
	case errors.As(err, &crash) && strings.HasPrefix(crash.Reason, "crashed (SIGQUIT"):
		// Ctrl-\ reaches the child too, whose Go runtime dumps its stack and exits.
		stop(syscall.SIGQUIT, stderr)
		return signalStatus(syscall.SIGQUIT)
	case out.err != nil && (err == nil || errors.Is(err, helpRequested) || errors.Is(err, out.err)):
		fmt.Fprintf(stderr, "%s: cannot write the results to standard output: %v\n", prefix, oneLine(unwrapPath(out.err).Error()))
		return 1
	case err == nil, errors.Is(err, helpRequested):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s (see '%s')\n", prefix, oneLine(err.Error()), hint)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(err.Error()))
		return 1
	}
}

// dispatch runs the command of args and returns its name ("" for goodnet itself).
func dispatch(args []string, stdout, stderr io.Writer) (string, error) {
	if len(args) == 0 {
		mainUsage(stderr)
		return "", usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) == 1 {
			mainUsage(stdout)
			return "", helpRequested
		}
		c := commands[args[1]]
		if c == nil {
			return "", usagef("help: unknown command %q", args[1])
		}
		if len(args) > 2 {
			return "", usagef("help takes one command, not %q", strings.Join(args[1:], " "))
		}
		return c.name, c.run([]string{"-h"}, stdout, stderr)
	}
	c := commands[args[0]]
	if c == nil {
		if strings.HasPrefix(args[0], "-") {
			return "", usagef("unknown flag %s: give a command first", args[0])
		}
		return "", usagef("unknown command %q", args[0])
	}
	return c.name, c.run(args[1:], stdout, stderr)
}

// checkedWriter keeps the first error of the writes to w; later writes fail with it.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var stopOnce sync.Once

// stop ends a run stopped by signal s (its exit status follows): temporary files, the output
// generation being written and the directories this run made are removed, and nothing is
// renamed into place any more (atomicfile.Interrupt); one line says so, once.
func stop(s os.Signal, stderr io.Writer) {
	stopOnce.Do(func() {
		atomicfile.Interrupt()
		fmt.Fprintf(stderr, "goodnet: stopped by %s; every output is as it was before the run or complete, none half-written\n", signalName(s))
	})
}

// oneLine makes an error one safe line: every control character, newlines included, and
// every other non-printable rune escaped (internal/esc) — an error names files and layers
// that strangers named, and a newline or an escape sequence in one must not reach the
// terminal as such.
func oneLine(s string) string {
	return esc.Text(strings.TrimSpace(s))
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
128 + the signal's number when stopped by a signal (SIGHUP 129, SIGINT/Ctrl-C 130, SIGQUIT 131,
SIGTERM 143).
`)
}
