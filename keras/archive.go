package keras

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"goodnet/internal/atomicfile"
	"goodnet/internal/h5"
	"goodnet/internal/isolate"
	"goodnet/internal/resource"
	"goodnet/nn"
)

// Keras 3's .keras archives: a zip of config.json (the model serialized as Keras 3 does:
// inbound nodes with keras_history), metadata.json and model.weights.h5, where the weights of
// layer L are the datasets layers/L/vars/0, 1, ... (Keras 3's H5IOStore; Keras 2.13–2.15 wrote
// _layer_checkpoint_dependencies/L/vars), in the order of Layer.Weights(). The format is
// recognised by content (IsArchive), not by the .keras suffix.

// KerasArchiveVersion is the keras_version written to the metadata.json of archives.
const KerasArchiveVersion = "3.3.3"

// archiveMark is nn.Model.Origin of a model read from a .keras archive (B' is written as one).
type archiveMark struct{}

// FromArchive reports whether m was read from a Keras 3 .keras archive.
func FromArchive(m *nn.Model) bool {
	_, ok := m.Origin.(archiveMark)
	return ok
}

// IsArchive reports whether the file at path is a zip archive (a .keras file).
func IsArchive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return n == 4 && bytes.Equal(head, []byte("PK\x03\x04"))
}

const (
	maxArchiveConfig  = 64 << 20
	maxArchiveWeights = 4 << 30
)

