package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"goodnet/nn"
	"goodnet/onnx/pb"
)

// batch marks the batch dimension in a shape computed by Shape/Gather/Concat.
const batch = math.MinInt64

// value is what a tensor name of the graph holds while converting.
type value struct {
	layer *nn.Layer // a computed tensor: the nn layer holding it
	rank  int       // its ONNX rank, batch included: 4 (N×C×H×W) or 2 (N×F)
	// chw (rank 2): the features are an H×W×C image flattened channels-first, (c, h, w),
	// while nn holds them as (h, w, c) (zero: the same order).
	chw [3]int
	// nhwc (rank 4): the ONNX tensor is the layer's activation transposed to N×H×W×C (only a
	// flatten may read it).
	nhwc  bool
	konst *tensor // a constant (initializer or Constant node)
	// ints is the result of Shape/Gather/Unsqueeze/Concat on shapes (batch marks N);
	// scalar when it has rank 0.
	ints   []int64
	scalar bool
	isInts bool
	// the Dense a MatMul made (its bias may come from the Add that reads it)
	matmul bool
}

// nnIndex is the nn index of ONNX feature k of a rank-2 value: for a channels-first flatten,
// k = (c·H + h)·W + w ↦ (h·W + w)·C + c.
func (v *value) nnIndex(k int) int {
	H, W, C := v.chw[0], v.chw[1], v.chw[2]
	if C == 0 {
		return k
	}
	return (k%(H*W))*C + k/(H*W)
}

// binding says where one weight tensor of an nn layer comes from: initializer init; nn
// element idx[j] (j itself when idx is nil) = scale · ONNX element j.
type binding struct {
	init  string
	idx   []int
	scale float64
}

// origin is what Save needs of the file a model came from (nn.Model.Origin).
type origin struct {
	model    *pb.ModelProto
	bindings map[string]map[string]binding // nn layer → weight name (nn.Weight.Name) → binding
}

type converter struct {
	path     string
	g        *pb.GraphProto
	vals     map[string]*value
	users    map[string]int // how many needed nodes read each tensor
	layers   []*nn.Layer
	names    map[string]bool
	input    *nn.Layer
	bindings map[string]map[string]binding
	inits    map[string]*tensor
	opset    int64
}

// nodeError is an error of one node: `node "/conv1/Conv" (Conv): group 2 is not supported`.
func nodeError(n *pb.NodeProto, format string, a ...any) error {
	return fmt.Errorf("node %s (%s): %s", nodeName(n), n.GetOpType(), fmt.Sprintf(format, a...))
}

func nodeName(n *pb.NodeProto) string {
	if n.GetName() != "" {
		return fmt.Sprintf("%q", n.GetName())
	}
	if len(n.GetOutput()) > 0 {
		return fmt.Sprintf("with output %q", n.GetOutput()[0])
	}
	return "without name or output"
}

// convert turns a parsed model into an nn.Model.
func convert(mp *pb.ModelProto, path string) (*nn.Model, error) {
	if mp.GetIrVersion() < 3 {
		return nil, fmt.Errorf("IR version %d is not supported (3 or later)", mp.GetIrVersion())
	}
	opset := int64(-1)
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < 0 {
		return nil, errors.New("no opset of the default ONNX domain is imported")
	}
	if opset < 11 || opset > 17 {
		return nil, fmt.Errorf("opset %d is not supported (11–17)", opset)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, errors.New("the model has no graph")
	}
	c := &converter{path: path, g: g, vals: map[string]*value{}, users: map[string]int{}, names: map[string]bool{},
		bindings: map[string]map[string]binding{}, inits: map[string]*tensor{}, opset: opset}
	for _, t := range g.GetInitializer() {
		if t.GetName() == "" {
			return nil, errors.New("an initializer has no name")
		}
		if _, dup := c.inits[t.GetName()]; dup {
			return nil, fmt.Errorf("initializer %q is given twice", t.GetName())
		}
		d, err := decodeTensor(t)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %v", t.GetName(), err)
		}
		c.inits[t.GetName()] = d
		c.vals[t.GetName()] = &value{konst: d}
	}
	if len(g.GetSparseInitializer()) > 0 {
		return nil, errors.New("sparse initializers are not supported")
	}
	if err := c.graphInput(); err != nil {
		return nil, err
	}
	if len(g.GetOutput()) != 1 {
		return nil, fmt.Errorf("the graph has %d outputs; goodnet needs exactly one (the logits)", len(g.GetOutput()))
	}
	outName := g.GetOutput()[0].GetName()
	nodes, err := c.order(outName)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if err := c.node(n, outName); err != nil {
			return nil, err
		}
	}
	out := c.vals[outName]
	if out == nil || out.layer == nil {
		return nil, fmt.Errorf("the graph output %q is not computed from the input", outName)
	}
	if out.layer == c.input {
		return nil, fmt.Errorf("the graph output %q is the input itself", outName)
	}
	if out.rank != 2 {
		return nil, fmt.Errorf("the graph output %q has rank %d; goodnet needs N×classes logits", outName, out.rank)
	}
	if out.chw != ([3]int{}) {
		return nil, fmt.Errorf("the graph output %q is a channels-first flatten of an image, not logits", outName)
	}
	name := g.GetName()
	if name == "" {
		name = "onnx"
	}
	m, err := nn.New(name, c.layers, c.input.Name, out.layer.Name)
	if err != nil {
		return nil, err
	}
	m.Origin = &origin{model: mp, bindings: c.bindings}
	return m, nil
}

