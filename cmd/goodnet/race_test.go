package main

// Issue 18 item 1: the parent must only ever use what the child checked. The file is swapped
// (renamed over, or its symbolic link re-pointed) while the child reads it, the swap-in being
// a file on which libhdf5 loops: the run must finish, with the predictions of the file that
// was opened — neither hang nor read the new file.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSwapWhileTheChildReads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	e := newBadEnv(t)
	bin := buildGoodnet(t)
	loop := fuzzSeed(t, "../../keras/testdata/fuzz/FuzzLoadModel/289a3aa7e31c2a5a")
	good := read(t, e.model)
	want, errs, code := cli(t, "predict", "--device", "cpu", "--bad_model", e.model, "--set", e.clean)
	if code != 0 {
		t.Fatalf("predict: %s", errs)
	}
	for _, how := range []string{"rename", "symlink"} {
		for _, where := range []string{"process", "in-process"} {
			t.Run(how+"/"+where, func(t *testing.T) {
				dir := t.TempDir()
				model := filepath.Join(dir, "model.h5")
				if how == "rename" {
					os.WriteFile(model, good, 0o644)
				} else {
					os.WriteFile(filepath.Join(dir, "good.h5"), good, 0o644)
					os.Symlink("good.h5", model)
				}
				stall := filepath.Join(dir, "stall")
				os.Mkdir(stall, 0o755)
				args := []string{"predict", "--device", "cpu", "--bad_model", model, "--set", e.clean}
				done := make(chan [3]string, 1)
				if where == "process" {
					cmd := exec.Command(bin, args...)
					cmd.Env = append(os.Environ(), "GOODNET_ISOLATE_TEST_STALL="+stall, "GOODNET_ISOLATE_TIMEOUT=10s")
					var out, errb bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &errb
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					defer cmd.Process.Kill()
					go func() {
						cmd.Wait()
						done <- [3]string{out.String(), errb.String(), string(rune('0' + cmd.ProcessState.ExitCode()))}
					}()
				} else {
					t.Setenv("GOODNET_ISOLATE_TEST_STALL", stall)
					go func() {
						out, errs, code := cli(t, args...)
						done <- [3]string{out, errs, string(rune('0' + code))}
					}()
				}
				// the child reading the model has opened it: swap it
				waitFor(t, filepath.Join(stall, "started"))
				if how == "rename" {
					tmp := filepath.Join(dir, "new.h5")
					os.WriteFile(tmp, loop, 0o644)
					if err := os.Rename(tmp, model); err != nil {
						t.Fatal(err)
					}
				} else {
					os.WriteFile(filepath.Join(dir, "loop.h5"), loop, 0o644)
					tmp := filepath.Join(dir, "link")
					os.Symlink("loop.h5", tmp)
					if err := os.Rename(tmp, model); err != nil {
						t.Fatal(err)
					}
				}
				if b, _ := os.ReadFile(model); !bytes.Equal(b, loop) {
					t.Fatal("the swap did not happen")
				}
				os.WriteFile(filepath.Join(stall, "go"), nil, 0o644)
				select {
				case r := <-done:
					if r[2] != "0" || r[0] != want {
						t.Errorf("exit %s, stdout %q (want %q), stderr %q", r[2], r[0], want, r[1])
					}
				case <-time.After(time.Minute):
					t.Fatal("still running a minute after the swap: the new file was read")
				}
			})
		}
	}
}

func waitFor(t *testing.T, path string) {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < time.Minute; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s never appeared", path)
}
