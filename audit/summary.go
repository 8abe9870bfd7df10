package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"goodnet/internal/atomicfile"
)

// The summary's files in the output directory.
const (
	SummaryCSV  = "summary.csv"
	SummaryJSON = "summary.json"
	SummaryPNG  = "summary.png"
)

// Header is summary.csv's first line.
// The ft_ columns are GoodNet(B, B”) with the fine-tuned B” (prune --finetune-epochs,
// finetune_epochs in the manifest), empty for a model that was not fine-tuned.
const Header = "name,status,threshold,pruned_channels,bprime_valid_acc,bprime_valid_asr,goodnet_test_acc,goodnet_test_asr,flagged,ft_goodnet_test_acc,ft_goodnet_test_asr,ft_flagged"

// columns is the number of columns of summary.csv.
var columns = len(strings.Split(Header, ","))

// Statuses of a model in the summary.
const (
	SumOK      = "ok"
	SumFailed  = "failed"
	SumMissing = "missing"
)

// ThresholdResult is one threshold of a model: B' and GoodNet there. The rates are percent;
// nil where not measured (a set not given; GoodNet measured on validation sets when the model
// had no test sets: goodnet_test_* empty then, GoodNetOn says so).
type ThresholdResult struct {
	Threshold      float64  `json:"threshold"`
	Reached        bool     `json:"reached"`
	PrunedChannels int      `json:"pruned_channels"`
	BprimeValidAcc *float64 `json:"bprime_valid_acc"`
	BprimeValidASR *float64 `json:"bprime_valid_asr"`
	GoodNetTestAcc *float64 `json:"goodnet_test_acc"`
	GoodNetTestASR *float64 `json:"goodnet_test_asr"`
	Flagged        *float64 `json:"flagged"` // poisoned test inputs GoodNet flags (class N), percent
	GoodNetOn      string   `json:"goodnet_on,omitempty"`
	// FineTuned is GoodNet(B, B'') with B' fine-tuned after pruning; nil when it was not.
	FineTuned  *FineTunedResult `json:"finetuned,omitempty"`
	goodnetAcc *float64         // GoodNet's accuracy on whichever sets it was measured (the picture)
	goodnetASR *float64
}

// FineTunedResult is GoodNet(B, B”) at a threshold, B” being B' fine-tuned on the clean
// validation set: on the test sets (GoodNetOn "test"; else the rates stay nil and GoodNetOn
// names the sets), percent.
type FineTunedResult struct {
	Epochs         int      `json:"epochs"`
	GoodNetTestAcc *float64 `json:"goodnet_test_acc"`
	GoodNetTestASR *float64 `json:"goodnet_test_asr"`
	Flagged        *float64 `json:"flagged"`
	GoodNetOn      string   `json:"goodnet_on,omitempty"`
}

// Baseline is B before pruning, percent.
type Baseline struct {
	CleanValidAcc *float64 `json:"clean_valid_acc"`
	ASRValid      *float64 `json:"asr_valid"`
	CleanTestAcc  *float64 `json:"clean_test_acc"`
	ASRTest       *float64 `json:"asr_test"`
}

// ModelSummary is one model of the summary.
type ModelSummary struct {
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	Error      string            `json:"error,omitempty"`
	Layer      string            `json:"layer,omitempty"`
	Channels   int               `json:"channels,omitempty"`
	Baseline   *Baseline         `json:"baseline,omitempty"`
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Seconds    float64           `json:"seconds,omitempty"`
	Device     string            `json:"device,omitempty"`
}