// graphInput makes the input layer from the one graph input that is not an initializer.
func (c *converter) graphInput() error {
	var ins []*pb.ValueInfoProto
	for _, v := range c.g.GetInput() {
		if _, isInit := c.inits[v.GetName()]; !isInit {
			ins = append(ins, v)
		}
	}
	if len(ins) != 1 {
		return fmt.Errorf("the graph has %d inputs (besides initializers); goodnet needs exactly one (the images)", len(ins))
	}
	v := ins[0]
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return fmt.Errorf("input %q is not a tensor", v.GetName())
	}
	if et := pb.TensorProto_DataType(tt.GetElemType()); et != pb.TensorProto_FLOAT {
		return fmt.Errorf("input %q is %s; goodnet needs float32 images", v.GetName(), typeName(et))
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 4 && len(dims) != 2 {
		return fmt.Errorf("input %q has rank %d; goodnet needs N×C×H×W images (or N×F vectors)", v.GetName(), len(dims))
	}
	var shape []int
	for i, d := range dims[1:] {
		if _, ok := d.GetValue().(*pb.TensorShapeProto_Dimension_DimValue); !ok {
			return fmt.Errorf("input %q: dimension %d is not a number (%q)", v.GetName(), i+1, d.GetDimParam())
		}
		x := d.GetDimValue()
		if x <= 0 || x > 1<<20 {
			return fmt.Errorf("input %q: dimension %d is %d (want 1..%d)", v.GetName(), i+1, x, 1<<20)
		}
		shape = append(shape, int(x))
	}
	s := nn.Shape{shape[0]}
	if len(shape) == 3 {
		s = nn.Shape{shape[1], shape[2], shape[0]} // C, H, W → H, W, C
	}
	l := &nn.Layer{Name: c.unique(v.GetName(), "input"), Kind: nn.Input, InShape: s}
	if err := nn.Infer(l); err != nil {
		return fmt.Errorf("input %q: %v", v.GetName(), err)
	}
	c.input = l
	c.layers = append(c.layers, l)
	c.vals[v.GetName()] = &value{layer: l, rank: len(dims)}
	return nil
}

// order returns the nodes the output needs, each after the nodes producing its inputs.
func (c *converter) order(out string) ([]*pb.NodeProto, error) {
	producer := map[string]int{}
	nodes := c.g.GetNode()
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup {
				return nil, nodeError(n, "output %q is also produced by another node", o)
			}
			if _, isInit := c.vals[o]; isInit {
				return nil, nodeError(n, "output %q is also an initializer or the graph input", o)
			}
			producer[o] = i
		}
	}
	// the nodes the output depends on; every input they read must exist
	need := make([]bool, len(nodes))
	if _, ok := producer[out]; !ok {
		if _, known := c.vals[out]; !known {
			return nil, fmt.Errorf("the graph output %q is produced by no node", out)
		}
	}
	stack := []string{out}
	seen := map[string]bool{}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := producer[t]
		if !ok || seen[t] {
			continue
		}
		seen[t] = true
		need[i] = true
		for _, in := range nodes[i].GetInput() {
			if in == "" {
				continue
			}
			_, produced := producer[in]
			if _, known := c.vals[in]; !produced && !known {
				return nil, nodeError(nodes[i], "input %q is missing: it is neither the graph input, an initializer nor a node's output", in)
			}
			stack = append(stack, in)
		}
	}
	// Kahn's algorithm over the needed nodes, in file order among the ready ones
	indeg := make([]int, len(nodes))
	users := map[string][]int{}
	for i, n := range nodes {
		if !need[i] {
			continue
		}
		for _, in := range n.GetInput() {
			if _, ok := producer[in]; ok && in != "" {
				indeg[i]++
				users[in] = append(users[in], i)
			}
			c.users[in]++
		}
	}
	var ready, sorted []int
	for i := range nodes {
		if need[i] && indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		i := ready[0]
		ready = ready[1:]
		sorted = append(sorted, i)
		for _, o := range nodes[i].GetOutput() {
			for _, u := range users[o] {
				if indeg[u]--; indeg[u] == 0 {
					ready = append(ready, u)
				}
			}
		}
	}
	var out2 []*pb.NodeProto
	for _, i := range sorted {
		out2 = append(out2, nodes[i])
	}
	for i := range nodes {
		if need[i] && indeg[i] > 0 {
			return nil, nodeError(nodes[i], "the graph has a cycle through this node")
		}
	}
	return out2, nil
}

// unique makes a layer name from s (or def) that no other layer has.
func (c *converter) unique(s, def string) string {
	if s == "" {
		s = def
	}
	name := s
	for k := 2; c.names[name]; k++ {
		name = fmt.Sprintf("%s_%d", s, k)
	}
	c.names[name] = true
	return name
}

// attrs reads a node's attributes, remembering which were read.
type attrs struct {
	n    *pb.NodeProto
	m    map[string]*pb.AttributeProto
	used map[string]bool
}

func newAttrs(n *pb.NodeProto) (*attrs, error) {
	a := &attrs{n: n, m: map[string]*pb.AttributeProto{}, used: map[string]bool{}}
	for _, x := range n.GetAttribute() {
		if x.GetRefAttrName() != "" {
			return nil, nodeError(n, "attribute %q refers to a function attribute (not supported)", x.GetName())
		}
		a.m[x.GetName()] = x
	}
	return a, nil
}

func (a *attrs) get(name string, typ pb.AttributeProto_AttributeType) (*pb.AttributeProto, error) {
	a.used[name] = true
	x := a.m[name]
	if x == nil {
		return nil, nil
	}
	if x.GetType() != typ {
		return nil, nodeError(a.n, "attribute %q is %s, want %s", name, x.GetType(), typ)
	}
	return x, nil
}

