// Package isolate parses a file from a stranger in a child process and hands the parent what
// the child parsed: the parent never runs the parser (libhdf5) on those bytes itself.
//
// libhdf5 (1.10, Debian's) crashes (SIGSEGV, SIGBUS) or loops forever on some crafted files,
// inside C code that no Go check can guard. goodnet's HDF5 loaders (keras.LoadModel,
// LoadWeights, Inspect, LoadArchive's weights, dataset.Load) therefore run their parsing in a
// copy of the running executable, read once:
//
//   - the parent opens the file once and passes that descriptor to the child (fd 3), which
//     reads the file through it (/proc/self/fd/3): replacing the file or re-pointing a
//     symbolic link after the parent opened it changes nothing;
//   - the child writes what it parsed — metadata as JSON and binary blobs (weights, labels,
//     decompressed data) — into a memory file (memfd, fd 4) that the parent maps read-only
//     when the child has exited normally (Call's Result); the parent decodes it with plain Go
//     code and no libhdf5;
//   - when the child dies, runs out of memory or runs past its time limit, Call returns a
//     *Crash saying which, and the parent has no result to use.
//
// The child is the running executable (os.Executable) started with GOODNET_ISOLATE_OP=<name>:
// the loader's package registers the operation in an init function (Register), and Register,
// seeing the variable, runs the operation and exits before main (or a test binary's tests)
// starts. Arguments travel in GOODNET_ISOLATE_ARGS (JSON), an optional input on stdin. The
// child's output is discarded (a crash dump is not the user's business; the parent's error
// says what happened). The child dies with its parent (Pdeathsig on Linux).
//
// Cost: one process start (a few ms) and the parsing, once. GOODNET_ISOLATE=0 (or Enabled =
// false) runs the operation in this process (Local), as trusted-input tools and benchmarks
// may want, through the same Result; so does a process that cannot start its executable.
package isolate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Func is an operation: it parses file (the descriptor the parent opened; the file's name
// for messages is among args, by the operation's convention) and writes what it parsed to
// out. An error is the operation's answer too: it travels to the parent as its message.
type Func func(file *os.File, args []string, input []byte, out *Writer) error

const (
	envOp   = "GOODNET_ISOLATE_OP"
	envArgs = "GOODNET_ISOLATE_ARGS"
	envOff  = "GOODNET_ISOLATE"
	// the descriptors of the child: the file and the result
	childFileFD   = 3
	childResultFD = 4
)

var (
	funcs = map[string]Func{}
	// Enabled turns isolation on (the default, unless GOODNET_ISOLATE=0).
	Enabled = os.Getenv(envOff) != "0"
	// Timeout is the time limit of a child for an input of size bytes: 20 s plus 1 s per 20 MB
	// (the lab's largest set, 800 MB, loads in under 1 s from the page cache and in about 8 s
	// from a 100 MB/s disk). GOODNET_ISOLATE_TIMEOUT (a Go duration) replaces the 20 s. The
	// parent's own reads of such a file (dataset's contiguous data) have the same limit.
	Timeout     = func(size int64) time.Duration { return baseTimeout + time.Duration(size/(20<<20))*time.Second }
	baseTimeout = envDuration("GOODNET_ISOLATE_TIMEOUT", 20*time.Second)
	// inChild is set in a child: nothing is isolated again.
	inChild = os.Getenv(envOp) != ""
)

// InChild reports whether this process is an isolation child.
func InChild() bool { return inChild }

// Register names an operation. Call it from an init function: in a child started for name,
// Register runs fn right away, writes its result and exits with status 0.
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
	testStall()
	file := os.NewFile(childFileFD, "file")
	out := &Writer{f: os.NewFile(childResultFD, "result")}
	if err := out.finish(fn(file, args, input, out)); err != nil {
		fmt.Fprintf(os.Stderr, "isolate: writing the result: %v\n", err)
		os.Exit(98)
	}
	os.Exit(0)
}

