package main

// An interrupted `goodnet prune` (SIGINT, as Ctrl-C sends it to the process group) leaves its
// output directory with either the previous run's files, byte for byte, or the complete new
// ones — never a mix, never a partial file, never a temporary file.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
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
	"goodnet/keras"
	"goodnet/nn"
)

func TestPruneInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs prune 33 times")
	}
	bin := buildGoodnet(t)
	dir := t.TempDir()
	m := badNet(t, 24, 3)
	model := filepath.Join(dir, "b.h5")
	if err := keras.SaveModel(m, model); err != nil {
		t.Fatal(err)
	}
	// Clean labels are B's own predictions (accuracy 100 %), so that pruning drops it and
	// B' files are written.
	const n = 20000
	for _, name := range []string{"clean.h5", "clean2.h5", "poison.h5"} {
		p := filepath.Join(dir, name)
		s := &nn.Set{X: pixels(n*10*8*3, len(name)), Y: make([]int32, n), N: n, H: 10, W: 8, C: 3}
		if err := dataset.Save(p, s, "uint8"); err != nil {
			t.Fatal(err)
		}
		if name == "poison.h5" {
			continue
		}
		stdout, stderr, code := cli(t, "predict", "--device", "cpu", "--bad_model", model, "--set", p)
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
	out := filepath.Join(dir, "out")
	args := func(clean string) []string {
		return []string{"prune", "--device", "cpu", "--quiet", "--bad_model", model, "--clean_valid", filepath.Join(dir, clean),
			"--bad_valid", filepath.Join(dir, "poison.h5"), "--thresholds", "0.5,1,2", "--out", out}
	}

	// The previous run's files.
	r := runBinary(t, bin, time.Minute, nil, args("clean.h5")...)
	if r.code != 0 {
		t.Fatalf("first prune: exit %d: %s", r.code, r.stderr)
	}
	old := snapshot(t, out)
	if len(old) < 4 {
		t.Fatalf("first prune wrote %v", slices.Collect(mapKeys(old)))
	}
	full := r.elapsed

	// Signals spread over the whole run, then packed into its last 40 % (the writing).
	var delays []time.Duration
	for k := 1; k <= 12; k++ {
		delays = append(delays, full*time.Duration(k)/12)
	}
	for k := 0; k < 20; k++ {
		delays = append(delays, full*time.Duration(60+2*k)/100)
	}
	interrupted, late := 0, 0
	for _, delay := range delays {
		cmd := exec.Command(bin, args("clean2.h5")...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		now := snapshot(t, out)
		for name := range now {
			if strings.Contains(name, ".tmp") {
				t.Errorf("after SIGINT at %v: temporary file %s left", delay, name)
			}
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGINT:
			// Stopped by the signal before main installed its handler: nothing written yet.
			interrupted++
			if !equalSnapshots(now, old) {
				t.Errorf("after SIGINT at %v (before the handler): files changed", delay)
			}
		case code == 0:
			// It finished before the signal: the new files, complete.
			checkNew(t, out, now, old)
		case code == 130:
			interrupted++
			if !strings.Contains(stderr.String(), "interrupt: stopped") {
				t.Errorf("after SIGINT at %v: stderr %q", delay, stderr.String())
			}
			if equalSnapshots(now, old) {
				break
			}
			// The signal came while the outputs were renamed into place: that finished first.
			late++
			checkNew(t, out, now, old)
		default:
			t.Errorf("after SIGINT at %v: exit status %d (want 130, or 0 if it had finished): %s", delay, code, stderr.String())
		}
		if t.Failed() {
			return
		}
		// Start each try from the previous run's files.
		restore(t, out, old)
	}
	if interrupted == 0 {
		t.Errorf("no run was interrupted (a full run takes %v)", full)
	}
	t.Logf("a full run takes %v; %d of %d runs interrupted (%d with the new files complete)", full, interrupted, len(delays), late)
}

// snapshot is the content of every file in dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := map[string][]byte{}
	for _, e := range ents {
		s[e.Name()] = read(t, filepath.Join(dir, e.Name()))
	}
	return s
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

func equalSnapshots(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// checkNew checks that the files of now are the second run's and complete: the same names as
// the first run's (the thresholds are the same), report.json names the second clean set, sweep.csv has B's row and one per channel, sweep.png decodes, and every
// B' loads as weights of the model.
func checkNew(t *testing.T, dir string, now, old map[string][]byte) {
	t.Helper()
	if len(now) != len(old) {
		t.Errorf("files %v, the previous run's %v", slices.Sorted(mapKeys(now)), slices.Sorted(mapKeys(old)))
	}
	var rep map[string]any
	if err := json.Unmarshal(now["report.json"], &rep); err != nil {
		t.Errorf("report.json: %v", err)
	} else if !strings.Contains(string(now["report.json"]), "clean2.h5") {
		t.Errorf("report.json is not the second run's")
	}
	rows, err := csv.NewReader(bytes.NewReader(now["sweep.csv"])).ReadAll()
	if err != nil || len(rows) != 1+1+24 {
		t.Errorf("sweep.csv: %d rows, %v", len(rows), err)
	}
	if _, err := png.Decode(bytes.NewReader(now["sweep.png"])); err != nil {
		t.Errorf("sweep.png: %v", err)
	}
	for name := range now {
		if strings.HasPrefix(name, "bprime_") {
			m, err := keras.LoadModel(filepath.Join(dir, "..", "b.h5"))
			if err == nil {
				err = keras.LoadWeights(m, filepath.Join(dir, name))
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// restore puts back the previous run's files.
func restore(t *testing.T, dir string, old map[string][]byte) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	for name, b := range old {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