func (a *attrs) int(name string, def int64) (int64, error) {
	x, err := a.get(name, pb.AttributeProto_INT)
	if err != nil || x == nil {
		return def, err
	}
	return x.GetI(), nil
}

func (a *attrs) float(name string, def float64) (float64, error) {
	x, err := a.get(name, pb.AttributeProto_FLOAT)
	if err != nil || x == nil {
		return def, err
	}
	return float64(x.GetF()), nil
}

func (a *attrs) str(name, def string) (string, error) {
	x, err := a.get(name, pb.AttributeProto_STRING)
	if err != nil || x == nil {
		return def, err
	}
	return string(x.GetS()), nil
}

func (a *attrs) ints(name string, def []int64) ([]int64, error) {
	x, err := a.get(name, pb.AttributeProto_INTS)
	if err != nil || x == nil {
		return def, err
	}
	return x.GetInts(), nil
}

// done rejects attributes the conversion did not read, except those that do not change
// inference.
func (a *attrs) done(ignored ...string) error {
	for name := range a.m {
		if !a.used[name] && !slices.Contains(ignored, name) {
			return nodeError(a.n, "attribute %q is not supported", name)
		}
	}
	return nil
}

// act returns input i of n as a computed tensor.
func (c *converter) act(n *pb.NodeProto, i int) (*value, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		return nil, nodeError(n, "input %d is missing", i)
	}
	name := n.GetInput()[i]
	v := c.vals[name]
	if v == nil {
		return nil, nodeError(n, "input %q is not computed before this node", name)
	}
	if v.layer == nil {
		return nil, nodeError(n, "input %q is a constant; goodnet needs it computed from the image", name)
	}
	return v, nil
}

// konst returns input i of n as a constant (nil, nil when absent and optional).
func (c *converter) konst(n *pb.NodeProto, i int, optional bool) (*value, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		if optional {
			return nil, nil
		}
		return nil, nodeError(n, "input %d is missing", i)
	}
	name := n.GetInput()[i]
	v := c.vals[name]
	if v == nil {
		return nil, nodeError(n, "input %q is missing: no initializer, Constant or earlier node gives it", name)
	}
	if v.konst == nil && !v.isInts {
		return nil, nodeError(n, "input %q is computed from the image; goodnet needs an initializer (constant weights) there", name)
	}
	return v, nil
}

// floats returns a constant float tensor input with the given dims (-1: any).
func (c *converter) floats(n *pb.NodeProto, i int, optional bool, what string, dims ...int) (*tensor, error) {
	v, err := c.konst(n, i, optional)
	if err != nil || v == nil {
		return nil, err
	}
	t := v.konst
	if t == nil || t.f == nil {
		return nil, nodeError(n, "%s %q is not a float tensor", what, n.GetInput()[i])
	}
	ok := len(t.dims) == len(dims)
	for k := 0; ok && k < len(dims); k++ {
		ok = dims[k] < 0 || dims[k] == t.dims[k]
	}
	if !ok {
		return nil, nodeError(n, "%s %q has shape %v, want %v", what, n.GetInput()[i], t.dims, shapeWant(dims))
	}
	return t, nil
}

