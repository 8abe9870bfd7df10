// Command cuda2go writes goodnet's CUDA bindings from kernels.cu, in the manner of mumax/3's
// cuda2go: `go generate ./cuda` runs it in cuda/.
//
// It reads the extern "C" __global__ kernel signatures and the shared constants
// (#define GN_<NAME> <integer>) of kernels.cu and writes
//
//   - kernels_gen.go (package cuda, every build): the constants, the Kernel enumeration, the
//     name table and each kernel's parameters (name and C type), and one typed argument
//     builder per kernel (k_conv2d → kConv2D(out, x, w, b uintptr, n int, H, W, … int) Call)
//     whose parameters are the kernel's, in its order and with its names;
//   - hostcheck/emulate_gen.h (cuda/hostcheck's emulator): the dispatch from a Call's kernel
//     and argument slots to the kernel function itself, compiled for the CPU.
//
// The launch code of the GPU and of the emulator both take a Call, so a kernel's argument
// list is written once, in kernels.cu. TestGenerated fails when the files differ from what
// this program writes now.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Param is one kernel parameter.
type Param struct {
	Name string // as in kernels.cu
	Type string // normalised C type: "float *", "const float *", …, "int", "i64"
}

// Kernel is one extern "C" __global__ function.
type Kernel struct {
	Name   string // k_…
	Params []Param
}

// Const is one #define GN_… integer.
type Const struct {
	Name  string // GN_…
	Value int64
	Doc   string // the comment after it, if any
}

// Source is what cuda2go reads from kernels.cu.
type Source struct {
	Kernels []Kernel
	Consts  []Const
}

var (
	kernelRE = regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(k_\w+)\s*\(([^)]*)\)`)
	constRE  = regexp.MustCompile(`(?m)^#define\s+(GN_[A-Z0-9_]+)\s+(-?\d+)\s*(?:/\*\s*(.*?)\s*\*/)?\s*$`)
	// the parameter types a Call can carry in an 8-byte slot
	types = map[string]bool{
		"float *": true, "const float *": true, "int *": true, "const int *": true,
		"double *": true, "const double *": true, "int": true, "i64": true,
	}
	identRE = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

// Parse reads the kernels and the constants of kernels.cu.
func Parse(src []byte) (*Source, error) {
	text := stripComments(string(src))
	s := &Source{}
	seen := map[string]bool{}
	for _, m := range kernelRE.FindAllStringSubmatch(text, -1) {
		k := Kernel{Name: m[1]}
		if seen[k.Name] {
			return nil, fmt.Errorf("kernel %s is defined twice", k.Name)
		}
		seen[k.Name] = true
		names := map[string]bool{}
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(strings.ReplaceAll(p, "__restrict__", "")), " ")
			i := strings.LastIndexAny(p, " *")
			if i < 0 {
				return nil, fmt.Errorf("%s: parameter %q has no type", k.Name, p)
			}
			name := p[i+1:]
			typ := strings.TrimSpace(p[:i+1])
			typ = strings.Join(strings.Fields(strings.ReplaceAll(typ, "*", " *")), " ")
			if !identRE.MatchString(name) {
				return nil, fmt.Errorf("%s: parameter %q: bad name %q", k.Name, p, name)
			}
			if !types[typ] {
				return nil, fmt.Errorf("%s: parameter %s has type %q; a Call carries only float/int/double pointers, int and i64", k.Name, name, typ)
			}
			if names[name] {
				return nil, fmt.Errorf("%s: parameter %s is listed twice", k.Name, name)
			}
			names[name] = true
			k.Params = append(k.Params, Param{Name: name, Type: typ})
		}
		s.Kernels = append(s.Kernels, k)
	}
	if n := len(regexp.MustCompile(`extern\s+"C"\s+__global__`).FindAllString(text, -1)); n != len(s.Kernels) {
		return nil, fmt.Errorf(`kernels.cu has %d extern "C" __global__ functions, %d parsed`, n, len(s.Kernels))
	}
	if len(s.Kernels) == 0 {
		return nil, fmt.Errorf("kernels.cu has no extern \"C\" __global__ kernel")
	}
	// constants: from the original text (their comments are the documentation)
	for _, m := range constRE.FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m[1], err)
		}
		s.Consts = append(s.Consts, Const{Name: m[1], Value: v, Doc: m[3]})
	}
	return s, nil
}

