package nn

import "fmt"

// Set is a batch of images in NHWC float32 with integer labels: what the format readers
// (package dataset) load and the algorithms (prune, goodnet) take. Path only names where it
// came from, for messages.
//
// A set may also stream: X is nil and Src reads its images in pieces (dataset.Reader, for a
// job that takes every image through a model once and needs never hold the set whole as
// float32). Piece reads any range of either kind; Load makes a streamed set an ordinary one,
// for the algorithms that need X.
type Set struct {
	Path       string
	X          []float32 // N×H×W×C, NHWC (nil when Src streams the set)
	Y          []int32   // N labels (nil for unlabelled images)
	N, H, W, C int
	Src        Source // when X is nil: where the images are read from
}

// Source reads images of a streamed set.
type Source interface {
	// Read converts the images [n0, n0+n) into dst (n×H×W×C values).
	Read(n0, n int, dst []float32) error
}

// Streamed reports whether the set's images are read from Src (X is nil).
func (s *Set) Streamed() bool { return s.X == nil && s.Src != nil }

// Piece returns the images [lo, hi): a view of X (no copy), or read from Src into buf (of at
// least (hi−lo)·H·W·C values) for a streamed set.
func (s *Set) Piece(lo, hi int, buf []float32) ([]float32, error) {
	n := s.H * s.W * s.C
	if !s.Streamed() {
		return s.X[lo*n : hi*n], nil
	}
	x := buf[:(hi-lo)*n]
	if err := s.Src.Read(lo, hi-lo, x); err != nil {
		return nil, err
	}
	return x, nil
}

// Loader is a Source that reads its whole set itself (checking first that it may hold it).
type Loader interface {
	Load() ([]float32, error)
}

// Load reads a streamed set whole into X (nothing for a set that is not streamed), through
// the source's Load when it is a Loader.
func (s *Set) Load() error {
	if !s.Streamed() {
		return nil
	}
	if l, ok := s.Src.(Loader); ok {
		x, err := l.Load()
		if err != nil {
			return err
		}
		if len(x) != s.N*s.H*s.W*s.C {
			return fmt.Errorf("%s: %d values loaded for %d×%d×%d×%d", s.Path, len(x), s.N, s.H, s.W, s.C)
		}
		s.X = x
		return nil
	}
	x := make([]float32, s.N*s.H*s.W*s.C)
	if err := s.Src.Read(0, s.N, x); err != nil {
		return err
	}
	s.X = x
	return nil
}

// Shape is the shape of one image, (H, W, C).
func (s *Set) Shape() Shape { return Shape{s.H, s.W, s.C} }

// Images returns the images [i, j) as one NHWC slice (no copy).
func (s *Set) Images(i, j int) []float32 {
	n := s.H * s.W * s.C
	return s.X[i*n : j*n]
}

// CheckShape is an error naming the set when its images do not match a model's input shape
// want: (H, W, C), or (D) with D = H·W·C for a flat input.
func (s *Set) CheckShape(want Shape) error {
	have := s.Shape()
	switch len(want) {
	case 3:
		if have.Equal(want) {
			return nil
		}
		hint := ""
		if s.H == want[1] && s.W == want[0] && s.C == want[2] {
			hint = " (height and width swapped?)"
		}
		return fmt.Errorf("%s: images are %d×%d×%d (H×W×C), the model takes %d×%d×%d%s", s.Path, s.H, s.W, s.C, want[0], want[1], want[2], hint)
	case 1:
		if have.Size() == want[0] {
			return nil
		}
		return fmt.Errorf("%s: images are %d×%d×%d = %d values, the model takes %d", s.Path, s.H, s.W, s.C, have.Size(), want[0])
	}
	return fmt.Errorf("%s: the model's input shape %v is not an image or a vector", s.Path, want)
}

// Check is an error when the set's sizes do not agree: no images or an empty dimension, X not
// N·H·W·C values, or Y (when not nil) not N labels.
func (s *Set) Check() error {
	if s.N <= 0 || s.H <= 0 || s.W <= 0 || s.C <= 0 {
		return fmt.Errorf("empty set (N=%d, H=%d, W=%d, C=%d)", s.N, s.H, s.W, s.C)
	}
	if len(s.X) != s.N*s.H*s.W*s.C {
		return fmt.Errorf("%d pixel values for %d×%d×%d×%d", len(s.X), s.N, s.H, s.W, s.C)
	}
	if s.Y != nil && len(s.Y) != s.N {
		return fmt.Errorf("%d labels for %d images", len(s.Y), s.N)
	}
	return nil
}

// CheckLabels is an error naming the set when it has no labels or a label outside [0, classes).
func (s *Set) CheckLabels(classes int) error {
	if s.Y == nil {
		return fmt.Errorf("%s: no labels", s.Path)
	}
	for i, y := range s.Y {
		if y < 0 || int(y) >= classes {
			return fmt.Errorf("%s: label %d of image %d is outside the model's %d classes", s.Path, y, i, classes)
		}
	}
	return nil
}