func shapeWant(d []int) string {
	s := make([]string, len(d))
	for i, x := range d {
		s[i] = fmt.Sprint(x)
		if x < 0 {
			s[i] = "?"
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// intsOf returns a constant integer vector input (initializer, Constant or shape value).
func (c *converter) intsOf(n *pb.NodeProto, i int, optional bool) ([]int64, bool, error) {
	v, err := c.konst(n, i, optional)
	if err != nil || v == nil {
		return nil, false, err
	}
	if v.isInts {
		return v.ints, v.scalar, nil
	}
	if v.konst.i == nil {
		return nil, false, nodeError(n, "input %q is not an integer tensor", n.GetInput()[i])
	}
	return v.konst.i, len(v.konst.dims) == 0, nil
}

// add appends a layer computed by n from ins and infers its shapes.
func (c *converter) add(n *pb.NodeProto, l *nn.Layer, ins ...*nn.Layer) error {
	out := ""
	if len(n.GetOutput()) > 0 {
		out = n.GetOutput()[0]
	}
	l.Name = c.unique(n.GetName(), out)
	for _, in := range ins {
		l.InputNames = append(l.InputNames, in.Name)
	}
	if err := nn.Infer(l, ins...); err != nil {
		return nodeError(n, "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("layer %q (%s): ", l.Name, l.Kind)))
	}
	c.layers = append(c.layers, l)
	return nil
}

// bind records where a weight of l comes from and sets it: nn[idx[j]] = scale·t[j].
func (c *converter) bind(l *nn.Layer, weight string, t *tensor, idx []int, scale float64, dst *[]float32) {
	v := make([]float32, len(t.f))
	for j, x := range t.f {
		k := j
		if idx != nil {
			k = idx[j]
		}
		v[k] = float32(scale * x)
	}
	*dst = v
	if c.bindings[l.Name] == nil {
		c.bindings[l.Name] = map[string]binding{}
	}
	c.bindings[l.Name][weight] = binding{init: t.name, idx: idx, scale: scale}
}

// setOut makes v the value of n's first output and checks that its other outputs are unused.
func (c *converter) setOut(n *pb.NodeProto, v *value) error {
	for i, o := range n.GetOutput() {
		if i > 0 && o != "" && c.users[o] > 0 {
			return nodeError(n, "output %d (%q) is used; goodnet computes only the first output", i, o)
		}
	}
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return nodeError(n, "no output")
	}
	c.vals[n.GetOutput()[0]] = v
	return nil
}

func (c *converter) image(n *pb.NodeProto, i int) (*value, error) {
	v, err := c.act(n, i)
	if err != nil {
		return nil, err
	}
	if v.rank != 4 || v.nhwc {
		return nil, nodeError(n, "input %q is not an N×C×H×W image tensor", n.GetInput()[i])
	}
	return v, nil
}

func (c *converter) flat(n *pb.NodeProto, i int) (*value, error) {
	v, err := c.act(n, i)
	if err != nil {
		return nil, err
	}
	if v.rank != 2 {
		return nil, nodeError(n, "input %q has rank %d; goodnet needs N×F here", n.GetInput()[i], v.rank)
	}
	return v, nil
}

// window reads the 2-D window attributes of Conv and the pools: kernel, strides, and the
// padding (top, bottom, left, right) from pads or auto_pad, for an input of h×w.
func window(a *attrs, kernel [2]int, h, w int) (strides [2]int, pad [4]int, err error) {
	n := a.n
	st, err := a.ints("strides", []int64{1, 1})
	if err != nil {
		return strides, pad, err
	}
	dil, err := a.ints("dilations", []int64{1, 1})
	if err != nil {
		return strides, pad, err
	}
	if len(st) != 2 || len(dil) != 2 {
		return strides, pad, nodeError(n, "strides %v and dilations %v: want 2 values each (2-D)", st, dil)
	}
	if dil[0] != 1 || dil[1] != 1 {
		return strides, pad, nodeError(n, "dilations %v are not supported (only 1)", dil)
	}
	for i, s := range st {
		if s < 1 || s > 1<<20 {
			return strides, pad, nodeError(n, "stride %d is not in 1..%d", s, 1<<20)
		}
		strides[i] = int(s)
	}
	auto, err := a.str("auto_pad", "NOTSET")
	if err != nil {
		return strides, pad, err
	}
	pads, err := a.ints("pads", []int64{0, 0, 0, 0})
	if err != nil {
		return strides, pad, err
	}
	switch auto {
	case "NOTSET":
		if len(pads) != 4 {
			return strides, pad, nodeError(n, "pads %v: want 4 values (2-D)", pads)
		}
		for _, p := range pads {
			if p < 0 || p > 1<<20 {
				return strides, pad, nodeError(n, "pad %d is not in 0..%d", p, 1<<20)
			}
		}
		// ONNX: (x1_begin, x2_begin, x1_end, x2_end) = (top, left, bottom, right)
		pad = [4]int{int(pads[0]), int(pads[2]), int(pads[1]), int(pads[3])}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i, in := range []int{h, w} {
			out := (in + strides[i] - 1) / strides[i]
			total := max((out-1)*strides[i]+kernel[i]-in, 0)
			lo, hi := total/2, total-total/2
			if auto == "SAME_LOWER" {
				lo, hi = hi, lo
			}
			pad[2*i], pad[2*i+1] = lo, hi
		}
	default:
		return strides, pad, nodeError(n, "auto_pad %q is not supported", auto)
	}
	return strides, pad, nil
}

func padding(pad [4]int) nn.Padding {
	if pad == [4]int{} {
		return nn.Valid
	}
	return nn.Explicit
}

// node converts one node.
func (c *converter) node(n *pb.NodeProto, graphOut string) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return nodeError(n, "operator domain %q is not supported (only the default ONNX domain)", d)
	}
	a, err := newAttrs(n)
	if err != nil {
		return err
	}
	switch n.GetOpType() {
	case "Conv":
		return c.conv(n, a)
	case "Gemm", "MatMul":
		return c.dense(n, a)
	case "MaxPool", "AveragePool":
		return c.pool(n, a)
	case "GlobalAveragePool":
		x, err := c.image(n, 0)
		if err != nil {
			return err
		}
		l := &nn.Layer{Kind: nn.GlobalAvgPool, KeepDims: true}
		if err := c.add(n, l, x.layer); err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		return c.setOut(n, &value{layer: l, rank: 4})
	case "BatchNormalization":
		return c.batchNorm(n, a)
	case "Relu", "LeakyRelu":
		x, err := c.act(n, 0)
		if err != nil {
			return err
		}
		l := &nn.Layer{Kind: nn.Act, Act: nn.ReLU}
		if n.GetOpType() == "LeakyRelu" {
			l.Act = nn.LeakyReLU
			if l.Alpha, err = a.float("alpha", 0.01); err != nil {
				return err
			}
		}
		if err := a.done(); err != nil {
			return err
		}
		if err := c.add(n, l, x.layer); err != nil {
			return err
		}
		return c.setOut(n, &value{layer: l, rank: x.rank, chw: x.chw, nhwc: x.nhwc})
	case "Add":
		return c.addOp(n, a)
	case "Flatten":
		axis, err := a.int("axis", 1)
		if err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		x, err := c.act(n, 0)
		if err != nil {
			return err
		}
		if axis != 1 && !(axis == -1 && x.rank == 2) && !(axis == -3 && x.rank == 4) {
			return nodeError(n, "axis %d: goodnet flattens only to N×F (axis 1)", axis)
		}
		return c.flatten(n, x)
	case "Reshape":
		return c.reshape(n, a)
	case "Squeeze":
		return c.squeeze(n, a)
	case "Transpose":
		x, err := c.act(n, 0)
		if err != nil {
			return err
		}
		perm, err := a.ints("perm", nil)
		if err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		switch {
		case x.rank == 4 && !x.nhwc && slices.Equal(perm, []int64{0, 2, 3, 1}):
			return c.setOut(n, &value{layer: x.layer, rank: 4, nhwc: true})
		case x.rank == 2 && (slices.Equal(perm, []int64{0, 1})):
			return c.setOut(n, x)
		case x.rank == 4 && slices.Equal(perm, []int64{0, 1, 2, 3}):
			return c.setOut(n, x)
		}
		return nodeError(n, "perm %v: goodnet reads a Transpose only as (0, 2, 3, 1) before a flatten", perm)
	case "Identity", "Dropout":
		x, err := c.act(n, 0)
		if err != nil {
			return err
		}
		if n.GetOpType() == "Dropout" {
			if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
				v, err := c.konst(n, 2, false)
				if err != nil {
					return err
				}
				if v.konst == nil || len(v.konst.i) != 1 || v.konst.i[0] != 0 {
					return nodeError(n, "training_mode is not false (goodnet runs inference)")
				}
			}
			a.used["seed"] = true
		}
		if err := a.done(); err != nil {
			return err
		}
		return c.setOut(n, x)
	case "Concat":
		return c.concat(n, a)
	case "Pad":
		return c.pad(n, a)
	case "Softmax", "LogSoftmax":
		x, err := c.flat(n, 0)
		if err != nil {
			return err
		}
		def := int64(-1)
		if c.opset < 13 {
			def = 1
		}
		axis, err := a.int("axis", def)
		if err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		if axis != 1 && axis != -1 {
			return nodeError(n, "axis %d: want the class axis (1)", axis)
		}
		if n.GetOutput()[0] != graphOut {
			return nodeError(n, "a softmax before the output (goodnet reads it only as the last layer: its argmax is the logits')")
		}
		l := &nn.Layer{Kind: nn.Act, Act: nn.Softmax}
		if err := c.add(n, l, x.layer); err != nil {
			return err
		}
		return c.setOut(n, &value{layer: l, rank: 2, chw: x.chw})
	case "Shape":
		x, err := c.act(n, 0)
		if err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		if x.nhwc {
			return nodeError(n, "the shape of a transposed tensor (not supported)")
		}
		ints := []int64{batch}
		s := x.layer.OutShape
		if x.rank == 4 {
			ints = append(ints, int64(s[2]), int64(s[0]), int64(s[1]))
		} else {
			ints = append(ints, int64(s[0]))
		}
		return c.setOut(n, &value{ints: ints, isInts: true})
	case "Gather":
		data, _, err := c.intsOf(n, 0, false)
		if err != nil {
			return err
		}
		idx, scalar, err := c.intsOf(n, 1, false)
		if err != nil {
			return err
		}
		axis, err := a.int("axis", 0)
		if err != nil {
			return err
		}
		if err := a.done(); err != nil {
			return err
		}
		if axis != 0 {
			return nodeError(n, "axis %d on a shape (only 0)", axis)
		}
		var out []int64
		for _, i := range idx {
			if i < 0 {
				i += int64(len(data))
			}
			if i < 0 || i >= int64(len(data)) {
				return nodeError(n, "index %d outside a shape of %d values", i, len(data))
			}
			out = append(out, data[i])
		}
		return c.setOut(n, &value{ints: out, isInts: true, scalar: scalar})
	case "Unsqueeze":
		data, scalar, err := c.intsOf(n, 0, false)
		if err != nil {
			return err
		}
		axes, err := a.ints("axes", nil)
		if err != nil {
			return err
		}
		if axes == nil {
			if axes, _, err = c.intsOf(n, 1, false); err != nil {
				return err
			}
		}
		if err := a.done(); err != nil {
			return err
		}
		if !scalar || !slices.Equal(axes, []int64{0}) {
			return nodeError(n, "goodnet unsqueezes only a scalar of a shape computation on axis 0")
		}
		return c.setOut(n, &value{ints: data, isInts: true})
	case "Constant":
		return c.constant(n, a)
	}
	return nodeError(n, "operator %s is not supported", n.GetOpType())
}

