package isolate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type echoMeta struct {
	Args  []string
	Input string
	File  string
	Blobs []int
}

func init() {
	// test.echo: the child reads its file through the descriptor and returns what it got:
	// the arguments, the input, the file's content, and two blobs (one large).
	Register("test.echo", func(fh *os.File, args []string, input []byte, out *Writer) error {
		content, err := io.ReadAll(fh)
		if err != nil {
			return err
		}
		small, i, err := out.Blob(5)
		if err != nil {
			return err
		}
		copy(small, "hello")
		big, j, err := out.Blob(3 << 20)
		if err != nil {
			return err
		}
		for k := range big {
			big[k] = byte(k % 251)
		}
		empty, _, err := out.Blob(0)
		if err != nil || len(empty) != 0 {
			return errors.New("empty blob")
		}
		return out.Meta(echoMeta{Args: args, Input: string(input), File: string(content), Blobs: []int{i, j}})
	})
	Register("test.err", func(*os.File, []string, []byte, *Writer) error { return errors.New("an ordinary error") })
	Register("test.panic", func(*os.File, []string, []byte, *Writer) error {
		var m map[string]int
		m["x"] = 1 // panics: assignment to a nil map
		return nil
	})
	Register("test.kill", func(*os.File, []string, []byte, *Writer) error {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	})
	Register("test.loop", func(*os.File, []string, []byte, *Writer) error {
		for {
			time.Sleep(time.Millisecond)
		}
	})
	Register("test.oom", func(*os.File, []string, []byte, *Writer) error {
		os.Stderr.WriteString("fatal error: runtime: out of memory\n")
		os.Exit(2)
		return nil
	})
}

func tempFile(t *testing.T, content string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkEcho checks what test.echo returned.
func checkEcho(t *testing.T, how string, r *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", how, err)
	}
	defer r.Close()
	var m echoMeta
	if err := r.Meta(&m); err != nil {
		t.Fatalf("%s: %v", how, err)
	}
	if strings.Join(m.Args, "|") != "a|b c" || m.Input != "in put" || m.File != "the file's bytes" {
		t.Errorf("%s: got %+v", how, m)
	}
	if r.Blobs() != 3 || string(r.Blob(m.Blobs[0])) != "hello" {
		t.Errorf("%s: %d blobs, first %q", how, r.Blobs(), r.Blob(m.Blobs[0]))
	}
	big := r.Blob(m.Blobs[1])
	want := make([]byte, 3<<20)
	for k := range want {
		want[k] = byte(k % 251)
	}
	if !bytes.Equal(big, want) {
		t.Errorf("%s: the large blob differs", how)
	}
}

func TestCall(t *testing.T) {
	if !Enabled {
		t.Skip("GOODNET_ISOLATE=0")
	}
	r, err := Call("test.echo", tempFile(t, "the file's bytes"), []string{"a", "b c"}, []byte("in put"), 0)
	checkEcho(t, "child", r, err)
	r, err = Local("test.echo", tempFile(t, "the file's bytes"), []string{"a", "b c"}, []byte("in put"))
	checkEcho(t, "local", r, err)
}

func TestCallFailures(t *testing.T) {
	if !Enabled {
		t.Skip("GOODNET_ISOLATE=0")
	}
	old := Timeout
	defer func() { Timeout = old }()
	Timeout = func(int64) time.Duration { return 2 * time.Second }
	for _, c := range []struct {
		op, want string
		kind     CrashKind
	}{
		{"test.panic", "crashed (panic: assignment to entry in nil map", Crashed},
		{"test.kill", "was killed by signal SIGKILL", Crashed},
		{"test.loop", "did not finish in 2s", TimedOut},
		{"test.oom", "ran out of memory (fatal error: runtime: out of memory)", OutOfMemory},
	} {
		t0 := time.Now()
		_, err := Call(c.op, tempFile(t, ""), []string{"a", "b c"}, []byte("in put"), 0)
		var cr *Crash
		if !errors.As(err, &cr) || !strings.HasPrefix(cr.Error(), c.want) || cr.Kind != c.kind {
			t.Errorf("%s: got %v, want a Crash of kind %d starting %q", c.op, err, c.kind, c.want)
		}
		if d := time.Since(t0); d > 10*time.Second {
			t.Errorf("%s: took %v", c.op, d)
		}
	}
	// an error is the operation's answer, with its message
	_, err := Call("test.err", nil, nil, nil, 0)
	var oe *OpError
	if !errors.As(err, &oe) || oe.Msg != "an ordinary error" {
		t.Errorf("test.err: got %v", err)
	}
}

// The child reads the file the parent opened, whatever the name points to afterwards.
func TestCallReadsTheDescriptor(t *testing.T) {
	if !Enabled {
		t.Skip("GOODNET_ISOLATE=0")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("the file's bytes"), 0o644)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other := filepath.Join(dir, "g")
	os.WriteFile(other, []byte("another file"), 0o644)
	if err := os.Rename(other, p); err != nil {
		t.Fatal(err)
	}
	r, err := Call("test.echo", f, []string{"a", "b c"}, []byte("in put"), 0)
	checkEcho(t, "after the swap", r, err)
}

func TestOff(t *testing.T) {
	old := Enabled
	defer func() { Enabled = old }()
	Enabled = false
	r, err := Call("test.echo", tempFile(t, "the file's bytes"), []string{"a", "b c"}, []byte("in put"), 0)
	checkEcho(t, "isolation off", r, err)
}
