package nn

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	s := &Set{Path: "s.h5", X: []float32{0.5, 0.25, 1, 0, 0.75, 0.5}, N: 1, H: 1, W: 2, C: 3}
	if err := s.Normalize([]float32{0.5, 0.25, 0.5}, []float32{0.5, 0.25, 2}); err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0.25, -1, 2, 0}
	for i := range want {
		if s.X[i] != want[i] {
			t.Fatalf("normalized %v, want %v", s.X, want)
		}
	}
	if err := s.Normalize(nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mean, std []float32
		want      string
	}{
		{[]float32{0, 0}, []float32{1, 1}, "s.h5: --mean and --std need one value per channel: the images have 3, --mean has 2 and --std 2"},
		{[]float32{0, 0, 0}, nil, "--std 0"},
		{[]float32{0, 0, 0}, []float32{1, 0, 1}, "std positive"},
	} {
		if err := s.Normalize(c.mean, c.std); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.mean, c.std, err, c.want)
		}
	}
}
