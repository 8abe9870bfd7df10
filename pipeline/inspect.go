package pipeline

import (
	"fmt"
	"strings"

	"goodnet/internal/esc"
	"goodnet/internal/h5"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/onnx"
)

// InspectResult describes a Keras file for `goodnet inspect`.
type InspectResult struct {
	Path         string           `json:"path"`
	KerasVersion string           `json:"keras_version"`
	Backend      string           `json:"backend"`
	Kind         string           `json:"kind"`   // "full model (Functional)", "weights only", "full model (ONNX IR 7, ...)"
	Format       string           `json:"format"` // "keras" or "onnx"
	Layers       []InspectLayer   `json:"layers,omitempty"`
	Params       int              `json:"params,omitempty"`
	FLOPs        int64            `json:"flops_per_image,omitempty"`
	ZeroChannels map[string][]int `json:"zero_channels,omitempty"`
	Note         string           `json:"note,omitempty"`
	info         *keras.Info
}

// InspectLayer is one layer of the graph.
type InspectLayer struct {
	Name   string   `json:"name"`
	Kind   string   `json:"class"`
	Config string   `json:"config"`
	Inputs []string `json:"inbound"`
	Output []int    `json:"output_shape"`
	Params int      `json:"params"`
}

// Inspect reads path (and, for a Keras weights-only file, the architecture from arch). An
// ONNX file (recognised by content) is shown like a Keras model, its layers as goodnet reads
// them.
func Inspect(path, arch string) (*InspectResult, error) {
	if onnx.SniffFile(path) {
		m, err := LoadModel(path, "")
		if err != nil {
			return nil, err
		}
		r := &InspectResult{Path: path, Kind: "full model (" + onnx.Describe(m) + ")", Format: "onnx"}
		r.fill(m)
		return r, nil
	}
	if keras.IsArchive(path) {
		m, err := LoadModel(path, "")
		if err != nil {
			return nil, err
		}
		r := &InspectResult{Path: path, KerasVersion: "3", Kind: "full model (Keras 3 .keras archive)", Format: "keras"}
		r.fill(m)
		return r, nil
	}
	info, err := keras.InspectSummary(path)
	if err != nil {
		return nil, err
	}
	r := &InspectResult{Path: path, KerasVersion: info.KerasVersion, Backend: info.Backend, info: info, Kind: "weights only"}
	if info.HasArchitecture {
		r.Kind = "full model (" + info.ModelClass + ")"
	}
	var m *nn.Model
	switch {
	case arch != "":
		if m, err = keras.LoadModel(arch); err != nil {
			return nil, err
		}
		if err := keras.LoadWeights(m, path); err != nil {
			return nil, err
		}
	case info.HasArchitecture:
		if m, err = keras.LoadModel(path); err != nil {
			return nil, err
		}
	default:
		r.Note = "weights only: give --model ARCH.h5 to see the graph and the zero channels"
		return r, nil
	}
	r.Format = "keras"
	r.fill(m)
	return r, nil
}

func (r *InspectResult) fill(m *nn.Model) {
	for _, l := range m.Layers {
		r.Layers = append(r.Layers, InspectLayer{Name: l.Name, Kind: l.Kind.String(), Config: config(l),
			Inputs: l.InputNames, Output: l.OutShape, Params: l.Params()})
	}
	r.Params, r.FLOPs, r.ZeroChannels = m.Params(), m.FLOPs(), ZeroChannels(m)
}

