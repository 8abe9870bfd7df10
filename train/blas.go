//go:build !cuda && cgo && !noopenblas

package train

/*
#cgo pkg-config: openblas
#include <cblas.h>
*/
import "C"

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// Built by default (cgo, pkg-config openblas: apt libopenblas-dev); the tag noopenblas leaves
// gorgonia on gonum's pure-Go BLAS (about 20 % slower training).

// openBLAS is gonum's BLAS with Sgemm (where training spends its time) from OpenBLAS.
type openBLAS struct{ gonum.Implementation }

func trans(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t == blas.NoTrans {
		return C.CblasNoTrans
	}
	return C.CblasTrans
}

// Sgemm checks its arguments as gonum does (through gonum for degenerate or bad calls),
// then calls cblas_sgemm.
func (o openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	rowsA, colsA := m, k
	if tA != blas.NoTrans {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB != blas.NoTrans {
		rowsB, colsB = n, k
	}
	if m <= 0 || n <= 0 || k <= 0 || lda < max(1, colsA) || ldb < max(1, colsB) || ldc < max(1, n) ||
		len(a) < lda*(rowsA-1)+colsA || len(b) < ldb*(rowsB-1)+colsB || len(c) < ldc*(m-1)+n {
		o.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	C.cblas_sgemm(C.CblasRowMajor, trans(tA), trans(tB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}

var useOpenBLAS sync.Once

// OpenBLAS runs single-threaded: training parallelises over the minibatch (Options.Workers),
// and OpenBLAS's own threads only contend with the workers on these small matrices (2 cores:
// 415 against 210 images/s for DeepID at batch 32).
func init() {
	initBLAS = func() {
		useOpenBLAS.Do(func() {
			C.openblas_set_num_threads(1)
			G.Use(openBLAS{})
		})
	}
}
