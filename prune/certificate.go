package prune

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"goodnet/nn"
)

// The certificate. A refreshed image's slack is the smallest ‖Δh‖₂ (h: the output layer's
// input) that could change its argmax: min over j ≠ t of (z_t − z_j − ε) / (‖w_t‖ + ‖w_j‖),
// since |Δz_j| ≤ ‖w_j‖·‖Δh‖ (w_j: column j of the output kernel); ε = 1e-5·(|z_t| + |z_j|) +
// 1e-6 covers float32 rounding of the logits, and a class tied with the top gives slack ≤ 0.
// Each step bounds ‖Δh‖₂ since the image's last refresh by Σ over readers of gain·‖Δ(reader
// output)‖₂; images whose bound reaches their slack are recomputed exactly (refresh).

// safety widens the bound on ‖Δh‖₂ for float32 rounding in the readers' outputs.
const safety = 1 + 1e-3

func gainOf(g map[*nn.Layer][]float64, isReader map[*nn.Layer]*reader, readers []*reader, l *nn.Layer) []float64 {
	if r := isReader[l]; r != nil {
		v := make([]float64, len(readers))
		for i := range readers {
			if readers[i] == r {
				v[i] = 1
			}
		}
		return v
	}
	return g[l]
}

// lipschitz bounds ‖Δ out‖₂ / ‖Δ in‖₂ for a layer: the largest singular value of its kernel,
// times √(how many windows one input element can fall in) for windowed layers; ReLU and
// max are 1-Lipschitz.
func lipschitz(l *nn.Layer) float64 {
	overlap := func() float64 {
		a := (l.Size[0] + l.Strides[0] - 1) / l.Strides[0]
		b := (l.Size[1] + l.Strides[1] - 1) / l.Strides[1]
		return math.Sqrt(float64(a * b))
	}
	switch l.Kind {
	case nn.Dense:
		return spectralNorm(l.W, l.InShape[0], l.Units)
	case nn.Conv2D:
		return spectralNorm(l.W, l.Size[0]*l.Size[1]*l.InShape[2], l.Filters) * overlap()
	case nn.MaxPool2D:
		return overlap()
	case nn.Act:
		if l.Act == nn.LeakyReLU {
			return math.Max(1, math.Abs(l.Alpha))
		}
	}
	return 1
}

// spectralNorm is the largest singular value of the r×c row-major matrix w, rounded up a
// little so that the bound stays safe.
func spectralNorm(w []float32, r, c int) float64 {
	d := make([]float64, len(w))
	for i, x := range w {
		d[i] = float64(x)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(r, c, d), mat.SVDNone) {
		f := 0.0 // Frobenius norm: always an upper bound
		for _, x := range d {
			f += x * x
		}
		return math.Sqrt(f)
	}
	return svd.Values(nil)[0] * (1 + 1e-6)
}
