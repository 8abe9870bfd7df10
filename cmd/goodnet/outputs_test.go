package main

// What `goodnet prune` promises about its --out directory, tested with real processes:
// SIGKILL or a signal at any moment leaves the directory's names resolving into one complete
// run (report.json, sweep.csv and every bprime_<t>.h5 of the same run: the pruned channels
// report.json lists are exactly the zero channels of each file), with no temporary file in
// sight; HUP, INT, QUIT and TERM exit with 128 + the signal's number and leave nothing behind;
// a second run into a directory being written fails at once; results that cannot be written
// to stdout are a failure; text from files reaches the terminal escaped.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"goodnet/dataset"
	"goodnet/internal/atomicfile"
	"goodnet/internal/h5"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/pipeline"
)

// pruneEnv is a B with 24 channels to prune and three sets of n images: two clean ones
// labelled with B's own predictions (accuracy 100 %, so that pruning drops it and B' files
// are saved) and a poisoned one.
type pruneEnv struct {
	dir, model string
	m          *nn.Model
}

func newPruneEnv(t *testing.T, n int) *pruneEnv {
	t.Helper()
	e := &pruneEnv{dir: t.TempDir(), m: badNet(t, 24, 3)}
	e.model = filepath.Join(e.dir, "b.h5")
	if err := keras.SaveModel(e.m, e.model); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"clean.h5", "clean2.h5", "poison.h5"} {
		p := filepath.Join(e.dir, name)
		s := &nn.Set{X: pixels(n*10*8*3, len(name)), Y: make([]int32, n), N: n, H: 10, W: 8, C: 3}
		if err := dataset.Save(p, s, "uint8"); err != nil {
			t.Fatal(err)
		}
		if name == "poison.h5" {
			continue
		}
		stdout, stderr, code := cli(t, "predict", "--device", "cpu", "--bad_model", e.model, "--set", p)
		if code != 0 {
			t.Fatalf("predict: %s", stderr)
		}
		for i, f := range strings.Fields(stdout) {
			c, err := strconv.Atoi(f)
			if err != nil || i >= n {
				t.Fatalf("predict: %q", stdout)
			}
			s.Y[i] = int32(c)
		}
		if err := dataset.Save(p, s, "uint8"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// variant is one way to run prune: which clean set, which thresholds.
type variant struct {
	clean, thresholds string
	extra             []string
}

// Three runs that differ in every output: other pruning orders, other B' files, and one that
// reaches no threshold at all.
var variants = []variant{
	{"clean.h5", "0.5,1,2", nil},
	{"clean2.h5", "1,3", nil},
	{"clean.h5", "50", []string{"--max-steps", "3"}},
}

func (e *pruneEnv) args(out string, v variant) []string {
	return append([]string{"prune", "--device", "cpu", "--quiet", "--bad_model", e.model, "--clean_valid", filepath.Join(e.dir, v.clean),
		"--bad_valid", filepath.Join(e.dir, "poison.h5"), "--thresholds", v.thresholds, "--out", out}, v.extra...)
}

// runOf says which variant wrote a report.json (-1: none of them).
func runOf(rep []byte) int {
	var r struct {
		Thresholds []float64
		Sets       map[string]struct{ Path string }
	}
	if json.Unmarshal(rep, &r) != nil {
		return -1
	}
	for i, v := range variants {
		var th []string
		for _, x := range r.Thresholds {
			th = append(th, strconv.FormatFloat(x, 'g', -1, 64))
		}
		if strings.Join(th, ",") == v.thresholds && filepath.Base(r.Sets["clean_valid"].Path) == v.clean {
			return i
		}
	}
	return -1
}

// checkOneRun checks that dir's names resolve into one complete run and returns that run's
// report.json: every visible name is an output (no temporary file), report.json parses,
// sweep.csv has its steps, sweep.png decodes, the bprime files are exactly those it lists and
// the zero channels of each are exactly its pruned channels.
func (e *pruneEnv) checkOneRun(t *testing.T, dir string) []byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, ent := range ents {
		n := ent.Name()
		if n == atomicfile.MetaDir {
			continue
		}
		if strings.HasPrefix(n, ".") || strings.Contains(n, ".tmp") {
			t.Errorf("temporary file %s in %s", n, dir)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue // a link of a name the current run lacks: not an output
		}
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		files[n] = b
	}
	var rep struct {
		Layer string
		Steps []struct {
			CleanValid float64 `json:"clean_valid_acc"`
		}
		Saved []struct {
			Threshold      float64
			File           string
			PrunedChannels []int `json:"pruned_channels"`
		}
	}
	if err := json.Unmarshal(files["report.json"], &rep); err != nil {
		t.Fatalf("report.json: %v (files %v)", err, slices.Sorted(mapKeys(files)))
	}
	rows, err := csv.NewReader(bytes.NewReader(files["sweep.csv"])).ReadAll()
	if err != nil || len(rows) != 1+len(rep.Steps) {
		t.Errorf("sweep.csv: %d rows for %d steps in report.json (%v)", len(rows), len(rep.Steps), err)
	} else {
		for i, s := range rep.Steps {
			if got, want := rows[1+i][3], strconv.FormatFloat(s.CleanValid, 'f', 4, 64); got != want {
				t.Errorf("sweep.csv step %d: clean accuracy %s, report.json %s: not one run", i, got, want)
				break
			}
		}
	}
	if _, err := png.Decode(bytes.NewReader(files["sweep.png"])); err != nil {
		t.Errorf("sweep.png: %v", err)
	}
	var listed []string
	for _, s := range rep.Saved {
		listed = append(listed, s.File)
		if _, ok := files[s.File]; !ok {
			t.Errorf("report.json lists %s, which is not in %s", s.File, dir)
			continue
		}
		m := e.m.Clone()
		if err := keras.LoadWeights(m, filepath.Join(dir, s.File)); err != nil {
			t.Errorf("%s: %v", s.File, err)
			continue
		}
		if z := pipeline.ZeroChannels(m)[rep.Layer]; !slices.Equal(z, slices.Sorted(slices.Values(s.PrunedChannels))) {
			t.Errorf("%s: zero channels of %s are %v, report.json's pruned channels %v: not one run", s.File, rep.Layer, z, s.PrunedChannels)
		}
	}
	for n := range files {
		if strings.HasPrefix(n, "bprime_") && !slices.Contains(listed, n) {
			t.Errorf("%s is in %s but report.json does not list it (a stale file looking current)", n, dir)
		}
	}
	return files["report.json"]
}

// metaLeftovers lists what .goodnet holds besides the lock, the current and previous links
// and their generations.
func metaLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	meta := filepath.Join(dir, atomicfile.MetaDir)
	keep := map[string]bool{"lock": true, "current": true, "previous": true, "legacy": true}
	for _, l := range []string{"current", "previous"} {
		if g, err := os.Readlink(filepath.Join(meta, l)); err == nil {
			keep[g] = true
		}
	}
	ents, _ := os.ReadDir(meta)
	var left []string
	for _, e := range ents {
		if !keep[e.Name()] {
			left = append(left, e.Name())
		}
	}
	return left
}