// stripComments blanks /* */ and // comments (keeping the line structure).
func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			for _, c := range s[i : i+2+j+2] {
				if c == '\n' {
					b.WriteByte('\n')
				}
			}
			b.WriteByte(' ')
			i += 2 + j + 2
		case strings.HasPrefix(s[i:], "//"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// goName is the Go name of a kernel (k_channel_sum_partial → kChannelSumPartial,
// k_conv2d → kConv2D) or of a constant (GN_SUM_ROWS → SumRows, GN_BM → BM).
func goName(cname string) string {
	var parts []string
	switch {
	case strings.HasPrefix(cname, "k_"):
		parts = append([]string{"k"}, strings.Split(cname[2:], "_")...)
	case strings.HasPrefix(cname, "GN_"):
		parts = strings.Split(cname[3:], "_")
	default:
		parts = strings.Split(cname, "_")
	}
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i == 0 && p == "k" {
			b.WriteString("k")
			continue
		}
		switch {
		case strings.HasPrefix(cname, "GN_") && len(p) <= 2:
			b.WriteString(p) // BM, BN, BK stay upper case
		case strings.HasSuffix(p, "2d"):
			b.WriteString(strings.ToUpper(p[:1]) + p[1:len(p)-2] + "2D")
		default:
			p = strings.ToLower(p)
			b.WriteString(string(unicode.ToUpper(rune(p[0]))) + p[1:])
		}
	}
	return b.String()
}

// constName is a Kernel constant's name: k_conv2d → KConv2D.
func constName(k Kernel) string {
	n := goName(k.Name)
	return "K" + n[1:]
}

var goKeywords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true,
	"goto": true, "if": true, "import": true, "interface": true, "map": true, "package": true,
	"range": true, "return": true, "select": true, "struct": true, "switch": true, "type": true,
	"var": true, "c": true, // c is the Call being built
}

func goParam(name string) string {
	if goKeywords[name] {
		return name + "_"
	}
	return name
}

func isPtr(t string) bool { return strings.HasSuffix(t, "*") }

// GenerateGo writes kernels_gen.go.
func GenerateGo(s *Source) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by cuda2go from kernels.cu; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package cuda\n\n")
	fmt.Fprintf(&b, "// The shared constants of kernels.cu (#define GN_<NAME>).\nconst (\n")
	for _, c := range s.Consts {
		doc := c.Doc
		if doc != "" {
			doc = ": " + doc
		}
		fmt.Fprintf(&b, "\t// %s is %s%s\n\t%s = %d\n", goName(c.Name), c.Name, doc, goName(c.Name), c.Value)
	}
	fmt.Fprintf(&b, ")\n\n")

	fmt.Fprintf(&b, "// The kernels of kernels.cu, in its order.\nconst (\n")
	for i, k := range s.Kernels {
		if i == 0 {
			fmt.Fprintf(&b, "\t%s Kernel = iota // %s\n", constName(k), k.Name)
		} else {
			fmt.Fprintf(&b, "\t%s // %s\n", constName(k), k.Name)
		}
	}
	fmt.Fprintf(&b, "\tnumKernels\n)\n\n")

	maxArgs := 0
	for _, k := range s.Kernels {
		maxArgs = max(maxArgs, len(k.Params))
	}
	fmt.Fprintf(&b, "// maxArgs is the longest parameter list of a kernel.\nconst maxArgs = %d\n\n", maxArgs)

	fmt.Fprintf(&b, "// kernelNames are the kernels' names in kernels.cu (and in the module).\nvar kernelNames = [numKernels]string{\n")
	for _, k := range s.Kernels {
		fmt.Fprintf(&b, "\t%s: %q,\n", constName(k), k.Name)
	}
	fmt.Fprintf(&b, "}\n\n")

	fmt.Fprintf(&b, "// kernelParams are the kernels' parameters as kernels.cu declares them.\nvar kernelParams = [numKernels][]Param{\n")
	for _, k := range s.Kernels {
		fmt.Fprintf(&b, "\t%s: {", constName(k))
		for i, p := range k.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{%q, %q}", p.Name, p.Type)
		}
		fmt.Fprintf(&b, "},\n")
	}
	fmt.Fprintf(&b, "}\n")

	for _, k := range s.Kernels {
		var sig, cparams []string
		for _, p := range k.Params {
			gt := "int"
			if isPtr(p.Type) {
				gt = "uintptr"
			}
			sig = append(sig, goParam(p.Name)+" "+gt)
			cparams = append(cparams, p.Type+map[bool]string{true: "", false: " "}[isPtr(p.Type)]+p.Name)
		}
		fmt.Fprintf(&b, "\n// %s is the argument list of %s(%s).\n", goName(k.Name), k.Name, strings.Join(cparams, ", "))
		fmt.Fprintf(&b, "func %s(%s) Call {\n\tc := Call{Kernel: %s}\n", goName(k.Name), strings.Join(sig, ", "), constName(k))
		for _, p := range k.Params {
			switch {
			case isPtr(p.Type):
				fmt.Fprintf(&b, "\tc.ptr(%s)\n", goParam(p.Name))
			case p.Type == "i64":
				fmt.Fprintf(&b, "\tc.i64(%s)\n", goParam(p.Name))
			default:
				fmt.Fprintf(&b, "\tc.i32(%s)\n", goParam(p.Name))
			}
		}
		fmt.Fprintf(&b, "\treturn c\n}\n")
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gofmt of the generated Go: %w\n%s", err, b.Bytes())
	}
	return out, nil
}

