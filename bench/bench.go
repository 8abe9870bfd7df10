// Package bench times goodnet's work on each compute device — what `goodnet bench` prints:
// DeepID forward passes, activation collection at the last pool, the channel sums there,
// GoodNet's double inference, the whole pruning sweep on sets of the lab's sizes, fine-tuning
// B' (training, on the CPU), and reading lab-sized HDF5 files. With Options.Keep each
// measurement also hands back what its last run computed, so that gpucheck compares the
// devices' results of the very runs it timed.
//
// Every timing is one warm-up run, then Repeats timed runs; the median is reported with the
// spread (min–max). The inputs are synthetic but realistic (LabSets: demo's procedural faces,
// labelled with B's own predictions, and copies wearing the trigger), so the sweep has
// thresholds to reach and the certificates of the incremental sweep see real margins.
package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"goodnet/dataset"
	"goodnet/goodnet"
	"goodnet/internal/esc"
	"goodnet/internal/resource"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/pipeline"
	"goodnet/prune"
)

// Options configure Run.
type Options struct {
	// Model is B; nil → the lab's DeepID architecture with random weights (seed 1).
	Model *nn.Model
	// ModelFile and WeightsFile are the files Model was read from, for the end-to-end rows
	// (as --bad_model and --bad_model_weights); "" → Model is written as a Keras file.
	ModelFile, WeightsFile string
	// Backends are the engines to time (nn.OpenAll opens them); nil → the CPU's.
	Backends []nn.Backend
	// NoGPU says why no GPU is among Backends, for the report ("" → "not requested").
	NoGPU string
	// Bprime is B' for the GoodNet row; nil → DefaultBprime (as the lab's B'_2: 45 of 60
	// channels of the pruned conv zeroed).
	Bprime *nn.Model
	// Keep puts what each measurement's last run computed into Row.Output (and the inputs
	// into Report.Sets and Report.Bprime).
	Keep bool
	// NoRead leaves out the rows that write lab-sized HDF5 files and read them: reading, and
	// the end-to-end runs of goodnet prune and goodnet predict --set.
	NoRead bool
	// NoFineTune leaves out the fine-tuning row (training runs on the CPU whatever the devices).
	NoFineTune bool
	// Images is the batch of the throughput rows and the size of the test sets; the
	// validation sets scale with it (11,547 at the default, 12,830: the lab's sizes).
	Images int
	// Repeats is the number of timed runs of each measurement (0 → 3).
	Repeats int
	// TempDir receives the HDF5 files of the read timing ("" → a new directory in the
	// system's temporary directory, removed afterwards).
	TempDir string
	// Log, if set, gets a line per measurement as it finishes.
	Log io.Writer
}

// Stat is a timing over several runs, in seconds.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func newStat(runs []float64) Stat {
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1], Runs: runs}
}

// Row names (Row.Name).
const (
	Forward     = "forward"     // DeepID forward passes: images → predictions
	Activations = "activations" // images → the last pool's activations, on the host
	ChannelSums = "sums"        // images → the last pool's per-channel sums (float64)
	GoodNet     = "goodnet"     // G(B, B'): B and B' on every image, merged
	Sweep       = "sweep"       // prune.Run on the four sets: features, order, all steps
	Read        = "read"        // dataset.Load of the four lab-layout HDF5 files
	PruneJob    = "prune-job"   // goodnet prune end to end: B and the four files read, the sweep, the outputs written
	PredictJob  = "predict-job" // goodnet predict --set end to end on the clean validation file
	// FineTune (train.go) is training B' with its pruned channels held at zero.
)