func (c *converter) constant(n *pb.NodeProto, a *attrs) error {
	var t *tensor
	var err error
	switch {
	case a.m["value"] != nil:
		x, err := a.get("value", pb.AttributeProto_TENSOR)
		if err != nil {
			return err
		}
		if t, err = decodeTensor(x.GetT()); err != nil {
			return nodeError(n, "value: %v", err)
		}
	case a.m["value_int"] != nil:
		v, err := a.int("value_int", 0)
		if err != nil {
			return err
		}
		t = &tensor{typ: pb.TensorProto_INT64, i: []int64{v}}
	case a.m["value_ints"] != nil:
		v, err := a.ints("value_ints", nil)
		if err != nil {
			return err
		}
		t = &tensor{typ: pb.TensorProto_INT64, i: v, dims: []int{len(v)}}
	case a.m["value_float"] != nil:
		v, err := a.float("value_float", 0)
		if err != nil {
			return err
		}
		t = &tensor{typ: pb.TensorProto_FLOAT, f: []float64{v}}
	default:
		return nodeError(n, "a Constant without a value, value_int(s) or value_float goodnet reads")
	}
	if err = a.done(); err != nil {
		return err
	}
	t.name = ""
	return c.setOut(n, &value{konst: t})
}

func (c *converter) conv(n *pb.NodeProto, a *attrs) error {
	x, err := c.image(n, 0)
	if err != nil {
		return err
	}
	w, err := c.floats(n, 1, false, "weight", -1, -1, -1, -1)
	if err != nil {
		return err
	}
	O, I, KH, KW := w.dims[0], w.dims[1], w.dims[2], w.dims[3]
	H, W, Cin := x.layer.OutShape[0], x.layer.OutShape[1], x.layer.OutShape[2]
	if I != Cin {
		return nodeError(n, "weight %q has %d input channels, the input has %d", w.name, I, Cin)
	}
	if O == 0 || KH == 0 || KW == 0 {
		return nodeError(n, "weight %q has shape %v (empty)", w.name, w.dims)
	}
	b, err := c.floats(n, 2, true, "bias", O)
	if err != nil {
		return err
	}
	group, err := a.int("group", 1)
	if err != nil {
		return err
	}
	if group != 1 {
		return nodeError(n, "group %d is not supported (only 1: no grouped or depthwise convolutions)", group)
	}
	ks, err := a.ints("kernel_shape", []int64{int64(KH), int64(KW)})
	if err != nil {
		return err
	}
	if !slices.Equal(ks, []int64{int64(KH), int64(KW)}) {
		return nodeError(n, "kernel_shape %v differs from the weight's %d×%d", ks, KH, KW)
	}
	strides, pad, err := window(a, [2]int{KH, KW}, H, W)
	if err != nil {
		return err
	}
	if err := a.done(); err != nil {
		return err
	}
	l := &nn.Layer{Kind: nn.Conv2D, Size: [2]int{KH, KW}, Strides: strides, Padding: padding(pad), Filters: O, UseBias: b != nil}
	if l.Padding == nn.Explicit {
		l.Pad = pad
	}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	// (O, I, kh, kw) → (kh, kw, I, O)
	idx := make([]int, len(w.f))
	for o := 0; o < O; o++ {
		for i := 0; i < I; i++ {
			for y := 0; y < KH; y++ {
				for z := 0; z < KW; z++ {
					idx[((o*I+i)*KH+y)*KW+z] = ((y*KW+z)*I+i)*O + o
				}
			}
		}
	}
	c.bind(l, "kernel", w, idx, 1, &l.W)
	if b != nil {
		c.bind(l, "bias", b, nil, 1, &l.B)
	}
	return c.setOut(n, &value{layer: l, rank: 4})
}

