package nn

import (
	"errors"
	"fmt"
	"testing"
)

type stubBackend struct {
	name string
	err  error
}

func (s *stubBackend) Name() string     { return s.name }
func (s *stubBackend) Describe() string { return s.name + " stub" }
func (s *stubBackend) Compile(m *Model) (Net, error) {
	if s.err != nil {
		return nil, s.err
	}
	return stubNet{s.name, m}, nil
}

type stubNet struct {
	by string
	m  *Model
}

func (n stubNet) Model() *Model { return n.m }
func (n stubNet) Run(map[string][]float32, int, ...string) ([][]float32, error) {
	return nil, nil
}
func (n stubNet) Close() error { return nil }

func TestFallback(t *testing.T) {
	m := DeepID(55, 47, 10)
	cpu := &stubBackend{name: "cpu"}
	for _, c := range []struct {
		gpuErr  error
		want    string // the backend that compiled, or the error
		wantErr bool
	}{
		{nil, "gpu", false},
		{fmt.Errorf("layer %q: %w", "bn", Unsupported(errors.New("BatchNormalization layers are not supported on the GPU"))), "cpu", false},
		{errors.New("out of memory"), "out of memory", true},
	} {
		f := &Fallback{First: &stubBackend{name: "gpu", err: c.gpuErr}, Second: cpu}
		n, err := f.Compile(m)
		if c.wantErr {
			if err == nil || err.Error() != c.want {
				t.Errorf("GPU error %v: got %v", c.gpuErr, err)
			}
			continue
		}
		if err != nil || n.(stubNet).by != c.want {
			t.Errorf("GPU error %v: compiled by %v (%v), want %s", c.gpuErr, n, err, c.want)
		}
	}
	err := fmt.Errorf("layer %q: %w", "bn", Unsupported(errors.New("x is not supported")))
	if err.Error() != `layer "bn": x is not supported` {
		t.Errorf("message %q", err)
	}
}
