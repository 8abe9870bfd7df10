package gpucheck

import (
	"errors"
	"fmt"
	"math"

	"goodnet/bench"
	"goodnet/nn"
	"goodnet/prune"
)

// fullSize times package bench's measurements on the CPU and the GPU (o.Images synthetic
// faces per set) and compares every result of the timed runs.
func (r *run) fullSize(real *realModels) {
	m, bp, what := bench.DefaultModel(), (*nn.Model)(nil), "DeepID with random weights (fixtures waived)"
	if real != nil {
		m, bp, what = real.B, real.Bprime, "the lab's B (bd_net.h5) and B'_2 (bprime_2.h5)"
	}
	r.section("full size: %s, %d synthetic faces per set; timed (median of %d after a warm-up), every result compared", what, r.o.Images, r.o.Repeats)
	var rep *bench.Report
	r.check("full size: timed runs", func() (string, string, error) {
		var err error
		rep, err = bench.Run(bench.Options{Model: m, Bprime: bp, Backends: []nn.Backend{r.env.CPU, r.env.GPU},
			Images: r.o.Images, Repeats: r.o.Repeats, Keep: true, NoRead: true, NoFineTune: true, Log: r.w})
		if err != nil {
			return "", "", err
		}
		return "", fmt.Sprintf("%d measurements on each device in %.0f s", len(rep.Rows)/2, rep.Seconds), nil
	})
	if rep == nil {
		return
	}
	r.res.Bench = rep
	fmt.Fprintln(r.w)
	rep.WriteTable(r.w)
	fmt.Fprintln(r.w)

	rows := map[string]map[string]*bench.Output{}
	for _, row := range rep.Rows {
		if rows[row.Name] == nil {
			rows[row.Name] = map[string]*bench.Output{}
		}
		rows[row.Name][row.Device] = row.Output
	}
	// both devices' outputs of a row, or an error
	pair := func(name string) (cpu, gpu *bench.Output, err error) {
		cpu, gpu = rows[name]["cpu"], rows[name]["gpu"]
		if cpu == nil || gpu == nil {
			return nil, nil, fmt.Errorf("no %s output on both devices", name)
		}
		return cpu, gpu, nil
	}
	// the inputs of the forward rows, and CPU nets for the logits of near ties
	if rep.Sets == nil || rep.Bprime == nil {
		r.check("full size: inputs", func() (string, string, error) { return "", "", errors.New("bench kept no inputs") })
		return
	}
	x, n, bp := rep.Sets.CleanTest.X, rep.Sets.CleanTest.N, rep.Bprime
	var nets compiled
	defer nets.close()
	cb, err := nets.add(r.env.CPU, m)
	if err != nil {
		r.check("full size: inputs", func() (string, string, error) { return "", "", err })
		return
	}
	k := m.NumClasses()

	r.check("full size: forward", func() (string, string, error) {
		c, g, err := pair(bench.Forward)
		if err != nil {
			return "", "", err
		}
		if len(g.Classes) != n {
			return "", "", fmt.Errorf("%d classes for %d images", len(g.Classes), n)
		}
		ties, err := classDiff(g.Classes, c.Classes, k, logitsOf(cb, m, x))
		if err != nil {
			return "", "", err
		}
		return tiesWord(ties), fmt.Sprintf("B's classes of %d images = the CPU's", n), nil
	})
	cut := m.LastPool()
	r.check("full size: activations", func() (string, string, error) {
		c, g, err := pair(bench.Activations)
		if err != nil {
			return "", "", err
		}
		worst, err := rowsClose(g.Values, widen(c.Values), n, Tol)
		if err != nil {
			return "", "", err
		}
		return sci(worst) + " of the image's largest magnitude", fmt.Sprintf("%s's %d values of %d images = the CPU's within %g", cut.Name, len(g.Values), n, Tol), nil
	})
	r.check("full size: channel sums", func() (string, string, error) {
		c, g, err := pair(bench.ChannelSums)
		if err != nil {
			return "", "", err
		}
		worst, err := sumsClose(g.Sums, c.Sums)
		if err != nil {
			return "", "", err
		}
		return sci(worst) + " of the largest sum", fmt.Sprintf("%s's %d channel sums over %d images = the CPU's", cut.Name, len(g.Sums), n), nil
	})
	r.check("full size: GoodNet", func() (string, string, error) {
		c, g, err := pair(bench.GoodNet)
		if err != nil {
			return "", "", err
		}
		if c.Pair == nil || g.Pair == nil || len(g.Pair.G) != n {
			return "", "", errors.New("no GoodNet predictions")
		}
		cbp, err := nets.add(r.env.CPU, bp)
		if err != nil {
			return "", "", err
		}
		flag := int32(k)
		if _, err := checkMerge(g.Pair.B, g.Pair.Bprime, g.Pair.G, flag); err != nil {
			return "", "", err
		}
		tb, err := classDiff(g.Pair.B, c.Pair.B, k, logitsOf(cb, m, x))
		if err != nil {
			return "", "", fmt.Errorf("B: %w", err)
		}
		tbp, err := classDiff(g.Pair.Bprime, c.Pair.Bprime, k, logitsOf(cbp, bp, x))
		if err != nil {
			return "", "", fmt.Errorf("B': %w", err)
		}
		tied := map[int]bool{}
		for _, i := range append(tb, tbp...) {
			tied[i] = true
		}
		for i := range g.Pair.G {
			if g.Pair.G[i] != c.Pair.G[i] && !tied[i] {
				return "", "", fmt.Errorf("image %d: GoodNet %d on the GPU, %d on the CPU", i, g.Pair.G[i], c.Pair.G[i])
			}
		}
		return tiesWordN(len(tied)), fmt.Sprintf("B, B' and GoodNet on %d images = the CPU's", n), nil
	})
	r.check("full size: pruning sweep", func() (string, string, error) {
		c, g, err := pair(bench.Sweep)
		if err != nil {
			return "", "", err
		}
		return compareSweeps(g.Sweep, c.Sweep, rep.SweepSets)
	})
}

