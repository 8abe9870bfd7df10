// Package ref is the plain, obviously-correct float64 implementation of every layer that the
// engines (host/, gpu/) and the pruning sweep are tested against. Clarity over speed: one loop
// nest per layer, written the way the Keras documentation defines the layer.
package ref

import (
	"fmt"
	"math"

	"goodnet/nn"
)

// Run evaluates m in float64 on n samples; feeds and outputs as nn.Net.Run (softmax is not
// applied). Weights are the model's float32 weights, widened.
func Run(m *nn.Model, feeds map[string][]float64, n int, outs ...string) ([][]float64, error) {
	f32 := map[string][]float32{}
	for k, v := range feeds {
		f32[k] = make([]float32, len(v)) // sizes only, for the check
	}
	ls, err := nn.CheckFeeds(m, f32, n, outs)
	if err != nil {
		return nil, err
	}
	act := map[*nn.Layer][]float64{}
	for k, v := range feeds {
		act[m.Layer(k)] = v
	}
	for _, l := range nn.Plan(m, f32, ls) {
		act[l] = Layer(l, inputsOf(l, act), n)
	}
	res := make([][]float64, len(ls))
	for i, l := range ls {
		res[i] = act[l]
	}
	return res, nil
}

func inputsOf(l *nn.Layer, act map[*nn.Layer][]float64) [][]float64 {
	var xs [][]float64
	for _, in := range l.Inputs {
		xs = append(xs, act[in])
	}
	return xs
}

// Layer computes one layer on n samples.
func Layer(l *nn.Layer, xs [][]float64, n int) []float64 {
	switch l.Kind {
	case nn.Conv2D:
		return activate(Conv2D(l, xs[0], n), l.Act)
	case nn.MaxPool2D:
		return MaxPool(l, xs[0], n)
	case nn.Dense:
		return activate(Dense(l, xs[0], n), l.Act)
	case nn.Add:
		out := make([]float64, len(xs[0]))
		for _, x := range xs {
			for i := range out {
				out[i] += x[i]
			}
		}
		return out
	case nn.Act:
		if l.Act == nn.LeakyReLU {
			out := append([]float64(nil), xs[0]...)
			for i, x := range out {
				if x < 0 {
					out[i] = l.Alpha * x
				}
			}
			return out
		}
		return activate(append([]float64(nil), xs[0]...), l.Act)
	case nn.Flatten, nn.Dropout:
		return append([]float64(nil), xs[0]...)
	case nn.BatchNorm:
		return BatchNorm(l, xs[0])
	case nn.AvgPool2D:
		return AvgPool(l, xs[0], n)
	case nn.GlobalAvgPool:
		return GlobalAvgPool(l, xs[0], n)
	case nn.ZeroPad2D:
		return ZeroPad(l, xs[0], n)
	case nn.Concat:
		return Concat(l, xs, n)
	}
	panic(fmt.Sprintf("ref: layer %q: unsupported kind %v", l.Name, l.Kind))
}

func activate(v []float64, a nn.Activation) []float64 {
	if a == nn.ReLU {
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	}
	return v // linear, and softmax (not applied: logits)
}

// BatchNorm (inference): out = gamma·(x − mean)/√(var + ε) + beta for each channel (the last
// axis); gamma 1 and beta 0 where absent.
func BatchNorm(l *nn.Layer, x []float64) []float64 {
	C := len(l.Mean)
	out := make([]float64, len(x))
	for i, v := range x {
		c := i % C
		g, b := 1.0, 0.0
		if l.Gamma != nil {
			g = float64(l.Gamma[c])
		}
		if l.Beta != nil {
			b = float64(l.Beta[c])
		}
		out[i] = g*(v-float64(l.Mean[c]))/math.Sqrt(float64(l.Var[c])+l.Eps) + b
	}
	return out
}

// AvgPool: the mean of each window's positions inside the input; with CountPad the sum is
// divided by the whole window (padded positions count as zeros).
func AvgPool(l *nn.Layer, x []float64, n int) []float64 {
	H, W, C := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW := l.OutShape[0], l.OutShape[1]
	pt, pl := l.Pads()
	out := make([]float64, n*OH*OW*C)
	for b := 0; b < n; b++ {
		for i := 0; i < OH; i++ {
			for j := 0; j < OW; j++ {
				for c := 0; c < C; c++ {
					s, cnt := 0.0, 0
					for di := 0; di < l.Size[0]; di++ {
						for dj := 0; dj < l.Size[1]; dj++ {
							y, xx := i*l.Strides[0]+di-pt, j*l.Strides[1]+dj-pl
							if y < 0 || y >= H || xx < 0 || xx >= W {
								continue
							}
							s += x[((b*H+y)*W+xx)*C+c]
							cnt++
						}
					}
					if l.CountPad {
						cnt = l.Size[0] * l.Size[1]
					}
					out[((b*OH+i)*OW+j)*C+c] = s / float64(cnt)
				}
			}
		}
	}
	return out
}

// GlobalAvgPool: each channel's mean over rows and columns.
func GlobalAvgPool(l *nn.Layer, x []float64, n int) []float64 {
	H, W, C := l.InShape[0], l.InShape[1], l.InShape[2]
	out := make([]float64, n*C)
	for b := 0; b < n; b++ {
		for c := 0; c < C; c++ {
			s := 0.0
			for p := 0; p < H*W; p++ {
				s += x[(b*H*W+p)*C+c]
			}
			out[b*C+c] = s / float64(H*W)
		}
	}
	return out
}