// ThresholdStats are the medians over the models that reached a threshold.
type ThresholdStats struct {
	Threshold            float64  `json:"threshold"`
	Models               int      `json:"models"`  // ok models asked for this threshold
	Reached              int      `json:"reached"` // of which reached it
	MedianPrunedFraction *float64 `json:"median_pruned_fraction"`
	MedianBprimeValidAcc *float64 `json:"median_bprime_valid_acc"`
	MedianGoodNetTestAcc *float64 `json:"median_goodnet_test_acc"`
	MedianGoodNetTestASR *float64 `json:"median_goodnet_test_asr"`
	MaxGoodNetTestASR    *float64 `json:"max_goodnet_test_asr"`
	MedianFlagged        *float64 `json:"median_flagged"`
	// Over the models fine-tuned at this threshold (omitted when none was).
	FineTuned                     int      `json:"finetuned,omitempty"`
	MedianFineTunedGoodNetTestASR *float64 `json:"median_finetuned_goodnet_test_asr,omitempty"`
	MaxFineTunedGoodNetTestASR    *float64 `json:"max_finetuned_goodnet_test_asr,omitempty"`
}

// Summary is summary.json.
type Summary struct {
	Dir          string           `json:"dir"`
	Manifest     string           `json:"manifest,omitempty"`
	Count        map[string]int   `json:"count"` // models by status
	Seconds      float64          `json:"seconds"`
	PerThreshold []ThresholdStats `json:"per_threshold"`
	Models       []ModelSummary   `json:"models"`
}

// SummarizeOptions configures Summarize.
type SummarizeOptions struct {
	Out string
	// Manifest, when given, lists the models in its order, those without a directory
	// "missing"; without it, the directories of Out holding a model's outputs, by name.
	Manifest *Manifest
	Progress func(done, total int)
}

// Summarize reads every model directory of o.Out and writes summary.csv, summary.json and
// summary.png there, renamed into place together.
func Summarize(o SummarizeOptions) (*Summary, []string, error) {
	st, err := os.Stat(o.Out)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: cannot read the output directory: %w", o.Out, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%s: not a directory", o.Out)
	}
	var names []string
	if o.Manifest != nil {
		for _, e := range o.Manifest.Entries {
			names = append(names, e.Name)
		}
	} else {
		ents, err := os.ReadDir(o.Out)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: cannot read the output directory: %w", o.Out, unwrapPath(err))
		}
		for _, e := range ents {
			d := filepath.Join(o.Out, e.Name())
			if e.IsDir() && CheckName(e.Name()) == nil && (Complete(d) || fileExists(filepath.Join(d, ErrorFile))) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
	}
	s := &Summary{Dir: o.Out, Count: map[string]int{SumOK: 0, SumFailed: 0, SumMissing: 0}}
	if o.Manifest != nil {
		s.Manifest = o.Manifest.Path
	}
	for i, n := range names {
		if o.Progress != nil {
			o.Progress(i, len(names))
		}
		m := readModel(filepath.Join(o.Out, n), n)
		s.Count[m.Status]++
		s.Seconds += m.Seconds
		s.Models = append(s.Models, m)
	}
	if o.Progress != nil {
		o.Progress(len(names), len(names))
	}
	s.PerThreshold = perThreshold(s.Models)

	b := &atomicfile.Batch{}
	defer b.Abort()
	var written []string
	p := filepath.Join(o.Out, SummaryCSV)
	if err := b.WriteFile(p, CSV(s)); err != nil {
		return nil, nil, err
	}
	written = append(written, p)
	js, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return nil, nil, err
	}
	p = filepath.Join(o.Out, SummaryJSON)
	if err := b.WriteFile(p, append(js, '\n')); err != nil {
		return nil, nil, err
	}
	written = append(written, p)
	p = filepath.Join(o.Out, SummaryPNG)
	if err := WritePlot(b, p, s); err != nil {
		return nil, nil, err
	}
	written = append(written, p)
	if err := b.Commit(); err != nil {
		return nil, nil, err
	}
	return s, written, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// reportFile is the part of a model's report.json (package report) the summary reads.