// testStall lets a test act while a child reads (GOODNET_ISOLATE_TEST_STALL=DIR: the child
// creates DIR/started, then waits up to a minute for DIR/go): the test of a file swapped
// while the child reads it.
func testStall() {
	dir := os.Getenv("GOODNET_ISOLATE_TEST_STALL")
	if dir == "" {
		return
	}
	os.WriteFile(dir+"/started", nil, 0o644)
	for t0 := time.Now(); time.Since(t0) < time.Minute; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(dir + "/go"); err == nil {
			return
		}
	}
}

// Crash is the error of a child that did not finish: it crashed, ran out of memory, was
// killed, or ran past its time limit.
type Crash struct {
	Op     string
	Kind   CrashKind
	Reason string // "was killed by signal SIGSEGV", "did not finish in 2m0s", ...
}

// CrashKind says how a child ended.
type CrashKind int

const (
	Crashed     CrashKind = iota // a signal, a panic, an unexpected exit status
	TimedOut                     // past its time limit
	OutOfMemory                  // the Go runtime or the kernel ran out of memory
)

func (c *Crash) Error() string { return c.Reason }

// Interrupted is the error of a child stopped by SIGINT, SIGTERM or SIGHUP: Ctrl-C reaches the
// whole process group, so the user stopped the run — nothing is known about the file.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string { return "interrupted (" + e.Signal.String() + ")" }

// OpError is the error an operation returned (in the child or here): its message.
type OpError struct{ Msg string }

func (e *OpError) Error() string { return e.Msg }

// Call runs the operation name on file (read through that descriptor) with args and input,
// in a child process, and returns what it wrote (Close the Result when done with it). size
// is the file's size, for the time limit. The error is the operation's own (an *OpError), an
// *Interrupted when the user stopped the child, or a *Crash when it did not finish. With
// isolation off, in a child, or when the executable cannot be started, the operation runs
// here (Local).
func Call(name string, file *os.File, args []string, input []byte, size int64) (*Result, error) {
	if _, ok := funcs[name]; !ok {
		panic("isolate: operation " + name + " is not registered")
	}
	if !Enabled || inChild {
		return Local(name, file, args, input)
	}
	exe, err := os.Executable()
	if err != nil {
		return Local(name, file, args, input)
	}
	js, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	rf, err := newResultFile()
	if err != nil {
		return nil, fmt.Errorf("isolate: %w", err)
	}
	defer rf.Close()
	if file == nil {
		if file, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
		defer file.Close()
	}
	limit := Timeout(size)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Args = []string{exe, "-isolate-child=" + name}
	cmd.Env = append(os.Environ(), envOp+"="+name, envArgs+"="+string(js))
	cmd.Stdin = bytes.NewReader(input)
	cmd.ExtraFiles = []*os.File{file, rf} // fds 3 and 4
	var stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.SysProcAttr = sysProcAttr()
	kills := oomKills()
	// Pdeathsig fires when the thread that started the child exits: keep it.
	runtime.LockOSThread()
	err = cmd.Run()
	runtime.UnlockOSThread()
	if err == nil {
		return readResult(rf)
	}
	if ctx.Err() != nil {
		return nil, &Crash{Op: name, Kind: TimedOut, Reason: fmt.Sprintf("did not finish in %v", limit)}
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		// The child could not be started (no memory, no processes left): run here.
		return Local(name, file, args, input)
	}
	line := firstLine(stderr.Bytes())
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
			return nil, &Interrupted{Signal: ws.Signal()}
		case syscall.SIGKILL:
			// the kernel's OOM killer sends SIGKILL; so does a user, rarely
			if k := oomKills(); k >= 0 && kills >= 0 && k > kills {
				return nil, &Crash{Op: name, Kind: OutOfMemory, Reason: "ran out of memory (killed by the kernel)"}
			}
		}
		return nil, &Crash{Op: name, Kind: Crashed, Reason: fmt.Sprintf("was killed by signal %s", signalName(ws.Signal()))}
	}
	// A Go runtime crash (a signal in C code, a panic, no memory) exits with 2 after a first
	// line such as "SIGSEGV: segmentation violation", "panic: ..." or "fatal error: runtime:
	// out of memory"; cgo's failed thread creation says "pthread_create failed".
	switch {
	case strings.Contains(line, "out of memory"), strings.Contains(line, "cannot allocate memory"),
		strings.Contains(line, "pthread_create failed"):
		return nil, &Crash{Op: name, Kind: OutOfMemory, Reason: fmt.Sprintf("ran out of memory (%s)", line)}
	case line != "":
		// "SIGSEGV: segmentation violation" (a signal in C code): what happened, in words
		if sig, what, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(sig, "SIG") && strings.ToUpper(sig) == sig {
			line = what
		}
		return nil, &Crash{Op: name, Kind: Crashed, Reason: fmt.Sprintf("crashed (%s)", line)}
	}
	return nil, &Crash{Op: name, Kind: Crashed, Reason: fmt.Sprintf("exited with status %d", ee.ExitCode())}
}

