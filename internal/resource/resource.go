// Package resource is goodnet's resource policy for files from strangers. A small file can
// ask for a lot: a few hundred KB of compressed zeros can declare gigabytes of images or
// weights, a short model_config a graph of gigaflops per image. So before anything is
// allocated from what a file declares, the code that will allocate it — every loader
// (keras, onnx, dataset) and engine (host, gpu) — computes what it will need and asks Check
// whether that fits: what the process already holds plus the need must stay under the memory
// limit. Before a model runs, its FLOPs per image are held to a cap (CheckFLOPs). Above
// either, the error names what would be needed and the limit, in one line; the caller adds
// the file. Code that works in batches asks Fit how many items of a given size fit, and
// shrinks its batches rather than fail.
//
// The memory limit is --max-memory (SetMemory) or else derived from this process's memory:
// 3/4 of the least of the machine's memory (MemTotal), the cgroup's memory limit and the
// address space left under RLIMIT_AS (ulimit -v, prlimit --as). The FLOP cap is
// DefaultGFLOPs per image unless --max-gflops says otherwise (0 lifts it). Both travel to
// child processes in the environment (GOODNET_MAX_MEMORY, GOODNET_MAX_GFLOPS).
package resource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

const (
	envMemory = "GOODNET_MAX_MEMORY"
	envGFLOPs = "GOODNET_MAX_GFLOPS"
	// DefaultGFLOPs is the FLOP cap per image unless --max-gflops changes it: 50 GFLOP, above
	// VGG-16 on ImageNet's 224×224 images (31) and far above the lab's DeepID (0.016).
	DefaultGFLOPs = 50
)

var (
	mu       sync.Mutex
	explicit int64 // --max-memory; 0: derived
	derived  int64
	source   string
	gflops   = float64(DefaultGFLOPs)
	inited   bool
	mapped   atomic.Int64
)

// Mapped counts n more bytes (n < 0: fewer) of memory mapped outside the Go heap (the results
// of child processes) in InUse.
func Mapped(n int64) { mapped.Add(n) }

func initLocked() {
	if inited {
		return
	}
	inited = true
	derived, source = defaultLimit()
	if v := os.Getenv(envMemory); v != "" {
		if n, err := ParseSize(v); err == nil {
			explicit = n
		}
	}
	if v := os.Getenv(envGFLOPs); v != "" {
		if g, err := strconv.ParseFloat(v, 64); err == nil && g >= 0 && !math.IsInf(g, 0) {
			gflops = g
		}
	}
	limitGo()
}

// limitGo makes the Go collector work harder as the heap nears the limit (a soft limit on
// the Go runtime's memory, the whole of what the process may use).
func limitGo() {
	l := explicit
	if l == 0 {
		l = derived / 3 * 4
	}
	if l > 0 && l < math.MaxInt64/2 {
		debug.SetMemoryLimit(l)
	}
}

// SetMemory sets the memory limit to n bytes (--max-memory), for this process and the child
// processes it starts; 0 restores the default.
func SetMemory(n int64) {
	mu.Lock()
	defer mu.Unlock()
	initLocked()
	explicit = max(n, 0)
	if n > 0 {
		os.Setenv(envMemory, strconv.FormatInt(n, 10))
	} else {
		os.Unsetenv(envMemory)
	}
	limitGo()
}

// SetGFLOPs sets the cap on FLOPs per image, in GFLOP (--max-gflops); 0 lifts it.
func SetGFLOPs(g float64) {
	mu.Lock()
	defer mu.Unlock()
	initLocked()
	gflops = g
	os.Setenv(envGFLOPs, strconv.FormatFloat(g, 'g', -1, 64))
}

// Memory is the memory limit in bytes and where it comes from ("--max-memory", "3/4 of this
// machine's memory", ...).
func Memory() (int64, string) {
	mu.Lock()
	defer mu.Unlock()
	initLocked()
	if explicit > 0 {
		return explicit, "--max-memory"
	}
	return derived, source
}

// GFLOPs is the cap on FLOPs per image in GFLOP (0: none).
func GFLOPs() float64 {
	mu.Lock()
	defer mu.Unlock()
	initLocked()
	return gflops
}

// InUse is what the process holds now: the Go heap's live and not yet collected objects
// (every large buffer of goodnet is Go memory) plus the memory mapped for child results.
func InUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	var n int64
	if s[0].Value.Kind() == metrics.KindUint64 {
		n = int64(s[0].Value.Uint64())
	}
	return n + mapped.Load()
}

// TooLarge is the error of a need above the limit.
type TooLarge struct {
	What  string // "its weights (layer \"fc\": 65536×4096 float32)", ...
	Need  int64  // bytes
	InUse int64  // bytes the process held when it was checked
	Limit int64
	From  string // where the limit comes from
}

func (e *TooLarge) Error() string {
	held := ""
	if e.InUse >= 16<<20 {
		held = fmt.Sprintf(" with %s already in use", Bytes(e.InUse))
	}
	from := e.From + "; --max-memory raises it"
	if e.From == "--max-memory" {
		from = e.From
	}
	return fmt.Sprintf("%s would need %s%s, above the memory limit of %s (%s)", e.What, Bytes(e.Need), held, Bytes(e.Limit), from)
}

// ErrTooLarge matches every *TooLarge and *TooSlow with errors.Is.
var ErrTooLarge = errors.New("above the resource limits")

func (e *TooLarge) Is(target error) bool { return target == ErrTooLarge }

