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

func main() {
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
