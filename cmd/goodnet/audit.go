package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"goodnet/audit"
	"goodnet/report"
)

func init() {
	register(&command{name: "audit", summary: "run the defense over a manifest of many BadNets (sharded, resumable); --summarize", run: runAudit})
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", "--manifest M.jsonl --out DIR [--shard I/N] [--finetune-epochs E] [flags]\n       goodnet audit --summarize --out DIR [--manifest M.jsonl]", `
Runs goodnet prune on every BadNet of a manifest, each into DIR/<name>/. The manifest is JSON
Lines, one model per line, with the keys of goodnet prune's flags:
  {"name": "m1", "bad_model": "m1/bd_net.h5", "clean_valid": "valid.h5", "bad_valid": "bd_valid.h5",
   "clean_test": "test.h5", "bad_test": "bd_test.h5", "scale": 1, "layer": "conv_3", "thresholds": [2, 4, 10]}
(required: name, bad_model, clean_valid, bad_valid; optional too: bad_model_weights, mean, std,
finetune_epochs, finetune_lr). Relative paths are read from the manifest's directory; names
must be unique and safe as directory names. The whole manifest is checked before any work.

--shard I/N runs the models whose line index (0-based, blank lines not counted) mod N is I;
auto/N takes I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job). Shards share DIR without
coordinating. A model's directory appears complete or not at all (its marker audit.json is
written last); a model already complete is skipped, so a stopped run resumes where it was; one
that fails gets DIR/<name>/error.txt (one line) and the run goes on, exit status 1 at the end.
Ctrl-C or SIGTERM leaves the model in progress as if never started (exit status 130 or 143).

--summarize reads every DIR/<name>/ into DIR/summary.csv (one row per model and threshold:
`+audit.Header+`),
DIR/summary.json and DIR/summary.png (clean accuracy against attack success rate per model,
before and after); with --manifest, in its order, models without outputs "missing".`, stderr)
	manifest := fs.String("manifest", "", "the models: JSON Lines, one per line")
	out := fs.String("out", "", "output directory DIR: DIR/<name>/ per model, the summary")
	shard := fs.String("shard", "0/1", "`I/N`: this process runs the models whose index mod N is I; auto/N: I from $"+audit.IndexEnv)
	ftEpochs := intVar(fs, "finetune-epochs", 0, 0, math.MaxInt, "fine-tune each B' for this many epochs after pruning (a manifest line's finetune_epochs wins)")
	summarize := fs.Bool("summarize", false, "write DIR/summary.csv, summary.json and summary.png from DIR's models")
	quiet := fs.Bool("quiet", false, "no progress bar")
	device := deviceVar(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *summarize {
		for _, f := range []string{"shard", "finetune-epochs"} {
			if given[f] {
				return usagef("--%s is for running the audit, not with --summarize", f)
			}
		}
		if err := required(fs, "out"); err != nil {
			return err
		}
		return runSummarize(*manifest, *out, *quiet, stdout)
	}
	if err := required(fs, "manifest", "out"); err != nil {
		return err
	}
	sh, err := audit.ParseShard(*shard, os.Getenv)
	if err != nil {
		return usagef("--shard %v", err)
	}
	m, err := audit.ReadManifest(*manifest, true)
	if err != nil {
		return err
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	bar := report.NewProgress(os.Stderr, "audit", *quiet)
	o, err := audit.Run(audit.Options{Manifest: m, Out: *out, Shard: sh, FineTuneEpochs: *ftEpochs, Backend: backend,
		Log: stdout, Errors: stderr, Progress: func(done, total int, name string) { bar.Update(done, total, "models "+name) }})
	bar.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shard %s: %d models of %d: %d ok, %d complete already, %d failed, %d left to another process\n",
		sh, len(o.Models), len(m.Entries), o.Count(audit.StatusOK), o.Count(audit.StatusSkipped), o.Count(audit.StatusFailed), o.Count(audit.StatusBusy))
	fmt.Fprintf(stdout, "summary, once every shard is done: goodnet audit --summarize --out %s --manifest %s\n", *out, *manifest)
	if f := o.Failed(); len(f) > 0 {
		more := ""
		if len(f) > 5 {
			f, more = f[:5], fmt.Sprintf(", … (%d more)", len(f)-5)
		}
		return fmt.Errorf("%d of %d models failed: %s%s (each has its line in %s)", len(o.Failed()), len(o.Models),
			strings.Join(f, ", "), more, filepath.Join(*out, "<name>", audit.ErrorFile))
	}
	return nil
}

func runSummarize(manifest, out string, quiet bool, stdout io.Writer) error {
	var m *audit.Manifest
	if manifest != "" {
		var err error
		if m, err = audit.ReadManifest(manifest, false); err != nil {
			return err
		}
	}
	bar := report.NewProgress(os.Stderr, "summarize", quiet)
	s, written, err := audit.Summarize(audit.SummarizeOptions{Out: out, Manifest: m,
		Progress: func(done, total int) { bar.Update(done, total, "models") }})
	bar.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d models: %d ok, %d failed, %d missing\n", len(s.Models), s.Count[audit.SumOK], s.Count[audit.SumFailed], s.Count[audit.SumMissing])
	for _, t := range s.PerThreshold {
		ft := ""
		if t.FineTuned > 0 {
			ft = fmt.Sprintf("; fine-tuned %d:%s", t.FineTuned, pctStat(" median ASR", t.MedianFineTunedGoodNetTestASR))
		}
		fmt.Fprintf(stdout, "  %g %%: reached by %d of %d;%s%s%s\n", t.Threshold, t.Reached, t.Models,
			pctStat(" median GoodNet test accuracy", t.MedianGoodNetTestAcc), pctStat(", median ASR", t.MedianGoodNetTestASR), ft)
	}
	fmt.Fprintf(stdout, "Wrote %s\n", strings.Join(written, ", "))
	return nil
}

func pctStat(label string, v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%s %.2f %%", label, *v)
}
