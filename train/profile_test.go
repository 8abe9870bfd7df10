package train

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"goodnet/nn"
)

// BenchmarkTrainDeepIDLayers shows where a training step of DeepID (batch 32, Adam) spends its
// time: per layer forward and backward, loading the images, the loss, Adam (milliseconds per
// step, summed over the workers, so with 2 workers each line is twice the wall time it
// takes when both run at once). Run with -v to see the table:
//
//	go test -run '^$' -bench DeepIDLayers -v ./train/
func BenchmarkTrainDeepIDLayers(b *testing.B) {
	for _, classes := range []int{1283, 32} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("classes%d/workers%d", classes, workers), func(b *testing.B) {
				m := nn.DeepID(55, 47, classes)
				nn.RandomWeights(m, 1)
				const bs, steps = 32, 32
				n := bs * steps
				x, y := toyData(m, n, 2)
				ar := &arena{}
				defer ar.free()
				p, err := compile(m, ar, true, nil)
				if err != nil {
					b.Fatal(err)
				}
				st := newStepper(p, bs, workers)
				for _, w := range st.ws {
					w.prof = newProfile(len(p.nodes))
				}
				solver := newAdam(p, st.grads, len(st.ws))
				batch := make([]int, bs)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var adamT, total time.Duration
				nsteps := 0
				for i := 0; i < b.N; i++ {
					for s := 0; s < steps; s++ {
						for j := range batch {
							batch[j] = (s*bs + j*7) % n
						}
						t0 := time.Now()
						st.run(x, y, batch, nil, 1.0/255)
						t1 := time.Now()
						solver.step(1e-4, 0, 0)
						adamT += time.Since(t1)
						total += time.Since(t0)
						nsteps++
					}
				}
				b.ReportMetric(float64(nsteps*bs)/total.Seconds(), "img/s")
				ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(nsteps) }
				var sb strings.Builder
				fmt.Fprintf(&sb, "\n%d classes, %d workers (%s kernels): %.2f ms per step of %d images, %.0f img/s\n",
					classes, workers, p.isa, ms(total), bs, float64(nsteps*bs)/total.Seconds())
				fmt.Fprintf(&sb, "%-14s %9s %9s   (ms per step, summed over workers)\n", "layer", "forward", "backward")
				type row struct {
					name     string
					fwd, bwd time.Duration
				}
				var rows []row
				var load, loss, fold time.Duration
				for i, nd := range p.nodes {
					var r row
					r.name = nd.l.Name
					for _, w := range st.ws {
						r.fwd += w.prof.fwd[i]
						r.bwd += w.prof.bwd[i]
					}
					if r.fwd+r.bwd > 0 {
						rows = append(rows, r)
					}
				}
				for _, w := range st.ws {
					load += w.prof.load
					loss += w.prof.loss
					fold += w.prof.fold
				}
				sort.SliceStable(rows, func(i, j int) bool { return false })
				var sf, sbw time.Duration
				for _, r := range rows {
					fmt.Fprintf(&sb, "%-14s %9.3f %9.3f\n", r.name, ms(r.fwd), ms(r.bwd))
					sf += r.fwd
					sbw += r.bwd
				}
				fmt.Fprintf(&sb, "%-14s %9.3f %9.3f\n", "all layers", ms(sf), ms(sbw))
				fmt.Fprintf(&sb, "%-14s %9.3f\n%-14s %9.3f\n%-14s %9.3f\n%-14s %9.3f   (wall)\n", "load images", ms(load), "loss", ms(loss),
					"fold sums", ms(fold), "Adam", ms(adamT))
				for _, w := range st.ws[:1] {
					var ks []string
					for k := range w.prof.parts {
						ks = append(ks, k)
					}
					sort.Strings(ks)
					for _, k := range ks {
						fmt.Fprintf(&sb, "  %-20s %9.3f\n", k, ms(w.prof.parts[k]))
					}
				}
				b.Log(sb.String())
			})
		}
	}
}