// Row is one measurement on one device.
type Row struct {
	Name    string `json:"name"`
	What    string `json:"what"`
	Device  string `json:"device"` // "cpu", "gpu", or "host" for reading files
	Images  int    `json:"images"` // images per run
	Seconds Stat   `json:"seconds"`
	// ImagesPerS is Images / Seconds.Median; GFLOPPerS counts the model's FLOPs per image
	// (nn.Model.FLOPs) for the forward pass.
	ImagesPerS float64 `json:"images_per_s,omitempty"`
	GFLOPPerS  float64 `json:"gflop_per_s,omitempty"`
	// Phases are the medians of a sweep's phases (prune.Result.Timings), in seconds.
	Phases map[string]float64 `json:"phases_s,omitempty"`
	// Stats are the incremental sweep's work counts (last run).
	Stats *prune.Stats `json:"sweep_stats,omitempty"`
	// MBPerS is the files' size over the median (reading).
	MBPerS float64 `json:"mb_per_s,omitempty"`
	// ForwardPasses is a job's median over the time of one forward pass of its images at the
	// speed of the forward row of the same device and run (the end-to-end rows).
	ForwardPasses float64 `json:"forward_passes,omitempty"`
	// Output is what the last run computed (Options.Keep).
	Output *Output `json:"-"`
}

// Output is what a measurement's last run computed, for comparing devices: one field is set,
// by the row's Name.
type Output struct {
	Classes []int32              // Forward: B's classes
	Values  []float32            // Activations: the cut layer's values, image after image
	Sums    []float64            // ChannelSums: the cut's per-channel sums over every image
	Pair    *goodnet.Predictions // GoodNet: B's, B''s and G's classes
	Sweep   *prune.Result        // Sweep: the whole pruning run
}

// Ratio compares the GPU with the CPU on one measurement: CPU median / GPU median.
type Ratio struct {
	Name    string  `json:"name"`
	Speedup float64 `json:"gpu_speedup"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	Cores      int               `json:"cores"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	CPU        string            `json:"cpu"`
	OS         string            `json:"os"`
	Go         string            `json:"go"`
	GPU        string            `json:"gpu"`     // the GPU backend's description, or why there is none
	Devices    map[string]string `json:"devices"` // Describe() of each timed backend
	Load       string            `json:"load,omitempty"`
}

// Report is everything Run measured.
type Report struct {
	Machine   Machine   `json:"machine"`
	Model     string    `json:"model"`
	FLOPs     int64     `json:"flops_per_image"`
	Images    int       `json:"images"`
	SweepSets [4]int    `json:"sweep_set_sizes"` // clean valid, bad valid, clean test, bad test
	Repeats   int       `json:"repeats"`
	Rows      []Row     `json:"rows"`
	Ratios    []Ratio   `json:"gpu_cpu_ratios,omitempty"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"total_s"`
	// Sets and Bprime are the inputs of the runs (Options.Keep): the test set is the
	// forward rows' images.
	Sets   *Sets     `json:"-"`
	Bprime *nn.Model `json:"-"`
}

// Run opens the devices, makes the inputs and times everything.
func Run(o Options) (*Report, error) {
	t0 := time.Now()
	if o.Images <= 0 {
		o.Images = LabTest
	}
	if o.Repeats <= 0 {
		o.Repeats = 3
	}
	backends := o.Backends
	if len(backends) == 0 {
		b, err := nn.Open(nn.CPU)
		if err != nil {
			return nil, err
		}
		backends = []nn.Backend{b}
	}
	m := o.Model
	if m == nil {
		m = DefaultModel()
	}
	cut := m.LastPool()
	if cut == nil || cut.Inputs[0].Kind != nn.Conv2D {
		return nil, fmt.Errorf("bench: %s has no MaxPooling2D fed by a Conv2D to prune", m.Name)
	}
	r := &Report{Model: m.Name, FLOPs: m.FLOPs(), Images: o.Images, Repeats: o.Repeats, Started: t0,
		Machine: machine(backends, o.NoGPU)}
	if m.Source != "" {
		r.Model = m.Source
	}
	valid := validSize(o.Images)
	r.SweepSets = [4]int{valid, valid, o.Images, o.Images}
	logf(o.Log, "making %d + %d synthetic faces (and their triggered copies), labelled by B on the %s", valid, o.Images, backends[0].Name())
	sets, err := LabSets(m, backends[0], SetOptions{Valid: valid, Test: o.Images})
	if err != nil {
		return nil, err
	}
	bp := o.Bprime
	if bp == nil {
		bp = DefaultBprime(m, cut)
	}
	if o.Keep {
		r.Sets, r.Bprime = sets, bp
	}
	x, n := sets.CleanTest.X, sets.CleanTest.N
	for _, b := range backends {
		dev := b.Name()
		rows, err := deviceRows(o, b, m, bp, cut, x, n, sets)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dev, err)
		}
		r.Rows = append(r.Rows, rows...)
	}
	if !o.NoFineTune {
		ft, err := fineTuneRow(o, m, bp, sets.CleanValid)
		if err != nil {
			return nil, err
		}
		r.Rows = append(r.Rows, ft)
	}
	if !o.NoRead {
		rows, err := fileRows(o, m, backends, sets, r.Rows)
		if err != nil {
			return nil, err
		}
		r.Rows = append(r.Rows, rows...)
	}
	r.Ratios = ratios(r.Rows)
	r.Machine.Load = loadAvg()
	r.Seconds = time.Since(t0).Seconds()
	return r, nil
}