// compareSweeps compares two pruning runs: the order exactly, the mean activations within
// Tol, every step's metrics within MaxSweepImages images of each set (sizes: clean valid, bad
// valid, clean test, bad test).
func compareSweeps(g, c *prune.Result, sizes [4]int) (string, string, error) {
	if g == nil || c == nil {
		return "", "", errors.New("no sweep result")
	}
	if fmt.Sprint(g.Order) != fmt.Sprint(c.Order) {
		return "", "", fmt.Errorf("pruning order %v on the GPU, %v on the CPU", g.Order, c.Order)
	}
	worstMean, err := sumsClose(g.MeanActivation, c.MeanActivation)
	if err != nil {
		return "", "", fmt.Errorf("mean activations: %w", err)
	}
	if len(g.Steps) != len(c.Steps) {
		return "", "", fmt.Errorf("%d steps on the GPU, %d on the CPU", len(g.Steps), len(c.Steps))
	}
	worst := 0
	for i := range g.Steps {
		gs, cs := g.Steps[i], c.Steps[i]
		if gs.Channel != cs.Channel {
			return "", "", fmt.Errorf("step %d prunes channel %d on the GPU, %d on the CPU", gs.Step, gs.Channel, cs.Channel)
		}
		for j, v := range [][2]float64{{gs.CleanValid, cs.CleanValid}, {gs.ASRValid, cs.ASRValid}, {gs.CleanTest, cs.CleanTest}, {gs.ASRTest, cs.ASRTest}} {
			if math.IsNaN(v[0]) && math.IsNaN(v[1]) {
				continue
			}
			d := int(math.Round(math.Abs(v[0]-v[1]) * float64(sizes[j]) / 100))
			if math.IsNaN(v[0]) != math.IsNaN(v[1]) || d > MaxSweepImages {
				return "", "", fmt.Errorf("step %d (channel %d): %s %.4f %% on the GPU, %.4f %% on the CPU (%d images of %d)",
					gs.Step, gs.Channel, [...]string{"clean validation accuracy", "validation attack success", "clean test accuracy", "test attack success"}[j], v[0], v[1], d, sizes[j])
			}
			worst = max(worst, d)
		}
	}
	var saved []string
	for i := range g.Saved {
		s := fmt.Sprintf("%g %%: step %d", g.Saved[i].Threshold, g.Saved[i].Step)
		if i < len(c.Saved) && c.Saved[i].Step != g.Saved[i].Step {
			s += fmt.Sprintf(" (CPU: step %d)", c.Saved[i].Step)
		}
		saved = append(saved, s)
	}
	w := "identical at every step"
	if worst > 0 {
		w = fmt.Sprintf("%d images", worst)
	}
	return fmt.Sprintf("%s; means %s", w, sci(worstMean)),
		fmt.Sprintf("order and all %d steps' metrics on %v images = the CPU's; B' kept at %v", len(g.Steps), sizes, saved), nil
}
