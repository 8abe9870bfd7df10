// Package keras reads and writes Keras HDF5 files: full model files (model.save: root
// attribute model_config + group model_weights) and weights-only files (save_weights: root
// attribute layer_names, one group per layer), as Keras 2.3/2.4 write them.
//
// Errors name the file, and the layer where there is one:
// `bd_net.h5: layer "conv_3": kernel "model_weights/conv_3/conv_3/kernel:0" has shape (3, 3, 40, 50), the architecture needs (3, 3, 40, 60)`.
//
// cgo: the package links libhdf5 (Debian's serial build) through gonum.org/v1/hdf5 and the
// shim in internal/h5.
package keras

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strings"

	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/nn"
)

// LoadModel reads a full Keras model file: the architecture from the root attribute
// model_config and the weights from the group model_weights. A weights-only file is an error
// saying it has no architecture.
//
// Like every loader of this package, it first reads the file in a child process
// (h5.Isolated): a file that crashes libhdf5 is an error, not a crash.
func LoadModel(path string) (*nn.Model, error) {
	if err := h5.Isolated(opLoadModel, path, []string{path}, nil); err != nil {
		return nil, err
	}
	return loadModel(path)
}

// Operations run in a child process first (see goodnet/internal/isolate).
const (
	opLoadModel   = "keras.LoadModel"
	opLoadWeights = "keras.LoadWeights"
	opInspect     = "keras.Inspect"
)

func init() {
	isolate.Register(opLoadModel, func(a []string, _ []byte) error {
		_, err := loadModel(a[0])
		return err
	})
	isolate.Register(opLoadWeights, func(a []string, config []byte) error {
		m, err := ParseConfig(config)
		if err != nil {
			return err
		}
		return loadWeightsFile(m, a[0])
	})
	isolate.Register(opInspect, func(a []string, _ []byte) error {
		_, err := inspect(a[0])
		return err
	})
}

