package report

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"goodnet/internal/atomicfile"
	"goodnet/prune"
)

var (
	blue   = color.RGBA{31, 119, 180, 255}
	red    = color.RGBA{214, 39, 40, 255}
	grey   = color.RGBA{120, 120, 120, 255}
	orange = color.RGBA{255, 127, 14, 255}
)

// Plot draws clean accuracy and attack success rate (validation solid, test dashed) against
// the fraction of channels pruned, with each threshold's B' marked, and B” fine-tuned from it
// (ft, if any) beside it.
func Plot(r *prune.Result, ft ...FineTuned) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Fine-pruning %s: accuracy and attack success as channels go", r.Layer)
	p.X.Label.Text = fmt.Sprintf("fraction of %s's %d channels pruned", r.Layer, r.Channels)
	p.Y.Label.Text = "rate (%)"
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 101
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(140) // mid-left: the curves start high and end low

	series := func(get func(prune.Metrics) float64) plotter.XYs {
		var xy plotter.XYs
		for _, s := range r.Steps {
			if v := get(s.Metrics); !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: s.Fraction, Y: v})
			}
		}
		return xy
	}
	add := func(name string, xy plotter.XYs, c color.Color, dashed bool) error {
		if len(xy) == 0 {
			return nil
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, vg.Points(1.8)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	for _, s := range []struct {
		name   string
		get    func(prune.Metrics) float64
		c      color.Color
		dashed bool
	}{
		{"clean accuracy (validation)", func(m prune.Metrics) float64 { return m.CleanValid }, blue, false},
		{"attack success (validation)", func(m prune.Metrics) float64 { return m.ASRValid }, red, false},
		{"clean accuracy (test)", func(m prune.Metrics) float64 { return m.CleanTest }, blue, true},
		{"attack success (test)", func(m prune.Metrics) float64 { return m.ASRTest }, red, true},
	} {
		if err := add(s.name, series(s.get), s.c, s.dashed); err != nil {
			return nil, err
		}
	}
	// One marker per step at which B' was saved (several thresholds can share a step).
	var stepsSaved []int
	labels := map[int]string{}
	for _, s := range r.Saved {
		if _, ok := labels[s.Step]; !ok {
			stepsSaved = append(stepsSaved, s.Step)
			labels[s.Step] = fmt.Sprintf("%g", s.Threshold)
		} else {
			labels[s.Step] += fmt.Sprintf(", %g", s.Threshold)
		}
	}
	for _, step := range stepsSaved {
		m := r.Steps[step].Metrics
		frac := float64(step) / float64(r.Channels)
		vl, err := plotter.NewLine(plotter.XYs{{X: frac, Y: 0}, {X: frac, Y: 101}})
		if err != nil {
			return nil, err
		}
		vl.Color, vl.Dashes = grey, []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(vl)
		pts, err := plotter.NewScatter(plotter.XYs{{X: frac, Y: m.CleanValid}, {X: frac, Y: m.ASRValid}})
		if err != nil {
			return nil, err
		}
		pts.GlyphStyle = draw.GlyphStyle{Color: orange, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		p.Add(pts)
		lab, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: frac, Y: 3}},
			Labels: []string{fmt.Sprintf(" B' at %s %%: %d pruned", labels[step], step)},
		})
		if err != nil {
			return nil, err
		}
		lab.TextStyle[0].Rotation = math.Pi / 2
		lab.TextStyle[0].Color = grey
		p.Add(lab)
	}
	if err := plotFineTuned(p, r, ft); err != nil {
		return nil, err
	}
	return p, nil
}

// plotFineTuned marks each B” at its B”s fraction pruned: clean accuracy (up) and attack
// success rate (down triangle) on the test sets, or the validation sets without them.
func plotFineTuned(p *plot.Plot, r *prune.Result, ft []FineTuned) error {
	var acc, asr plotter.XYs
	on := ""
	for _, s := range r.Saved {
		f := fineTunedOf(ft, s.Threshold)
		if f == nil {
			continue
		}
		frac := float64(s.Step) / float64(r.Channels)
		a, b := f.Metrics.CleanTest, f.Metrics.ASRTest
		on = "test"
		if math.IsNaN(a) {
			a, b, on = f.Metrics.CleanValid, f.Metrics.ASRValid, "validation"
		}
		if !math.IsNaN(a) {
			acc = append(acc, plotter.XY{X: frac, Y: a})
		}
		if !math.IsNaN(b) {
			asr = append(asr, plotter.XY{X: frac, Y: b})
		}
	}
	for _, m := range []struct {
		xy    plotter.XYs
		c     color.Color
		shape draw.GlyphDrawer
		name  string
	}{
		{acc, blue, draw.PyramidGlyph{}, "B'' fine-tuned: clean accuracy (" + on + ")"},
		{asr, red, invertedTriangle{}, "B'' fine-tuned: attack success (" + on + ")"},
	} {
		if len(m.xy) == 0 {
			continue
		}
		pts, err := plotter.NewScatter(m.xy)
		if err != nil {
			return err
		}
		pts.GlyphStyle = draw.GlyphStyle{Color: m.c, Radius: vg.Points(5), Shape: m.shape}
		p.Add(pts)
		p.Legend.Add(m.name, pts)
	}
	return nil
}

// invertedTriangle is a filled triangle pointing down.
type invertedTriangle struct{}

func (invertedTriangle) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(0.5)})
	r := sty.Radius + (sty.Radius-sty.Radius*vg.Length(math.Sin(math.Pi/6)))/2
	var path vg.Path
	path.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	path.Line(vg.Point{X: pt.X - r*vg.Length(math.Cos(math.Pi/6)), Y: pt.Y + r*vg.Length(math.Sin(math.Pi/6))})
	path.Line(vg.Point{X: pt.X + r*vg.Length(math.Cos(math.Pi/6)), Y: pt.Y + r*vg.Length(math.Sin(math.Pi/6))})
	path.Close()
	c.SetColor(sty.Color)
	c.Fill(path)
}

// WritePlot renders the plot as a PNG staged in b (goodnet/internal/atomicfile; a nil b
// writes it atomically at once).
func WritePlot(b *atomicfile.Batch, path string, r *prune.Result, ft ...FineTuned) error {
	p, err := Plot(r, ft...)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(vg.Length(9)*vg.Inch, vg.Length(5.5)*vg.Inch), vgimg.UseDPI(120))}
	p.Draw(draw.New(c))
	return b.Write(path, func(f *os.File) error {
		_, err := c.WriteTo(f)
		return err
	})
}