// dense converts Gemm (Y = alpha·A·B' + beta·C) and MatMul (Y = A·B) with constant B, C.
func (c *converter) dense(n *pb.NodeProto, a *attrs) error {
	x, err := c.flat(n, 0)
	if err != nil {
		return err
	}
	w, err := c.floats(n, 1, false, "weight", -1, -1)
	if err != nil {
		return err
	}
	K := x.layer.OutShape[0]
	transB, alpha, beta := int64(0), 1.0, 1.0
	var bias *tensor
	if n.GetOpType() == "Gemm" {
		transA, err := a.int("transA", 0)
		if err != nil {
			return err
		}
		if transA != 0 {
			return nodeError(n, "transA 1 is not supported (the activations must be A)")
		}
		if transB, err = a.int("transB", 0); err != nil {
			return err
		}
		if alpha, err = a.float("alpha", 1); err != nil {
			return err
		}
		if beta, err = a.float("beta", 1); err != nil {
			return err
		}
		if alpha == 0 {
			return nodeError(n, "alpha 0 (the layer ignores its input)")
		}
	}
	if err := a.done(); err != nil {
		return err
	}
	kIn, O := w.dims[0], w.dims[1]
	if transB != 0 {
		kIn, O = O, kIn
	}
	if kIn != K {
		return nodeError(n, "weight %q has shape %v: %d inputs, the input has %d features", w.name, w.dims, kIn, K)
	}
	if O == 0 {
		return nodeError(n, "weight %q has shape %v (no outputs)", w.name, w.dims)
	}
	if n.GetOpType() == "Gemm" && len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		v, err := c.konst(n, 2, false)
		if err != nil {
			return err
		}
		bias = v.konst
		if bias == nil || bias.f == nil || !(slices.Equal(bias.dims, []int{O}) || slices.Equal(bias.dims, []int{1, O})) {
			return nodeError(n, "C %q must be a float vector of %d values (one per output)", n.GetInput()[2], O)
		}
	}
	l := &nn.Layer{Kind: nn.Dense, Units: O, UseBias: bias != nil}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	idx := make([]int, len(w.f))
	for k := 0; k < K; k++ {
		kn := x.nnIndex(k)
		for o := 0; o < O; o++ {
			j := k*O + o
			if transB != 0 {
				j = o*K + k
			}
			idx[j] = kn*O + o
		}
	}
	c.bind(l, "kernel", w, idx, alpha, &l.W)
	if bias != nil {
		c.bind(l, "bias", bias, nil, beta, &l.B)
	}
	return c.setOut(n, &value{layer: l, rank: 2, matmul: n.GetOpType() == "MatMul"})
}