func loadModel(path string) (*nn.Model, error) {
	f, err := h5.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !f.HasAttr("/", "model_config") {
		if f.HasAttr("/", "layer_names") {
			return nil, fmt.Errorf("%s: a weights-only file (save_weights): it has no architecture; load its weights into one (LoadWeights)", path)
		}
		return nil, fmt.Errorf("%s: no model_config attribute: not a Keras model file", path)
	}
	js, err := f.AttrString("/", "model_config")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := ParseConfig([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("%s: model_config: %w", path, err)
	}
	if f.Kind("model_weights") != h5.Group {
		return nil, fmt.Errorf("%s: no model_weights group: the file has an architecture but no weights", path)
	}
	if err := loadWeights(f, m, "model_weights"); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights reads the weights of a weights-only file (root attribute layer_names, one group
// per layer) or of a full model file (group model_weights) into m, in place. Every layer of m
// with weights must be found by name, with tensors of exactly the shapes of
// Layer.WeightShapes() (float32, or float64 converted to float32); layers of the file that m
// lacks are ignored. On error m is unchanged.
func LoadWeights(m *nn.Model, path string) error {
	config, err := MarshalConfig(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := h5.Isolated(opLoadWeights, path, []string{path}, config); err != nil {
		return err
	}
	return loadWeightsFile(m, path)
}

func loadWeightsFile(m *nn.Model, path string) error {
	f, err := h5.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	g := ""
	switch {
	case f.HasAttr("/", "layer_names"):
		g = "/"
	case f.Kind("model_weights") == h5.Group:
		g = "model_weights"
	default:
		return fmt.Errorf("%s: no Keras weights (neither a layer_names attribute nor a model_weights group)", path)
	}
	return loadWeights(f, m, g)
}

type loaded struct {
	l  *nn.Layer
	ts [][]float32 // in the order of l.Weights()
}

func loadWeights(f *h5.File, m *nn.Model, g string) error {
	p := f.Path()
	version, backend := fileVersion(f, g)
	if strings.HasPrefix(version, "1.") || version == "1" {
		return fmt.Errorf("%s: written by Keras %s: Keras 1 weight layouts are not supported", p, version)
	}
	if backend == "theano" {
		return fmt.Errorf("%s: written with the theano backend (flipped convolution kernels): not supported", p)
	}
	var fileLayers []string
	if f.HasAttr(g, "layer_names") {
		var err error
		if fileLayers, err = f.AttrStrings(g, "layer_names"); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	var all []loaded
	for _, l := range m.Layers {
		if !l.HasWeights() {
			continue
		}
		ts, err := readLayer(f, g, l, fileLayers)
		if err != nil {
			return fmt.Errorf("%s: layer %q: %w", p, l.Name, err)
		}
		all = append(all, loaded{l, ts})
	}
	for _, x := range all {
		for i, w := range x.l.Weights() {
			*w.Data = x.ts[i]
		}
		if err := x.l.CheckLoaded(); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	m.KerasVersion, m.KerasBackend, m.Source = version, backend, p
	return nil
}

// fileVersion is the keras_version and backend of the root or of the weights group.
func fileVersion(f *h5.File, g string) (version, backend string) {
	for _, o := range []string{"/", g} {
		if version == "" && f.HasAttr(o, "keras_version") {
			version, _ = f.AttrString(o, "keras_version")
		}
		if backend == "" && f.HasAttr(o, "backend") {
			backend, _ = f.AttrString(o, "backend")
		}
	}
	return version, backend
}

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// readLayer reads and checks the weights of one layer (kernel and bias; BatchNormalization's
// gamma, beta, moving mean and variance), in the order of Layer.Weights().
func readLayer(f *h5.File, g string, l *nn.Layer, fileLayers []string) ([][]float32, error) {
	if !validName(l.Name) {
		return nil, fmt.Errorf("the name cannot be an HDF5 group name")
	}
	lg := h5.Join(g, l.Name)
	if f.Kind(lg) != h5.Group {
		if len(fileLayers) > 0 {
			return nil, fmt.Errorf("no weights in the file (its layers: %s)", strings.Join(fileLayers, ", "))
		}
		return nil, fmt.Errorf("no weights in the file (no group %q)", lg)
	}
	paths, err := weightPaths(f, lg)
	if err != nil {
		return nil, err
	}
	ws := l.Weights()
	if len(paths) != len(ws) {
		var need []string
		for _, w := range ws {
			need = append(need, w.Name+" "+h5.ShapeString(w.Shape))
		}
		var have []string
		for _, q := range paths {
			have = append(have, strings.TrimPrefix(q, lg+"/"))
		}
		return nil, fmt.Errorf("the file has %d weight tensors [%s], the architecture needs %d [%s]",
			len(paths), strings.Join(have, ", "), len(ws), strings.Join(need, ", "))
	}
	// Keras stores them in the order of Weights(); trust the names when they say otherwise
	byName := map[string]string{}
	for _, q := range paths {
		byName[strings.SplitN(path.Base(q), ":", 2)[0]] = q
	}
	if len(byName) == len(ws) {
		named := make([]string, 0, len(ws))
		for _, w := range ws {
			if q, ok := byName[w.Name]; ok {
				named = append(named, q)
			}
		}
		if len(named) == len(ws) {
			paths = named
		}
	}
	out := make([][]float32, len(ws))
	for i, q := range paths {
		if out[i], err = readTensor(f, q, ws[i].Name, ws[i].Shape); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// weightPaths lists a layer's weight datasets: from its weight_names attribute, each name
// relative to the layer group (Keras 2: "conv_1/kernel:0" → <layer>/conv_1/kernel:0; some
// versions nest one level: "kernel:0"); a name not found there is looked for by its base name
// anywhere under the group. Without weight_names, the datasets under the group are taken in
// name order (kernel before bias).
func weightPaths(f *h5.File, lg string) ([]string, error) {
	under, err := datasetsUnder(f, lg, 0)
	if err != nil {
		return nil, err
	}
	if !f.HasAttr(lg, "weight_names") {
		sort.SliceStable(under, func(i, j int) bool {
			return strings.HasPrefix(path.Base(under[i]), "kernel") && !strings.HasPrefix(path.Base(under[j]), "kernel")
		})
		return under, nil
	}
	names, err := f.AttrStrings(lg, "weight_names")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		q := h5.Join(lg, n)
		if f.Kind(q) == h5.Dataset {
			out = append(out, q)
			continue
		}
		var found []string
		for _, u := range under {
			if path.Base(u) == path.Base(n) {
				found = append(found, u)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("weight %q (listed in weight_names) is not in the file", n)
		}
		out = append(out, found[0])
	}
	return out, nil
}

func datasetsUnder(f *h5.File, g string, depth int) ([]string, error) {
	if depth > 4 {
		return nil, nil
	}
	names, kinds, err := f.Children(g)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, n := range names {
		q := h5.Join(g, n)
		switch kinds[i] {
		case h5.Dataset:
			out = append(out, q)
		case h5.Group:
			sub, err := datasetsUnder(f, q, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// readTensor reads a float32 or float64 dataset of exactly the given shape as float32.
func readTensor(f *h5.File, q, what string, shape []int) ([]float32, error) {
	in, err := f.DatasetInfo(q)
	if err != nil {
		return nil, err
	}
	if in.Type.Class != h5.Float || (in.Type.Size != 4 && in.Type.Size != 8) {
		return nil, fmt.Errorf("%s %q is %s (want float32 or float64)", what, q, in.Type)
	}
	if in.Dims == nil || !equalInts(in.Dims, shape) {
		return nil, fmt.Errorf("%s %q has shape %s, the architecture needs %s", what, q, in.ShapeString(), h5.ShapeString(shape))
	}
	if err := f.CheckStorage(q, in); err != nil {
		return nil, err
	}
	out := make([]float32, in.Len())
	if in.Type.Size == 4 {
		if err := f.Read(q, out, 0, 0); err != nil {
			return nil, err
		}
	} else {
		tmp := make([]float64, in.Len())
		if err := f.Read(q, tmp, 0, 0); err != nil {
			return nil, err
		}
		for i, v := range tmp {
			out[i] = float32(v)
		}
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s %q: value %d is %v (not finite)", what, q, i, v)
		}
	}
	return out, nil
}

func equalInts(a, b []int) bool {
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
