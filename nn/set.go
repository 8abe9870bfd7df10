package nn

import "fmt"

// Set is a batch of images in NHWC float32 with integer labels: what the format readers
// (package dataset) load and the algorithms (prune, goodnet) take. It holds no file handle;
// Path only names where it came from, for messages.
type Set struct {
	Path       string
	X          []float32 // N×H×W×C, NHWC
	Y          []int32   // N labels (nil for unlabelled images)
	N, H, W, C int
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