// metaEntriesOf lists a directory's names (nil when it cannot be read).
func metaEntriesOf(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// waitLocked waits until a process holds dir's lock (it has read its inputs and made the
// directory), or the process has ended (done closed).
func waitLocked(t *testing.T, dir string, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		if f, err := os.Open(filepath.Join(dir, atomicfile.MetaDir, "lock")); err == nil {
			err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no process took the lock in 3 minutes")
	return false
}

// SIGKILL at 50 or more moments of prune runs (that many killed runs), and a signal at 17 more,
// into a directory holding a previous run's outputs: after each, the directory is one complete
// run (the previous or the new one).
func TestPruneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs prune 70 times")
	}
	bin := buildGoodnet(t)
	e := newPruneEnv(t, 6000)
	out := filepath.Join(e.dir, "out")

	// The previous run's files.
	r := runBinary(t, bin, 3*time.Minute, nil, e.args(out, variants[0])...)
	if r.code != 0 {
		t.Fatalf("first prune: exit %d: %s", r.code, r.stderr)
	}
	if runOf(e.checkOneRun(t, out)) != 0 {
		t.Fatal("the first run's report.json is not its own")
	}
	full := r.elapsed

	// 68 moments (more, up to 90, until 50 runs have been killed by SIGKILL: a run may finish
	// before its moment), whatever the machine's load: a third by time (fractions 0 to 1.16 of the
	// last complete run's duration: reading, the sweep), a third when the run's new
	// generation directory holds 0 to 5 files (writing), a third when it holds all of them
	// or once .goodnet/current has switched to it (committing, cleaning up) — the directory
	// watched every millisecond. SIGKILL, and every fourth time one of the signals the CLI
	// handles, sent to the process group as a terminal sends Ctrl-C.
	handled := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
	meta := filepath.Join(out, atomicfile.MetaDir)
	prev := 0
	outcomes := map[string]int{}
	const moments, minKilled = 68, 50 // 51 of the 68 by SIGKILL
	killed := 0
	i := 0
	for ; i < moments || killed < minKilled && i < 90; i++ {
		sig := syscall.SIGKILL
		if i%4 == 3 {
			sig = handled[(i/4)%len(handled)]
		}
		v := 1 + i%2
		if v == prev {
			v = 0
		}
		before := map[string]bool{}
		for _, n := range metaEntriesOf(meta) {
			before[n] = true
		}
		oldCurrent, _ := os.Readlink(filepath.Join(meta, "current"))
		// newGen is the generation this run is writing ("" until it exists)
		newGen := func() string {
			for _, n := range metaEntriesOf(meta) {
				if strings.HasPrefix(n, "gen-") && !before[n] {
					return n
				}
			}
			return ""
		}
		var moment string
		var when func(elapsed time.Duration) bool
		switch k := i / 3; i % 3 {
		case 0:
			d := full * time.Duration(k%23) / 19
			moment = fmt.Sprintf("%v", d)
			when = func(el time.Duration) bool { return el >= d }
		case 1:
			files := k % 6
			moment = fmt.Sprintf("its generation holding %d files", files)
			when = func(time.Duration) bool {
				g := newGen()
				return g != "" && len(metaEntriesOf(filepath.Join(meta, g))) >= files
			}
		case 2:
			if k%2 == 0 {
				moment = "its generation complete (5 files)"
				when = func(time.Duration) bool {
					g := newGen()
					return g != "" && len(metaEntriesOf(filepath.Join(meta, g))) >= 5
				}
			} else {
				moment = "the switch seen"
				when = func(time.Duration) bool {
					c, _ := os.Readlink(filepath.Join(meta, "current"))
					return c != oldCurrent && c != ""
				}
			}
		}
		cmd := exec.Command(bin, e.args(out, variants[v])...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
	watch:
		for {
			select {
			case <-done:
				break watch
			default:
			}
			if when(time.Since(t0)) {
				syscall.Kill(-cmd.Process.Pid, sig)
				<-done
				break
			}
			time.Sleep(time.Millisecond)
		}
		what := fmt.Sprintf("%v at %s (%d of %d or more)", sig, moment, i+1, moments)
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		code := cmd.ProcessState.ExitCode()
		finished := code == 0
		switch {
		case finished:
			full = time.Since(t0)
		case ws.Signaled() && ws.Signal() == sig:
			// SIGKILL, or a signal before main installed its handler
			outcomes["killed by "+sig.String()]++
			if sig == syscall.SIGKILL {
				killed++
			}
		case sig == syscall.SIGQUIT && code == 2 && strings.HasPrefix(stderr.String(), "SIGQUIT: quit"):
			// SIGQUIT before the handler: Go's runtime dumps the stacks
		case code == 128+int(sig):
			if want := "stopped by " + signalName(sig) + ";"; !strings.Contains(stderr.String(), want) {
				t.Errorf("after %s: stderr %q lacks %q", what, stderr.String(), want)
			}
			// (what an earlier SIGKILL left stays until a run gets as far as locking DIR)
			for _, n := range metaLeftovers(t, out) {
				if !before[n] {
					t.Errorf("after %s: left in .goodnet: %s", what, n)
				}
			}
		default:
			t.Errorf("after %s: exit status %d: %s", what, code, stderr.String())
		}
		got := runOf(e.checkOneRun(t, out))
		switch {
		case got == v:
			outcomes["new"]++
			prev = v
		case got == prev:
			if finished {
				t.Errorf("after %s: the run finished but the directory holds the previous run", what)
			}
			outcomes["previous"]++
		default:
			t.Errorf("after %s: report.json is of run %d, neither this one (%d) nor the previous (%d)", what, got, v, prev)
		}
		if t.Failed() {
			return
		}
	}
	// A complete run removes what killed runs left in .goodnet.
	v := (prev + 1) % len(variants)
	if r := runBinary(t, bin, 3*time.Minute, nil, e.args(out, variants[v])...); r.code != 0 {
		t.Fatalf("last prune: exit %d: %s", r.code, r.stderr)
	}
	if runOf(e.checkOneRun(t, out)) != v {
		t.Error("the last run's report.json is not its own")
	}
	if left := metaLeftovers(t, out); len(left) > 0 {
		t.Errorf("left in .goodnet after a complete run: %v", left)
	}
	if killed < minKilled {
		t.Errorf("%d runs killed by SIGKILL in %d moments, want %d", killed, i, minKilled)
	}
	if outcomes["new"] == 0 || outcomes["previous"] == 0 {
		t.Errorf("outcomes %v: want runs stopped before and after their switch", outcomes)
	}
	t.Logf("a full run takes %v; after %d signals: %v", full, i, outcomes)
}

// Two real processes into one --out: the second fails at once, naming the first; the first
// is not disturbed.
func TestConcurrentRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildGoodnet(t)
	e := newPruneEnv(t, 2000)
	out := filepath.Join(e.dir, "out")
	first, stderr, done := startLocked(t, bin, out, nil, e.args(out, variants[0])...)
	// Freeze it while it holds the lock: whatever the machine's load, the second run meets it.
	first.Process.Signal(syscall.SIGSTOP)
	second := runBinary(t, bin, time.Minute, nil, e.args(out, variants[1])...)
	first.Process.Signal(syscall.SIGCONT)
	<-done
	want := fmt.Sprintf("goodnet prune: %s: another goodnet run is writing into it (pid %d on ", out, first.Process.Pid)
	if second.code != 1 || !strings.HasPrefix(second.stderr, want) || strings.Count(second.stderr, "\n") != 1 || second.stdout != "" {
		t.Errorf("second run: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", second.code, second.stdout, second.stderr, want)
	}
	if first.ProcessState.ExitCode() != 0 {
		t.Fatalf("first run: exit %d: %s", first.ProcessState.ExitCode(), stderr.String())
	}
	if runOf(e.checkOneRun(t, out)) != 0 {
		t.Error("the directory does not hold the first run")
	}
	// and once it is done, the directory is free
	if r := runBinary(t, bin, 3*time.Minute, nil, e.args(out, variants[1])...); r.code != 0 || runOf(e.checkOneRun(t, out)) != 1 {
		t.Errorf("a run after the first: exit %d: %s", r.code, r.stderr)
	}
}

