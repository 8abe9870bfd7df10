package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Entry is one BadNet of the manifest: one line of JSON Lines. The keys are the flags of
// `goodnet prune` (bad_model, clean_valid, …, scale, layer, thresholds), plus name; paths are
// resolved against the manifest's directory when read.
type Entry struct {
	Name            string    `json:"name"`
	BadModel        string    `json:"bad_model"`
	BadModelWeights string    `json:"bad_model_weights,omitempty"`
	CleanValid      string    `json:"clean_valid"`
	BadValid        string    `json:"bad_valid"`
	CleanTest       string    `json:"clean_test,omitempty"`
	BadTest         string    `json:"bad_test,omitempty"`
	Scale           *float64  `json:"scale,omitempty"` // [1]
	Mean            []float64 `json:"mean,omitempty"`  // per channel, after the scale (with std)
	Std             []float64 `json:"std,omitempty"`
	Layer           string    `json:"layer,omitempty"`
	Thresholds      []float64 `json:"thresholds,omitempty"` // [2, 4, 10]
	// Fine-tuning of B' after pruning (pipeline.PruneOptions); absent: the --finetune-epochs
	// of the run, and the fine-tuner's learning rate.
	FineTuneEpochs *int     `json:"finetune_epochs,omitempty"`
	FineTuneLR     *float64 `json:"finetune_lr,omitempty"`

	// Line is the entry's line number in the manifest (1-based); Index its position among
	// the manifest's entries (0-based), which sharding divides.
	Line  int `json:"-"`
	Index int `json:"-"`
}

// DefaultThresholds are goodnet prune's.
var DefaultThresholds = []float64{2, 4, 10}

// MaxLine is the longest manifest line read.
const MaxLine = 1 << 20

// Manifest is a parsed, checked manifest.
type Manifest struct {
	Path    string
	Entries []Entry
}

// ReadManifest reads and checks a manifest: every line a JSON object with the known keys, the
// required ones present, names unique and safe as directory names, numbers in range, and
// with checkFiles every file there. Blank lines are skipped. The error names the file and
// the line: "m.jsonl:4: m4: bad_model models/b4.h5: no such file or directory".
func ReadManifest(path string, checkFiles bool) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the manifest: %w", path, unwrapPath(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: the manifest is a directory, not a JSON Lines file", path)
	}
	base := filepath.Dir(path)
	m := &Manifest{Path: path}
	names := map[string]int{} // lower-cased name → line
	r := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		text, err := readLine(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		e, err := parseEntry(text, base)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		key := strings.ToLower(e.Name)
		if prev, ok := names[key]; ok {
			if m.Entries[indexOfLine(m.Entries, prev)].Name == e.Name {
				return nil, fmt.Errorf("%s:%d: name %q is already used on line %d", path, line, e.Name, prev)
			}
			return nil, fmt.Errorf("%s:%d: name %q differs only in case from line %d's %q (the same directory on some file systems)",
				path, line, e.Name, prev, m.Entries[indexOfLine(m.Entries, prev)].Name)
		}
		if checkFiles {
			if err := e.checkFiles(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		names[key] = line
		e.Line, e.Index = line, len(m.Entries)
		m.Entries = append(m.Entries, e)
	}
	if len(m.Entries) == 0 {
		return nil, fmt.Errorf("%s: no models in the manifest (want one JSON object per line: {\"name\": …, \"bad_model\": …, \"clean_valid\": …, \"bad_valid\": …})", path)
	}
	return m, nil
}

func indexOfLine(es []Entry, line int) int {
	for i, e := range es {
		if e.Line == line {
			return i
		}
	}
	return -1
}

// readLine reads one line without its end (\n or \r\n), refusing lines over MaxLine.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return nil, fmt.Errorf("line longer than %d bytes", MaxLine)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		case err != nil:
			return nil, err
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
	}
}

// safeName is a directory name that needs no quoting: a letter or digit, then letters,
// digits, '.', '_', '-' or '+'.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// MaxName is the longest name (file systems allow 255 bytes; the temporary directory adds a
// prefix and a suffix).
const MaxName = 200

// reserved are the names of the summary's files in the output directory.
var reserved = []string{"summary.csv", "summary.json", "summary.png"}

// CheckName says whether name can be a model's directory in the output directory.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > MaxName:
		return fmt.Errorf("name %q is longer than %d bytes", name[:20]+"…", MaxName)
	case !safeName.MatchString(name):
		return fmt.Errorf("name %q is not safe as a directory name (want letters, digits, '.', '_', '-', '+', starting with a letter or digit)", name)
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("name %q is reserved for the summary's file", name)
		}
	}
	return nil
}