// GenerateEmulator writes hostcheck/emulate_gen.h: emu_dispatch(kernel, slots) calls the
// kernel with the arguments of a Call.
func GenerateEmulator(s *Source) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* Code generated by cuda2go from kernels.cu; DO NOT EDIT.\n *\n")
	fmt.Fprintf(&b, " * emu_dispatch runs kernel number `kernel` (package cuda's Kernel) on the arguments of a\n")
	fmt.Fprintf(&b, " * cuda.Call: one 8-byte slot each, pointers and i64 whole, int in the low 32 bits. */\n\n")
	fmt.Fprintf(&b, "#define EMU_KERNELS %d\n\n", len(s.Kernels))
	fmt.Fprintf(&b, "static const char *const emu_kernel_names[EMU_KERNELS] = {\n")
	for _, k := range s.Kernels {
		fmt.Fprintf(&b, "\t%q,\n", k.Name)
	}
	fmt.Fprintf(&b, "};\n\n")
	fmt.Fprintf(&b, "static void emu_dispatch(int kernel, const unsigned long long *a) {\n\tswitch (kernel) {\n")
	for i, k := range s.Kernels {
		var args []string
		for j, p := range k.Params {
			switch {
			case isPtr(p.Type):
				args = append(args, fmt.Sprintf("(%s)(uintptr_t)a[%d]", p.Type, j))
			case p.Type == "i64":
				args = append(args, fmt.Sprintf("(i64)a[%d]", j))
			default:
				args = append(args, fmt.Sprintf("(int)(unsigned)a[%d]", j))
			}
		}
		fmt.Fprintf(&b, "\tcase %d: /* %s */\n\t\t%s(%s);\n\t\tbreak;\n", i, k.Name, k.Name, strings.Join(args, ", "))
	}
	fmt.Fprintf(&b, "\t}\n}\n")
	return b.Bytes()
}

// Generate returns the generated files by path relative to the cuda directory.
func Generate(src []byte) (map[string][]byte, error) {
	s, err := Parse(src)
	if err != nil {
		return nil, err
	}
	g, err := GenerateGo(s)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"kernels_gen.go":          g,
		"hostcheck/emulate_gen.h": GenerateEmulator(s),
	}, nil
}

func main() {
	dir := flag.String("dir", ".", "the cuda directory (kernels.cu, kernels_gen.go, hostcheck/)")
	flag.Parse()
	src, err := os.ReadFile(filepath.Join(*dir, "kernels.cu"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cuda2go: %v\n", err)
		os.Exit(1)
	}
	files, err := Generate(src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cuda2go: kernels.cu: %v\n", err)
		os.Exit(1)
	}
	for name, data := range files {
		path := filepath.Join(*dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "cuda2go: %v\n", err)
			os.Exit(1)
		}
	}
}
