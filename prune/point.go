package prune

import (
	"fmt"

	"goodnet/nn"
)

// What "prune channel c at layer X" means, for every graph goodnet reads.
//
// Channel c of X's output (its last axis) becomes exactly zero for every input, for every
// layer that reads X, and nothing else before X changes. It is done by zeroing weights,
// found by tracing X back to the weighted layers that make its channel c:
//
//   - Conv2D (linear or ReLU): kernel[..., c] and bias[c]; Dense: kernel[:, c] and bias[c];
//     BatchNormalization: gamma[c] and beta[c] (then its output is 0, not
//     beta − gamma·mean/√(var+ε)); one with scale=False cannot be zeroed.
//   - an activation that maps 0 to 0 (ReLU, LeakyReLU, linear), a pooling layer,
//     ZeroPadding2D, Dropout: channel c of its input, when X is that input's only reader;
//   - Add: channel c of every input (each read only by X); Concatenate: the channel of the
//     input it comes from (read only by X);
//   - anything else (the input, Flatten, softmax, a layer whose input other layers read too)
//     cannot be pruned: the error says why.
//
// A Conv2D or Dense whose only reader is a BatchNormalization is one unit with it (as PyTorch's
// exporter folds them): pruning the conv zeroes the BN's channel too, so that the channel is
// zero after the BN.
//
// The cut, where the sweep takes the channel means and starts, is X (or the unit's BN) followed
// forward through its only readers while they are activations that map 0 to 0 or Dropout, and
// then through the pooling layer that reads it alone, if one does (the seed's means are taken
// after the pool the conv feeds). For the lab's DeepID: conv_3 → pool_3; ONNX's DeepID:
// /conv_3/Conv → /Relu_2 → /MaxPool_2.
//
// The default X (no --layer): the last pooling layer (MaxPooling2D, AveragePooling2D,
// GlobalAveragePooling2D) in the graph's order; its input traced back through activations and
// BatchNormalization (each read only by the next) to a Conv2D if there is one there — the conv
// before the last pooling layer, conv_3 for DeepID-like graphs — else that input itself: for a
// PreAct-ResNet, the last block's activation before global average pooling (the final ReLU),
// where BackdoorBench's fine-pruning masks channels.

// target is one weighted layer's output channel to zero.
type target struct {
	layer string
	ch    int
}

// point is a resolved prune point.
type point struct {
	x, cut   *nn.Layer
	channels int
	unitBN   *nn.Layer // the BatchNormalization pruned with a Conv2D/Dense
}

// soleReader reports whether u is the only layer that reads l.
func soleReader(m *nn.Model, l, u *nn.Layer) bool {
	cs := m.Consumers(l)
	return len(cs) == 1 && cs[0] == u && l != m.Output
}

func isPool(l *nn.Layer) bool {
	return l.Kind == nn.MaxPool2D || l.Kind == nn.AvgPool2D || l.Kind == nn.GlobalAvgPool
}

func zeroPreserving(l *nn.Layer) bool {
	switch l.Kind {
	case nn.MaxPool2D, nn.AvgPool2D, nn.GlobalAvgPool, nn.ZeroPad2D, nn.Dropout:
		return true
	case nn.Act:
		return l.Act == nn.ReLU || l.Act == nn.LeakyReLU || l.Act == nn.Linear
	}
	return false
}

// targets returns the weighted layers' channels that make channel c of l.
func targets(m *nn.Model, l *nn.Layer, c int) ([]target, error) {
	switch {
	case l.Kind == nn.Conv2D || l.Kind == nn.Dense:
		if l.Act != nn.ReLU && l.Act != nn.Linear {
			return nil, fmt.Errorf("%q (%s) has activation %s, which does not map 0 to 0", l.Name, l.Kind, l.Act)
		}
		return []target{{l.Name, c}}, nil
	case l.Kind == nn.BatchNorm:
		if !l.Scale {
			return nil, fmt.Errorf("%q (BatchNormalization with scale=False) cannot output a zero channel", l.Name)
		}
		return []target{{l.Name, c}}, nil
	case zeroPreserving(l):
		in := l.Inputs[0]
		if !soleReader(m, in, l) {
			return nil, fmt.Errorf("%q (%s): its input %q is read by other layers too", l.Name, l.Kind, in.Name)
		}
		return targets(m, in, c)
	case l.Kind == nn.Add:
		var ts []target
		for _, in := range l.Inputs {
			if !soleReader(m, in, l) {
				return nil, fmt.Errorf("%q (Add): its input %q is read by other layers too", l.Name, in.Name)
			}
			t, err := targets(m, in, c)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t...)
		}
		return ts, nil
	case l.Kind == nn.Concat:
		off := 0
		for _, in := range l.Inputs {
			ci := in.OutShape[len(in.OutShape)-1]
			if c < off+ci {
				if !soleReader(m, in, l) {
					return nil, fmt.Errorf("%q (Concatenate): its input %q is read by other layers too", l.Name, in.Name)
				}
				return targets(m, in, c-off)
			}
			off += ci
		}
	}
	return nil, fmt.Errorf("%q is a %s, whose channels goodnet cannot zero", l.Name, layerWhat(l))
}