// Check returns a *TooLarge when need more bytes, on top of what the process holds, would
// exceed the memory limit. what says what they are for ("48355 images of 55×47×3 as
// float32"); the caller names the file.
func Check(need int64, what string) error {
	if need < 0 {
		need = math.MaxInt64 / 2
	}
	limit, from := Memory()
	used := InUse()
	if need > limit-used {
		// garbage not yet collected is not in use: collect it before refusing
		runtime.GC()
		if used = InUse(); need > limit-used {
			return &TooLarge{What: what, Need: need, InUse: used, Limit: limit, From: from}
		}
	}
	return nil
}

// Fits reports whether need more bytes fit under the limit now (after a collection, if they
// do not at first).
func Fits(need int64) bool {
	limit, _ := Memory()
	if need < 0 {
		return false
	}
	if need <= limit-InUse() {
		return true
	}
	runtime.GC()
	return need <= limit-InUse()
}

// Fit is how many items of per bytes each fit, besides fixed bytes, in what is left under the
// limit: at most want, at least 0 (the caller shrinks its batches to it; 0 means none fits).
// As Check, it collects garbage before it says that none fits: Check would find room for
// one item where Fit said none, and a caller that asks Check why gets no error.
func Fit(fixed, per int64, want int) int {
	if per <= 0 {
		return want
	}
	limit, _ := Memory()
	fit := func() int {
		left := limit - InUse() - fixed
		if left <= 0 {
			return 0
		}
		return int(min(int64(want), left/per))
	}
	n := fit()
	if n == 0 && want > 0 {
		runtime.GC()
		n = fit()
	}
	return n
}

// TooSlow is the error of a model above the FLOP cap.
type TooSlow struct {
	FLOPs int64   // per image
	Cap   float64 // GFLOP
}

func (e *TooSlow) Error() string {
	return fmt.Sprintf("the model needs %s per image, above the cap of %g GFLOP (--max-gflops; 0 lifts it)", FLOPs(e.FLOPs), e.Cap)
}

func (e *TooSlow) Is(target error) bool { return target == ErrTooLarge }

// CheckFLOPs returns a *TooSlow when flops per image exceed the cap.
func CheckFLOPs(flops int64) error {
	g := GFLOPs()
	if g > 0 && float64(flops) > g*1e9 {
		return &TooSlow{FLOPs: flops, Cap: g}
	}
	return nil
}

// Bytes formats a size: "512 B", "3.2 KB", "1.07 GB" (powers of 1000, as df -H).
func Bytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB", "PB"} {
		if math.Abs(f) < 1000 || u == "PB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.3g %s", f, u)
		}
		f /= 1000
	}
	return ""
}

// FLOPs formats a FLOP count: "137 GFLOP".
func FLOPs(n int64) string {
	f := float64(n)
	for _, u := range []string{"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"} {
		if f < 1000 || u == "PFLOP" {
			return fmt.Sprintf("%.3g %s", f, u)
		}
		f /= 1000
	}
	return ""
}

// ParseSize reads a size: a number of bytes, or a number with a unit K, M, G, T (powers of
// 1024; KB/KiB, MB/MiB, ... too): "512M", "8G", "1.5GiB", "1000000". It must be positive.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	mult := map[string]float64{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
		"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}[unit]
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || mult == 0 || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v*mult >= math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512M, 8G)", s)
	}
	n := int64(v * mult)
	if n < 1 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512M, 8G)", s)
	}
	return n, nil
}

// defaultLimit is 3/4 of the least of the machine's memory, the cgroup's limit and the
// address space left under RLIMIT_AS.
func defaultLimit() (int64, string) {
	best, src := int64(math.MaxInt64/4), "no limit found"
	if t := memTotal(); t > 0 {
		best, src = t/4*3, "3/4 of this machine's memory"
	}
	if c := cgroupLimit(); c > 0 && c/4*3 < best {
		best, src = c/4*3, "3/4 of the cgroup's memory limit"
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur != math.MaxUint64 && rl.Cur < math.MaxInt64 {
		left := int64(rl.Cur) - vmSize()
		if left < 0 {
			left = 0
		}
		if left/4*3 < best {
			best, src = left/4*3, "3/4 of the address space left under ulimit -v"
		}
	}
	return best, src
}

func memTotal() int64 {
	return procField("/proc/meminfo", "MemTotal:")
}

func vmSize() int64 {
	return procField("/proc/self/status", "VmSize:")
}

// procField reads a "Name:   1234 kB" line of a /proc file, in bytes (0 if absent).
func procField(path, name string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			if len(f) > 1 && f[1] == "kB" {
				n *= 1024
			}
			return n
		}
	}
	return 0
}

// cgroupLimit is the memory limit of this process's cgroup (v2 memory.max, v1
// memory.limit_in_bytes), 0 if none.
func cgroupLimit() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var files []string
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = []string{"/sys/fs/cgroup" + parts[2] + "/memory.max", "/sys/fs/cgroup/memory.max"}
		case strings.Contains(","+parts[1]+",", ",memory,"):
			files = []string{"/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
		default:
			continue
		}
		for _, f := range files {
			v, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			s := strings.TrimSpace(string(v))
			if s == "max" {
				return 0
			}
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<60 {
				return n
			}
		}
	}
	return 0
}

// Model is what CheckModel needs of a model (goodnet/nn's *Model).
type Model interface {
	FLOPs() int64          // per image
	Params() int           // weights
	CostError(error) error // names the model's file in err
}

// CheckModel applies the policy to running m on an engine: its FLOPs per image must be under
// the cap, and copies more copies of its weights (what the engine repacks or uploads) must fit
// the memory limit. The error names m's file.
func CheckModel(m Model, copies int) error {
	if err := CheckFLOPs(m.FLOPs()); err != nil {
		return m.CostError(err)
	}
	need := int64(copies) * 4 * int64(m.Params())
	return m.CostError(Check(need, fmt.Sprintf("preparing it for the engine (%d copies of its %d weights)", copies, m.Params())))
}
