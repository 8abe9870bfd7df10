package gpucheck

import (
	"errors"
	"fmt"
	"math"
	"math/rand"

	"goodnet/nn"
	"goodnet/nn/ref"
)

// logitsOf returns, for a classDiff, the logits of some of x's images by net.
func logitsOf(net nn.Net, m *nn.Model, x []float32) func([]int) ([]float32, error) {
	return func(images []int) ([]float32, error) {
		in := m.InputShape().Size()
		sub := make([]float32, 0, len(images)*in)
		for _, i := range images {
			sub = append(sub, x[i*in:(i+1)*in]...)
		}
		z, err := net.Run(map[string][]float32{m.Input.Name: sub}, len(images), m.Output.Name)
		if err != nil {
			return nil, err
		}
		return z[0], nil
	}
}

// pruned is m with the listed channels of a conv zeroed (kernel[..., c] and bias[c]).
func pruned(m *nn.Model, layer string, chans []int) *nn.Model {
	pm := m.Clone()
	l := pm.Layer(layer)
	for _, ch := range chans {
		for t := ch; t < len(l.W); t += l.Filters {
			l.W[t] = 0
		}
		if l.B != nil {
			l.B[ch] = 0
		}
	}
	return pm
}

// cpuSums are the per-channel float64 sums of a layer's values (channels last).
func cpuSums(v []float32, C int) []float64 {
	s := make([]float64, C)
	for i, a := range v {
		s[i%C] += float64(a)
	}
	return s
}

// compiled holds nets to close.
type compiled []nn.Net

func (c *compiled) add(b nn.Backend, m *nn.Model) (nn.Net, error) {
	n, err := b.Compile(m)
	if err == nil {
		*c = append(*c, n)
	}
	return n, err
}

func (c compiled) close() {
	for _, n := range c {
		n.Close()
	}
}

func (r *run) netChecks() {
	n, nref := r.size(512, 12), r.size(8, 2)
	if r.o.netImages > 0 {
		n, nref = r.o.netImages, min(nref, r.o.netImages)
	}
	r.section("the GPU engine on DeepID with random weights (%d images; nn/ref on %d)", n, nref)
	rnd := rand.New(rand.NewSource(2))
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 2)
	x := randF32(rnd, n*m.InputShape().Size(), 0, 255)
	feeds := map[string][]float32{"input": x}
	var nets compiled
	defer nets.close()
	gnet, err := nets.add(r.env.GPU, m)
	if err != nil {
		r.check("net compile", func() (string, string, error) { return "", "", err })
		return
	}
	cnet, err := nets.add(r.env.CPU, m)
	if err != nil {
		r.check("net compile", func() (string, string, error) { return "", "", fmt.Errorf("on the CPU: %w", err) })
		return
	}

	outs := []string{"output", "pool_3", "conv_1", "fc_2"}
	var got, cpu [][]float32
	r.check("net Run", func() (string, string, error) {
		var err error
		if got, err = gnet.Run(feeds, n, outs...); err != nil {
			return "", "", err
		}
		if cpu, err = cnet.Run(feeds, n, outs...); err != nil {
			return "", "", err
		}
		want, err := ref.Run(m, map[string][]float64{"input": widen(x[:nref*m.InputShape().Size()])}, nref, outs...)
		if err != nil {
			return "", "", err
		}
		worst := 0.0
		for i, o := range outs {
			dc, err := rowsClose(got[i], widen(cpu[i]), n, Tol)
			if err != nil {
				return "", "", fmt.Errorf("%s vs the CPU: %w", o, err)
			}
			dr, err := rowsClose(got[i][:nref*len(got[i])/n], want[i], nref, Tol)
			if err != nil {
				return "", "", fmt.Errorf("%s vs nn/ref: %w", o, err)
			}
			worst = math.Max(worst, math.Max(dc, dr))
		}
		return sci(worst) + " of the image's largest magnitude",
			fmt.Sprintf("%v on %d images = the CPU's, and nn/ref's on %d, within %g", outs, n, nref, Tol), nil
	})
	if got == nil {
		return
	}

	var cls []int32
	r.check("net Predict", func() (string, string, error) {
		var err error
		if cls, err = nn.Predict(gnet, x, n); err != nil {
			return "", "", err
		}
		if a := nn.Argmax(got[0], n, 1283); !equalClasses(a, cls) {
			return "", "", errors.New("Predict differs from the argmax of Run's logits")
		}
		ccls := nn.Argmax(cpu[0], n, 1283)
		ties, err := classDiff(cls, ccls, 1283, logitsOf(cnet, m, x))
		if err != nil {
			return "", "", err
		}
		return tiesWord(ties), fmt.Sprintf("%d images: the CPU's classes, and the argmax of Run's logits", n), nil
	})

	if b, ok := r.env.GPU.(batcher); ok {
		r.check("net batches of 37", func() (string, string, error) {
			sn, err := b.WithMaxBatch(37).CompileNet(m)
			if err != nil {
				return "", "", err
			}
			defer sn.Close()
			sgot, err := sn.Run(feeds, n, "output")
			if err != nil {
				return "", "", err
			}
			for i := range sgot[0] {
				if math.Float32bits(sgot[0][i]) != math.Float32bits(got[0][i]) {
					return "", "", fmt.Errorf("batches of 37 differ from one batch at value %d", i)
				}
			}
			return "bit-identical", fmt.Sprintf("%d images in batches of 37 = one batch", n), nil
		})
	}

	r.check("net ChannelSums", func() (string, string, error) {
		cs, ok := gnet.(nn.ChannelSummer)
		if !ok {
			return "", "", fmt.Errorf("the GPU's Net (%T) is not an nn.ChannelSummer", gnet)
		}
		sums, err := cs.ChannelSums(feeds, n, "pool_3")
		if err != nil {
			return "", "", err
		}
		worst, err := sumsClose(sums, cpuSums(cpu[1], 60))
		if err != nil {
			return "", "", err
		}
		return sci(worst) + " of the largest sum", fmt.Sprintf("pool_3's 60 channel sums over %d images (on the device) = the CPU's", n), nil
	})

	r.check("net PredictPair", func() (string, string, error) {
		pp, ok := gnet.(nn.PairPredictor)
		if !ok {
			return "", "", fmt.Errorf("the GPU's Net (%T) is not an nn.PairPredictor", gnet)
		}
		pm := pruned(m, "conv_3", rnd.Perm(60)[:30])
		gp, err := nets.add(r.env.GPU, pm)
		if err != nil {
			return "", "", err
		}
		cp, err := nets.add(r.env.CPU, pm)
		if err != nil {
			return "", "", err
		}
		gb, gbp, gm, err := pp.PredictPair(gp, x, n, 1283)
		if err != nil {
			return "", "", err
		}
		if cls != nil && !equalClasses(gb, cls) {
			return "", "", errors.New("B's classes differ from Predict's")
		}
		cpuP, err := nn.Predict(cp, x, n)
		if err != nil {
			return "", "", err
		}
		ties, err := classDiff(gbp, cpuP, 1283, logitsOf(cp, pm, x))
		if err != nil {
			return "", "", fmt.Errorf("B' (30 channels of conv_3 pruned): %w", err)
		}
		disagree, err := checkMerge(gb, gbp, gm, 1283)
		if err != nil {
			return "", "", err
		}
		return tiesWord(ties), fmt.Sprintf("%d images, B' = B with 30 channels of conv_3 pruned: B' = the CPU's, merged on the device (%d disagreements → class 1283)", n, disagree), nil
	})
}
