package dataset

import (
	"path/filepath"
	"testing"
	"time"

	"goodnet/nn"
)

// stallSource is a file whose reads do not return until release is closed (a disk that hangs,
// a network file system gone away).
type stallSource struct {
	s       source
	release chan struct{}
}

func (s stallSource) file() bool { return true } // as fileSource: reads into the caller's buffer

func (s stallSource) slab(buf []byte, off, n int64) ([]byte, error) {
	<-s.release
	return s.s.slab(buf, off, n)
}

// The parent's own reads of a set's pixels (raw in the file, read without libhdf5) have the
// isolation's time limit: a read that does not return is "too slow to read", not a hang, and
// a reader whose time is used up refuses further reads.
func TestParentReadTimeLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "raw.h5")
	n := 64
	s := &nn.Set{X: make([]float32, n*10*8*3), Y: make([]int32, n), N: n, H: 10, W: 8, C: 3}
	if err := Save(p, s, "uint8"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.src.(fileSource); !ok {
		t.Fatalf("the pixels are read by %T, not from the file by the parent", r.src)
	}
	release := make(chan struct{})
	defer close(release)
	r.src = stallSource{r.src, release}
	r.left = 200 * time.Millisecond
	t0 := time.Now()
	err = r.Read(0, n, make([]float32, n*10*8*3))
	wantErr(t, err, p, "too slow to read: reading the data did not finish in 5s")
	if el := time.Since(t0); el > 30*time.Second {
		t.Errorf("the stalled read returned after %v", el)
	}
	r.left = 0
	wantErr(t, r.Read(0, 1, make([]float32, 10*8*3)), p, "too slow to read")
}