// startLocked starts the binary with args (and extra environment) and waits until it holds
// out's lock; done closes when it exits. stderr collects its standard error.
func startLocked(t *testing.T, bin, out string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if !waitLocked(t, out, done) {
		t.Fatalf("the run ended before it locked %s: %s", out, stderr.String())
	}
	return cmd, stderr, done
}

// GOODNET_SIGQUIT=dump leaves SIGQUIT to Go's runtime: a stack dump for a run that hangs.
func TestSIGQUITDump(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildGoodnet(t)
	e := newPruneEnv(t, 2000)
	out := filepath.Join(e.dir, "out")
	cmd, stderr, done := startLocked(t, bin, out, []string{"GOODNET_SIGQUIT=dump"}, e.args(out, variants[0])...)
	cmd.Process.Signal(syscall.SIGQUIT)
	<-done
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("exit %d, stderr %.300q: want Go's stack dump, exit 2", code, stderr.String())
	}
}

// fullWriter fails every write as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// Results that cannot be written to stdout make the command fail with one line (18.5).
func TestStdoutFull(t *testing.T) {
	e := newBadEnv(t)
	out := t.TempDir()
	for _, args := range [][]string{
		{"-h"},
		{"help", "eval"},
		{"prune", "-h"},
		{"inspect", e.model},
		{"inspect", "--json", e.model},
		{"predict", "--device", "cpu", "--bad_model", e.model, "--set", e.clean},
		{"eval", "--device", "cpu", "--clean_set", e.clean, "--bad_set", e.poison, "--bad_model", e.model, "--pruned_bad_model_weights", e.weights},
		{"eval", "--json", "--device", "cpu", "--clean_set", e.clean, "--bad_set", e.poison, "--bad_model", e.model, "--pruned_bad_model_weights", e.weights},
		pruneTo(e, out, "--thresholds", "10"),
		finetuneTo(t, e, filepath.Join(out, "b_ft.h5")),
	} {
		name := "goodnet"
		if commands[args[0]] != nil {
			name += " " + args[0]
		} else if args[0] == "help" {
			name += " " + args[1]
		}
		want := name + ": cannot write the results to standard output: no space left on device\n"
		var stderr bytes.Buffer
		if code := run(args, fullWriter{}, &stderr); code != 1 || stderr.String() != want {
			t.Errorf("in-process %v: exit %d, stderr %q; want 1, %q", args, code, stderr.String(), want)
		}
	}
	if testing.Short() {
		return
	}
	bin := buildGoodnet(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	for _, args := range [][]string{
		{"help", "prune"},
		{"eval", "--device", "cpu", "--clean_set", e.clean, "--bad_set", e.poison, "--bad_model", e.model, "--pruned_bad_model_weights", e.weights},
		pruneTo(e, out, "--thresholds", "10"),
	} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		cmd.Run()
		want := "goodnet " + args[0] + ": cannot write the results to standard output: no space left on device\n"
		if args[0] == "help" {
			want = "goodnet prune: cannot write the results to standard output: no space left on device\n"
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || stderr.String() != want {
			t.Errorf("process %v > /dev/full: exit %d, stderr %q; want 1, %q", args, code, stderr.String(), want)
		}
	}
}

// hostileModel is badNet with layer names, keras_version and backend that carry terminal
// escape sequences and newlines.
func hostileModel(t *testing.T, dir string) (path, layer string) {
	t.Helper()
	m := badNet(t, 3, 3)
	layer = "conv\x1b[2J\x1b]0;owned\x07\nforged row\u202e"
	m.Layers[3].Name = layer // conv_2, the layer pruned
	m.Layers[4].InputNames = []string{layer}
	js, err := keras.MarshalConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "hostile.h5")
	writeH5(t, path, func(f *h5.File) error {
		if err := f.SetString("/", "backend", "tensorflow\nforged line\x1b[31m", true); err != nil {
			return err
		}
		if err := f.SetString("/", "keras_version", "2.4.0\x1b]2;title\x07", true); err != nil {
			return err
		}
		if err := f.SetString("/", "model_config", string(js), false); err != nil {
			return err
		}
		if err := f.CreateGroup("model_weights"); err != nil {
			return err
		}
		return keras.WriteLayers(f, m, "model_weights", "2.4.0", nil)
	})
	return path, layer
}