func layerWhat(l *nn.Layer) string {
	if l.Kind == nn.Act {
		return l.Act.String() + " activation"
	}
	return l.Kind.String()
}

// defaultPoint is the prune point without --layer (see above).
func defaultPoint(m *nn.Model) (*nn.Layer, error) {
	var pool *nn.Layer
	for _, l := range m.Layers {
		if isPool(l) {
			pool = l
		}
	}
	if pool == nil {
		return nil, &LayerError{Problem: fmt.Sprintf("model %s has no pooling layer to cut before; name the layer to prune", m.Name)}
	}
	x := pool.Inputs[0]
	for l := x; ; {
		if l.Kind == nn.Conv2D {
			return l, nil
		}
		if (l.Kind != nn.Act && l.Kind != nn.BatchNorm) || !soleReader(m, l.Inputs[0], l) {
			return x, nil
		}
		l = l.Inputs[0]
	}
}

// resolve finds the prune point for --layer name ("" → the default) and checks that every
// channel of it can be zeroed.
func resolve(m *nn.Model, name string) (*point, error) {
	var x *nn.Layer
	if name == "" {
		var err error
		if x, err = defaultPoint(m); err != nil {
			return nil, err
		}
	} else if x = m.Layer(name); x == nil {
		var names []string
		for _, c := range m.Convs() {
			names = append(names, c.Name)
		}
		return nil, &LayerError{Layer: name, Problem: fmt.Sprintf(": no such layer (Conv2D layers: %v)", names)}
	}
	if x == m.Output {
		return nil, &LayerError{Layer: x.Name, Problem: " is the output layer"}
	}
	p := &point{x: x, cut: x, channels: x.OutShape[len(x.OutShape)-1]}
	for c := 0; c < p.channels; c++ {
		if _, err := targets(m, x, c); err != nil {
			return nil, &LayerError{Layer: x.Name, Problem: fmt.Sprintf(" cannot be pruned: %v", err)}
		}
	}
	if x.Kind == nn.Conv2D || x.Kind == nn.Dense {
		if us := m.Consumers(x); len(us) == 1 && us[0].Kind == nn.BatchNorm && us[0] != m.Output {
			if !us[0].Scale {
				return nil, &LayerError{Layer: x.Name, Problem: fmt.Sprintf(" cannot be pruned: %q (BatchNormalization with scale=False) after it cannot output a zero channel", us[0].Name)}
			}
			p.unitBN, p.cut = us[0], us[0]
		}
	}
	for {
		us := m.Consumers(p.cut)
		if len(us) != 1 || !zeroPreserving(us[0]) || p.cut == m.Output || us[0].Kind == nn.ZeroPad2D {
			break
		}
		p.cut = us[0]
		if isPool(p.cut) {
			break // the pooling layer X feeds, as the seed's pool_3
		}
	}
	return p, nil
}

// zero zeroes channel c at the point in m (a model of the point's graph).
func (p *point) zero(m *nn.Model, c int) {
	ts, err := targets(m, m.Layer(p.x.Name), c)
	if err != nil {
		panic("prune: a resolved point cannot be zeroed: " + err.Error())
	}
	if p.unitBN != nil {
		ts = append(ts, target{p.unitBN.Name, c})
	}
	for _, t := range ts {
		zeroWeights(m.Layer(t.layer), t.ch)
	}
}

// zeroWeights zeroes the weights that make output channel ch of a Conv2D, Dense or
// BatchNormalization.
func zeroWeights(l *nn.Layer, ch int) {
	switch l.Kind {
	case nn.Conv2D, nn.Dense:
		n := l.Filters
		if l.Kind == nn.Dense {
			n = l.Units
		}
		for i := ch; i < len(l.W); i += n {
			l.W[i] = 0
		}
		if l.B != nil {
			l.B[ch] = 0
		}
	case nn.BatchNorm:
		if l.Gamma != nil {
			l.Gamma[ch] = 0
		}
		if l.Beta != nil {
			l.Beta[ch] = 0
		}
	}
}