// DefaultBprime is the B' of the GoodNet row when none is given: B with the first three
// quarters of the channels of the conv before the cut zeroed (as the lab's B'_2: 45 of 60).
func DefaultBprime(m *nn.Model, cut *nn.Layer) *nn.Model {
	conv := cut.Inputs[0]
	var chans []int
	for c := 0; c < conv.Filters*3/4; c++ {
		chans = append(chans, c)
	}
	return prune.ZeroChannels(m, conv.Name, chans)
}

// DefaultModel is the lab's DeepID architecture (55×47×3, 1283 classes) with random weights.
func DefaultModel() *nn.Model {
	m := nn.DeepID(55, 47, 1283)
	nn.RandomWeights(m, 1)
	m.Source = "DeepID (55×47×3, 1283 classes), random weights"
	return m
}

// validSize scales the lab's validation set size as images scales the test set's.
// CheckSize applies the resource policy to a run on --images images of m (nil: the default
// DeepID) before anything is made: the four sets (two of images, two of the validation sets'
// size, float32) must fit the memory limit. (Running m is checked by the engines:
// nn.CheckCost.)
func CheckSize(m *nn.Model, images int) error {
	if m == nil {
		m = DefaultModel()
	}
	n := 2*int64(images) + 2*int64(validSize(images))
	per := int64(m.InputShape().Size())
	need := n * per * 4
	if per > 0 && n > math.MaxInt64/8/per {
		need = math.MaxInt64 / 2
	}
	return resource.Check(need, fmt.Sprintf("its four synthetic sets (%d images of %v as float32)", n, m.InputShape()))
}

func validSize(images int) int {
	return max(1, int(math.Round(float64(LabValid)*float64(images)/LabTest)))
}

// measure runs f once to warm up, then repeats times, timing each.
func measure(repeats int, f func() error) (Stat, error) {
	if err := f(); err != nil {
		return Stat{}, err
	}
	var ts []float64
	for i := 0; i < repeats; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			return Stat{}, err
		}
		ts = append(ts, time.Since(t0).Seconds())
	}
	return newStat(ts), nil
}