// MemFile is a new anonymous file in memory (a memfd; an unlinked temporary file where there
// is none), for data extracted from another file (the weights inside a .keras archive) to
// hand to Call.
func MemFile(name string) (*os.File, error) { return newResultFile() }

// Local runs the operation name in this process, through the same Result as Call: for
// trusted files, and for fuzzing the child's parsing in-process.
func Local(name string, file *os.File, args []string, input []byte) (*Result, error) {
	fn, ok := funcs[name]
	if !ok {
		panic("isolate: operation " + name + " is not registered")
	}
	w := &Writer{}
	if err := fn(file, args, input, w); err != nil {
		w.release()
		return nil, &OpError{Msg: err.Error()}
	}
	return &Result{meta: w.meta, blobs: w.mem}, nil
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

// The result file: the blobs, each at a page boundary, then a JSON header (the metadata, the
// operation's error, where each blob is), then a trailer: the header's offset (8 bytes,
// little-endian) and resultMagic.
const resultMagic = "GNRES001"

type header struct {
	Meta  json.RawMessage `json:"meta,omitempty"`
	Err   *string         `json:"err,omitempty"`
	Blobs [][2]int64      `json:"blobs,omitempty"` // offset, length
}

// maxHeader bounds the header the parent reads (the metadata of an inspected file with 100,000
// objects is a few MB).
const maxHeader = 256 << 20

// Writer is where an operation writes its result: metadata (Meta) and binary blobs (Blob).
type Writer struct {
	f     *os.File // the result file (child); nil: in memory (Local)
	size  int64
	meta  []byte
	blobs [][2]int64
	maps  [][]byte // the child's writable mappings
	mem   [][]byte // Local: the blobs
	index map[uintptr]int
}

// BlobOf is the index of the blob that starts at p.
func (w *Writer) BlobOf(p unsafe.Pointer) (int, bool) {
	i, ok := w.index[uintptr(p)]
	return i, ok
}

func (w *Writer) remember(b []byte, i int) {
	if w.index == nil {
		w.index = map[uintptr]int{}
	}
	w.index[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = i
}

// Meta sets the metadata: v as JSON.
func (w *Writer) Meta(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.meta = b
	return nil
}

// Blob adds a blob of n bytes and returns it to be filled, and its index.
func (w *Writer) Blob(n int) ([]byte, int, error) {
	if n < 0 {
		return nil, 0, fmt.Errorf("isolate: blob of %d bytes", n)
	}
	i := len(w.blobs)
	if w.f == nil {
		b := make([]byte, n)
		w.mem = append(w.mem, b)
		w.blobs = append(w.blobs, [2]int64{0, int64(n)})
		w.remember(b, i)
		return b, i, nil
	}
	off := (w.size + pageSize - 1) / pageSize * pageSize
	w.blobs = append(w.blobs, [2]int64{off, int64(n)})
	w.size = off + int64(n)
	if n == 0 {
		b := []byte{}
		w.remember(b, i)
		return b, i, nil
	}
	if err := w.f.Truncate(w.size); err != nil {
		return nil, 0, fmt.Errorf("too large to read: no memory for the %d bytes read (%w)", n, err)
	}
	b, err := mmap(w.f, off, n, true)
	if err != nil {
		return nil, 0, fmt.Errorf("too large to read: no memory for the %d bytes read (%w)", n, err)
	}
	w.maps = append(w.maps, b)
	w.remember(b, i)
	return b, i, nil
}

// Bytes adds a blob holding a copy of b and returns its index.
func (w *Writer) Bytes(b []byte) (int, error) {
	dst, i, err := w.Blob(len(b))
	if err != nil {
		return 0, err
	}
	copy(dst, b)
	return i, nil
}

func (w *Writer) release() {
	for _, m := range w.maps {
		munmap(m)
	}
	w.maps, w.mem = nil, nil
}

// finish writes the header and the trailer after the blobs (the child).
func (w *Writer) finish(opErr error) error {
	w.release()
	h := header{Meta: w.meta, Blobs: w.blobs}
	if opErr != nil {
		msg := opErr.Error()
		h = header{Err: &msg}
	}
	js, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var trailer [16]byte
	binary.LittleEndian.PutUint64(trailer[:8], uint64(w.size))
	copy(trailer[8:], resultMagic)
	_, err = w.f.WriteAt(append(js, trailer[:]...), w.size)
	return err
}

// Result is what an operation wrote. Its blobs are read-only views of the child's result
// (mapped): copy what must outlive Close.
type Result struct {
	meta  []byte
	blobs [][]byte
	data  []byte // the mapping
}

// Meta decodes the metadata into v.
func (r *Result) Meta(v any) error {
	if len(r.meta) == 0 {
		return errors.New("isolate: the result has no metadata")
	}
	return json.Unmarshal(r.meta, v)
}

// Blobs is the number of blobs.
func (r *Result) Blobs() int { return len(r.blobs) }

// Blob is blob i (nil if there is none).
func (r *Result) Blob(i int) []byte {
	if i < 0 || i >= len(r.blobs) {
		return nil
	}
	return r.blobs[i]
}

// Close releases the result's memory; its blobs must not be used afterwards.
func (r *Result) Close() error {
	if r == nil {
		return nil
	}
	if r.data != nil {
		munmap(r.data)
		mappedBytes(-int64(len(r.data)))
		r.data = nil
	}
	r.blobs, r.meta = nil, nil
	return nil
}

// readResult reads the result file of a child that exited normally.
func readResult(f *os.File) (*Result, error) {
	bad := func(why string) (*Result, error) {
		return nil, &Crash{Kind: Crashed, Reason: "left a broken result (" + why + ")"}
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 16 {
		return bad("no trailer")
	}
	var trailer [16]byte
	if _, err := f.ReadAt(trailer[:], size-16); err != nil {
		return nil, err
	}
	if string(trailer[8:]) != resultMagic {
		return bad("no trailer")
	}
	hoff := int64(binary.LittleEndian.Uint64(trailer[:8]))
	if hoff < 0 || hoff > size-16 || size-16-hoff > maxHeader {
		return bad("header out of range")
	}
	js := make([]byte, size-16-hoff)
	if _, err := f.ReadAt(js, hoff); err != nil {
		return nil, err
	}
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return bad("header: " + err.Error())
	}
	if h.Err != nil {
		return nil, &OpError{Msg: *h.Err}
	}
	r := &Result{meta: h.Meta}
	for _, b := range h.Blobs {
		if b[0] < 0 || b[1] < 0 || b[0] > hoff || b[1] > hoff-b[0] {
			return bad("blob out of range")
		}
	}
	if hoff > 0 {
		if r.data, err = mmap(f, 0, int(hoff), false); err != nil {
			return nil, fmt.Errorf("isolate: mapping the result: %w", err)
		}
		mappedBytes(int64(len(r.data)))
	}
	for _, b := range h.Blobs {
		if b[1] == 0 {
			r.blobs = append(r.blobs, []byte{})
			continue
		}
		r.blobs = append(r.blobs, r.data[b[0]:b[0]+b[1]:b[0]+b[1]])
	}
	return r, nil
}