// ZeroPad: the input in the middle of zero rows and columns (Pad: top, bottom, left, right).
func ZeroPad(l *nn.Layer, x []float64, n int) []float64 {
	H, W, C := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW := l.OutShape[0], l.OutShape[1]
	out := make([]float64, n*OH*OW*C)
	for b := 0; b < n; b++ {
		for i := 0; i < H; i++ {
			for j := 0; j < W; j++ {
				for c := 0; c < C; c++ {
					out[((b*OH+i+l.Pad[0])*OW+j+l.Pad[2])*C+c] = x[((b*H+i)*W+j)*C+c]
				}
			}
		}
	}
	return out
}

// Concat joins the inputs along the channel axis: at each position, the first input's
// channels, then the second's, ...
func Concat(l *nn.Layer, xs [][]float64, n int) []float64 {
	C := l.OutShape[len(l.OutShape)-1]
	pos := l.OutShape.Size() / C
	out := make([]float64, n*pos*C)
	off := 0
	for k, in := range l.Inputs {
		ci := in.OutShape[len(in.OutShape)-1]
		for p := 0; p < n*pos; p++ {
			for c := 0; c < ci; c++ {
				out[p*C+off+c] = xs[k][p*ci+c]
			}
		}
		off += ci
	}
	return out
}

// Conv2D: out[b,i,j,o] = bias[o] + Σ_{di,dj,c} in[b, i*sh+di-pt, j*sw+dj-pl, c] · W[di,dj,c,o],
// with zeros outside the input (the "same" or explicit padding). No activation.
func Conv2D(l *nn.Layer, x []float64, n int) []float64 {
	H, W, C := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW, O := l.OutShape[0], l.OutShape[1], l.OutShape[2]
	KH, KW := l.Size[0], l.Size[1]
	pt, pl := l.Pads()
	out := make([]float64, n*OH*OW*O)
	for b := 0; b < n; b++ {
		for i := 0; i < OH; i++ {
			for j := 0; j < OW; j++ {
				for o := 0; o < O; o++ {
					s := 0.0
					if l.B != nil {
						s = float64(l.B[o])
					}
					for di := 0; di < KH; di++ {
						for dj := 0; dj < KW; dj++ {
							y, xx := i*l.Strides[0]+di-pt, j*l.Strides[1]+dj-pl
							if y < 0 || y >= H || xx < 0 || xx >= W {
								continue
							}
							for c := 0; c < C; c++ {
								s += x[((b*H+y)*W+xx)*C+c] * float64(l.W[((di*KW+dj)*C+c)*O+o])
							}
						}
					}
					out[((b*OH+i)*OW+j)*O+o] = s
				}
			}
		}
	}
	return out
}

// MaxPool: the largest value in each window; positions outside the input are ignored.
func MaxPool(l *nn.Layer, x []float64, n int) []float64 {
	H, W, C := l.InShape[0], l.InShape[1], l.InShape[2]
	OH, OW := l.OutShape[0], l.OutShape[1]
	pt, pl := l.Pads()
	out := make([]float64, n*OH*OW*C)
	for b := 0; b < n; b++ {
		for i := 0; i < OH; i++ {
			for j := 0; j < OW; j++ {
				for c := 0; c < C; c++ {
					best := math.Inf(-1)
					for di := 0; di < l.Size[0]; di++ {
						for dj := 0; dj < l.Size[1]; dj++ {
							y, xx := i*l.Strides[0]+di-pt, j*l.Strides[1]+dj-pl
							if y < 0 || y >= H || xx < 0 || xx >= W {
								continue
							}
							best = math.Max(best, x[((b*H+y)*W+xx)*C+c])
						}
					}
					out[((b*OH+i)*OW+j)*C+c] = best
				}
			}
		}
	}
	return out
}

// Dense: out[b,o] = bias[o] + Σ_k in[b,k] · W[k,o]. No activation.
func Dense(l *nn.Layer, x []float64, n int) []float64 {
	K, O := l.InShape[0], l.Units
	out := make([]float64, n*O)
	for b := 0; b < n; b++ {
		for o := 0; o < O; o++ {
			s := 0.0
			if l.B != nil {
				s = float64(l.B[o])
			}
			for k := 0; k < K; k++ {
				s += x[b*K+k] * float64(l.W[k*O+o])
			}
			out[b*O+o] = s
		}
	}
	return out
}

// Widen converts float32 to float64.
func Widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Predict returns the argmax class of each sample's output (first on ties).
func Predict(m *nn.Model, x []float64, n int) ([]int32, []float64, error) {
	r, err := Run(m, map[string][]float64{m.Input.Name: x}, n, m.Output.Name)
	if err != nil {
		return nil, nil, err
	}
	k := m.NumClasses()
	cls := make([]int32, n)
	top := make([]float64, n)
	for i := 0; i < n; i++ {
		row := r[0][i*k : (i+1)*k]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		cls[i], top[i] = int32(best), row[best]
	}
	return cls, top, nil
}
