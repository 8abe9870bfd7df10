package main

// goodnet audit as users run it: usage and manifest errors, shards as processes at once into
// one DIR, the same shard twice at once, and SIGTERM (Kubernetes' stop) in the middle.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"goodnet/dataset"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
)

// auditManifest writes a manifest of the lab's B on the mini sets (several variants), the
// ONNX export of it, and a broken model at index 4 (in shard 0/2).
func auditManifest(t *testing.T, dir string) string {
	t.Helper()
	f := fixtures.Dir(t)
	broken := filepath.Join(dir, "broken.h5")
	if err := os.WriteFile(broken, []byte("not HDF5"), 0o644); err != nil {
		t.Fatal(err)
	}
	lab := func(name string, extra map[string]any) string {
		m := map[string]any{"name": name, "bad_model": filepath.Join(f, "bd_net.h5"),
			"clean_valid": filepath.Join(f, "cl_mini.h5"), "bad_valid": filepath.Join(f, "bd_mini.h5"),
			"clean_test": filepath.Join(f, "cl_mini.h5"), "bad_test": filepath.Join(f, "bd_mini.h5")}
		for k, v := range extra {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := []string{
		lab("lab", nil),
		lab("lab-50", map[string]any{"thresholds": []float64{5, 50}}),
		lab("onnx", map[string]any{"bad_model": filepath.Join(f, "onnx", "deepid.onnx")}),
		lab("lab-weights", map[string]any{"bad_model_weights": filepath.Join(f, "bd_weights.h5"), "clean_test": "", "bad_test": ""}),
		lab("broken", map[string]any{"bad_model": broken}),
		lab("lab-conv2", map[string]any{"layer": "conv_2", "thresholds": []float64{1, 30}}),
	}
	p := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditUsageAndManifestErrors(t *testing.T) {
	dir := t.TempDir()
	m := auditManifest(t, dir)
	out := filepath.Join(dir, "out")
	bad := filepath.Join(dir, "bad.jsonl")
	good, _ := os.ReadFile(m)
	if err := os.WriteFile(bad, append(good, []byte(`{"name": "lab", "bad_model": "x.h5", "clean_valid": "x.h5", "bad_valid": "x.h5"}`+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  string
		code int
		want string
	}{
		{[]string{"audit", "--out", out}, "", 2, "goodnet audit: --manifest is required (see 'goodnet audit -h')"},
		{[]string{"audit", "--manifest", m}, "", 2, "goodnet audit: --out is required"},
		{[]string{"audit", "--manifest", m, "--out", out, "--shard", "2/2"}, "", 2, `goodnet audit: --shard "2/2": I must be an integer in 0..1`},
		{[]string{"audit", "--manifest", m, "--out", out, "--shard", "auto/3"}, "", 2, `--shard "auto/3": JOB_COMPLETION_INDEX is not set`},
		{[]string{"audit", "--manifest", m, "--out", out, "--shard", "auto/3"}, "x", 2, `--shard "auto/3" (JOB_COMPLETION_INDEX=x): I must be an integer in 0..2`},
		{[]string{"audit", "--manifest", m, "--out", out, "--finetune-epochs", "-1"}, "", 2, `--finetune-epochs "-1": want a whole number ≥ 0`},
		{[]string{"audit", "--manifest", m, "--out", out, "--finetune-epochs", "0x2"}, "", 2, `--finetune-epochs "0x2": want a whole number ≥ 0`},
		{[]string{"audit", "--summarize", "--out", out, "--shard", "0/2"}, "", 2, "--shard is for running the audit, not with --summarize"},
		{[]string{"audit", "--summarize"}, "", 2, "--out is required"},
		{[]string{"audit", "--manifest", bad, "--out", out}, "", 1, "goodnet audit: " + bad + `:7: name "lab" is already used on line 1`},
		{[]string{"audit", "--manifest", filepath.Join(dir, "none.jsonl"), "--out", out}, "", 1, "none.jsonl: cannot read the manifest: no such file or directory"},
		{[]string{"audit", "--summarize", "--out", filepath.Join(dir, "none")}, "", 1, "none: cannot read the output directory: no such file or directory"},
		{[]string{"audit", "--manifest", m, "--out", m}, "", 1, "m.jsonl: cannot create the output directory: not a directory"},
	} {
		t.Setenv("JOB_COMPLETION_INDEX", tc.env)
		_, stderr, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line with %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: created %s", tc.args, out)
		}
	}
}

// auditProc is a goodnet process started in the background.
type auditProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	lines          chan string // stdout, line by line
	mu             sync.Mutex
}

func startAudit(t *testing.T, bin string, env []string, args ...string) *auditProc {
	t.Helper()
	p := &auditProc{cmd: exec.Command(bin, args...), lines: make(chan string, 100)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	r, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	return p
}

// wait waits for the process (at most a minute) and returns its exit status and stdout.
func (p *auditProc) wait(t *testing.T) (int, string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for range p.lines {
		}
		p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		t.Fatalf("%v: still running after 2 minutes", p.cmd.Args)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.ProcessState.ExitCode(), p.stdout.String()
}

// TestAuditProcesses: two shards run as two processes at once into one DIR give the summary
// one process gives; the shard with the broken model exits 1 and still runs its others; the
// same shard run twice at once runs each model once; SIGTERM leaves complete models complete,
// the one in progress as if never started, and a rerun finishes the rest.
func TestAuditProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	bin := buildGoodnet(t)
	dir := t.TempDir()
	m := auditManifest(t, dir)
	run := func(out string, shards ...string) []int {
		var ps []*auditProc
		for _, s := range shards {
			ps = append(ps, startAudit(t, bin, nil, "audit", "--device", "cpu", "--quiet", "--manifest", m, "--out", out, "--shard", s))
		}
		var codes []int
		for _, p := range ps {
			code, _ := p.wait(t)
			codes = append(codes, code)
		}
		return codes
	}
	summary := func(out string) []byte {
		r := runBinary(t, bin, time.Minute, nil, "audit", "--summarize", "--quiet", "--out", out, "--manifest", m)
		if r.code != 0 {
			t.Fatalf("summarize: %d %s", r.code, r.stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "summary.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	if codes := run(one, "0/1"); codes[0] != 1 {
		t.Fatalf("one process: exit %v", codes)
	}
	if codes := run(two, "0/2", "1/2"); codes[0] != 1 || codes[1] != 0 {
		t.Fatalf("two shards: exit %v (want 1 for the shard with the broken model, 0)", codes)
	}
	s1, s2 := summary(one), summary(two)
	if !bytes.Equal(s1, s2) {
		t.Fatalf("summary.csv of one process:\n%s\nof two shards:\n%s", s1, s2)
	}
	if n := strings.Count(string(s1), ",ok,"); n != 5+3+1+2+2 || !strings.Contains(string(s1), "\nbroken,failed,,") {
		t.Fatalf("summary.csv:\n%s", s1)
	}

	// The same shard twice at once: each model is run by one of them.
	three := filepath.Join(dir, "three")
	var ps []*auditProc
	for range 2 {
		ps = append(ps, startAudit(t, bin, nil, "audit", "--device", "cpu", "--quiet", "--manifest", m, "--out", three))
	}
	ran := 0
	for _, p := range ps {
		code, out := p.wait(t)
		if code != 1 && !(code == 0 && !strings.Contains(out, "broken: FAILED")) {
			t.Errorf("exit %d: %s", code, out)
		}
		ran += strings.Count(out, ": ok in ")
	}
	if ran != 5 {
		t.Errorf("the 5 good models were run %d times by two processes of the same shard", ran)
	}
	if s3 := summary(three); !bytes.Equal(s1, s3) {
		t.Errorf("summary.csv of the same shard twice:\n%s", s3)
	}
}

// TestAuditInterrupted sends SIGTERM (Kubernetes' stop: to the process alone) at moments
// through a run of models that take a while, then resumes.
func TestAuditInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	bin := buildGoodnet(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "b.h5")
	if err := keras.SaveModel(badNet(t, 24, 3), model); err != nil {
		t.Fatal(err)
	}
	const n = 12000
	for _, name := range []string{"clean.h5", "poison.h5"} {
		s := &nn.Set{X: pixels(n*10*8*3, len(name)), Y: make([]int32, n), N: n, H: 10, W: 8, C: 3}
		if err := dataset.Save(filepath.Join(dir, name), s, "uint8"); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for _, name := range []string{"m1", "m2", "m3", "m4"} {
		lines = append(lines, `{"name": "`+name+`", "bad_model": "b.h5", "clean_valid": "clean.h5", "bad_valid": "poison.h5"}`)
	}
	m := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(m, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"audit", "--device", "cpu", "--quiet", "--manifest", m, "--out", out}
	check := func(when string) (complete []string) {
		ents, err := os.ReadDir(out)
		if os.IsNotExist(err) { // stopped before it made DIR
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			name := e.Name()
			switch {
			case strings.HasSuffix(name, "~lock"):
			case strings.HasPrefix(name, "."):
				t.Errorf("%s: %s left in DIR", when, name)
			case !auditHas(filepath.Join(out, name, "audit.json")):
				t.Errorf("%s: %s is there without its marker", when, name)
			default:
				complete = append(complete, name)
			}
		}
		return complete
	}
	interrupted := 0
	var done []string
	for try, delay := range []time.Duration{0, 150 * time.Millisecond, 600 * time.Millisecond} {
		p := startAudit(t, bin, nil, args...)
		// wait for a model to finish (the first try: none), then a little
		if try > 0 {
			for l := range p.lines {
				if strings.Contains(l, ": ok in ") {
					break
				}
			}
		} else {
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(delay)
		p.cmd.Process.Signal(syscall.SIGTERM)
		code, stdout := p.wait(t)
		when := "SIGTERM after " + delay.String()
		now := check(when)
		ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGTERM:
			// stopped by the signal before main installed its handler: nothing done yet
			if len(now) != 0 {
				t.Errorf("%s: killed before the handler, yet %v complete", when, now)
			}
		case code == 143: // 128 + SIGTERM
			interrupted++
			if !strings.Contains(p.stderr.String(), "stopped by SIGTERM") {
				t.Errorf("%s: stderr %q", when, p.stderr.String())
			}
		case code == 0:
		default:
			t.Errorf("%s: exit %d: %s", when, code, p.stderr.String())
		}
		if len(now) < len(done) || len(now) < strings.Count(stdout, ": ok in ")+len(done) {
			t.Errorf("%s: complete %v (before: %v); stdout:\n%s", when, now, done, stdout)
		}
		t.Logf("%s: exit %d, complete %v\n%s", when, code, now, stdout)
		done = now
		if t.Failed() {
			return
		}
	}
	if interrupted == 0 {
		t.Errorf("no run was interrupted")
	}
	// resume: the complete models are left as they are
	before := map[string]time.Time{}
	for _, n := range done {
		st, err := os.Stat(filepath.Join(out, n, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = st.ModTime()
	}
	r := runBinary(t, bin, 2*time.Minute, nil, args...)
	if r.code != 0 || strings.Count(r.stdout, ": complete already") != len(done) {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if all := check("after resuming"); len(all) != 4 {
		t.Errorf("after resuming: complete %v", all)
	}
	for n, mt := range before {
		if st, _ := os.Stat(filepath.Join(out, n, "report.json")); !st.ModTime().Equal(mt) {
			t.Errorf("%s rewritten by the resumed run", n)
		}
	}
	t.Logf("complete before resuming: %v", done)
}

func auditHas(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
