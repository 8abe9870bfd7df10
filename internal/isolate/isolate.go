// Package isolate runs a file reader once in a child process before the real process trusts
// it with a file from a stranger.
//
// libhdf5 (1.10, Debian's) crashes (SIGSEGV, SIGBUS) or loops forever on some crafted files,
// inside C code that no Go check can guard. goodnet's loaders (keras.LoadModel, LoadWeights,
// Inspect, dataset.Load) therefore first run the same load in a copy of the running
// executable: when the child finishes — whether the load succeeded or returned an error — the
// parent runs the load itself, which makes exactly the same libhdf5 calls on the same bytes and
// so cannot crash either; when the child dies or runs past its time limit, the parent reports
// the file as corrupt and never opens it.
//
// The child is the running executable (os.Executable) started with GOODNET_ISOLATE_OP=<name>:
// the loader's package registers the operation in an init function (Register), and Register,
// seeing the variable, runs the operation and exits before main (or a test binary's tests)
// starts. Arguments travel in GOODNET_ISOLATE_ARGS (JSON), an optional input on stdin. The
// child's output is discarded (a crash dump is not the user's business; the parent's error
// says what happened). The child dies with its parent (Pdeathsig on Linux).
//
// Cost: one process start (a few ms) plus the load done twice. GOODNET_ISOLATE=0 (or
// Enabled = false) runs loads in-process only, as trusted-input tools and benchmarks may
// want. Where the executable cannot be found, loads run in-process.
package isolate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Func is an operation run in the child: it gets Run's arguments and input. Its result is
// not used (the parent repeats the operation); only whether it returns matters.
type Func func(args []string, input []byte) error

const (
	envOp   = "GOODNET_ISOLATE_OP"
	envArgs = "GOODNET_ISOLATE_ARGS"
	envOff  = "GOODNET_ISOLATE"
)

var (
	funcs = map[string]Func{}
	// Enabled turns isolation on (the default, unless GOODNET_ISOLATE=0).
	Enabled = os.Getenv(envOff) != "0"
	// Timeout is the time limit of a child for an input of size bytes: 20 s plus 1 s per 20 MB
	// (the lab's largest set, 800 MB, loads in under 1 s from the page cache and in about 8 s
	// from a 100 MB/s disk). GOODNET_ISOLATE_TIMEOUT (a Go duration) replaces the 20 s.
	Timeout     = func(size int64) time.Duration { return baseTimeout + time.Duration(size/(20<<20))*time.Second }
	baseTimeout = envDuration("GOODNET_ISOLATE_TIMEOUT", 20*time.Second)
	// inChild is set in a child: nothing is isolated again.
	inChild = os.Getenv(envOp) != ""
)

// Register names an operation. Call it from an init function: in a child started for name,
// Register runs fn right away and exits with status 0 when fn returns.
func Register(name string, fn Func) {
	if _, dup := funcs[name]; dup {
		panic("isolate: " + name + " registered twice")
	}
	funcs[name] = fn
	if os.Getenv(envOp) != name {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "isolate: bad %s: %v\n", envArgs, err)
		os.Exit(97)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "isolate: reading the input: %v\n", err)
		os.Exit(97)
	}
	_ = fn(args, input)
	os.Exit(0)
}

// Crash is the error of a child that did not finish: it crashed, was killed, or ran past its
// time limit.
type Crash struct {
	Op     string
	Reason string // "was killed by signal SIGSEGV", "did not finish in 2m0s", ...
}

func (c *Crash) Error() string { return c.Reason }

// Interrupted is the error of a child stopped by SIGINT, SIGTERM or SIGHUP: Ctrl-C reaches the
// whole process group, so the user stopped the run — nothing is known about the file.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string { return "interrupted (" + e.Signal.String() + ")" }

// Run runs the operation name in a child process with args and input, for a file of size
// bytes (for the time limit). It returns nil when the child finished (or isolation is off, or
// this is a child, or the executable cannot be found), an *Interrupted when the user stopped
// it, and a *Crash when it did not finish otherwise.
func Run(name string, args []string, input []byte, size int64) error {
	if !Enabled || inChild {
		return nil
	}
	if _, ok := funcs[name]; !ok {
		panic("isolate: operation " + name + " is not registered")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	js, err := json.Marshal(args)
	if err != nil {
		return err
	}
	limit := Timeout(size)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Args = []string{exe, "-isolate-child=" + name}
	cmd.Env = append(os.Environ(), envOp+"="+name, envArgs+"="+string(js))
	cmd.Stdin = bytes.NewReader(input)
	var stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.SysProcAttr = sysProcAttr()
	// Pdeathsig fires when the thread that started the child exits: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &Crash{Op: name, Reason: fmt.Sprintf("did not finish in %v", limit)}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			switch ws.Signal() {
			case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
				return &Interrupted{Signal: ws.Signal()}
			}
			return &Crash{Op: name, Reason: fmt.Sprintf("was killed by signal %s", signalName(ws.Signal()))}
		}
		// A Go runtime crash (a signal in C code, a panic) exits with 2 after a first line
		// such as "SIGSEGV: segmentation violation" or "panic: ...".
		if line := firstLine(stderr.Bytes()); line != "" {
			return &Crash{Op: name, Reason: fmt.Sprintf("crashed (%s)", line)}
		}
		return &Crash{Op: name, Reason: fmt.Sprintf("exited with status %d", ee.ExitCode())}
	}
	// The child could not be started (no memory, no processes left): run in-process.
	return nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{syscall.SIGSEGV: "SIGSEGV", syscall.SIGBUS: "SIGBUS", syscall.SIGABRT: "SIGABRT",
		syscall.SIGKILL: "SIGKILL", syscall.SIGILL: "SIGILL", syscall.SIGFPE: "SIGFPE"}
	if n, ok := names[s]; ok {
		return n
	}
	return s.String()
}

// limitedBuffer keeps the first 4 KB written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	s := string(bytes.TrimSpace(b))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
