package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"

	"goodnet/bench"
	"goodnet/internal/atomicfile"
	"goodnet/internal/esc"
	"goodnet/nn"
	"goodnet/pipeline"
	"goodnet/train"
)

func init() {
	register(&command{name: "bench", summary: "time forward passes, GoodNet, the pruning sweep, fine-tuning and reading on the CPU (and GPU)", run: runBench})
}

func runBench(args []string, stdout, stderr io.Writer) error {
	args, stop, err := cpuProfile(args)
	if err != nil {
		return err
	}
	defer stop()
	args, trainOnly, err := hiddenValue(args, "train-only")
	if err != nil {
		return err
	}
	fs := newFlags("bench", "[--bad_model B.h5 [--bad_model_weights W.h5]] [--images N] [--device cpu,gpu] [--repeats R] [--json]", `
Times, on each device: DeepID forward passes (images/s, GFLOP/s), activation collection at the
last pooling layer, GoodNet's double inference G(B, B'), and the whole pruning sweep on four
sets of the lab's sizes (11,547 / 11,547 / 12,830 / 12,830 images; --images scales them);
then fine-tuning B' on the CPU (images/s: Adam, minibatches of 32, the pruned channels held
at zero, an epoch of 1,024 clean validation images per run), the time to read the four
sets from HDF5 files in the lab's layouts, and on each device the jobs end to end as the
commands run them: goodnet prune on those four files (with its phases) and goodnet predict
--set on the clean validation file, each also as forward passes (its time over that of one
forward pass of its images at the speed measured above). Each is one warm-up run and R timed runs: the
median and the spread (min–max) are printed, and the GPU's speed-up over the CPU when both
ran. The inputs are synthetic faces of the lab's shape
(55×47×3), the clean ones labelled with B's own predictions, the poisoned ones wearing a
sunglasses trigger; B is the DeepID architecture with random weights unless --bad_model is
given.

With --write-sets DIR it only writes those four sets (every face distinct) into DIR as
cl_valid.h5, bd_valid.h5, cl_test.h5 and bd_test.h5 for 'goodnet prune' (make bench-sweep).`, stderr)
	model := fs.String("bad_model", "", "B: a full model file, Keras HDF5 or ONNX (default: DeepID with random weights)")
	weights := fs.String("bad_model_weights", "", "B's weights (overrides those in --bad_model)")
	images := intVar(fs, "images", bench.LabTest, 1, math.MaxInt, "images per timed batch and per test set (the validation sets scale with it)")
	device := fs.String("device", "auto", "comma-separated devices to time: cpu, gpu; auto: the CPU, and the GPU when usable")
	repeats := intVar(fs, "repeats", 3, 1, 1000, "timed runs per measurement, after one warm-up")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	writeSets := fs.String("write-sets", "", "write the four synthetic sets into this directory and stop")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *weights != "" && *model == "" {
		return usagef("--bad_model_weights needs --bad_model (the architecture)")
	}
	if trainOnly != "" {
		imagesSet := false
		fs.Visit(func(f *flag.Flag) { imagesSet = imagesSet || f.Name == "images" })
		if !imagesSet {
			*images = 0
		}
		return benchTrainOnly(stdout, trainOnly, *images, *repeats)
	}
	devices, err := nn.ParseDevices(*device)
	if errors.Is(err, nn.ErrNoDevice) {
		return usagef("--device %q: no device named", *device)
	}
	if err != nil {
		return usagef("--device: device %v", err)
	}
	var m *nn.Model
	if *model != "" {
		if m, err = pipeline.LoadModel(*model, *weights); err != nil {
			return err
		}
	}
	if m != nil {
		if err := nn.CheckCost(m, 0); err != nil {
			return err
		}
	}
	if err := bench.CheckSize(m, *images); err != nil {
		return fmt.Errorf("--images %d: %w", *images, err)
	}
	if *writeSets != "" {
		if err := atomicfile.CheckOutDir(*writeSets); err != nil {
			return err
		}
	}
	if *writeSets != "" { // one device labels the sets: auto is the CPU here
		devices = devices[:1]
		if devices[0] == nn.Auto {
			devices[0] = nn.CPU
		}
	}
	// every device opens before any work: a missing GPU is an error first
	backends, err := nn.OpenAll(devices, openOptions()...)
	if err != nil {
		return fmt.Errorf("--device %w", err)
	}
	if *writeSets != "" {
		return benchWriteSets(stdout, *writeSets, m, backends[0], *images)
	}
	noGPU := nn.GPUUnavailable(openOptions()...)
	if noGPU == "" {
		noGPU = "not requested (--device)"
	}
	r, err := bench.Run(bench.Options{Model: m, ModelFile: *model, WeightsFile: *weights, Backends: backends, NoGPU: noGPU,
		Images: *images, Repeats: *repeats, Log: stderr})
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return r.WriteTable(stdout)
}

func benchWriteSets(stdout io.Writer, dir string, m *nn.Model, b nn.Backend, images int) error {
	paths, err := bench.WriteSets(dir, m, b, images)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s\n", strings.Join(esc.Texts(paths), ", "))
	return nil
}

// benchTrainOnly is the hidden mode `goodnet bench --train-only CLASSES`: DeepID training
// speed measured as scripts/anchor/train_deepid.py measures PyTorch's (random images and
// labels, Adam, batch 32, one warm-up epoch, then R timed epochs of --images images [1024]),
// to run the two side by side.
func benchTrainOnly(stdout io.Writer, classes string, images, repeats int) error {
	k, err := strconv.Atoi(classes)
	if err != nil || k < 1 || k > 1<<20 {
		return usagef("--train-only %q: want a number of classes", classes)
	}
	rates, err := bench.TrainSpeed(bench.TrainSpeedOptions{Classes: k, Images: images, Repeats: repeats, Log: stdout})
	if err != nil {
		return err
	}
	st := append([]float64(nil), rates...)
	sort.Float64s(st)
	med := st[len(st)/2]
	if len(st)%2 == 0 {
		med = (st[len(st)/2-1] + st[len(st)/2]) / 2
	}
	_, err = fmt.Fprintf(stdout, "goodnet %s kernels, %d threads, DeepID %d classes, batch 32, Adam: median %.0f img/s [%.0f–%.0f]\n",
		train.Kernels(), runtime.GOMAXPROCS(0), k, med, st[0], st[len(st)-1])
	return err
}

// hiddenValue takes a hidden --name VALUE (or --name=VALUE) out of args.
func hiddenValue(args []string, name string) (rest []string, value string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		n, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || n != name {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, "", usagef("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		value = val
	}
	return rest, value, nil
}

// cpuProfile takes a hidden --cpuprofile FILE (or --cpuprofile=FILE) out of args and starts
// a CPU profile into FILE; stop ends it.
func cpuProfile(args []string) (rest []string, stop func(), err error) {
	stop = func() {}
	var path string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "cpuprofile" {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, stop, usagef("--cpuprofile needs a file")
			}
			i++
			val = args[i]
		}
		path = val
	}
	if path == "" {
		return rest, stop, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, stop, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, stop, err
	}
	return rest, func() { pprof.StopCPUProfile(); f.Close() }, nil
}
