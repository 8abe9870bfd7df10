package nn

import (
	"fmt"
	"math"
	"slices"
)

// Model is a validated graph: layers in topological order, one input, one output.
type Model struct {
	Name   string
	Layers []*Layer // topological order; the input layer first
	Input  *Layer
	Output *Layer

	// Provenance, for reports: the Keras version and backend that wrote the file, and the file.
	KerasVersion string
	KerasBackend string
	Source       string
	// Origin is what the file format's package keeps of the file the model was read from, to
	// write the model back in that format (goodnet/onnx: the original graph and where each
	// weight came from); nil for Keras files. Opaque here; Clone shares it.
	Origin any

	byName map[string]*Layer
}

// New builds a model from layers (in any order) whose InputNames name other layers, with the
// given input layer and output layer. It resolves the graph, rejects dangling names, cycles
// and layers of unknown kind, infers every layer's shape from the input layer's InShape, and
// checks any weights already set. Errors name the layer.
func New(name string, layers []*Layer, input, output string) (*Model, error) {
	m := &Model{Name: name, byName: make(map[string]*Layer, len(layers))}
	for _, l := range layers {
		if l.Name == "" {
			return nil, fmt.Errorf("a %s layer has no name", l.Kind)
		}
		if _, dup := m.byName[l.Name]; dup {
			return nil, fmt.Errorf("layer %q: name used twice", l.Name)
		}
		if int(l.Kind) < 0 || int(l.Kind) >= len(kindNames) {
			return nil, fmt.Errorf("layer %q: unknown layer kind %d", l.Name, int(l.Kind))
		}
		m.byName[l.Name] = l
	}
	m.Input = m.byName[input]
	if m.Input == nil {
		return nil, fmt.Errorf("input layer %q does not exist", input)
	}
	if m.Input.Kind != Input {
		return nil, fmt.Errorf("input layer %q is a %s, not an InputLayer", input, m.Input.Kind)
	}
	m.Output = m.byName[output]
	if m.Output == nil {
		return nil, fmt.Errorf("output layer %q does not exist", output)
	}
	for _, l := range layers {
		l.Inputs = l.Inputs[:0]
		for _, in := range l.InputNames {
			src := m.byName[in]
			if src == nil {
				return nil, fmt.Errorf("layer %q: inbound layer %q does not exist", l.Name, in)
			}
			l.Inputs = append(l.Inputs, src)
		}
		switch {
		case l.Kind == Input && len(l.Inputs) != 0:
			return nil, fmt.Errorf("layer %q: an InputLayer has no inbound layers", l.Name)
		case (l.Kind == Add || l.Kind == Concat) && len(l.Inputs) < 2:
			return nil, fmt.Errorf("layer %q: %s needs at least 2 inbound layers, has %d", l.Name, l.Kind, len(l.Inputs))
		case l.Kind != Input && l.Kind != Add && l.Kind != Concat && len(l.Inputs) != 1:
			return nil, fmt.Errorf("layer %q: %s needs exactly 1 inbound layer, has %d", l.Name, l.Kind, len(l.Inputs))
		}
		if l.Kind == Input && l != m.Input {
			return nil, fmt.Errorf("layer %q: a second InputLayer (only single-input models are supported)", l.Name)
		}
	}
	order, err := topoSort(layers)
	if err != nil {
		return nil, err
	}
	m.Layers = order
	for _, l := range m.Layers {
		if err := inferShape(l); err != nil {
			return nil, fmt.Errorf("layer %q (%s): %w", l.Name, l.Kind, err)
		}
		if err := l.checkWeights(); err != nil {
			return nil, err
		}
	}
	if !m.reaches(m.Input, m.Output) {
		return nil, fmt.Errorf("output layer %q is not connected to input layer %q", output, input)
	}
	return m, nil
}