func config(l *nn.Layer) string {
	pad := l.Padding.String()
	if l.Padding == nn.Explicit {
		pad = fmt.Sprintf("pads %d,%d,%d,%d", l.Pad[0], l.Pad[1], l.Pad[2], l.Pad[3])
	}
	switch l.Kind {
	case nn.Conv2D:
		return fmt.Sprintf("%d %dx%d stride %dx%d %s %s", l.Filters, l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], pad, l.Act)
	case nn.MaxPool2D:
		return fmt.Sprintf("%dx%d stride %dx%d %s", l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], pad)
	case nn.AvgPool2D:
		s := fmt.Sprintf("%dx%d stride %dx%d %s", l.Size[0], l.Size[1], l.Strides[0], l.Strides[1], pad)
		if l.CountPad {
			s += " (pads counted)"
		}
		return s
	case nn.Dense:
		return fmt.Sprintf("%d %s", l.Units, l.Act)
	case nn.Act:
		if l.Act == nn.LeakyReLU {
			return fmt.Sprintf("leaky_relu %g", l.Alpha)
		}
		return l.Act.String()
	case nn.Dropout:
		return fmt.Sprintf("rate %g (identity at inference)", l.Rate)
	case nn.BatchNorm:
		return fmt.Sprintf("eps %.3g", l.Eps)
	case nn.ZeroPad2D:
		return fmt.Sprintf("pads %d,%d,%d,%d", l.Pad[0], l.Pad[1], l.Pad[2], l.Pad[3])
	}
	return ""
}

// Text renders the result for a terminal. Every string from the file (path, version, backend,
// class and layer names, inbound names) is escaped (internal/esc): an escape sequence cannot
// reach the terminal, a newline cannot forge a row.
func (r *InspectResult) Text() string {
	e := esc.Text
	var b strings.Builder
	if r.Format == "onnx" {
		fmt.Fprintf(&b, "%s: %s\n", e(r.Path), e(r.Kind))
	} else {
		fmt.Fprintf(&b, "%s: Keras %s, backend %s, %s\n", e(r.Path), e(dash(r.KerasVersion)), e(dash(r.Backend)), e(r.Kind))
	}
	if r.Note != "" {
		if r.info.ArchErr != "" {
			fmt.Fprintf(&b, "  architecture does not load: %s\n", e(r.info.ArchErr))
		}
		for _, l := range r.info.Layers {
			if len(l.Tensors) == 0 {
				fmt.Fprintf(&b, "  %s\n", e(l.Name))
				continue
			}
			var ts []string
			for _, t := range l.Tensors {
				ts = append(ts, fmt.Sprintf("%s %s %s", e(t.Name), e(t.DType), h5.ShapeString(t.Shape)))
			}
			fmt.Fprintf(&b, "  %s: %s\n", e(l.Name), strings.Join(ts, ", "))
		}
		fmt.Fprintf(&b, "(%s)\n", r.Note)
		return b.String()
	}
	type row struct{ name, kind, config, inputs string }
	rows := make([]row, len(r.Layers))
	wn, wk, wc, wi := 14, 13, 34, 16 // column widths: Keras names fit these; ONNX node names are longer
	for i, l := range r.Layers {
		rows[i] = row{e(l.Name), e(l.Kind), e(l.Config), strings.Join(esc.Texts(l.Inputs), "+")}
		wn, wk, wc, wi = max(wn, len(rows[i].name)), max(wk, len(rows[i].kind)), max(wc, len(rows[i].config)), max(wi, len(rows[i].inputs))
	}
	fmt.Fprintf(&b, "\n%-*s %-*s %-*s %-*s %-15s %9s\n", wn, "layer", wk, "class", wc, "config", wi, "inbound", "output shape", "params")
	for i, l := range r.Layers {
		fmt.Fprintf(&b, "%-*s %-*s %-*s %-*s %-15s %9d\n", wn, rows[i].name, wk, rows[i].kind, wc, rows[i].config, wi, rows[i].inputs, nn.Shape(l.Output), l.Params)
	}
	fmt.Fprintf(&b, "\n%d parameters, %.2f MFLOP per image\n", r.Params, float64(r.FLOPs)/1e6)
	for i, l := range r.Layers {
		if z, ok := r.ZeroChannels[l.Name]; ok {
			if len(z) == 0 {
				fmt.Fprintf(&b, "%s: no all-zero output channels\n", rows[i].name)
			} else {
				fmt.Fprintf(&b, "%s: %d all-zero output channels: %s\n", rows[i].name, len(z), ints(z))
			}
		}
	}
	return b.String()
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
