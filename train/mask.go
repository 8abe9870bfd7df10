package train

import (
	"fmt"

	"goodnet/nn"
)

// checkMaskFreeze validates Options.Mask and Options.Freeze against m.
func checkMaskFreeze(m *nn.Model, mask map[string][]bool, freeze map[string]Frozen) error {
	for name, mk := range mask {
		l := m.Layer(name)
		if l == nil || !l.HasWeights() {
			return fmt.Errorf("train: mask names layer %q, which is not a Conv2D or Dense layer of the model", name)
		}
		if want := l.OutShape[len(l.OutShape)-1]; len(mk) != want {
			return fmt.Errorf("train: mask of layer %q has %d entries, the layer has %d output channels", name, len(mk), want)
		}
	}
	for name, fz := range freeze {
		l := m.Layer(name)
		if l == nil || !l.HasWeights() {
			return fmt.Errorf("train: freeze names layer %q, which is not a Conv2D or Dense layer of the model", name)
		}
		if fz.Kernel != nil && len(fz.Kernel) != len(l.W) {
			return fmt.Errorf("train: freeze of layer %q has %d kernel entries, the kernel has %d", name, len(fz.Kernel), len(l.W))
		}
		if fz.Bias != nil && (l.B == nil || len(fz.Bias) != len(l.B)) {
			return fmt.Errorf("train: freeze of layer %q has %d bias entries, the layer has %d biases", name, len(fz.Bias), len(l.B))
		}
	}
	return nil
}

// zeroMasked zeroes the masked output channels of m: kernel[..., c] and bias[c] (both Conv2D
// and Dense kernels have the output last).
func zeroMasked(m *nn.Model, mask map[string][]bool) {
	for name, mk := range mask {
		l := m.Layer(name)
		O := len(mk)
		for i := range l.W {
			if mk[i%O] {
				l.W[i] = 0
			}
		}
		for c, off := range mk {
			if off && l.B != nil {
				l.B[c] = 0
			}
		}
	}
}

// setFix flags in p.fix every parameter that training leaves as it is: masked channels (zero)
// and frozen weights.
func (p *plan) setFix(mask map[string][]bool, freeze map[string]Frozen) {
	for _, n := range p.nodes {
		l := n.l
		if !l.HasWeights() {
			continue
		}
		fix := p.fix[n.wOff : n.wOff+len(l.W)]
		var fixB []byte
		if n.bOff >= 0 {
			fixB = p.fix[n.bOff : n.bOff+len(l.B)]
		}
		if fz, ok := freeze[l.Name]; ok {
			for i, f := range fz.Kernel {
				if f {
					fix[i] = 1
				}
			}
			for i, f := range fz.Bias {
				if f {
					fixB[i] = 1
				}
			}
		}
		if mk, ok := mask[l.Name]; ok {
			O := len(mk)
			for i := range fix {
				if mk[i%O] {
					fix[i] = 1
				}
			}
			for c, off := range mk {
				if off && fixB != nil {
					fixB[c] = 1
				}
			}
		}
	}
}