type reportFile struct {
	Layer      string    `json:"layer"`
	Channels   int       `json:"channels"`
	Thresholds []float64 `json:"thresholds"`
	Baseline   struct {
		CleanValid *float64 `json:"clean_valid_acc"`
		ASRValid   *float64 `json:"asr_valid"`
		CleanTest  *float64 `json:"clean_test_acc"`
		ASRTest    *float64 `json:"asr_test"`
	} `json:"baseline"`
	Saved []struct {
		Threshold float64 `json:"threshold"`
		Step      int     `json:"step"`
		Metrics   struct {
			CleanValid *float64 `json:"clean_valid_acc"`
			ASRValid   *float64 `json:"asr_valid"`
		} `json:"metrics"`
		GoodNet struct {
			CleanAcc *float64 `json:"clean_acc"`
			ASR      *float64 `json:"asr"`
			Flagged  *float64 `json:"flagged"`
			On       string   `json:"on"`
		} `json:"goodnet_test"`
		FineTuned *struct {
			Epochs  int `json:"epochs"`
			GoodNet struct {
				CleanAcc *float64 `json:"clean_acc"`
				ASR      *float64 `json:"asr"`
				Flagged  *float64 `json:"flagged"`
				On       string   `json:"on"`
			} `json:"goodnet_test"`
		} `json:"finetuned"`
	} `json:"saved"`
}

// readModel reads DIR/<name>/: complete (its marker and report.json), failed (error.txt) or
// missing (neither; a directory without them is a run that never finished).
func readModel(dir, name string) ModelSummary {
	m := ModelSummary{Name: name}
	fail := func(format string, a ...any) ModelSummary {
		m.Status, m.Error = SumFailed, fmt.Sprintf(format, a...)
		return m
	}
	if !Complete(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, ErrorFile)); err == nil {
			return fail("%s", strings.TrimSpace(string(b)))
		}
		m.Status = SumMissing
		return m
	}
	var mk Marker
	if b, err := os.ReadFile(filepath.Join(dir, MarkerFile)); err != nil {
		return fail("%s: %v", filepath.Join(dir, MarkerFile), unwrapPath(err))
	} else if err := json.Unmarshal(b, &mk); err != nil {
		return fail("%s: %v", filepath.Join(dir, MarkerFile), err)
	}
	m.Seconds, m.Device = mk.Seconds, mk.Device
	rp := filepath.Join(dir, "report.json")
	b, err := os.ReadFile(rp)
	if err != nil {
		return fail("%s: %v", rp, unwrapPath(err))
	}
	var r reportFile
	if err := json.Unmarshal(b, &r); err != nil {
		return fail("%s: %v", rp, err)
	}
	m.Status, m.Layer, m.Channels = SumOK, r.Layer, r.Channels
	m.Baseline = &Baseline{r.Baseline.CleanValid, r.Baseline.ASRValid, r.Baseline.CleanTest, r.Baseline.ASRTest}
	for _, t := range r.Thresholds {
		tr := ThresholdResult{Threshold: t}
		for _, s := range r.Saved {
			if s.Threshold != t {
				continue
			}
			tr.Reached, tr.PrunedChannels = true, s.Step
			tr.BprimeValidAcc, tr.BprimeValidASR = s.Metrics.CleanValid, s.Metrics.ASRValid
			tr.GoodNetOn, tr.goodnetAcc, tr.goodnetASR = s.GoodNet.On, s.GoodNet.CleanAcc, s.GoodNet.ASR
			if s.GoodNet.On == "test" {
				tr.GoodNetTestAcc, tr.GoodNetTestASR, tr.Flagged = s.GoodNet.CleanAcc, s.GoodNet.ASR, s.GoodNet.Flagged
			}
			if f := s.FineTuned; f != nil {
				tr.FineTuned = &FineTunedResult{Epochs: f.Epochs, GoodNetOn: f.GoodNet.On}
				if f.GoodNet.On == "test" {
					tr.FineTuned.GoodNetTestAcc, tr.FineTuned.GoodNetTestASR, tr.FineTuned.Flagged = f.GoodNet.CleanAcc, f.GoodNet.ASR, f.GoodNet.Flagged
				}
			}
			break
		}
		m.Thresholds = append(m.Thresholds, tr)
	}
	return m
}

