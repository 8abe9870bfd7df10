package host

import (
	"fmt"
	"math/rand"
	"testing"

	"goodnet/nn"
)

// BenchmarkDeepIDForward: images → logits, the lab's DeepID (16.4 MFLOP per image).
func BenchmarkDeepIDForward(b *testing.B) {
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 1)
	for _, c := range []struct{ threads, batch int }{{0, 256}, {0, 1024}, {1, 256}} {
		name := fmt.Sprintf("batch=%d", c.batch)
		if c.threads > 0 {
			name += fmt.Sprintf("/threads=%d", c.threads)
		}
		batch := c.batch
		b.Run(name, func(b *testing.B) {
			net, err := New(c.threads).Compile(m)
			if err != nil {
				b.Fatal(err)
			}
			x := pixels(rand.New(rand.NewSource(1)), m, batch)
			feeds := map[string][]float32{"input": x}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := net.Run(feeds, batch, "output"); err != nil {
					b.Fatal(err)
				}
			}
			report(b, batch, m.FLOPs())
		})
	}
}

func report(b *testing.B, batch int, flops int64) {
	ips := float64(b.N*batch) / b.Elapsed().Seconds()
	b.ReportMetric(ips, "img/s")
	if flops > 0 {
		b.ReportMetric(ips*float64(flops)/1e9, "GFLOP/s")
	}
}

// BenchmarkDeepIDLayer runs each layer of DeepID alone on a batch of 256, fed with its
// inputs (so each includes packing its inputs and unpacking its output), and each fused
// conv+pool pair as the CPU backend runs it in a full forward pass.
func BenchmarkDeepIDLayer(b *testing.B) {
	const batch = 256
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 1)
	net, err := New(0).Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	x := pixels(rand.New(rand.NewSource(1)), m, batch)
	var names []string
	for _, l := range m.Layers[1:] {
		names = append(names, l.Name)
	}
	all, err := net.Run(map[string][]float32{"input": x}, batch, names...)
	if err != nil {
		b.Fatal(err)
	}
	act := map[string][]float32{"input": x}
	for i, n := range names {
		act[n] = all[i]
	}
	type job struct {
		name, out string
		in        *nn.Layer
		flops     int64
	}
	var jobs []job
	for _, l := range m.Layers[1:] {
		jobs = append(jobs, job{l.Name, l.Name, l, l.FLOPs()})
		if l.Kind == nn.MaxPool2D && l.Inputs[0].Kind == nn.Conv2D {
			c := l.Inputs[0]
			jobs = append(jobs, job{c.Name + "+" + l.Name, l.Name, c, c.FLOPs()})
		}
	}
	for _, j := range jobs {
		b.Run(j.name, func(b *testing.B) {
			feeds := map[string][]float32{}
			for _, in := range j.in.Inputs {
				feeds[in.Name] = act[in.Name]
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := net.Run(feeds, batch, j.out); err != nil {
					b.Fatal(err)
				}
			}
			report(b, batch, j.flops)
		})
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range [][3]int{{1024, 160, 1200}, {11547, 160, 1200}, {1024, 1024, 1024}} {
		m, n, k := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			a, bb, c := uniform(r, m*k, -1, 1), uniform(r, k*n, -1, 1), make([]float32, m*n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Gemm(m, n, k, a, bb, c, false)
			}
			b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPreActResNet: images → logits, batch 256, the PreAct-ResNets of the benchmarks on
// CIFAR-sized inputs: the fixture's shape (widths 16/32/64, one block per stage, 25 MFLOP)
// and PreAct-ResNet-18 (1.1 GFLOP).
func BenchmarkPreActResNet(b *testing.B) {
	for _, c := range []struct {
		name           string
		widths, blocks []int
	}{
		{"fixture", []int{16, 32, 64}, []int{1, 1, 1}},
		{"18", []int{64, 128, 256, 512}, []int{2, 2, 2, 2}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const batch = 256
			m := preactNet(1, c.widths, c.blocks)
			net, err := New(0).Compile(m)
			if err != nil {
				b.Fatal(err)
			}
			x := uniform(rand.New(rand.NewSource(1)), batch*m.InputShape().Size(), 0, 1)
			feeds := map[string][]float32{"input": x}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := net.Run(feeds, batch, "linear"); err != nil {
					b.Fatal(err)
				}
			}
			report(b, batch, m.FLOPs())
		})
	}
}
