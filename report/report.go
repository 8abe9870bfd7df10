// Package report writes what a pruning run measured: sweep.csv, report.json, sweep.png, the
// B' files, the threshold table on stdout and the progress bar on stderr. Every file is
// written atomically (internal/atomicfile).
package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"goodnet/internal/atomicfile"
	"goodnet/internal/esc"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/onnx"
	"goodnet/prune"
)

// num is a float64 that JSON-encodes NaN (a set that was not given) as null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(float64(n), 'g', -1, 64)), nil
}

type metricsJSON struct {
	CleanValid num `json:"clean_valid_acc"`
	ASRValid   num `json:"asr_valid"`
	CleanTest  num `json:"clean_test_acc"`
	ASRTest    num `json:"asr_test"`
}

func metricsOf(m prune.Metrics) metricsJSON {
	return metricsJSON{num(m.CleanValid), num(m.ASRValid), num(m.CleanTest), num(m.ASRTest)}
}

type stepJSON struct {
	Step     int `json:"step"`
	Channel  int `json:"channel"`
	Fraction num `json:"fraction_pruned"`
	metricsJSON
}

type goodnetJSON struct {
	CleanAcc num    `json:"clean_acc"`
	ASR      num    `json:"asr"`
	Flagged  num    `json:"flagged"`
	On       string `json:"on"`
}

type savedJSON struct {
	Threshold      num         `json:"threshold"`
	Step           int         `json:"step"`
	File           string      `json:"file"`
	PrunedChannels []int       `json:"pruned_channels"`
	Metrics        metricsJSON `json:"metrics"`
	GoodNet        goodnetJSON `json:"goodnet_test"`
	// FineTuned is B'' made from this B' (goodnet prune --finetune-epochs).
	FineTuned *fineTunedJSON `json:"finetuned,omitempty"`
}

type reportJSON struct {
	Model          string             `json:"model"`
	Layer          string             `json:"layer"`
	Cut            string             `json:"cut"`
	Channels       int                `json:"channels"`
	Order          []int              `json:"order"`
	MeanActivation []num              `json:"mean_activation"`
	Baseline       metricsJSON        `json:"baseline"`
	Steps          []stepJSON         `json:"steps"`
	Thresholds     []num              `json:"thresholds"`
	Saved          []savedJSON        `json:"saved"`
	Unreached      []num              `json:"unreached_thresholds"`
	Sets           map[string]SetInfo `json:"sets"`
	Timings        map[string]num     `json:"timings_s"`
	Device         string             `json:"device"`
	Method         string             `json:"method"`
	Stats          *prune.Stats       `json:"stats,omitempty"`
}

// SetInfo names a data set of the run.
type SetInfo struct {
	Path   string `json:"path"`
	Images int    `json:"images"`
}

// BprimeName is the file name of B' at threshold t: bprime_2.h5, bprime_2.5.h5.
func BprimeName(t float64) string {
	return "bprime_" + strconv.FormatFloat(t, 'g', -1, 64) + ".h5"
}

// BprimeNameFor is the file name of B' at threshold t in the format m was read from:
// bprime_2.onnx for an ONNX model, bprime_2.keras for a Keras 3 archive, else BprimeName.
func BprimeNameFor(m *nn.Model, t float64) string {
	switch {
	case m != nil && onnx.FromONNX(m):
		return strings.TrimSuffix(BprimeName(t), ".h5") + ".onnx"
	case m != nil && keras.FromArchive(m):
		return strings.TrimSuffix(BprimeName(t), ".h5") + ".keras"
	}
	return BprimeName(t)
}

// saveBprime writes B' in the format B was read from (only the pruned tensors differ).
func saveBprime(b *atomicfile.Batch, m *nn.Model, path string) error {
	switch {
	case onnx.FromONNX(m):
		return onnx.SaveIn(b, m, path)
	case keras.FromArchive(m):
		return keras.SaveArchiveIn(b, m, path)
	}
	return keras.SaveWeightsIn(b, m, path)
}

// JSON renders report.json; ft are the fine-tuned B” (saved[i].finetuned), if any.
func JSON(r *prune.Result, sets map[string]SetInfo, timings map[string]float64, ft ...FineTuned) ([]byte, error) {
	j := reportJSON{Model: r.Model, Layer: r.Layer, Cut: r.Cut, Channels: r.Channels, Order: r.Order,
		Baseline: metricsOf(r.Baseline), Sets: sets, Device: r.Device, Method: r.Method, Stats: r.Stats,
		Timings: map[string]num{}, Saved: []savedJSON{}, Unreached: []num{}}
	for _, v := range r.MeanActivation {
		j.MeanActivation = append(j.MeanActivation, num(v))
	}
	for _, s := range r.Steps {
		j.Steps = append(j.Steps, stepJSON{s.Step, s.Channel, num(s.Fraction), metricsOf(s.Metrics)})
	}
	for _, t := range r.Thresholds {
		j.Thresholds = append(j.Thresholds, num(t))
	}
	for _, s := range r.Saved {
		j.Saved = append(j.Saved, savedJSON{Threshold: num(s.Threshold), Step: s.Step, File: BprimeNameFor(s.Model, s.Threshold),
			PrunedChannels: s.PrunedChannels, Metrics: metricsOf(s.Metrics),
			GoodNet:   goodnetJSON{num(s.GoodNet.CleanAcc), num(s.GoodNet.ASR), num(s.GoodNet.Flagged), s.GoodNet.On},
			FineTuned: fineTunedJSONOf(fineTunedOf(ft, s.Threshold))})
	}
	for _, t := range r.Unreached {
		j.Unreached = append(j.Unreached, num(t))
	}
	for k, v := range r.Timings {
		j.Timings[k] = num(v)
	}
	for k, v := range timings {
		j.Timings[k] = num(v)
	}
	b, err := json.MarshalIndent(j, "", " ")
	return append(b, '\n'), err
}

