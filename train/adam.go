package train

import "math"

// adam is Adam (Kingma & Ba 2015) over a list of float32 tensors: β1 0.9, β2 0.999, ε 1e-8,
// bias-corrected moments kept in float32, and coupled L2 (l2·w added to the gradient).
// Unlike gorgonia's solver it takes the learning rate at every step (for schedules).
type adam struct {
	t    int
	m, v [][]float32
}

const (
	adamB1  = 0.9
	adamB2  = 0.999
	adamEps = 1e-8
)

// step updates each w[i] from its gradient g[i], then shrinks it by lr·wd·w (decoupled
// weight decay).
func (a *adam) step(w, g [][]float32, lr, l2, wd float64) {
	if a.m == nil {
		a.m = make([][]float32, len(w))
		a.v = make([][]float32, len(w))
		for i := range w {
			a.m[i] = make([]float32, len(w[i]))
			a.v[i] = make([]float32, len(w[i]))
		}
	}
	a.t++
	c1 := 1 - math.Pow(adamB1, float64(a.t))
	c2 := 1 - math.Pow(adamB2, float64(a.t))
	// w -= lr·(m/c1)/(√(v/c2) + ε) = (lr/c1)·m/(√v/√c2 + ε)
	step, rc2 := float32(lr/c1), float32(1/math.Sqrt(c2))
	b1, b2 := float32(adamB1), float32(adamB2)
	keep := float32(1 - lr*wd)
	for i := range w {
		wi, gi, mi, vi := w[i], g[i], a.m[i], a.v[i]
		for j := range wi {
			gj := gi[j]
			if l2 > 0 {
				gj += float32(l2) * wi[j]
			}
			mi[j] = b1*mi[j] + (1-b1)*gj
			vi[j] = b2*vi[j] + (1-b2)*gj*gj
			wi[j] = keep*wi[j] - step*mi[j]/(float32(math.Sqrt(float64(vi[j])))*rc2+adamEps)
		}
	}
}
