package gpucheck

import (
	"fmt"
	"math"
	"sort"
)

// Tol is the tolerance of a net's values: each value within Tol of its image's largest
// magnitude (of the reference); also the width of a near tie between two top logits, and the
// tolerance of channel sums (relative to the layer's largest sum).
const Tol = 1e-4

// MaxSweepImages is how many images a pruning step's count of correct (or attacked) images
// may differ by between the devices in each set: a near tie in float32 resolved the other
// way. The counts are normally identical; the verdict reports the largest difference.
const MaxSweepImages = 2

// rowsClose checks got against want within tol of each row's largest |want| (n rows) and
// returns the largest such relative difference.
func rowsClose(got []float32, want []float64, n int, tol float64) (float64, error) {
	if len(got) != len(want) || n <= 0 || len(want)%n != 0 {
		return 0, fmt.Errorf("%d values against %d for %d images", len(got), len(want), n)
	}
	k := len(want) / n
	worst := 0.0
	for s := 0; s < n; s++ {
		scale := 1e-30
		for _, v := range want[s*k : (s+1)*k] {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := s * k; i < (s+1)*k; i++ {
			d := math.Abs(float64(got[i])-want[i]) / scale
			if !(d <= tol) {
				return d, fmt.Errorf("image %d value %d: GPU %g, reference %g (%.3g of the image's largest magnitude > %g)", s, i-s*k, got[i], want[i], d, tol)
			}
			worst = math.Max(worst, d)
		}
	}
	return worst, nil
}

func widen(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// nearTie reports whether a row of logits has its two largest values within tol of its
// largest magnitude, and the top class.
func nearTie(row []float32, tol float64) (bool, int) {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	if len(row) < 2 {
		return false, idx[0]
	}
	scale := 0.0
	for _, v := range row {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	return float64(row[idx[0]]-row[idx[1]]) <= tol*scale, idx[0]
}

// classDiff compares the GPU's classes with the CPU's, image by image. Where they differ,
// logits(images) gives the CPU's logits of those images (k per image): a difference is
// allowed only on a near tie (nearTie with Tol). It returns the near ties that differ.
func classDiff(gpu, cpu []int32, k int, logits func(images []int) ([]float32, error)) (ties []int, err error) {
	if len(gpu) != len(cpu) {
		return nil, fmt.Errorf("%d classes against %d", len(gpu), len(cpu))
	}
	var diff []int
	for i := range gpu {
		if gpu[i] != cpu[i] {
			diff = append(diff, i)
		}
	}
	if len(diff) == 0 {
		return nil, nil
	}
	if len(diff) > 1000 {
		return nil, fmt.Errorf("%d of %d images classified differently (first: image %d, GPU %d, CPU %d)", len(diff), len(gpu), diff[0], gpu[diff[0]], cpu[diff[0]])
	}
	z, err := logits(diff)
	if err != nil {
		return nil, err
	}
	for j, i := range diff {
		tie, top := nearTie(z[j*k:(j+1)*k], Tol)
		if !tie {
			return nil, fmt.Errorf("image %d: GPU class %d, CPU class %d (CPU's top logit %d leads by more than %g of the largest |logit|: not a near tie)", i, gpu[i], cpu[i], top, Tol)
		}
		ties = append(ties, i)
	}
	return ties, nil
}

// tiesWord describes the near ties of classDiff.
func tiesWord(ties []int) string {
	switch {
	case len(ties) == 0:
		return "classes identical"
	case len(ties) <= 5:
		return fmt.Sprintf("%d near ties differ (images %v)", len(ties), ties)
	}
	return fmt.Sprintf("%d near ties differ (images %v…)", len(ties), ties[:5])
}

// sumsClose checks per-channel sums within Tol of the largest |sum| of the layer (as a net's
// values are compared relative to the image's largest magnitude: a channel of small values
// carries the float32 rounding of the large ones) and returns the largest such difference.
func sumsClose(gpu, cpu []float64) (float64, error) {
	if len(gpu) != len(cpu) {
		return 0, fmt.Errorf("%d sums against %d", len(gpu), len(cpu))
	}
	scale := 0.0
	for c := range cpu {
		scale = math.Max(scale, math.Max(math.Abs(gpu[c]), math.Abs(cpu[c])))
	}
	if scale == 0 {
		scale = 1
	}
	worst := 0.0
	for c := range gpu {
		d := math.Abs(gpu[c]-cpu[c]) / scale
		if !(d <= Tol) {
			return d, fmt.Errorf("channel %d: GPU %.9g, CPU %.9g (difference %.3g of the largest sum > %g)", c, gpu[c], cpu[c], d, Tol)
		}
		worst = math.Max(worst, d)
	}
	return worst, nil
}

// checkMerge checks G's rule on the GPU's own classes: a where a == b, else flag.
func checkMerge(a, b, g []int32, flag int32) (disagree int, err error) {
	if len(a) != len(b) || len(b) != len(g) {
		return 0, fmt.Errorf("lengths %d, %d, %d", len(a), len(b), len(g))
	}
	for i := range g {
		want := a[i]
		if a[i] != b[i] {
			want = flag
			disagree++
		}
		if g[i] != want {
			return 0, fmt.Errorf("image %d: B %d, B' %d, merged %d (want %d)", i, a[i], b[i], g[i], want)
		}
	}
	return disagree, nil
}

func equalClasses(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sci(v float64) string { return fmt.Sprintf("%.2g", v) }