// checkTerminalSafe: no control character but the newlines ending lines, no line forged.
func checkTerminalSafe(t *testing.T, how, s string) {
	t.Helper()
	for _, r := range s {
		if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e') {
			t.Errorf("%s: output carries %U: %q", how, r, s)
			return
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "forged") {
			t.Errorf("%s: a forged line %q in %q", how, l, s)
		}
	}
}

// File-borne text reaches the terminal escaped: inspect's header and table, prune's table
// (18.3).
func TestTerminalInjection(t *testing.T) {
	e := newBadEnv(t)
	model, _ := hostileModel(t, e.dir)
	out := t.TempDir()
	cases := [][]string{
		{"inspect", model},
		{"prune", "--device", "cpu", "--quiet", "--bad_model", model, "--clean_valid", e.clean, "--bad_valid", e.poison, "--out", out},
	}
	for _, args := range cases {
		stdout, stderr, code := cli(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args[0], code, stderr)
		}
		checkTerminalSafe(t, "in-process "+args[0], stdout+stderr)
		if !strings.Contains(stdout, `conv\x1b[2J\x1b]0;owned\a\nforged row\u202e`) {
			t.Errorf("%s: the layer name is not shown escaped:\n%s", args[0], stdout)
		}
	}
	if testing.Short() {
		return
	}
	bin := buildGoodnet(t)
	for _, args := range cases {
		r := runBinary(t, bin, time.Minute, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args[0], r.code, r.stderr)
		}
		checkTerminalSafe(t, "process "+args[0], r.stdout+r.stderr)
	}
	stdout, _, _ := cli(t, "inspect", model)
	for _, want := range []string{`Keras 2.4.0\x1b]2;title\a, backend tensorflow\nforged line\x1b[31m, full model`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect does not show %q:\n%s", want, stdout)
		}
	}
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
