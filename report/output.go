package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"goodnet/internal/atomicfile"
)

// Output is what a `goodnet prune --out` directory holds now: the files of its current
// generation, as its report.json lists them. Every file is read from Base, resolved once, so
// that a run switching the directory meanwhile cannot mix two runs' files.
type Output struct {
	Dir        string       // the --out directory
	Base       string       // where the files are read from: the current generation (or Dir, written before generations)
	Report     string       // Base's report.json
	Saved      []OutputFile // B' files of the run, by threshold
	Unreached  []float64
	Thresholds []float64
	Steps      int
}

// OutputFile is one saved B' of a run (and the fine-tuned one when there is one).
type OutputFile struct {
	Threshold float64
	File      string // in Base
	FineTuned string // in Base; "" when none
}

// ReadOutput reads the current run of a prune output directory.
func ReadOutput(dir string) (*Output, error) {
	gen, err := atomicfile.CurrentGeneration(dir)
	if err != nil {
		return nil, err
	}
	o := &Output{Dir: dir, Base: gen}
	if gen == "" {
		o.Base = dir
	}
	o.Report = filepath.Join(o.Base, "report.json")
	b, err := os.ReadFile(o.Report)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not an output directory of goodnet prune (no report.json)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Report, unwrapPath(err))
	}
	var j struct {
		Thresholds []*float64 `json:"thresholds"`
		Unreached  []*float64 `json:"unreached_thresholds"`
		Steps      []json.RawMessage
		Saved      []struct {
			Threshold *float64 `json:"threshold"`
			File      string   `json:"file"`
			FineTuned *struct {
				File string `json:"file"`
			} `json:"finetuned"`
		} `json:"saved"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: not a report of goodnet prune: %w", dir, err)
	}
	for _, t := range j.Thresholds {
		if t != nil {
			o.Thresholds = append(o.Thresholds, *t)
		}
	}
	for _, t := range j.Unreached {
		if t != nil {
			o.Unreached = append(o.Unreached, *t)
		}
	}
	o.Steps = max(len(j.Steps)-1, 0)
	for _, s := range j.Saved {
		if s.Threshold == nil || !baseName(s.File) {
			return nil, fmt.Errorf("%s: not a report of goodnet prune: a saved B' without a threshold or a file name of its directory", o.Report)
		}
		f := OutputFile{Threshold: *s.Threshold, File: s.File}
		if s.FineTuned != nil && s.FineTuned.File != "" {
			if !baseName(s.FineTuned.File) {
				return nil, fmt.Errorf("%s: not a report of goodnet prune: a fine-tuned B' file outside its directory", o.Report)
			}
			f.FineTuned = s.FineTuned.File
		}
		o.Saved = append(o.Saved, f)
	}
	return o, nil
}

func baseName(f string) bool {
	return f != "" && f != "." && f != ".." && !strings.ContainsAny(f, `/\`)
}

// Bprime is the path of the run's B' at threshold t (the fine-tuned one when fineTuned),
// or an error saying why there is none: the threshold was not reached, or not asked for.
func (o *Output) Bprime(t float64, fineTuned bool) (string, error) {
	for _, s := range o.Saved {
		if s.Threshold != t {
			continue
		}
		f := s.File
		if fineTuned {
			if s.FineTuned == "" {
				return "", fmt.Errorf("%s: the run that wrote it did not fine-tune B' at the %g %% threshold", o.Dir, t)
			}
			f = s.FineTuned
		}
		p := filepath.Join(o.Base, f)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: listed in %s but %w", filepath.Join(o.Dir, f), o.Report, unwrapPath(err))
		}
		return p, nil
	}
	for _, u := range o.Unreached {
		if u == t {
			return "", fmt.Errorf("%s: no B' for the %g %% threshold: the run that wrote it did not reach it (validation accuracy had not dropped by %g %% after %s)", o.Dir, t, t, steps(o.Steps))
		}
	}
	var saved []string
	for _, s := range o.Saved {
		saved = append(saved, strconv.FormatFloat(s.Threshold, 'g', -1, 64))
	}
	if len(saved) == 0 {
		return "", fmt.Errorf("%s: no B' for the %g %% threshold: the run that wrote it saved none", o.Dir, t)
	}
	return "", fmt.Errorf("%s: no B' for the %g %% threshold: the run that wrote it saved B' at %s %%", o.Dir, t, strings.Join(saved, ", "))
}

func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func steps(n int) string {
	if n == 1 {
		return "1 step"
	}
	return strconv.Itoa(n) + " steps"
}
