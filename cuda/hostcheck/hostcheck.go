// Package hostcheck runs the per-element arithmetic of kernels.cu on the CPU: hostcheck.cc
// compiles the file with g++ (its __host__ __device__ functions, without the __global__
// kernels) and applies those functions to whole tensors, summing in the same order as the GPU
// kernels. With fmaf on both sides the results are the GPU's bit for bit, so that the tests
// here check against nn/ref (and host/) what the GPU computes, in every build and without a
// GPU; gpucheck's self-test then checks on a GPU that the kernels agree with these functions.
//
// The functions take the launchers' geometries and check lengths like them.
package hostcheck

// #cgo CXXFLAGS: -O2 -std=c++20 -pthread
// #cgo LDFLAGS: -pthread
// #include "hostcheck.h"
import "C"

import (
	"fmt"

	"goodnet/cuda"
)

func fp(v []float32) *C.float {
	if len(v) == 0 {
		return nil
	}
	return (*C.float)(&v[0])
}

func ip(v []int32) *C.int {
	if len(v) == 0 {
		return nil
	}
	return (*C.int)(&v[0])
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// ReLU sets out[i] = max(x[i], 0).
func ReLU(out, x []float32) error {
	if len(out) != len(x) {
		return fmt.Errorf("relu: %d outputs for %d inputs", len(out), len(x))
	}
	C.hc_relu(fp(out), fp(x), C.i64(len(x)))
	return nil
}

// Add sets out[i] = a[i] + b[i].
func Add(out, a, b []float32) error {
	if len(out) != len(a) || len(a) != len(b) {
		return fmt.Errorf("add: lengths %d, %d, %d differ", len(out), len(a), len(b))
	}
	C.hc_add(fp(out), fp(a), fp(b), C.i64(len(a)))
	return nil
}

// Merge sets out[i] = b[i] when b[i] == bprime[i], else flag (GoodNet).
func Merge(out, b, bprime []int32, flag int) error {
	if len(out) != len(b) || len(b) != len(bprime) {
		return fmt.Errorf("merge: lengths %d, %d, %d differ", len(out), len(b), len(bprime))
	}
	C.hc_merge(ip(out), ip(b), ip(bprime), C.i64(len(b)), C.int(flag))
	return nil
}

// Conv2D computes a convolution with bias (nil: none) and the activation on n samples.
func Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil {
		return err
	}
	C.hc_conv2d(fp(out), fp(x), fp(w), fp(b), C.i64(n), C.int(s.H), C.int(s.W), C.int(s.C),
		C.int(s.OH), C.int(s.OW), C.int(s.O), C.int(s.KH), C.int(s.KW), C.int(s.SH), C.int(s.SW),
		C.int(s.PT), C.int(s.PL), b2i(s.ReLU))
	return nil
}

// Dense computes a dense layer with bias (nil: none) and the activation on n samples.
func Dense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	if err := s.Check(n, len(out), len(x), len(w), len(b)); err != nil {
		return err
	}
	C.hc_dense(fp(out), fp(x), fp(w), fp(b), C.i64(n), C.int(s.K), C.int(s.O), b2i(s.ReLU))
	return nil
}

// MaxPool computes a max pooling on n samples.
func MaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	if err := s.Check(n, len(out), len(x)); err != nil {
		return err
	}
	C.hc_maxpool(fp(out), fp(x), C.i64(n), C.int(s.H), C.int(s.W), C.int(s.C), C.int(s.OH), C.int(s.OW),
		C.int(s.KH), C.int(s.KW), C.int(s.SH), C.int(s.SW), C.int(s.PT), C.int(s.PL))
	return nil
}

// Argmax sets out[r] to the index of the largest of the k values of row r (first on ties).
func Argmax(out []int32, x []float32, rows, k int) error {
	if rows < 0 || k <= 0 || len(out) != rows || len(x) != rows*k {
		return fmt.Errorf("argmax: %d outputs and %d values for %d rows of %d", len(out), len(x), rows, k)
	}
	C.hc_argmax(ip(out), fp(x), C.i64(rows), C.int(k))
	return nil
}

// ChannelSum adds to acc[c] the sum of x[r][c] over the rows of x (rows × ch), in float64.
func ChannelSum(acc []float64, x []float32, rows, ch int) error {
	if rows < 0 || ch <= 0 || len(acc) != ch || len(x) != rows*ch {
		return fmt.Errorf("channel sum: %d sums and %d values for %d rows of %d", len(acc), len(x), rows, ch)
	}
	partial := make([]float64, max(cuda.SumScratch(rows, ch), 1))
	C.hc_channel_sum((*C.double)(&acc[0]), (*C.double)(&partial[0]), fp(x), C.i64(rows), C.int(ch))
	return nil
}
