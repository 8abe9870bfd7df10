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
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"sort"
	"strings"
	"unsafe"

	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// LoadModel reads a full Keras model file: the architecture from the root attribute
// model_config and the weights from the group model_weights. A weights-only file is an error
// saying it has no architecture.
//
// Like every HDF5 loader of this package, it opens the file once and has libhdf5 parse it in
// a child process (goodnet/internal/isolate), which returns the model_config and the weights
// it read: a file that crashes libhdf5 is an error, not a crash, and this process never runs
// libhdf5 on it.
func LoadModel(path string) (*nn.Model, error) {
	s, err := open(path)
	if err != nil {
		return nil, err
	}
	defer s.fh.Close()
	return s.loadModel()
}

func (s source) loadModel() (*nn.Model, error) {
	r, err := s.call(opLoadModel, []string{s.path}, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var p parsed
	if err := r.Meta(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	m, err := ParseConfig([]byte(p.Config))
	if err != nil {
		return nil, fmt.Errorf("%s: model_config: %w", s.path, err)
	}
	if err := p.assign(m, r, s.path); err != nil {
		return nil, err
	}
	return m, nil
}

// source is an HDF5 file opened once for a loader, and where libhdf5 parses it: in a child
// process (h5.Call), or in this process (local: the fuzz targets of the parsing).
type source struct {
	fh    *os.File
	path  string
	size  int64
	local bool
}

// open opens path once, checked as h5.OpenForRead checks it.
func open(path string) (source, error) {
	fh, size, err := h5.OpenForRead(path)
	if err != nil {
		return source{}, err
	}
	return source{fh: fh, path: path, size: size}, nil
}

// call runs op on the file and returns what it parsed.
func (s source) call(op string, args []string, input []byte) (*isolate.Result, error) {
	if !s.local {
		return h5.Call(op, s.fh, s.path, args, input, s.size)
	}
	r, err := isolate.Local(op, s.fh, args, input)
	var oe *isolate.OpError
	if errors.As(err, &oe) {
		return nil, errors.New(oe.Msg)
	}
	return r, err
}

// Operations run in a child process (see goodnet/internal/isolate).
const (
	opLoadModel   = "keras.LoadModel"
	opLoadWeights = "keras.LoadWeights"
	opInspect     = "keras.Inspect"
)

func init() {
	isolate.Register(opLoadModel, func(fh *os.File, a []string, _ []byte, out *isolate.Writer) error {
		f, err := h5.OpenFile(fh, a[0])
		if err != nil {
			return err
		}
		defer f.Close()
		js, m, err := loadModel(f, out)
		if err != nil {
			return err
		}
		return out.Meta(newParsed(js, m, out))
	})
	isolate.Register(opLoadWeights, func(fh *os.File, a []string, config []byte, out *isolate.Writer) error {
		m, err := ParseConfig(config)
		if err != nil {
			return err
		}
		f, err := h5.OpenFile(fh, a[0])
		if err != nil {
			return err
		}
		defer f.Close()
		if err := loadWeightsFile(f, m, out); err != nil {
			return err
		}
		return out.Meta(newParsed("", m, out))
	})
	isolate.Register(opInspect, func(fh *os.File, a []string, _ []byte, out *isolate.Writer) error {
		f, err := h5.OpenFile(fh, a[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in, err := inspect(f, len(a) < 2 || a[1] != "summary")
		if err != nil {
			return err
		}
		return out.Meta(in)
	})
}

// parsed is what a child returns of a model it read: the model_config (LoadModel) and, per
// layer with weights, the blobs of its tensors in the order of Layer.Weights().
type parsed struct {
	Config  string
	Version string
	Backend string
	Layers  []parsedLayer
}

type parsedLayer struct {
	Name  string
	Blobs []int
}

// newParsed describes m, whose weights are blobs of out (tensorAlloc).
func newParsed(config string, m *nn.Model, out *isolate.Writer) parsed {
	p := parsed{Config: config, Version: m.KerasVersion, Backend: m.KerasBackend}
	for _, l := range m.Layers {
		ws := l.Weights()
		if len(ws) == 0 {
			continue
		}
		pl := parsedLayer{Name: l.Name}
		for _, w := range ws {
			i, _ := out.BlobOf(unsafe.Pointer(unsafe.SliceData(*w.Data)))
			pl.Blobs = append(pl.Blobs, i)
		}
		p.Layers = append(p.Layers, pl)
	}
	return p
}

// assign gives m's layers the weights of the child's result: every layer of m with weights
// must be there, each tensor of exactly its shape. On error m is unchanged.
func (p parsed) assign(m *nn.Model, r *isolate.Result, path string) error {
	byName := make(map[string]parsedLayer, len(p.Layers))
	for _, pl := range p.Layers {
		byName[pl.Name] = pl
	}
	var need int64
	for _, l := range m.Layers {
		need += 4 * int64(l.Params())
	}
	if err := resource.Check(need, fmt.Sprintf("its weights (%d parameters as float32)", need/4)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var all []loaded
	for _, l := range m.Layers {
		ws := l.Weights()
		if len(ws) == 0 {
			continue
		}
		pl, ok := byName[l.Name]
		if !ok || len(pl.Blobs) != len(ws) {
			return fmt.Errorf("%s: layer %q: no weights from the reading child", path, l.Name)
		}
		ts := make([][]float32, len(ws))
		for i, w := range ws {
			b := r.Blob(pl.Blobs[i])
			if b == nil || len(b) != 4*nn.Shape(w.Shape).Size() {
				return fmt.Errorf("%s: layer %q: bad %s from the reading child", path, l.Name, w.Name)
			}
			ts[i] = make([]float32, len(b)/4)
			copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ts[i]))), len(b)), b)
		}
		all = append(all, loaded{l, ts})
	}
	for _, x := range all {
		for i, w := range x.l.Weights() {
			*w.Data = x.ts[i]
		}
		if err := x.l.CheckLoaded(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	m.KerasVersion, m.KerasBackend, m.Source = p.Version, p.Backend, path
	return nil
}

// loadModel reads the model_config and the weights of a full model file (the child's part of
// LoadModel), the weights into blobs of out.
func loadModel(f *h5.File, out *isolate.Writer) (string, *nn.Model, error) {
	path := f.Path()
	if !f.HasAttr("/", "model_config") {
		if f.HasAttr("/", "layer_names") {
			return "", nil, fmt.Errorf("%s: a weights-only file (save_weights): it has no architecture; load its weights into one (LoadWeights)", path)
		}
		return "", nil, fmt.Errorf("%s: no model_config attribute: not a Keras model file", path)
	}
	js, err := configAttr(f)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := ParseConfig([]byte(js))
	if err != nil {
		return "", nil, fmt.Errorf("%s: model_config: %w", path, err)
	}
	if f.Kind("model_weights") != h5.Group {
		return "", nil, fmt.Errorf("%s: no model_weights group: the file has an architecture but no weights", path)
	}
	if err := loadWeights(f, m, "model_weights", out); err != nil {
		return "", nil, err
	}
	return js, m, nil
}

// configAttr reads the root attribute model_config. Its size is not known before it is read
// (a variable-length string lives in the file's heap): the file's size bounds it, and reading
// and decoding it takes a few times that, which must fit the memory limit.
func configAttr(f *h5.File) (string, error) {
	bound := min(f.Size(), maxConfig)
	if err := resource.Check(4*bound, fmt.Sprintf("reading its model config (up to %d bytes, the file's size)", bound)); err != nil {
		return "", err
	}
	return f.AttrString("/", "model_config")
}

// maxConfig is the largest model_config read (a Keras model of 34,000 layers has one of 7 MB).
const maxConfig = 64 << 20

// LoadWeights reads the weights of a weights-only file (root attribute layer_names, one group
// per layer) or of a full model file (group model_weights) into m, in place. Every layer of m
// with weights must be found by name, with tensors of exactly the shapes of
// Layer.WeightShapes() (float32, or float64 converted to float32); layers of the file that m
// lacks are ignored. On error m is unchanged. The file is read in a child process, as
// LoadModel's.
func LoadWeights(m *nn.Model, path string) error {
	config, err := MarshalConfig(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	s, err := open(path)
	if err != nil {
		return err
	}
	defer s.fh.Close()
	return s.loadWeights(m, config)
}

func (s source) loadWeights(m *nn.Model, config []byte) error {
	r, err := s.call(opLoadWeights, []string{s.path}, config)
	if err != nil {
		return err
	}
	defer r.Close()
	var p parsed
	if err := r.Meta(&p); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return p.assign(m, r, s.path)
}

func loadWeightsFile(f *h5.File, m *nn.Model, out *isolate.Writer) error {
	g := ""
	switch {
	case f.HasAttr("/", "layer_names"):
		g = "/"
	case f.Kind("model_weights") == h5.Group:
		g = "model_weights"
	default:
		return fmt.Errorf("%s: no Keras weights (neither a layer_names attribute nor a model_weights group)", f.Path())
	}
	return loadWeights(f, m, g, out)
}

type loaded struct {
	l  *nn.Layer
	ts [][]float32 // in the order of l.Weights()
}

func loadWeights(f *h5.File, m *nn.Model, g string, out *isolate.Writer) error {
	p := f.Path()
	var need int64
	for _, l := range m.Layers {
		need += 4 * int64(l.Params())
	}
	if err := resource.Check(need, fmt.Sprintf("its weights (%d parameters as float32)", need/4)); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
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
		ts, err := readLayer(f, g, l, fileLayers, out)
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
func readLayer(f *h5.File, g string, l *nn.Layer, fileLayers []string, out *isolate.Writer) ([][]float32, error) {
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
	ts := make([][]float32, len(ws))
	for i, q := range paths {
		if ts[i], err = readTensor(f, q, ws[i].Name, ws[i].Shape, out); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// weightPaths lists a layer's weight datasets: from its weight_names attribute, each name
// relative to the layer group (Keras 2: "conv_1/kernel:0" → <layer>/conv_1/kernel:0; some
// versions nest one level: "kernel:0"); a name not found there is looked for by its base name
// anywhere under the group. Without weight_names, the datasets under the group are taken in
// name order (kernel before bias).
func weightPaths(f *h5.File, lg string) ([]string, error) {
	var under []string
	walked := false
	walk := func() error {
		if walked {
			return nil
		}
		walked = true
		var err error
		under, err = datasetsUnder(f, lg, 0)
		return err
	}
	if !f.HasAttr(lg, "weight_names") {
		if err := walk(); err != nil {
			return nil, err
		}
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
		if err := walk(); err != nil {
			return nil, err
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

// datasetsUnder lists the datasets under group g, depth first, names in order, each object
// once (another hard link to a group or dataset already seen is skipped), at most 4 deep.
func datasetsUnder(f *h5.File, g string, depth int) ([]string, error) {
	return datasetsWalk(f, g, depth, map[uint64]bool{})
}

func datasetsWalk(f *h5.File, g string, depth int, seen map[uint64]bool) ([]string, error) {
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
		if kinds[i] != h5.Dataset && kinds[i] != h5.Group {
			continue
		}
		addr, _, err := f.Addr(q)
		if err != nil {
			return nil, err
		}
		if seen[addr] { // another hard or soft link to an object already listed
			continue
		}
		seen[addr] = true
		switch kinds[i] {
		case h5.Dataset:
			out = append(out, q)
		case h5.Group:
			sub, err := datasetsWalk(f, q, depth+1, seen)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// readTensor reads a float32 or float64 dataset of exactly the given shape as float32, into a
// blob of out.
func readTensor(f *h5.File, q, what string, shape []int, out *isolate.Writer) ([]float32, error) {
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
	if err := resource.Check(in.ReadNeed(in.Type.Size), fmt.Sprintf("reading %s %q %s %s", what, q, in.ShapeString(), in.Type)); err != nil {
		return nil, err
	}
	t, err := tensorAlloc(out, in.Len())
	if err != nil {
		return nil, err
	}
	if in.Type.Size == 4 {
		if err := f.Read(q, t, 0, 0); err != nil {
			return nil, err
		}
	} else {
		tmp := make([]float64, in.Len())
		if err := f.Read(q, tmp, 0, 0); err != nil {
			return nil, err
		}
		for i, v := range tmp {
			t[i] = float32(v)
		}
	}
	for i, v := range t {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s %q: value %d is %v (not finite)", what, q, i, v)
		}
	}
	return t, nil
}

// tensorAlloc returns n float32 in a new blob of out (in memory when out is nil).
func tensorAlloc(out *isolate.Writer, n int) ([]float32, error) {
	if out == nil {
		return make([]float32, n), nil
	}
	b, _, err := out.Blob(4 * n)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n), nil
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