// CSV renders summary.csv: one row per model and threshold (a failed or missing model: one
// row, its threshold empty); rates in percent with 4 decimals, empty where not measured or
// not reached.
func CSV(s *Summary) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(strings.Split(Header, ","))
	cell := func(v *float64) string {
		if v == nil || math.IsNaN(*v) {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 4, 64)
	}
	for _, m := range s.Models {
		if m.Status != SumOK || len(m.Thresholds) == 0 {
			row := make([]string, columns)
			row[0], row[1] = m.Name, m.Status
			w.Write(row)
			continue
		}
		for _, t := range m.Thresholds {
			row := make([]string, columns)
			row[0], row[1], row[2] = m.Name, m.Status, strconv.FormatFloat(t.Threshold, 'g', -1, 64)
			if t.Reached {
				row[3] = strconv.Itoa(t.PrunedChannels)
				row[4], row[5] = cell(t.BprimeValidAcc), cell(t.BprimeValidASR)
				row[6], row[7], row[8] = cell(t.GoodNetTestAcc), cell(t.GoodNetTestASR), cell(t.Flagged)
				if f := t.FineTuned; f != nil {
					row[9], row[10], row[11] = cell(f.GoodNetTestAcc), cell(f.GoodNetTestASR), cell(f.Flagged)
				}
			}
			w.Write(row)
		}
	}
	w.Flush()
	return buf.Bytes()
}

func perThreshold(models []ModelSummary) []ThresholdStats {
	var ts []float64
	for _, m := range models {
		for _, t := range m.Thresholds {
			if !slices.Contains(ts, t.Threshold) {
				ts = append(ts, t.Threshold)
			}
		}
	}
	sort.Float64s(ts)
	out := []ThresholdStats{}
	for _, th := range ts {
		st := ThresholdStats{Threshold: th}
		var frac, vacc, acc, asr, flagged, ftASR []float64
		add := func(dst *[]float64, v *float64) {
			if v != nil && !math.IsNaN(*v) {
				*dst = append(*dst, *v)
			}
		}
		for _, m := range models {
			for _, t := range m.Thresholds {
				if t.Threshold != th {
					continue
				}
				st.Models++
				if !t.Reached {
					continue
				}
				st.Reached++
				if m.Channels > 0 {
					f := float64(t.PrunedChannels) / float64(m.Channels)
					frac = append(frac, f)
				}
				add(&vacc, t.BprimeValidAcc)
				add(&acc, t.GoodNetTestAcc)
				add(&asr, t.GoodNetTestASR)
				add(&flagged, t.Flagged)
				if t.FineTuned != nil {
					st.FineTuned++
					add(&ftASR, t.FineTuned.GoodNetTestASR)
				}
			}
		}
		st.MedianPrunedFraction, st.MedianBprimeValidAcc = median(frac), median(vacc)
		st.MedianGoodNetTestAcc, st.MedianGoodNetTestASR, st.MedianFlagged = median(acc), median(asr), median(flagged)
		if len(asr) > 0 {
			v := slices.Max(asr)
			st.MaxGoodNetTestASR = &v
		}
		st.MedianFineTunedGoodNetTestASR = median(ftASR)
		if len(ftASR) > 0 {
			v := slices.Max(ftASR)
			st.MaxFineTunedGoodNetTestASR = &v
		}
		out = append(out, st)
	}
	return out
}