func deviceRows(o Options, b nn.Backend, m, bp *nn.Model, cut *nn.Layer, x []float32, n int, sets *Sets) ([]Row, error) {
	dev := b.Name()
	net, err := b.Compile(m)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	var rows []Row
	// out collects what the runs compute when o.Keep is set (each run overwrites it: the
	// last run's is kept)
	var out *Output
	add := func(name, what string, images int, f func() error) (*Row, error) {
		out = &Output{}
		st, err := measure(o.Repeats, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		row := Row{Name: name, What: what, Device: dev, Images: images, Seconds: st}
		if o.Keep {
			row.Output = out
		}
		if images > 0 {
			row.ImagesPerS = float64(images) / st.Median
		}
		rows = append(rows, row)
		logf(o.Log, "%s: %s: median %.3f s (%.3f–%.3f)", dev, what, st.Median, st.Min, st.Max)
		return &rows[len(rows)-1], nil
	}
	fw, err := add(Forward, "DeepID forward (predictions)", n, func() error {
		c, err := nn.Predict(net, x, n)
		if o.Keep {
			out.Classes = c
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	fw.GFLOPPerS = fw.ImagesPerS * float64(m.FLOPs()) / 1e9
	in, cs := m.InputShape().Size(), cut.OutShape.Size()
	if _, err := add(Activations, "activations at "+cut.Name+" (to the host)", n, func() error {
		if o.Keep {
			out.Values = make([]float32, n*cs)
		}
		for lo := 0; lo < n; lo += nn.PredictChunk {
			hi := min(lo+nn.PredictChunk, n)
			v, err := net.Run(map[string][]float32{m.Input.Name: x[lo*in : hi*in]}, hi-lo, cut.Name)
			if err != nil {
				return err
			}
			if o.Keep {
				copy(out.Values[lo*cs:hi*cs], v[0])
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if _, err := add(ChannelSums, "channel sums at "+cut.Name, n, func() error {
		s, err := channelSums(net, m, cut, x, n)
		out.Sums = s
		return err
	}); err != nil {
		return nil, err
	}
	g, err := goodnet.New(m, bp, b)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if _, err := add(GoodNet, "GoodNet G(B, B') (double inference)", n, func() error {
		p, err := g.PredictAll(x, n)
		out.Pair = p
		return err
	}); err != nil {
		return nil, err
	}
	phases := map[string][]float64{}
	var stats *prune.Stats
	total := 0
	for _, s := range sets.All() {
		total += s.N
	}
	sw, err := add(Sweep, fmt.Sprintf("pruning sweep, all %d channels of %s (4 sets)", cut.Inputs[0].Filters, cut.Inputs[0].Name), total, func() error {
		res, err := prune.Run(prune.Config{Model: m, CleanValid: sets.CleanValid, BadValid: sets.BadValid,
			CleanTest: sets.CleanTest, BadTest: sets.BadTest, Backend: b})
		if err != nil {
			return err
		}
		for k, v := range res.Timings {
			phases[k] = append(phases[k], v)
		}
		stats = res.Stats
		out.Sweep = res
		return nil
	})
	if err != nil {
		return nil, err
	}
	sw.ImagesPerS = 0
	sw.Phases = map[string]float64{}
	for k, v := range phases {
		sw.Phases[k] = newStat(v[1:]).Median // without the warm-up
	}
	sw.Stats = stats
	return rows, nil
}

// channelSums is the cut layer's per-channel sums over n images: reduced by the engine when
// its Net is an nn.ChannelSummer, else from the activations, in float64 here.
func channelSums(net nn.Net, m *nn.Model, cut *nn.Layer, x []float32, n int) ([]float64, error) {
	in := m.InputShape().Size()
	C := cut.OutShape[len(cut.OutShape)-1]
	sums := make([]float64, C)
	for lo := 0; lo < n; lo += nn.PredictChunk {
		hi := min(lo+nn.PredictChunk, n)
		feeds := map[string][]float32{m.Input.Name: x[lo*in : hi*in]}
		if s, ok := net.(nn.ChannelSummer); ok {
			part, err := s.ChannelSums(feeds, hi-lo, cut.Name)
			if err != nil {
				return nil, err
			}
			for c := range sums {
				sums[c] += part[c]
			}
			continue
		}
		v, err := net.Run(feeds, hi-lo, cut.Name)
		if err != nil {
			return nil, err
		}
		for i, a := range v[0] {
			sums[i%C] += float64(a)
		}
	}
	return sums, nil
}

// fileRows writes the sets in the lab's layouts (and B, when it came from no file) once, times
// reading all four, and on each device the jobs end to end: goodnet prune on the four files
// and goodnet predict --set on the clean validation file, each also as forward passes (at the
// speed of that device's forward row in rows).
func fileRows(o Options, m *nn.Model, backends []nn.Backend, sets *Sets, rows []Row) ([]Row, error) {
	dir := o.TempDir
	if dir == "" {
		d, err := os.MkdirTemp("", "goodnet-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	paths, err := WriteLabFiles(dir, sets)
	if err != nil {
		return nil, err
	}
	model, weights := o.ModelFile, o.WeightsFile
	if model == "" {
		model, weights = filepath.Join(dir, "b.h5"), ""
		if err := keras.SaveModel(m, model); err != nil {
			return nil, err
		}
	}
	row, err := readRow(o, sets, paths)
	if err != nil {
		return nil, err
	}
	out := []Row{row}
	fwd := map[string]float64{}
	for _, r := range rows {
		if r.Name == Forward {
			fwd[r.Device] = r.ImagesPerS
		}
	}
	total := 0
	for _, s := range sets.All() {
		total += s.N
	}
	for _, b := range backends {
		dev := b.Name()
		phases := map[string][]float64{}
		st, err := measure(o.Repeats, func() error {
			res, err := pipeline.Prune(pipeline.PruneOptions{BadModel: model, BadModelWeights: weights,
				CleanValid: paths[0], BadValid: paths[1], CleanTest: paths[2], BadTest: paths[3],
				Scale: 1, Backend: b, Out: filepath.Join(dir, "out-"+dev)})
			if err != nil {
				return err
			}
			for k, v := range res.Timings {
				phases[k] = append(phases[k], v)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: goodnet prune: %w", dev, err)
		}
		pr := jobRow(PruneJob, "goodnet prune end to end (read, features, sweep, write)", dev, total, st, fwd[dev])
		pr.Phases = map[string]float64{}
		for k, v := range phases {
			pr.Phases[k] = newStat(v[1:]).Median // without the warm-up
		}
		st, err = measure(o.Repeats, func() error {
			_, err := pipeline.Predict(pipeline.PredictOptions{BadModel: model, BadModelWeights: weights, Set: paths[0], Scale: 1, Backend: b})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: goodnet predict: %w", dev, err)
		}
		pp := jobRow(PredictJob, fmt.Sprintf("goodnet predict --set end to end (%d images)", sets.CleanValid.N), dev, sets.CleanValid.N, st, fwd[dev])
		for _, row := range []Row{pr, pp} {
			logf(o.Log, "%s: %s: median %.3f s (%.3f–%.3f), %.2f forward passes", dev, row.What, row.Seconds.Median, row.Seconds.Min, row.Seconds.Max, row.ForwardPasses)
		}
		out = append(out, pr, pp)
	}
	return out, nil
}

// jobRow is an end-to-end row: images/s, and the median over the time of a forward pass of
// the images at fwd images/s.
func jobRow(name, what, dev string, images int, st Stat, fwd float64) Row {
	r := Row{Name: name, What: what, Device: dev, Images: images, Seconds: st, ImagesPerS: float64(images) / st.Median}
	if fwd > 0 {
		r.ForwardPasses = st.Median / (float64(images) / fwd)
	}
	return r
}

// readRow times reading the four files at paths (the sets, in the lab's layouts).
func readRow(o Options, sets *Sets, paths []string) (Row, error) {
	var bytes int64
	images := 0
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return Row{}, err
		}
		bytes += st.Size()
		images += sets.All()[i].N
	}
	st, err := measure(o.Repeats, func() error {
		for _, p := range paths {
			if _, err := dataset.Load(p, 1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Row{}, err
	}
	what := fmt.Sprintf("read the 4 lab-layout h5 files (%.0f MB, in the page cache)", float64(bytes)/1e6)
	logf(o.Log, "host: %s: median %.3f s (%.3f–%.3f)", what, st.Median, st.Min, st.Max)
	return Row{Name: Read, What: what, Device: "host", Images: images, Seconds: st,
		ImagesPerS: float64(images) / st.Median, MBPerS: float64(bytes) / 1e6 / st.Median}, nil
}

func ratios(rows []Row) []Ratio {
	cpu := map[string]float64{}
	for _, r := range rows {
		if r.Device == "cpu" {
			cpu[r.Name] = r.Seconds.Median
		}
	}
	var out []Ratio
	for _, r := range rows {
		if c, ok := cpu[r.Name]; ok && r.Device == "gpu" && r.Seconds.Median > 0 {
			out = append(out, Ratio{Name: r.Name, Speedup: c / r.Seconds.Median})
		}
	}
	return out
}

func logf(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", a...)
	}
}

func machine(backends []nn.Backend, noGPU string) Machine {
	mc := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPU: cpuModel(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), Devices: map[string]string{}}
	for _, b := range backends {
		mc.Devices[b.Name()] = b.Describe()
		if b.Name() == "gpu" {
			mc.GPU = strings.TrimPrefix(b.Describe(), "GPU: ")
		}
	}
	if mc.GPU == "" {
		if noGPU == "" {
			noGPU = "not requested"
		}
		mc.GPU = "none used: " + noGPU
	}
	return mc
}

func cpuModel() string {
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// WriteTable prints the report as a table.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	mc := r.Machine
	fmt.Fprintf(&b, "goodnet bench — %s, %.1f MFLOP per image\n", esc.Text(r.Model), float64(r.FLOPs)/1e6)
	fmt.Fprintf(&b, "machine: %d cores (GOMAXPROCS %d), %s, %s, %s\n", mc.Cores, mc.GOMAXPROCS, mc.CPU, mc.OS, mc.Go)
	fmt.Fprintf(&b, "GPU:     %s\n", mc.GPU)
	var devs []string
	for d := range mc.Devices {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		fmt.Fprintf(&b, "%-8s %s\n", d+":", mc.Devices[d])
	}
	fmt.Fprintf(&b, "inputs:  %d synthetic faces per batch; sweep sets %d/%d/%d/%d (clean valid, bad valid, clean test, bad test)\n",
		r.Images, r.SweepSets[0], r.SweepSets[1], r.SweepSets[2], r.SweepSets[3])
	fmt.Fprintf(&b, "timings: median of %d runs after a warm-up [min–max]; load average at the end %s\n\n", r.Repeats, mc.Load)
	fmt.Fprintf(&b, "%-6s %-58s %12s  %-19s %s\n", "device", "measurement", "median", "[min–max] s", "throughput")
	for _, row := range r.Rows {
		tp := ""
		switch {
		case row.GFLOPPerS > 0:
			tp = fmt.Sprintf("%.0f img/s, %.1f GFLOP/s", row.ImagesPerS, row.GFLOPPerS)
		case row.MBPerS > 0:
			tp = fmt.Sprintf("%.0f img/s, %.0f MB/s", row.ImagesPerS, row.MBPerS)
		case row.ImagesPerS > 0:
			tp = fmt.Sprintf("%.0f img/s", row.ImagesPerS)
		}
		if row.ForwardPasses > 0 {
			tp += fmt.Sprintf(" = %.2f forward passes", row.ForwardPasses)
		}
		fmt.Fprintf(&b, "%-6s %-58s %10.3f s  [%.3f–%.3f] %s\n", row.Device, row.What, row.Seconds.Median, row.Seconds.Min, row.Seconds.Max, tp)
		if row.Phases != nil {
			var ks []string
			for k := range row.Phases {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			var ps []string
			for _, k := range ks {
				ps = append(ps, fmt.Sprintf("%s %.3f s", k, row.Phases[k]))
			}
			fmt.Fprintf(&b, "%-6s   phases (medians): %s\n", "", strings.Join(ps, ", "))
		}
		if s := row.Stats; s != nil && len(s.Active) > 0 {
			a := 0
			for _, v := range s.Active {
				a += v
			}
			fmt.Fprintf(&b, "%-6s   incremental sweep: %d steps × %d images: %d image-steps active (%.1f %%, each head recomputed), %d rebased\n",
				"", len(s.Active), s.Images, a, 100*float64(a)/float64(len(s.Active)*s.Images), s.Rebased)
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(&b, "\nGPU speed-up (CPU median / GPU median):")
		for _, q := range r.Ratios {
			fmt.Fprintf(&b, " %s %.1f×", q.Name, q.Speedup)
		}
		fmt.Fprintln(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
