package pipeline_test

import (
	"runtime"
	"strings"
	"testing"

	"goodnet/internal/fixtures"
	"goodnet/internal/resource"
	"goodnet/keras"
	"goodnet/pipeline"
)

// TestOpenSetNormStreamsAsLoaded reads a set streamed in pieces (normalised, as goodnet prune
// reads it) and whole through its source: the same values as LoadSetNorm's, bit for bit; and
// the memory limit is checked for two pieces when it is opened, for the whole set when loaded.
func TestOpenSetNormStreamsAsLoaded(t *testing.T) {
	m, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	path := fixtures.Path(t, "cl_mini.h5")
	mean, std := []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
	want, err := pipeline.LoadSetNorm(path, 1.0/255, mean, std, m)
	if err != nil {
		t.Fatal(err)
	}
	s, closeSet, err := pipeline.OpenSetNorm(path, 1.0/255, mean, std, m, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSet()
	if !s.Streamed() || s.N != want.N || s.H != want.H || s.W != want.W || s.C != want.C || len(s.Y) != len(want.Y) {
		t.Fatalf("streamed set %d×%d×%d×%d, want %d×%d×%d×%d", s.N, s.H, s.W, s.C, want.N, want.H, want.W, want.C)
	}
	per := s.H * s.W * s.C
	buf := make([]float32, 7*per)
	for lo := 0; lo < s.N; lo += 7 {
		hi := min(lo+7, s.N)
		x, err := s.Piece(lo, hi, buf)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			if v != want.X[lo*per+i] {
				t.Fatalf("image %d, value %d: %v, loaded %v", lo+i/per, i%per, v, want.X[lo*per+i])
			}
		}
	}
	resource.SetMemory(1 << 20)
	err = s.Load()
	resource.SetMemory(0)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "would need") {
		t.Errorf("Load under 1 MB: %v", err)
	}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	for i, v := range s.X {
		if v != want.X[i] {
			t.Fatalf("loaded value %d: %v, want %v", i, v, want.X[i])
		}
	}
	resource.SetMemory(1 << 20)
	_, _, err = pipeline.OpenSetNorm(path, 1, nil, nil, m, 2048)
	resource.SetMemory(0)
	runtime.KeepAlive(m) // held: B's 2.4 MB of weights are over the limit with the pieces
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "two pieces") {
		t.Errorf("OpenSetNorm under 1 MB: %v", err)
	}
}