func (c *converter) addOp(n *pb.NodeProto, a *attrs) error {
	if err := a.done(); err != nil {
		return err
	}
	if len(n.GetInput()) != 2 {
		return nodeError(n, "%d inputs (want 2)", len(n.GetInput()))
	}
	va, vb := c.vals[n.GetInput()[0]], c.vals[n.GetInput()[1]]
	if va == nil || vb == nil {
		missing := n.GetInput()[0]
		if va != nil {
			missing = n.GetInput()[1]
		}
		return nodeError(n, "input %q is missing: no initializer, Constant or earlier node gives it", missing)
	}
	if va.layer == nil && vb.layer == nil {
		return nodeError(n, "adds two constants (not supported)")
	}
	// a MatMul's bias
	if va.layer == nil || vb.layer == nil {
		x, k, ki := va, vb, 1
		if va.layer == nil {
			x, k, ki = vb, va, 0
		}
		l := x.layer
		O := l.OutShape[0]
		if !x.matmul || l.UseBias || c.users[n.GetInput()[1-ki]] != 1 {
			return nodeError(n, "adds the constant %q to a computed tensor (goodnet reads that only as the bias of a MatMul)", n.GetInput()[ki])
		}
		t := k.konst
		if t == nil || t.f == nil || !(slices.Equal(t.dims, []int{O}) || slices.Equal(t.dims, []int{1, O})) {
			return nodeError(n, "bias %q must be a float vector of %d values", n.GetInput()[ki], O)
		}
		l.UseBias = true
		c.bind(l, "bias", t, nil, 1, &l.B)
		return c.setOut(n, &value{layer: l, rank: 2})
	}
	if va.rank != vb.rank || va.nhwc != vb.nhwc || va.chw != vb.chw {
		return nodeError(n, "inputs of different layouts")
	}
	if !va.layer.OutShape.Equal(vb.layer.OutShape) {
		return nodeError(n, "inputs of different shapes %v and %v (broadcasting is not supported)", va.layer.OutShape, vb.layer.OutShape)
	}
	l := &nn.Layer{Kind: nn.Add}
	if err := c.add(n, l, va.layer, vb.layer); err != nil {
		return err
	}
	return c.setOut(n, &value{layer: l, rank: va.rank, chw: va.chw, nhwc: va.nhwc})
}

func (c *converter) pool(n *pb.NodeProto, a *attrs) error {
	x, err := c.image(n, 0)
	if err != nil {
		return err
	}
	ks, err := a.ints("kernel_shape", nil)
	if err != nil {
		return err
	}
	if len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > 1<<20 || ks[1] > 1<<20 {
		return nodeError(n, "kernel_shape %v: want 2 positive values (2-D)", ks)
	}
	kernel := [2]int{int(ks[0]), int(ks[1])}
	H, W := x.layer.OutShape[0], x.layer.OutShape[1]
	strides, pad, err := window(a, kernel, H, W)
	if err != nil {
		return err
	}
	ceil, err := a.int("ceil_mode", 0)
	if err != nil {
		return err
	}
	if ceil != 0 {
		for i, in := range []int{H, W} {
			span := in + pad[2*i] + pad[2*i+1] - kernel[i]
			if span >= 0 && span%strides[i] != 0 {
				return nodeError(n, "ceil_mode 1 is not supported where it adds an output row or column")
			}
		}
	}
	l := &nn.Layer{Kind: nn.MaxPool2D, Size: kernel, Strides: strides, Padding: padding(pad)}
	if l.Padding == nn.Explicit {
		l.Pad = pad
	}
	if n.GetOpType() == "AveragePool" {
		l.Kind = nn.AvgPool2D
		cip, err := a.int("count_include_pad", 0)
		if err != nil {
			return err
		}
		l.CountPad = cip != 0
	} else {
		so, err := a.int("storage_order", 0)
		if err != nil {
			return err
		}
		if so != 0 {
			return nodeError(n, "storage_order %d is not supported", so)
		}
	}
	if err := a.done(); err != nil {
		return err
	}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	return c.setOut(n, &value{layer: l, rank: 4})
}

func (c *converter) batchNorm(n *pb.NodeProto, a *attrs) error {
	x, err := c.act(n, 0)
	if err != nil {
		return err
	}
	if x.nhwc || x.chw != ([3]int{}) {
		return nodeError(n, "input %q is a transposed or channels-first flattened tensor", n.GetInput()[0])
	}
	C := x.layer.OutShape[len(x.layer.OutShape)-1]
	eps, err := a.float("epsilon", 1e-5)
	if err != nil {
		return err
	}
	if tm, err := a.int("training_mode", 0); err != nil || tm != 0 {
		if err != nil {
			return err
		}
		return nodeError(n, "training_mode %d (goodnet runs the inference form)", tm)
	}
	if sp, err := a.int("spatial", 1); err != nil || sp != 1 {
		if err != nil {
			return err
		}
		return nodeError(n, "spatial %d is not supported", sp)
	}
	if err := a.done("momentum"); err != nil {
		return err
	}
	var ts [4]*tensor
	for i, what := range []string{"scale", "bias", "mean", "var"} {
		if ts[i], err = c.floats(n, 1+i, false, what, C); err != nil {
			return err
		}
	}
	l := &nn.Layer{Kind: nn.BatchNorm, Eps: eps, Scale: true, Center: true}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	c.bind(l, "gamma", ts[0], nil, 1, &l.Gamma)
	c.bind(l, "beta", ts[1], nil, 1, &l.Beta)
	c.bind(l, "moving_mean", ts[2], nil, 1, &l.Mean)
	c.bind(l, "moving_variance", ts[3], nil, 1, &l.Var)
	if err := nn.Infer(l, x.layer); err != nil {
		return nodeError(n, "%v", err)
	}
	return c.setOut(n, &value{layer: l, rank: x.rank})
}

// flatten makes N×F of x (N×C×H×W, possibly transposed to N×H×W×C, or already N×F).
func (c *converter) flatten(n *pb.NodeProto, x *value) error {
	if x.rank == 2 {
		return c.setOut(n, x)
	}
	s := x.layer.OutShape
	H, W, C := s[0], s[1], s[2]
	var chw [3]int
	if !x.nhwc && H*W > 1 && C > 1 {
		chw = [3]int{H, W, C}
	}
	l := &nn.Layer{Kind: nn.Flatten}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	return c.setOut(n, &value{layer: l, rank: 2, chw: chw})
}

