package keras

import (
	"fmt"
	"sort"
	"strings"

	"goodnet/internal/h5"
	"goodnet/nn"
)

// Info summarises a Keras file for `goodnet inspect`.
type Info struct {
	Path         string
	KerasVersion string
	Backend      string
	// HasArchitecture: the file has a model_config (a full model file).
	HasArchitecture bool
	// ModelClass is model_config's class_name ("Functional", "Model", "Sequential").
	ModelClass string
	// Arch is the architecture parsed from model_config (no weights); nil when there is none
	// or ArchErr says why it does not parse.
	Arch    *nn.Model `json:"-"`
	ArchErr string
	// config is model_config, from the reading child.
	Config string `json:"config,omitempty"`
	// WeightsGroup is where the weights are: "/" (weights-only file) or "model_weights";
	// "" when the file has none.
	WeightsGroup string
	// Layers are the layers of layer_names, in that order, with their weight tensors.
	Layers []LayerInfo
	// Objects is the file's structure, as `h5dump -H` shows it: every group and dataset
	// (depth first, names in order) with its attributes.
	Objects []Object
}

// LayerInfo is one layer of a weights group.
type LayerInfo struct {
	Name    string
	Tensors []Tensor
}

// Tensor is one weight tensor.
type Tensor struct {
	Name  string // as in weight_names, e.g. "conv_1/kernel:0"
	Path  string // the dataset
	DType string // "float32"
	Shape []int
}

// Object is a group or dataset of the file.
type Object struct {
	Path string // "/" for the root
	Kind string // "group" or "dataset"
	// Same is, for another link (hard or soft) to an object already listed (a group may even
	// contain itself), that object's path: it is not walked again.
	Same  string `json:",omitempty"`
	DType string // datasets
	Shape []int  // datasets
	Attrs []Attr
}

// Attr is an attribute: its type and shape (nil for a scalar).
type Attr struct {
	Name  string
	DType string
	Shape []int
}

// Inspect summarises a Keras file: version, backend, whether it has an architecture, its
// layers and their tensors, and its whole structure. Only an unreadable file is an error;
// a model_config that does not parse is reported in ArchErr. The file is read in a child
// process, as LoadModel's.
func Inspect(path string) (*Info, error) { return inspectFile(path, true) }

// InspectSummary is Inspect without the file's structure (Objects) and without parsing the
// architecture (Arch, ArchErr: LoadModel says whether it loads): what `goodnet inspect`
// prints of a Keras file, quick however many objects the file has.
func InspectSummary(path string) (*Info, error) { return inspectFile(path, false) }

func inspectFile(path string, full bool) (*Info, error) {
	s, err := open(path)
	if err != nil {
		return nil, err
	}
	defer s.fh.Close()
	return s.inspect(full)
}

