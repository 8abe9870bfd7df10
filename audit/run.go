// Package audit is the job behind `goodnet audit`: Fine-Pruning run over a manifest of many
// BadNets (JSON Lines, one model per line), in shards that share one output directory without
// coordinating, resumable, and summarized into one table.
//
// Each model runs the job of `goodnet prune` (pipeline.Prune) into a temporary directory
// beside its destination DIR/<name>/, which is renamed into place once complete, with the
// completion marker DIR/<name>/audit.json written last. A model that fails gets
// DIR/<name>/error.txt (one line) the same way, and the run goes on. A model whose marker is
// there is skipped: re-running a finished shard rewrites nothing. While a process works on a
// model it holds an advisory lock on DIR/.<name>~lock, so that a second process given the same
// shard skips the model, and the holder may remove what a killed process left
// (DIR/.<name>~tmp*). On SIGINT or SIGTERM the CLI's handler removes the temporary directory
// (internal/atomicfile): the model in progress is as if never started.
//
// Summarize reads every DIR/<name>/ into DIR/summary.csv, DIR/summary.json and
// DIR/summary.png.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"goodnet/internal/atomicfile"
	"goodnet/internal/isolate"
	"goodnet/nn"
	"goodnet/pipeline"
	"goodnet/prune"
)

// File names in a model's directory.
const (
	MarkerFile = "audit.json" // written last: the model's outputs are complete
	ErrorFile  = "error.txt"  // the model failed: one line
)

// Statuses of a model in a run.
const (
	StatusOK      = "ok"       // run now, complete
	StatusFailed  = "failed"   // run now, failed (error.txt)
	StatusSkipped = "complete" // complete before this run: skipped, nothing rewritten
	StatusBusy    = "busy"     // another process holds its lock: left to it
)

// Options configures Run.
type Options struct {
	Manifest *Manifest
	Out      string // DIR: one directory per model, DIR/<name>/
	Shard    Shard  // the entries whose index mod N is I ([0/1]: all)
	// FineTuneEpochs applies to the entries that do not give finetune_epochs.
	FineTuneEpochs int
	Backend        nn.Backend
	Method         prune.Method
	// Log gets one line per model of the shard; Errors the line of each failed model (as
	// its error.txt). Either may be nil.
	Log, Errors io.Writer
	// Progress is called before each model (done of total, the model about to run) and once
	// at the end (total of total).
	Progress func(done, total int, name string)
}

// ModelRun is what happened to one model of the shard.
type ModelRun struct {
	Name    string
	Status  string
	Error   string // StatusFailed: the line of error.txt
	Seconds float64
}

// Outcome is a finished run of a shard.
type Outcome struct {
	Shard  Shard
	Models []ModelRun
}

// Count returns how many models of the run have status s.
func (o *Outcome) Count(s string) int {
	n := 0
	for _, m := range o.Models {
		if m.Status == s {
			n++
		}
	}
	return n
}

// Failed lists the names of the models that failed.
func (o *Outcome) Failed() []string {
	var out []string
	for _, m := range o.Models {
		if m.Status == StatusFailed {
			out = append(out, m.Name)
		}
	}
	return out
}

// Marker is the content of audit.json, the completion marker.
type Marker struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Seconds  float64  `json:"seconds"`
	Device   string   `json:"device,omitempty"`
	Shard    string   `json:"shard"`
	Finished string   `json:"finished"`
	Entry    Entry    `json:"entry"` // the manifest's line, paths resolved
	Files    []string `json:"files"`
}

// Run runs the models of the shard one after the other. A model's failure is recorded in its
// error.txt and the run goes on; the error returned is for the run itself: the output
// directory unusable, or an interrupt (an *isolate.Interrupted from a loader's child).
func Run(o Options) (*Outcome, error) {
	if o.Manifest == nil || len(o.Manifest.Entries) == 0 {
		return nil, fmt.Errorf("audit: no manifest")
	}
	if o.Shard.N == 0 {
		o.Shard = Shard{0, 1}
	}
	if err := checkOutDir(o.Out); err != nil {
		return nil, err
	}
	var mine []Entry
	for _, e := range o.Manifest.Entries {
		if o.Shard.Has(e.Index) {
			mine = append(mine, e)
		}
	}
	out := &Outcome{Shard: o.Shard}
	for i, e := range mine {
		if o.Progress != nil {
			o.Progress(i, len(mine), e.Name)
		}
		r, err := runOne(o, e)
		if err != nil {
			return out, err
		}
		out.Models = append(out.Models, r)
		if o.Log != nil {
			fmt.Fprintf(o.Log, "[%d/%d] %s\n", i+1, len(mine), describe(r))
		}
		if r.Status == StatusFailed && o.Errors != nil {
			fmt.Fprintln(o.Errors, r.Error)
		}
	}
	if o.Progress != nil {
		o.Progress(len(mine), len(mine), "")
	}
	return out, nil
}

