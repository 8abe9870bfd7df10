package dataset

import (
	"path/filepath"
	"testing"

	"gonum.org/v1/hdf5"
)

// benchSet writes an n-image 55×47×3 set of the given element type (the lab's test set has
// 12,830 images) and returns its path.
func benchSet(b *testing.B, n int, typ *hdf5.Datatype, f64 bool) string {
	p := filepath.Join(b.TempDir(), "bench.h5")
	f, err := hdf5.CreateFile(p, hdf5.F_ACC_TRUNC)
	if err != nil {
		b.Fatal(err)
	}
	per := 3 * 55 * 47
	sp, _ := hdf5.CreateSimpleDataspace([]uint{uint(n), 3, 55, 47}, nil)
	d, err := f.CreateDataset("data", typ, sp)
	if err != nil {
		b.Fatal(err)
	}
	if f64 {
		buf := make([]float64, n*per)
		for i := range buf {
			buf[i] = float64(i % 256)
		}
		err = d.Write(&buf)
	} else {
		buf := make([]uint8, n*per)
		for i := range buf {
			buf[i] = uint8(i)
		}
		err = d.Write(&buf)
	}
	if err != nil {
		b.Fatal(err)
	}
	d.Close()
	sp.Close()
	lsp, _ := hdf5.CreateSimpleDataspace([]uint{uint(n)}, nil)
	l, _ := f.CreateDataset("label", hdf5.T_NATIVE_INT64, lsp)
	labels := make([]int64, n)
	l.Write(&labels)
	l.Close()
	lsp.Close()
	f.Close()
	return p
}

func benchLoad(b *testing.B, typ *hdf5.Datatype, f64 bool, elem int) {
	const n = 12830
	p := benchSet(b, n, typ, f64)
	b.SetBytes(int64(n * 3 * 55 * 47 * elem))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(p, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// The lab's 12,830-image test set, stored as float64 (as the lab's files are) and as uint8.
func BenchmarkLoadFloat64(b *testing.B) { benchLoad(b, hdf5.T_NATIVE_DOUBLE, true, 8) }
func BenchmarkLoadUint8(b *testing.B)   { benchLoad(b, hdf5.T_NATIVE_UINT8, false, 1) }

// benchRead times Reader.Read of the whole set into one reused buffer (goodnet predict --set's
// path: the pixels converted from the file, no set held).
func benchRead(b *testing.B, typ *hdf5.Datatype, f64 bool, elem int) {
	const n = 12830
	p := benchSet(b, n, typ, f64)
	r, err := Open(p, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const chunk = 2048
	buf := make([]float32, chunk*r.H*r.W*r.C)
	b.SetBytes(int64(n * 3 * 55 * 47 * elem))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for n0 := 0; n0 < n; n0 += chunk {
			k := min(chunk, n-n0)
			if err := r.Read(n0, k, buf[:k*r.H*r.W*r.C]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReadFloat64(b *testing.B) { benchRead(b, hdf5.T_NATIVE_DOUBLE, true, 8) }
func BenchmarkReadUint8(b *testing.B)   { benchRead(b, hdf5.T_NATIVE_UINT8, false, 1) }