// topoSort orders layers so that every layer comes after its inputs (Kahn's algorithm; ties
// keep the given order). A cycle is an error naming a layer on it.
func topoSort(layers []*Layer) ([]*Layer, error) {
	indeg := make(map[*Layer]int, len(layers))
	users := make(map[*Layer][]*Layer, len(layers))
	for _, l := range layers {
		indeg[l] = len(l.Inputs)
		for _, in := range l.Inputs {
			users[in] = append(users[in], l)
		}
	}
	pos := make(map[*Layer]int, len(layers))
	for i, l := range layers {
		pos[l] = i
	}
	var ready []*Layer
	for _, l := range layers {
		if indeg[l] == 0 {
			ready = append(ready, l)
		}
	}
	var order []*Layer
	for len(ready) > 0 {
		slices.SortStableFunc(ready, func(a, b *Layer) int { return pos[a] - pos[b] })
		l := ready[0]
		ready = ready[1:]
		order = append(order, l)
		for _, u := range users[l] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(layers) {
		for _, l := range layers {
			if indeg[l] > 0 {
				return nil, fmt.Errorf("layer %q: the layer graph has a cycle through it", l.Name)
			}
		}
	}
	return order, nil
}

func (m *Model) reaches(from, to *Layer) bool {
	seen := map[*Layer]bool{}
	var walk func(l *Layer) bool
	walk = func(l *Layer) bool {
		if l == from {
			return true
		}
		if seen[l] {
			return false
		}
		seen[l] = true
		for _, in := range l.Inputs {
			if walk(in) {
				return true
			}
		}
		return false
	}
	return walk(to)
}

const maxDim = 1 << 20

// Infer sets l's inputs to ins (their shapes known) and infers l's shapes and checks its
// weights as New does: for format converters that need shapes while they build a graph
// (New still validates the whole graph at the end).
func Infer(l *Layer, ins ...*Layer) error {
	l.Inputs = append(l.Inputs[:0], ins...)
	if l.Kind != Input && len(ins) == 0 {
		return fmt.Errorf("layer %q: no inbound layers", l.Name)
	}
	if err := inferShape(l); err != nil {
		return fmt.Errorf("layer %q (%s): %v", l.Name, l.Kind, err)
	}
	return l.checkWeights()
}

func inferShape(l *Layer) error {
	if l.Kind == Input {
		if len(l.InShape) != 3 && len(l.InShape) != 1 {
			return fmt.Errorf("input shape %v: want (height, width, channels) or (features)", l.InShape)
		}
		for _, d := range l.InShape {
			if d <= 0 || d > maxDim {
				return fmt.Errorf("input shape %v: dimensions must be in 1..%d", l.InShape, maxDim)
			}
		}
		l.OutShape = append(Shape(nil), l.InShape...)
		return nil
	}
	in := l.Inputs[0].OutShape
	l.InShape = append(Shape(nil), in...)
	switch l.Kind {
	case Conv2D, MaxPool2D, AvgPool2D:
		if len(in) != 3 {
			return fmt.Errorf("input shape %v: want (height, width, channels)", in)
		}
		if l.Size[0] <= 0 || l.Size[1] <= 0 || l.Strides[0] <= 0 || l.Strides[1] <= 0 ||
			l.Size[0] > maxDim || l.Size[1] > maxDim || l.Strides[0] > maxDim || l.Strides[1] > maxDim {
			return fmt.Errorf("window %v and strides %v must be positive", l.Size, l.Strides)
		}
		p := l.Pad
		if l.Padding == Explicit {
			for i, v := range p {
				if v < 0 || v > maxDim {
					return fmt.Errorf("padding %v must be in 0..%d", p, maxDim)
				}
				// a pooling window must hold an input position
				if l.Kind != Conv2D && v >= l.Size[i/2] {
					return fmt.Errorf("padding %v: a pad must be smaller than the window %dx%d", p, l.Size[0], l.Size[1])
				}
			}
		} else if p != [4]int{} {
			return fmt.Errorf("padding %v given with %s padding", p, l.Padding)
		}
		h := outDim(in[0], l.Size[0], l.Strides[0], l.Padding, p[0], p[1])
		w := outDim(in[1], l.Size[1], l.Strides[1], l.Padding, p[2], p[3])
		if h <= 0 || w <= 0 {
			return fmt.Errorf("window %dx%d does not fit input %v with %s padding", l.Size[0], l.Size[1], in, l.padString())
		}
		c := in[2]
		if l.Kind == Conv2D {
			if l.Filters <= 0 || l.Filters > maxDim {
				return fmt.Errorf("filters %d must be in 1..%d", l.Filters, maxDim)
			}
			c = l.Filters
			if l.Act != Linear && l.Act != ReLU {
				return fmt.Errorf("%s activation on a Conv2D is not supported (linear, relu)", l.Act)
			}
		}
		l.OutShape = Shape{h, w, c}
	case ZeroPad2D:
		if len(in) != 3 {
			return fmt.Errorf("input shape %v: want (height, width, channels)", in)
		}
		for _, v := range l.Pad {
			if v < 0 || v > maxDim {
				return fmt.Errorf("padding %v must be in 0..%d", l.Pad, maxDim)
			}
		}
		l.OutShape = Shape{in[0] + l.Pad[0] + l.Pad[1], in[1] + l.Pad[2] + l.Pad[3], in[2]}
	case GlobalAvgPool:
		if len(in) != 3 {
			return fmt.Errorf("input shape %v: want (height, width, channels)", in)
		}
		l.OutShape = Shape{in[2]}
		if l.KeepDims {
			l.OutShape = Shape{1, 1, in[2]}
		}
	case BatchNorm:
		if !(l.Eps >= 0) || math.IsInf(l.Eps, 0) {
			return fmt.Errorf("epsilon %g must be finite and ≥ 0", l.Eps)
		}
		l.OutShape = append(Shape(nil), in...)
	case Flatten:
		l.OutShape = Shape{in.Size()}
	case Dense:
		if len(in) != 1 {
			return fmt.Errorf("input shape %v: Dense needs a flat input (add a Flatten)", in)
		}
		if l.Units <= 0 || l.Units > maxDim {
			return fmt.Errorf("units %d must be in 1..%d", l.Units, maxDim)
		}
		if l.Act == LeakyReLU {
			return fmt.Errorf("%s activation on a Dense is not supported (linear, relu, softmax)", l.Act)
		}
		l.OutShape = Shape{l.Units}
	case Add:
		for _, o := range l.Inputs[1:] {
			if !o.OutShape.Equal(in) {
				return fmt.Errorf("inputs of different shapes: %q %v and %q %v", l.Inputs[0].Name, in, o.Name, o.OutShape)
			}
		}
		l.OutShape = append(Shape(nil), in...)
	case Concat:
		out := append(Shape(nil), in...)
		for _, o := range l.Inputs[1:] {
			s := o.OutShape
			if len(s) != len(in) || !s[:len(s)-1].Equal(in[:len(in)-1]) {
				return fmt.Errorf("inputs %q %v and %q %v differ in more than the channel axis", l.Inputs[0].Name, in, o.Name, s)
			}
			out[len(out)-1] += s[len(s)-1]
		}
		l.OutShape = out
	case Act:
		if l.Act == LeakyReLU && (math.IsNaN(l.Alpha) || math.IsInf(l.Alpha, 0)) {
			return fmt.Errorf("leaky relu slope %g is not finite", l.Alpha)
		}
		l.OutShape = append(Shape(nil), in...)
	case Dropout:
		l.OutShape = append(Shape(nil), in...)
	default:
		return fmt.Errorf("unknown layer kind")
	}
	if l.OutShape.Size() > 1<<28 {
		return fmt.Errorf("output shape %v is too large", l.OutShape)
	}
	return nil
}

// checkWeights checks the sizes of weights already set (nil weights are not checked: use
// CheckWeights once all are loaded).
func (l *Layer) checkWeights() error {
	if !l.HasWeights() {
		if l.W != nil || l.B != nil || l.Gamma != nil || l.Beta != nil || l.Mean != nil || l.Var != nil {
			return fmt.Errorf("layer %q: a %s layer has no weights", l.Name, l.Kind)
		}
		return nil
	}
	if l.Kind != BatchNorm && (l.Gamma != nil || l.Beta != nil || l.Mean != nil || l.Var != nil) {
		return fmt.Errorf("layer %q: a %s layer has no batch-normalisation weights", l.Name, l.Kind)
	}
	if l.Kind == BatchNorm && (l.W != nil || l.B != nil) {
		return fmt.Errorf("layer %q: a BatchNormalization layer has no kernel or bias", l.Name)
	}
	if l.B != nil && !l.UseBias {
		return fmt.Errorf("layer %q: has a bias but use_bias is false", l.Name)
	}
	if l.Gamma != nil && !l.Scale {
		return fmt.Errorf("layer %q: has gamma but scale is false", l.Name)
	}
	if l.Beta != nil && !l.Center {
		return fmt.Errorf("layer %q: has beta but center is false", l.Name)
	}
	for _, w := range l.Weights() {
		if *w.Data != nil && len(*w.Data) != w.Shape.Size() {
			if w.Name == "kernel" {
				return fmt.Errorf("layer %q: kernel has %d values, the architecture needs %v = %d", l.Name, len(*w.Data), w.Shape, w.Shape.Size())
			}
			return fmt.Errorf("layer %q: %s has %d values, the architecture needs %d", l.Name, w.Name, len(*w.Data), w.Shape.Size())
		}
	}
	if l.Kind == BatchNorm && l.Var != nil {
		for c, v := range l.Var {
			if !(v >= 0) || !(float64(v)+l.Eps > 0) {
				return fmt.Errorf("layer %q: moving variance of channel %d is %g (variance + epsilon must be positive)", l.Name, c, v)
			}
		}
	}
	return nil
}

// CheckLoaded checks the weights set on one layer (sizes, variances), as CheckWeights does
// for all; for loaders.
func (l *Layer) CheckLoaded() error { return l.checkWeights() }

// CheckWeights verifies that every layer with weights has all of them, of the right size.
func (m *Model) CheckWeights() error {
	for _, l := range m.Layers {
		for _, w := range l.Weights() {
			if *w.Data == nil {
				return fmt.Errorf("layer %q: weights missing", l.Name)
			}
		}
		if err := l.checkWeights(); err != nil {
			return err
		}
	}
	return nil
}

// Layer returns the layer of that name, or nil.
func (m *Model) Layer(name string) *Layer { return m.byName[name] }

// InputShape is the per-sample input shape.
func (m *Model) InputShape() Shape { return m.Input.OutShape }

// NumClasses is the size of the output layer (1283 for the lab's DeepID).
func (m *Model) NumClasses() int { return m.Output.OutShape.Size() }

// Params is the number of weights of the model.
func (m *Model) Params() int {
	n := 0
	for _, l := range m.Layers {
		n += l.Params()
	}
	return n
}

// FLOPs per sample (see Layer.FLOPs).
func (m *Model) FLOPs() int64 {
	var n int64
	for _, l := range m.Layers {
		n += l.FLOPs()
	}
	return n
}

// Consumers returns the layers that take l as an input, in topological order.
func (m *Model) Consumers(l *Layer) []*Layer {
	var out []*Layer
	for _, u := range m.Layers {
		for _, in := range u.Inputs {
			if in == l {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// Clone is a deep copy: the same graph with its own weights.
func (m *Model) Clone() *Model {
	layers := make([]*Layer, len(m.Layers))
	for i, l := range m.Layers {
		c := *l
		c.InputNames = append([]string(nil), l.InputNames...)
		c.Inputs = nil
		for _, p := range []*[]float32{&c.W, &c.B, &c.Gamma, &c.Beta, &c.Mean, &c.Var} {
			if *p != nil {
				*p = append([]float32(nil), *p...)
			}
		}
		c.InShape = append(Shape(nil), l.InShape...)
		c.OutShape = append(Shape(nil), l.OutShape...)
		layers[i] = &c
	}
	c, err := New(m.Name, layers, m.Input.Name, m.Output.Name)
	if err != nil {
		panic("nn: Clone of a valid model failed: " + err.Error())
	}
	c.KerasVersion, c.KerasBackend, c.Source, c.Origin = m.KerasVersion, m.KerasBackend, m.Source, m.Origin
	return c
}

// SameArchitecture reports, as an error naming the first difference, whether o has the same
// layers (names, kinds, options, shapes, connections) as m. Weights are not compared.
func (m *Model) SameArchitecture(o *Model) error {
	if len(m.Layers) != len(o.Layers) {
		return fmt.Errorf("%d layers, expected %d", len(o.Layers), len(m.Layers))
	}
	for _, l := range m.Layers {
		k := o.Layer(l.Name)
		if k == nil {
			return fmt.Errorf("no layer %q", l.Name)
		}
		if l.String() != k.String() || !l.OutShape.Equal(k.OutShape) || !l.InShape.Equal(k.InShape) || l.UseBias != k.UseBias ||
			l.Scale != k.Scale || l.Center != k.Center {
			return fmt.Errorf("layer %q is %s %v, expected %s %v", l.Name, k, k.OutShape, l, l.OutShape)
		}
		if fmt.Sprint(l.InputNames) != fmt.Sprint(k.InputNames) {
			return fmt.Errorf("layer %q takes %v, expected %v", l.Name, k.InputNames, l.InputNames)
		}
	}
	if m.Input.Name != o.Input.Name || m.Output.Name != o.Output.Name {
		return fmt.Errorf("input/output %s/%s, expected %s/%s", o.Input.Name, o.Output.Name, m.Input.Name, m.Output.Name)
	}
	return nil
}

// LastPool is the last MaxPooling2D layer in topological order, or nil.
func (m *Model) LastPool() *Layer {
	for i := len(m.Layers) - 1; i >= 0; i-- {
		if m.Layers[i].Kind == MaxPool2D {
			return m.Layers[i]
		}
	}
	return nil
}

// Convs lists the Conv2D layers in topological order.
func (m *Model) Convs() []*Layer {
	var out []*Layer
	for _, l := range m.Layers {
		if l.Kind == Conv2D {
			out = append(out, l)
		}
	}
	return out
}