func (s source) inspect(full bool) (*Info, error) {
	mode := "summary"
	if full {
		mode = "full"
	}
	r, err := s.call(opInspect, []string{s.path, mode}, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	in := &Info{}
	if err := r.Meta(in); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	in.Path = s.path
	if full && in.HasArchitecture && in.ArchErr == "" {
		m, err := ParseConfig([]byte(in.Config))
		if err != nil {
			in.ArchErr = err.Error()
		} else {
			in.Arch = m
		}
	}
	in.Config = ""
	return in, nil
}

// inspect is the child's part of Inspect (full: the structure and the architecture too).
func inspect(f *h5.File, full bool) (*Info, error) {
	path := f.Path()
	in := &Info{Path: path}
	if f.HasAttr("/", "model_config") {
		in.HasArchitecture = true
		js, err := configAttr(f)
		if err != nil {
			in.ArchErr = err.Error()
		} else if !full {
			in.ModelClass = classOf(js)
		} else if _, err := ParseConfig([]byte(js)); err != nil {
			in.ArchErr = err.Error()
			in.ModelClass = classOf(js)
		} else {
			in.Config, in.ModelClass = js, classOf(js)
		}
	}
	switch {
	case f.HasAttr("/", "layer_names"):
		in.WeightsGroup = "/"
	case f.Kind("model_weights") == h5.Group:
		in.WeightsGroup = "model_weights"
	}
	g := in.WeightsGroup
	if g == "" {
		g = "/"
	}
	in.KerasVersion, in.Backend = fileVersion(f, g)
	if in.WeightsGroup != "" && f.HasAttr(g, "layer_names") {
		names, err := f.AttrStrings(g, "layer_names")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, n := range names {
			li := LayerInfo{Name: n}
			lg := h5.Join(g, n)
			if validName(n) && f.Kind(lg) == h5.Group {
				paths, err := weightPaths(f, lg)
				if err != nil {
					return nil, fmt.Errorf("%s: layer %q: %w", path, n, err)
				}
				for _, q := range paths {
					di, err := f.DatasetInfo(q)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", path, err)
					}
					li.Tensors = append(li.Tensors, Tensor{Name: strings.TrimPrefix(q, lg+"/"), Path: q, DType: di.Type.String(), Shape: di.Dims})
				}
			}
			in.Layers = append(in.Layers, li)
		}
	}
	if full {
		var err error
		if in.Objects, err = structure(f); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return in, nil
}

func classOf(js string) string {
	// A light look at the class without a full parse (the config may not parse).
	i := strings.Index(js, `"class_name"`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(js[i+len(`"class_name"`):], " :")
	if !strings.HasPrefix(rest, `"`) {
		return ""
	}
	rest = rest[1:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// maxObjects bounds the objects (and links) of a file that Inspect lists.
const maxObjects = 100000

// structure walks the file depth first, every object once: another link to an object already
// seen is listed with Same and not walked (a group may contain itself); at most 32 deep.
func structure(f *h5.File) ([]Object, error) {
	var out []Object
	seen := map[uint64]string{}
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		if len(out) >= maxObjects {
			return fmt.Errorf("too many objects: more than %d", maxObjects)
		}
		o := Object{Path: p, Kind: f.Kind(p).String()}
		if o.Kind == "group" || o.Kind == "dataset" {
			addr, _, err := f.Addr(p)
			if err != nil {
				return err
			}
			if first, ok := seen[addr]; ok {
				o.Same = first
				out = append(out, o)
				return nil
			}
			seen[addr] = p
		}
		attrs, err := f.AttrNames(p)
		if err != nil {
			return err
		}
		for _, a := range attrs {
			ai, err := f.AttrInfo(p, a)
			if err != nil {
				return err
			}
			o.Attrs = append(o.Attrs, Attr{Name: a, DType: ai.Type.String(), Shape: ai.Dims})
		}
		if o.Kind == "dataset" {
			di, err := f.DatasetInfo(p)
			if err != nil {
				return err
			}
			o.DType, o.Shape = di.Type.String(), di.Dims
		}
		out = append(out, o)
		if o.Kind != "group" || depth >= 32 {
			return nil
		}
		names, _, err := f.Children(p)
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if err := walk(h5.Join(p, n), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("/", 0)
}

// String is a short human-readable summary.
func (in *Info) String() string {
	var b strings.Builder
	kind := "weights only (no architecture)"
	if in.HasArchitecture {
		kind = "full model (" + in.ModelClass + ")"
	}
	fmt.Fprintf(&b, "%s: Keras %s, backend %s, %s\n", in.Path, orDash(in.KerasVersion), orDash(in.Backend), kind)
	if in.ArchErr != "" {
		fmt.Fprintf(&b, "  architecture does not load: %s\n", in.ArchErr)
	}
	for _, l := range in.Layers {
		if len(l.Tensors) == 0 {
			fmt.Fprintf(&b, "  %s\n", l.Name)
			continue
		}
		var ts []string
		for _, t := range l.Tensors {
			ts = append(ts, fmt.Sprintf("%s %s %s", t.Name, t.DType, h5.ShapeString(t.Shape)))
		}
		fmt.Fprintf(&b, "  %s: %s\n", l.Name, strings.Join(ts, ", "))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