// reshape accepts only a flatten to N×F: target [N or 0 or -1, F or -1].
func (c *converter) reshape(n *pb.NodeProto, a *attrs) error {
	x, err := c.act(n, 0)
	if err != nil {
		return err
	}
	shape, _, err := c.intsOf(n, 1, false)
	if err != nil {
		return err
	}
	allowZero, err := a.int("allowzero", 0)
	if err != nil {
		return err
	}
	if err := a.done(); err != nil {
		return err
	}
	F := x.layer.OutShape.Size()
	ok := len(shape) == 2 && allowZero == 0
	if ok {
		d0, d1 := shape[0], shape[1]
		ok = (d0 == batch || d0 == 0 || (d0 == -1 && d1 == int64(F))) && (d1 == -1 || d1 == int64(F))
	}
	if !ok {
		return nodeError(n, "the target shape %v is not a flatten to N×%d (the only Reshape goodnet reads)", shapeString(shape), F)
	}
	return c.flatten(n, x)
}

func shapeString(s []int64) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = fmt.Sprint(v)
		if v == batch {
			p[i] = "N"
		}
	}
	return "[" + strings.Join(p, ", ") + "]"
}

// squeeze reads N×C×1×1 → N×C.
func (c *converter) squeeze(n *pb.NodeProto, a *attrs) error {
	x, err := c.image(n, 0)
	if err != nil {
		return err
	}
	axes, err := a.ints("axes", nil)
	if err != nil {
		return err
	}
	if axes == nil && len(n.GetInput()) > 1 {
		if axes, _, err = c.intsOf(n, 1, false); err != nil {
			return err
		}
	}
	if err := a.done(); err != nil {
		return err
	}
	s := x.layer.OutShape
	sorted := slices.Clone(axes)
	for i := range sorted {
		if sorted[i] < 0 {
			sorted[i] += 4
		}
	}
	slices.Sort(sorted)
	if s[0] != 1 || s[1] != 1 || !(axes == nil || slices.Equal(sorted, []int64{2, 3})) {
		return nodeError(n, "goodnet reads Squeeze only as N×C×1×1 → N×C")
	}
	return c.flatten(n, x)
}

func (c *converter) concat(n *pb.NodeProto, a *attrs) error {
	axis, err := a.int("axis", 0)
	if err != nil {
		return err
	}
	if err := a.done(); err != nil {
		return err
	}
	if len(n.GetInput()) == 0 {
		return nodeError(n, "no inputs")
	}
	first := c.vals[n.GetInput()[0]]
	if first != nil && first.layer == nil {
		// a shape computation: concatenate integer vectors
		var out []int64
		for i := range n.GetInput() {
			v, scalar, err := c.intsOf(n, i, false)
			if err != nil {
				return err
			}
			if scalar || axis != 0 {
				return nodeError(n, "concatenates scalars or along axis %d", axis)
			}
			out = append(out, v...)
		}
		return c.setOut(n, &value{ints: out, isInts: true})
	}
	var ins []*nn.Layer
	var rank int
	for i := range n.GetInput() {
		v, err := c.act(n, i)
		if err != nil {
			return err
		}
		if v.nhwc || v.chw != ([3]int{}) {
			return nodeError(n, "input %q is transposed or a channels-first flatten", n.GetInput()[i])
		}
		if i > 0 && v.rank != rank {
			return nodeError(n, "inputs of different ranks")
		}
		rank = v.rank
		ins = append(ins, v.layer)
	}
	if !(axis == 1 || axis == -int64(rank)+1) {
		return nodeError(n, "axis %d: goodnet concatenates only channels (axis 1)", axis)
	}
	if len(ins) == 1 {
		return c.setOut(n, c.vals[n.GetInput()[0]])
	}
	l := &nn.Layer{Kind: nn.Concat}
	if err := c.add(n, l, ins...); err != nil {
		return err
	}
	return c.setOut(n, &value{layer: l, rank: rank})
}

func (c *converter) pad(n *pb.NodeProto, a *attrs) error {
	x, err := c.image(n, 0)
	if err != nil {
		return err
	}
	mode, err := a.str("mode", "constant")
	if err != nil {
		return err
	}
	if err := a.done(); err != nil {
		return err
	}
	if mode != "constant" {
		return nodeError(n, "mode %q is not supported (only constant zeros)", mode)
	}
	pads, _, err := c.intsOf(n, 1, false)
	if err != nil {
		return err
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return nodeError(n, "pads %v: goodnet pads only rows and columns", pads)
	}
	v, err := c.konst(n, 2, true)
	if err != nil {
		return err
	}
	if v != nil {
		t := v.konst
		if t == nil || !(len(t.f) == 1 && t.f[0] == 0 || len(t.i) == 1 && t.i[0] == 0) {
			return nodeError(n, "constant_value is not 0")
		}
	}
	var p [4]int
	for i, v := range []int64{pads[2], pads[6], pads[3], pads[7]} {
		if v < 0 || v > 1<<20 {
			return nodeError(n, "pad %d is not in 0..%d (cropping is not supported)", v, 1<<20)
		}
		p[i] = int(v)
	}
	l := &nn.Layer{Kind: nn.ZeroPad2D, Pad: p}
	if err := c.add(n, l, x.layer); err != nil {
		return err
	}
	return c.setOut(n, &value{layer: l, rank: 4})
}
