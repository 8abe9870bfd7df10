package onnx

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"goodnet/internal/atomicfile"
	"goodnet/nn"
	"goodnet/onnx/pb"
)

// FromONNX reports whether m was read by Load (and can be written by Save).
func FromONNX(m *nn.Model) bool {
	_, ok := m.Origin.(*origin)
	return ok
}

// Save writes m, a model read by Load (possibly with changed weights: a pruned B'), as an ONNX
// file: the original model with the initializers whose values m's weights changed replaced
// (see the package doc). The file is written to a temporary file beside path and renamed.
func Save(m *nn.Model, path string) error { return SaveIn(nil, m, path) }

// SaveIn is Save staged in b (goodnet/internal/atomicfile): the file appears when b is
// committed, together with the other outputs of the run.
func SaveIn(b *atomicfile.Batch, m *nn.Model, path string) error {
	data, err := Encode(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return b.WriteFile(path, data)
}

// Encode serializes m (read by Load) as Save writes it.
func Encode(m *nn.Model) ([]byte, error) {
	o, ok := m.Origin.(*origin)
	if !ok {
		return nil, errors.New("the model was not read from an ONNX file: it cannot be written as ONNX")
	}
	if err := m.CheckWeights(); err != nil {
		return nil, err
	}
	mp := proto.Clone(o.model).(*pb.ModelProto)
	inits := map[string]*pb.TensorProto{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = t
	}
	// the new values of each changed initializer, and which layer set each element
	type use struct {
		layer, weight string
		bd            binding
		cur           []float32
	}
	type edit struct {
		orig, vals []float64
		set        []string // the layer that changed each element
		users      []use
	}
	edits := map[string]*edit{}
	var order []string
	for _, lname := range slices.Sorted(maps.Keys(o.bindings)) {
		l := m.Layer(lname)
		if l == nil {
			return nil, fmt.Errorf("layer %q of the ONNX graph is not in the model", lname)
		}
		ws := map[string]nn.Weight{}
		for _, w := range l.Weights() {
			ws[w.Name] = w
		}
		for _, wname := range slices.Sorted(maps.Keys(o.bindings[lname])) {
			bd := o.bindings[lname][wname]
			w, ok := ws[wname]
			if !ok || *w.Data == nil {
				return nil, fmt.Errorf("layer %q has no %s (the ONNX graph's %q)", lname, wname, bd.init)
			}
			cur := *w.Data
			e := edits[bd.init]
			if e == nil {
				t, err := decodeTensor(inits[bd.init])
				if err != nil {
					return nil, fmt.Errorf("initializer %q: %v", bd.init, err)
				}
				e = &edit{orig: t.f, vals: append([]float64(nil), t.f...), set: make([]string, len(t.f))}
				edits[bd.init] = e
				order = append(order, bd.init)
			}
			if len(cur) != len(e.orig) {
				return nil, fmt.Errorf("layer %q: %s has %d values, initializer %q %d", lname, wname, len(cur), bd.init, len(e.orig))
			}
			for j, x := range e.orig {
				k := j
				if bd.idx != nil {
					k = bd.idx[j]
				}
				if cur[k] == float32(bd.scale*x) {
					continue // unchanged: the original value, bit for bit
				}
				v := float64(cur[k]) / bd.scale
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("layer %q: %s value %d is %v", lname, wname, k, v)
				}
				e.vals[j], e.set[j] = v, lname
			}
			e.users = append(e.users, use{lname, wname, bd, cur})
		}
	}
	// an initializer read by several layers (shared weights) must fit all of them
	for _, name := range order {
		e := edits[name]
		for _, u := range e.users {
			for j, x := range e.vals {
				k := j
				if u.bd.idx != nil {
					k = u.bd.idx[j]
				}
				if u.cur[k] != float32(u.bd.scale*x) {
					return nil, fmt.Errorf("initializer %q is shared by layers %q and %q, whose new weights differ", name, e.set[j], u.layer)
				}
			}
		}
	}
	for _, name := range order {
		e := edits[name]
		for _, s := range e.set {
			if s != "" {
				encodeFloats(inits[name], e.vals)
				break
			}
		}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// Describe says what wrote the ONNX file m was read from: "ONNX IR 7, opset 13, written by
// pytorch 1.13.0" ("" for a model not read by Load).
func Describe(m *nn.Model) string {
	o, ok := m.Origin.(*origin)
	if !ok {
		return ""
	}
	opset := int64(0)
	for _, op := range o.model.GetOpsetImport() {
		if op.GetDomain() == "" || op.GetDomain() == "ai.onnx" {
			opset = op.GetVersion()
		}
	}
	s := fmt.Sprintf("ONNX IR %d, opset %d", o.model.GetIrVersion(), opset)
	if p := o.model.GetProducerName(); p != "" {
		s += ", written by " + p
		if v := o.model.GetProducerVersion(); v != "" {
			s += " " + v
		}
	}
	return s
}