func describe(r ModelRun) string {
	switch r.Status {
	case StatusOK:
		return fmt.Sprintf("%s: ok in %.1f s", r.Name, r.Seconds)
	case StatusFailed:
		return fmt.Sprintf("%s: FAILED in %.1f s (%s)", r.Name, r.Seconds, ErrorFile)
	case StatusSkipped:
		return fmt.Sprintf("%s: complete already, skipped", r.Name)
	case StatusBusy:
		return fmt.Sprintf("%s: another process is running it, skipped", r.Name)
	}
	return r.Name + ": " + r.Status
}

// Complete says whether dir holds a model's complete outputs (its marker).
func Complete(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, MarkerFile))
	return err == nil && st.Mode().IsRegular()
}

// runOne runs entry e unless it is complete or another process has it.
func runOne(o Options, e Entry) (ModelRun, error) {
	r := ModelRun{Name: e.Name}
	dst := filepath.Join(o.Out, e.Name)
	if Complete(dst) {
		r.Status = StatusSkipped
		return r, nil
	}
	l, err := lockModel(filepath.Join(o.Out, "."+e.Name+"~lock"))
	if err != nil {
		return r, err
	}
	if l.busy {
		r.Status = StatusBusy
		return r, nil
	}
	defer l.unlock()
	if Complete(dst) { // finished by the process that held the lock before us
		r.Status = StatusSkipped
		return r, nil
	}
	if l.held {
		removeStale(o.Out, e.Name)
	}
	tmp, err := atomicfile.TempDir(o.Out, "."+e.Name+"~tmp*")
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	res, perr := pipeline.Prune(pruneOptions(o, e, tmp))
	r.Seconds = time.Since(t0).Seconds()
	var intr *isolate.Interrupted
	if errors.As(perr, &intr) {
		atomicfile.RemoveTempDir(tmp)
		return r, perr
	}
	if perr != nil {
		r.Status, r.Error = StatusFailed, ErrorLine(e.Name, perr)
		// what the failed run may have left in tmp goes; error.txt alone is committed
		atomicfile.RemoveTempDir(tmp)
		if tmp, err = atomicfile.TempDir(o.Out, "."+e.Name+"~tmp*"); err != nil {
			return r, err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, ErrorFile), []byte(r.Error+"\n")); err != nil {
			atomicfile.RemoveTempDir(tmp)
			return r, err
		}
	} else {
		r.Status = StatusOK
		m := Marker{Name: e.Name, Status: StatusOK, Seconds: r.Seconds, Device: res.Result.Device, Shard: o.Shard.String(),
			Finished: time.Now().UTC().Format(time.RFC3339), Entry: e}
		for _, w := range res.Written {
			m.Files = append(m.Files, filepath.Base(w))
		}
		js, err := json.MarshalIndent(m, "", " ")
		if err != nil {
			atomicfile.RemoveTempDir(tmp)
			return r, err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, MarkerFile), append(js, '\n')); err != nil {
			atomicfile.RemoveTempDir(tmp)
			return r, err
		}
	}
	if err := atomicfile.CommitDir(tmp, dst); err != nil {
		return r, err
	}
	return r, nil
}

// ErrorLine is the line a failed model's error.txt holds: as goodnet audit prints it.
func ErrorLine(name string, err error) string {
	msg := err.Error()
	var le *prune.LayerError
	if errors.As(err, &le) && le.Layer == "" {
		msg += ` (give "layer" in the manifest)`
	}
	return "goodnet audit: " + name + ": " + strings.Join(strings.Fields(msg), " ")
}

func pruneOptions(o Options, e Entry, out string) pipeline.PruneOptions {
	p := pipeline.PruneOptions{BadModel: e.BadModel, BadModelWeights: e.BadModelWeights,
		CleanValid: e.CleanValid, BadValid: e.BadValid, CleanTest: e.CleanTest, BadTest: e.BadTest,
		Layer: e.Layer, Thresholds: e.Thresholds, Scale: 1, Backend: o.Backend, Out: out, Method: o.Method,
		FineTuneEpochs: o.FineTuneEpochs}
	if p.Thresholds == nil {
		p.Thresholds = DefaultThresholds
	}
	if e.Scale != nil {
		p.Scale = float32(*e.Scale)
	}
	for i := range e.Mean {
		p.Mean = append(p.Mean, float32(e.Mean[i]))
		p.Std = append(p.Std, float32(e.Std[i]))
	}
	if e.FineTuneEpochs != nil {
		p.FineTuneEpochs = *e.FineTuneEpochs
	}
	if e.FineTuneLR != nil {
		p.FineTuneLR = *e.FineTuneLR
	}
	return p
}

// removeStale deletes what a killed process left of model name: its temporary directories
// and a replaced directory not yet deleted. Only the holder of the model's lock calls it.
func removeStale(out, name string) {
	for _, pat := range []string{"." + name + "~tmp*", "." + name + "~old*"} {
		ms, _ := filepath.Glob(filepath.Join(out, pat)) // names have no glob metacharacters
		for _, m := range ms {
			os.RemoveAll(m)
		}
	}
}

// checkOutDir makes sure DIR exists (or can be made) and is writable before any work.
func checkOutDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no output directory (--out)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create the output directory: %w", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".goodnet-write-check*")
	if err != nil {
		return fmt.Errorf("%s: output directory is not writable: %w", dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