// CSV renders sweep.csv: one row per step, step 0 being B itself; empty cells for absent sets.
func CSV(r *prune.Result) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"step", "channel", "fraction_pruned", "clean_valid_acc", "asr_valid", "clean_test_acc", "asr_test"})
	cell := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	for _, s := range r.Steps {
		ch := ""
		if s.Step > 0 {
			ch = strconv.Itoa(s.Channel)
		}
		w.Write([]string{strconv.Itoa(s.Step), ch, strconv.FormatFloat(s.Fraction, 'f', 6, 64),
			cell(s.CleanValid), cell(s.ASRValid), cell(s.CleanTest), cell(s.ASRTest)})
	}
	w.Flush()
	return buf.Bytes()
}

// WriteAll writes the B' files (and the fine-tuned B'' files ft, if any), sweep.csv, report.json and sweep.png into dir (created if
// needed) as one generation (atomicfile.OutDir): all are written into a new generation
// directory, synced, and made current by one atomic rename, so that a failure (a full disk),
// an interrupt, SIGKILL or a power loss leaves dir's names resolving into the previous run's
// files or into all the new ones — never a mix, never a partial file. A caller that holds dir
// open for the whole run (pipeline.Prune) keeps its lock. It returns the paths written.
func WriteAll(dir string, r *prune.Result, sets map[string]SetInfo, timings map[string]float64, ft ...FineTuned) ([]string, error) {
	out, err := atomicfile.OpenOutDir(dir)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	g, err := out.NewGeneration()
	if err != nil {
		return nil, err
	}
	defer g.Abort()
	var names []string
	for _, s := range r.Saved {
		n := BprimeNameFor(s.Model, s.Threshold)
		if err := saveBprime(nil, s.Model, filepath.Join(g.Dir, n)); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	for _, f := range ft {
		n := FineTunedName(f.Model, f.Threshold)
		if err := saveBprime(nil, f.Model, filepath.Join(g.Dir, n)); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	if err := atomicfile.WriteFile(filepath.Join(g.Dir, "sweep.csv"), CSV(r)); err != nil {
		return nil, err
	}
	js, err := JSON(r, sets, timings, ft...)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(g.Dir, "report.json"), js); err != nil {
		return nil, err
	}
	if err := WritePlot(nil, filepath.Join(g.Dir, "sweep.png"), r, ft...); err != nil {
		return nil, err
	}
	names = append(names, "sweep.csv", "report.json", "sweep.png")
	if err := g.Commit(); err != nil {
		return nil, err
	}
	written := make([]string, len(names))
	for i, n := range names {
		written[i] = filepath.Join(dir, n)
	}
	return written, nil
}

// Table prints the baseline and, per threshold, the channels pruned, validation accuracy and
// ASR of B', and GoodNet's accuracy, ASR and flagged share on the test (or validation) sets;
// with fine-tuned B” (ft), a second table: GoodNet(B, B') beside GoodNet(B, B”) per
// threshold.
func Table(w io.Writer, r *prune.Result, ft ...FineTuned) {
	on := "test"
	if len(r.Saved) > 0 {
		on = r.Saved[0].GoodNet.On
	}
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "     -"
		}
		return fmt.Sprintf("%6.2f", v)
	}
	// names and paths come from files: escaped (internal/esc), a newline cannot forge a row
	fmt.Fprintf(w, "Fine-pruning %s (%d channels) of %s\n", esc.Text(r.Layer), r.Channels, esc.Text(r.Model))
	fmt.Fprintf(w, "B: validation accuracy %s %%, ASR %s %%; test accuracy %s %%, ASR %s %%\n\n",
		pct(r.Baseline.CleanValid), pct(r.Baseline.ASRValid), pct(r.Baseline.CleanTest), pct(r.Baseline.ASRTest))
	fmt.Fprintf(w, "%-9s %-8s %-9s %-9s | %-13s %-13s %-8s\n", "threshold", "pruned", "valid acc", "valid ASR",
		"GoodNet acc", "GoodNet ASR", "flagged")
	fmt.Fprintf(w, "%-9s %-8s %-9s %-9s | %-13s %-13s %-8s\n", "", "", "(B')", "(B')", "("+on+")", "("+on+")", "("+on+")")
	for _, s := range r.Saved {
		fmt.Fprintf(w, "%7g %% %3d/%-4d %s %%  %s %%  |  %s %%      %s %%      %s %%\n", s.Threshold, s.Step, r.Channels,
			pct(s.Metrics.CleanValid), pct(s.Metrics.ASRValid), pct(s.GoodNet.CleanAcc), pct(s.GoodNet.ASR), pct(s.GoodNet.Flagged))
	}
	for _, t := range r.Unreached {
		fmt.Fprintf(w, "%7g %%  not reached after %d steps\n", t, len(r.Steps)-1)
	}
	fineTunedTable(w, r, ft)
}