// LoadArchive reads a Keras 3 .keras archive: the architecture from config.json and the
// weights from model.weights.h5. The archive is opened once; model.weights.h5 is extracted
// into memory (a memfd) and parsed by libhdf5 in a child process like every HDF5 file here.
// The members' declared sizes are checked against the memory limit before they are read.
func LoadArchive(path string) (*nn.Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	zr, err := zip.NewReader(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid .keras archive (zip: %v)", path, err)
	}
	member := func(name string, limit uint64) (*zip.File, error) {
		for _, f := range zr.File {
			if f.Name == name {
				if f.UncompressedSize64 > limit {
					return nil, fmt.Errorf("%s: %s is %d bytes (more than %d)", path, name, f.UncompressedSize64, limit)
				}
				if err := resource.Check(int64(f.UncompressedSize64), "its "+name); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				return f, nil
			}
		}
		return nil, fmt.Errorf("%s: a zip without %s: not a Keras 3 .keras archive", path, name)
	}
	cf, err := member("config.json", maxArchiveConfig)
	if err != nil {
		return nil, err
	}
	js, err := readMember(cf, maxArchiveConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: config.json: %w", path, err)
	}
	m, err := ParseConfig(js)
	if err != nil {
		return nil, fmt.Errorf("%s: config.json: %w", path, err)
	}
	wf, err := member("model.weights.h5", maxArchiveWeights)
	if err != nil {
		return nil, err
	}
	name := path + ": model.weights.h5"
	tmp, err := isolate.MemFile("model.weights.h5")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot extract: %w", name, err)
	}
	defer tmp.Close()
	rc, err := wf.Open()
	if err == nil {
		_, err = io.Copy(tmp, io.LimitReader(rc, maxArchiveWeights))
		rc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	size, err := tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	r, err := h5.Call(opLoadArchive, tmp, name, []string{name}, js, size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var p parsed
	if err := r.Meta(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.assign(m, r, name); err != nil {
		return nil, err
	}
	if err := m.CheckWeights(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.KerasVersion, m.KerasBackend, m.Source, m.Origin = "3", "", path, archiveMark{}
	return m, nil
}

const opLoadArchive = "keras.LoadArchiveWeights"

func init() {
	isolate.Register(opLoadArchive, func(fh *os.File, a []string, config []byte, out *isolate.Writer) error {
		m, err := ParseConfig(config)
		if err != nil {
			return err
		}
		f, err := h5.OpenFile(fh, a[0])
		if err != nil {
			return err
		}
		defer f.Close()
		if err := loadArchiveWeights(m, f, out); err != nil {
			return fmt.Errorf("%s: %w", a[0], err)
		}
		return out.Meta(newParsed("", m, out))
	})
}

func readMember(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// loadArchiveWeights reads layers/L/vars/i into the model's layers (the child's part of
// LoadArchive), into blobs of out.
func loadArchiveWeights(m *nn.Model, f *h5.File, out *isolate.Writer) error {
	var need int64
	for _, l := range m.Layers {
		need += 4 * int64(l.Params())
	}
	if err := resource.Check(need, fmt.Sprintf("its weights (%d parameters as float32)", need/4)); err != nil {
		return err
	}
	var all []loaded
	for _, l := range m.Layers {
		ws := l.Weights()
		if len(ws) == 0 {
			continue
		}
		if !validName(l.Name) {
			return fmt.Errorf("layer %q: the name cannot be an HDF5 group name", l.Name)
		}
		g := ""
		for _, root := range []string{"layers", "_layer_checkpoint_dependencies"} {
			if q := h5.Join(root, l.Name, "vars"); f.Kind(q) == h5.Group {
				g = q
				break
			}
		}
		if g == "" {
			return fmt.Errorf("layer %q: no weights (no group layers/%s/vars)", l.Name, l.Name)
		}
		names, _, err := f.Children(g)
		if err != nil {
			return err
		}
		if len(names) != len(ws) {
			return fmt.Errorf("layer %q: %d weight tensors in %s, the architecture needs %d", l.Name, len(names), g, len(ws))
		}
		ts := make([][]float32, len(ws))
		for i, w := range ws {
			q := h5.Join(g, fmt.Sprint(i))
			if f.Kind(q) != h5.Dataset {
				return fmt.Errorf("layer %q: no dataset %s (its %s)", l.Name, q, w.Name)
			}
			if ts[i], err = readTensor(f, q, w.Name, w.Shape, out); err != nil {
				return fmt.Errorf("layer %q: %w", l.Name, err)
			}
		}
		all = append(all, loaded{l, ts})
	}
	for _, x := range all {
		for i, w := range x.l.Weights() {
			*w.Data = x.ts[i]
		}
		if err := x.l.CheckLoaded(); err != nil {
			return err
		}
	}
	return m.CheckWeights()
}

// SaveArchive writes m as a Keras 3 .keras archive (see above), atomically.
func SaveArchive(m *nn.Model, path string) error { return SaveArchiveIn(nil, m, path) }

// SaveArchiveIn is SaveArchive staged in b (goodnet/internal/atomicfile).
func SaveArchiveIn(b *atomicfile.Batch, m *nn.Model, path string) error {
	js, err := MarshalConfig3(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := m.CheckWeights(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".goodnet-keras-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	wpath := filepath.Join(dir, "model.weights.h5")
	if err := h5.WriteAtomic(wpath, func(f *h5.File) error { return writeArchiveWeights(f, m) }); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	weights, err := os.ReadFile(wpath)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	meta := fmt.Sprintf(`{"keras_version": %q, "date_saved": %q}`, KerasArchiveVersion, time.Now().UTC().Format("2006-01-02@15:04:05"))
	for _, e := range []struct {
		name string
		data []byte
	}{{"metadata.json", []byte(meta)}, {"config.json", js}, {"model.weights.h5", weights}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store, Modified: time.Now()})
		if err == nil {
			_, err = w.Write(e.data)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return b.WriteFile(path, buf.Bytes())
}

// writeArchiveWeights writes Keras 3's layout: vars (the model's own, empty), and per layer
// layers/L/vars with datasets 0, 1, ... in the order of Layer.Weights().
func writeArchiveWeights(f *h5.File, m *nn.Model) error {
	for _, g := range []string{"vars", "layers"} {
		if err := f.CreateGroup(g); err != nil {
			return err
		}
	}
	for _, l := range m.Layers {
		if !validName(l.Name) {
			return fmt.Errorf("layer %q: the name cannot be an HDF5 group name", l.Name)
		}
		lg := h5.Join("layers", l.Name)
		if err := f.CreateGroup(lg); err != nil {
			return err
		}
		if err := f.CreateGroup(h5.Join(lg, "vars")); err != nil {
			return err
		}
		for i, w := range l.Weights() {
			q := h5.Join(lg, "vars", fmt.Sprint(i))
			if err := f.CreateDataset(q, h5.Float32, w.Shape); err != nil {
				return err
			}
			if err := f.Write(q, *w.Data, 0, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