func parseEntry(text []byte, base string) (Entry, error) {
	var e Entry
	if t := bytes.TrimSpace(text); len(t) == 0 || t[0] != '{' {
		return e, fmt.Errorf("not a JSON object (want one per line: {\"name\": …, \"bad_model\": …})")
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, jsonError(err)
	}
	if dec.More() {
		return e, fmt.Errorf("more than one JSON value on the line (want one object per line)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return e, fmt.Errorf("more than one JSON value on the line (want one object per line)")
	}
	if err := CheckName(e.Name); err != nil {
		if e.Name == "" {
			return e, fmt.Errorf("no \"name\"")
		}
		return e, err
	}
	for _, f := range []struct {
		key string
		v   string
	}{{"bad_model", e.BadModel}, {"clean_valid", e.CleanValid}, {"bad_valid", e.BadValid}} {
		if f.v == "" {
			return e, fmt.Errorf("%s: no %q", e.Name, f.key)
		}
	}
	if (e.CleanTest == "") != (e.BadTest == "") {
		return e, fmt.Errorf("%s: give both \"clean_test\" and \"bad_test\", or neither", e.Name)
	}
	if e.Scale != nil && !(*e.Scale > 0 && *e.Scale <= 1e6) {
		return e, fmt.Errorf("%s: scale %v: want a positive number (1 for raw 0–255 pixels, 0.00392156862745098 for x/255)", e.Name, *e.Scale)
	}
	if (e.Mean == nil) != (e.Std == nil) || len(e.Mean) != len(e.Std) {
		return e, fmt.Errorf("%s: mean and std go together, one value per channel in each", e.Name)
	}
	for _, s := range e.Std {
		if !(s > 0) || math.IsInf(s, 0) {
			return e, fmt.Errorf("%s: std %v: every value must be positive", e.Name, e.Std)
		}
	}
	if e.Thresholds != nil {
		if len(e.Thresholds) == 0 {
			return e, fmt.Errorf("%s: thresholds is empty (leave it out for 2, 4, 10)", e.Name)
		}
		for _, t := range e.Thresholds {
			if !(t > 0 && t < 100) {
				return e, fmt.Errorf("%s: threshold %v: want a number in (0, 100)", e.Name, t)
			}
		}
	}
	if e.FineTuneEpochs != nil && *e.FineTuneEpochs < 0 {
		return e, fmt.Errorf("%s: finetune_epochs %d: must be ≥ 0", e.Name, *e.FineTuneEpochs)
	}
	if e.FineTuneLR != nil && !(*e.FineTuneLR > 0 && *e.FineTuneLR < 1) {
		return e, fmt.Errorf("%s: finetune_lr %v: want a number in (0, 1)", e.Name, *e.FineTuneLR)
	}
	for _, p := range e.paths() {
		if *p.p != "" && !filepath.IsAbs(*p.p) {
			*p.p = filepath.Join(base, *p.p)
		}
	}
	return e, nil
}

type pathField struct {
	key string
	p   *string
}

func (e *Entry) paths() []pathField {
	return []pathField{
		{"bad_model", &e.BadModel}, {"bad_model_weights", &e.BadModelWeights}, {"clean_valid", &e.CleanValid},
		{"bad_valid", &e.BadValid}, {"clean_test", &e.CleanTest}, {"bad_test", &e.BadTest},
	}
}

// checkFiles checks that the entry's files are there (the error shows the resolved path).
func (e *Entry) checkFiles() error {
	for _, f := range e.paths() {
		if *f.p == "" {
			continue
		}
		st, err := os.Stat(*f.p)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %s %s: %w", e.Name, f.key, *f.p, unwrapPath(err))
		case st.IsDir():
			return fmt.Errorf("%s: %s %s: is a directory, not a file", e.Name, f.key, *f.p)
		}
	}
	return nil
}

// jsonError rewrites encoding/json's errors in the manifest's terms.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := te.Type.String()
		switch {
		case strings.Contains(want, "float64"):
			want = "a number"
		case strings.Contains(want, "int"):
			want = "an integer"
		case want == "string":
			want = "a string"
		}
		if strings.HasPrefix(te.Type.String(), "[]") {
			want = "a list of numbers"
		}
		if te.Field == "" {
			return fmt.Errorf("not a JSON object (want one per line: {\"name\": …, \"bad_model\": …})")
		}
		return fmt.Errorf("%q: want %s, not a JSON %s", te.Field, want, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("not valid JSON: the object is not closed")
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		f, _ := strconv.Unquote(strings.TrimPrefix(s, "json: unknown field "))
		return fmt.Errorf("unknown key %q (known: name, bad_model, bad_model_weights, clean_valid, bad_valid, clean_test, bad_test, scale, mean, std, layer, thresholds, finetune_epochs, finetune_lr)", f)
	}
	return fmt.Errorf("not valid JSON: %w", err)
}

// Shard is the part of the manifest one process runs: the entries whose index mod N is I.
type Shard struct{ I, N int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Has says whether the entry of index i is the shard's.
func (s Shard) Has(i int) bool { return i%s.N == s.I }

// IndexEnv is the variable a Kubernetes Indexed Job sets to each pod's completion index.
const IndexEnv = "JOB_COMPLETION_INDEX"

// ParseShard parses "I/N" (0 ≤ I < N) or "auto/N", whose I is the value of
// JOB_COMPLETION_INDEX read with getenv.
func ParseShard(s string, getenv func(string) string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q: want I/N (0 ≤ I < N) or auto/N", s)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return Shard{}, fmt.Errorf("%q: N must be a positive integer", s)
	}
	from := ""
	if is == "auto" {
		is = getenv(IndexEnv)
		if is == "" {
			return Shard{}, fmt.Errorf("%q: %s is not set (auto is for a Kubernetes Indexed Job, which sets it; elsewhere give I/N)", s, IndexEnv)
		}
		from = fmt.Sprintf(" (%s=%s)", IndexEnv, is)
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%q%s: I must be an integer in 0..%d", s, from, n-1)
	}
	return Shard{i, n}, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
