package isolate

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	Register("test.ok", func(args []string, input []byte) error {
		if len(args) != 2 || args[0] != "a" || args[1] != "b c" || string(input) != "in put" {
			os.Exit(3) // the arguments did not arrive: the parent sees a failed child
		}
		return nil
	})
	Register("test.err", func([]string, []byte) error { return errors.New("an ordinary error") })
	Register("test.panic", func([]string, []byte) error {
		var m map[string]int
		m["x"] = 1 // panics: assignment to a nil map
		return nil
	})
	Register("test.kill", func([]string, []byte) error {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	})
	Register("test.loop", func([]string, []byte) error {
		for {
			time.Sleep(time.Millisecond)
		}
	})
}

func TestRun(t *testing.T) {
	if !Enabled {
		t.Skip("GOODNET_ISOLATE=0")
	}
	old := Timeout
	defer func() { Timeout = old }()
	Timeout = func(int64) time.Duration { return 2 * time.Second }
	for _, c := range []struct {
		op, want string // want: "" when the child finishes
	}{
		{"test.ok", ""},
		{"test.err", ""}, // an error is the parent's to report, not a crash
		{"test.panic", "crashed (panic: assignment to entry in nil map"},
		{"test.kill", "was killed by signal SIGKILL"},
		{"test.loop", "did not finish in 2s"},
	} {
		err := Run(c.op, []string{"a", "b c"}, []byte("in put"), 0)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.op, err)
		case c.want != "":
			var cr *Crash
			if !errors.As(err, &cr) || !strings.HasPrefix(cr.Error(), c.want) {
				t.Errorf("%s: got %v, want a Crash starting %q", c.op, err, c.want)
			}
		}
	}
}

func TestOff(t *testing.T) {
	old := Enabled
	defer func() { Enabled = old }()
	Enabled = false
	if err := Run("test.kill", nil, nil, 0); err != nil {
		t.Fatalf("isolation off: %v", err)
	}
}
