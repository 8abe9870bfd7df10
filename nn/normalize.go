package nn

import (
	"fmt"
	"math"
)

// Normalize applies torchvision's transforms.Normalize(mean, std) to the images, per channel
// (the last axis), after the scale: x = (x − mean[c]) / std[c], in float32 as PyTorch computes
// it. CIFAR-10 models trained with ToTensor() and Normalize((0.4914, 0.4822, 0.4465),
// (0.247, 0.243, 0.261)) take `--scale 0.00392156862745098 --mean 0.4914,0.4822,0.4465 --std
// 0.247,0.243,0.261`. Nil mean and std leave the images as they are; otherwise both need one
// finite value per channel, std positive.
func (s *Set) Normalize(mean, std []float32) error {
	if mean == nil && std == nil {
		return nil
	}
	if err := CheckNormalization(mean, std, s.C); err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	C := s.C
	for i := range s.X {
		c := i % C
		s.X[i] = (s.X[i] - mean[c]) / std[c]
	}
	return nil
}

// CheckNormalization checks a mean and std for images of c channels (nil, nil: none).
func CheckNormalization(mean, std []float32, c int) error {
	if mean == nil && std == nil {
		return nil
	}
	if len(mean) != c || len(std) != c {
		return fmt.Errorf("--mean and --std need one value per channel: the images have %d, --mean has %d and --std %d", c, len(mean), len(std))
	}
	for i := 0; i < c; i++ {
		if math.IsNaN(float64(mean[i])) || math.IsInf(float64(mean[i]), 0) || !(std[i] > 0) || math.IsInf(float64(std[i]), 0) {
			return fmt.Errorf("--mean %v / --std %v: each mean must be finite and each std positive and finite", mean, std)
		}
	}
	return nil
}