func median(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &m
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// maxPanels is the most thresholds summary.png shows (those most models asked for).
const maxPanels = 6

// WritePlot renders summary.png: one panel per threshold, every model of the summary as a
// point of clean accuracy against attack success rate — B before pruning a grey cross,
// GoodNet G(B, B') at that threshold a coloured dot (on the test sets, or the validation sets
// for a model without test sets), a faint line joining a model's two points (up to 400
// models). A repaired model ends at the bottom right.
func WritePlot(b *atomicfile.Batch, path string, s *Summary) error {
	panels := s.PerThreshold
	if len(panels) > maxPanels {
		panels = slices.Clone(panels)
		sort.SliceStable(panels, func(i, j int) bool { return panels[i].Models > panels[j].Models })
		panels = panels[:maxPanels]
		sort.Slice(panels, func(i, j int) bool { return panels[i].Threshold < panels[j].Threshold })
	}
	cols := min(max(len(panels), 1), 3)
	rows := max((len(panels)+cols-1)/cols, 1)
	const side = 4.2 // inches per panel
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(side*float64(cols))*vg.Inch, vg.Length(side*float64(rows)+0.4)*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	if len(panels) == 0 {
		p := plot.New()
		p.Title.Text = "no model has results yet"
		grid[0][0] = p
	}
	for i, st := range panels {
		p, err := panel(s, st, palette[i%len(palette)])
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		grid[i/cols][i%cols] = p
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(14), PadTop: vg.Points(30),
		PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	cs := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c := range grid[r] {
			if grid[r][c] != nil {
				grid[r][c].Draw(cs[r][c])
			}
		}
	}
	title := fmt.Sprintf("goodnet audit of %s: %d models (%d ok, %d failed, %d missing)", s.Dir, len(s.Models),
		s.Count[SumOK], s.Count[SumFailed], s.Count[SumMissing])
	sty := plot.New().Title.TextStyle
	sty.Font.Size = vg.Points(14)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	dc.FillText(sty, vg.Point{X: dc.Min.X + dc.Size().X/2, Y: dc.Max.Y - vg.Points(6)}, title)
	return b.Write(path, func(f *os.File) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		return err
	})
}

func panel(s *Summary, st ThresholdStats, c color.RGBA) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("B' at a %g %% accuracy drop: %d of %d reached", st.Threshold, st.Reached, st.Models)
	p.X.Label.Text = "clean accuracy (%)"
	p.Y.Label.Text = "attack success rate (%)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 101, 0, 101
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(4), vg.Points(4)
	var before, after plotter.XYs
	var pairs []plotter.XYs
	for _, m := range s.Models {
		for _, t := range m.Thresholds {
			if t.Threshold != st.Threshold || !t.Reached || t.goodnetAcc == nil || t.goodnetASR == nil || m.Baseline == nil {
				continue
			}
			a := plotter.XY{X: *t.goodnetAcc, Y: *t.goodnetASR}
			after = append(after, a)
			acc, asr := m.Baseline.CleanTestAcc, m.Baseline.ASRTest
			if t.GoodNetOn != "test" || acc == nil || asr == nil {
				acc, asr = m.Baseline.CleanValidAcc, m.Baseline.ASRValid
			}
			if acc != nil && asr != nil {
				b := plotter.XY{X: *acc, Y: *asr}
				before = append(before, b)
				pairs = append(pairs, plotter.XYs{b, a})
			}
		}
	}
	r := vg.Points(3)
	if len(after) > 400 {
		r = vg.Points(1.5)
	} else {
		for _, xy := range pairs {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = color.NRGBA{c.R, c.G, c.B, 90}, vg.Points(0.7)
			p.Add(l)
		}
	}
	for _, sc := range []struct {
		name  string
		xy    plotter.XYs
		c     color.Color
		shape draw.GlyphDrawer
	}{
		{"B, before pruning", before, color.RGBA{130, 130, 130, 255}, draw.CrossGlyph{}},
		{"GoodNet G(B, B')", after, c, draw.CircleGlyph{}},
	} {
		if len(sc.xy) == 0 {
			continue
		}
		pts, err := plotter.NewScatter(sc.xy)
		if err != nil {
			return nil, err
		}
		pts.GlyphStyle = draw.GlyphStyle{Color: sc.c, Radius: r, Shape: sc.shape}
		p.Add(pts)
		p.Legend.Add(sc.name, pts)
	}
	return p, nil
}
