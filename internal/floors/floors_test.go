package floors

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"goodnet/internal/fixtures"
)

// pkg is what `go list -deps` says of one dependency.
type pkg struct {
	path    string
	ldflags string // its cgo LDFLAGS
}

// deps lists the packages p depends on (itself included), as `go list -deps` with tags.
func deps(t *testing.T, p string, tags ...string) []pkg {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := fixtures.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}\t{{join .CgoLDFLAGS \" \"}}"}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command(goTool, append(args, p)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s %s: %v\n%s", strings.Join(args, " "), p, err, stderr.String())
	}
	var ps []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, ld, _ := strings.Cut(line, "\t")
		ps = append(ps, pkg{path, ld})
	}
	return ps
}

func paths(ps []pkg) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.path)
	}
	return out
}

// Engines are leaves: no algorithm, format, job or report above them.
func TestEnginesAreLeaves(t *testing.T) {
	above := []string{"prune", "goodnet", "keras", "dataset", "pipeline", "report", "bench", "demo", "train", "finetune", "internal/h5"}
	// gpu: the build without the cuda tag (the cuda build's self-test still imports more)
	for _, engine := range []string{"host", "gpu"} {
		for _, d := range paths(deps(t, "goodnet/"+engine)) {
			for _, a := range above {
				if d == "goodnet/"+a {
					t.Errorf("%s depends on %s", engine, d)
				}
			}
		}
	}
}

// Algorithms know nn and the data type, never an engine or a file format (finetune: only the
// training engine, train/), and link no libhdf5: G(B, B'), the sweep and fine-tuning run on
// any engine, with models from any format.
func TestAlgorithmsAreEngineAndFormatBlind(t *testing.T) {
	banned := []string{"goodnet/host", "goodnet/gpu", "goodnet/cuda", "goodnet/keras", "goodnet/dataset", "goodnet/internal/h5"}
	for _, alg := range []string{"prune", "goodnet", "finetune"} {
		for _, tags := range [][]string{nil, {"cuda"}} {
			for _, d := range deps(t, "goodnet/"+alg, tags...) {
				if slices.Contains(banned, d.path) {
					t.Errorf("%s (tags %v) depends on %s", alg, tags, d.path)
				}
				if strings.Contains(d.path, "hdf5") || strings.Contains(d.ldflags, "hdf5") {
					t.Errorf("%s (tags %v) depends on %s, which links libhdf5 (%s)", alg, tags, d.path, d.ldflags)
				}
			}
		}
	}
}

// Algorithms ask an engine for a capability by type assertion, never by its name.
func TestNoEngineNameChecks(t *testing.T) {
	root, err := fixtures.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`Name\(\)\s*(==|!=)|case\s+"(cpu|gpu)"|==\s*"(cpu|gpu)"`)
	for _, dir := range []string{"prune", "goodnet"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				if re.MatchString(line) {
					t.Errorf("%s:%d: an engine check by name: %s", filepath.Join(dir, filepath.Base(f)), i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}

// internal/devprobe must initialise before gorgonia.org/cu (see its package doc): Go
// initialises packages in import-path order among those whose imports are done, so the probe
// and everything it imports must be imported by cu too, except the probe itself and goodnet/nn
// (both sort before gorgonia.org/cu).
func TestDevprobeInitialisesBeforeCu(t *testing.T) {
	cu := paths(deps(t, "gorgonia.org/cu", "cuda"))
	for _, d := range paths(deps(t, "goodnet/internal/devprobe", "cuda")) {
		if d == "goodnet/internal/devprobe" || d == "goodnet/nn" {
			if !(d < "gorgonia.org/cu") {
				t.Errorf("%s does not sort before gorgonia.org/cu", d)
			}
			continue
		}
		if !slices.Contains(cu, d) {
			t.Errorf("devprobe depends on %s, which gorgonia.org/cu does not import: cu could initialise first", d)
		}
	}
}
