// The inner loops of the incremental sweep (see incremental.go). The arithmetic kernels
// (sweep_kernels.h) are compiled once per instruction-set variant — portable, AVX2+FMA,
// AVX-512, with the target attributes of goodnet/internal/simd — and dispatched on the variant
// index the Go side passes (simd.Best(): the CPU's best, or GOODNET_CPU_KERNEL's), the scheme
// of host/engine.c. The scans below them are plain C.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sweep.h"

// The certificate (an argmax "provably stands") needs IEEE arithmetic as written: NaN and Inf
// seen, subnormals kept, no reassociation. -ffast-math (or -ffinite-math-only, which it
// implies) would let the compiler drop the NaN checks, so a build with it fails here, whether
// it comes from a #cgo line or from CGO_CFLAGS.
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "prune/sweep.c must be built without -ffast-math: the sweep's certificate relies on IEEE arithmetic"
#endif
long long sweep_hist[64];

typedef struct {
	void (*readers)(int, const int32_t *, const float *, int, int, const uint64_t *, int, const sweep_rd *, float *, int,
	                double *, double *);
	int (*update)(int, const int32_t *, const float *, int, int, int, int, const sweep_rd *, float *, int, double *,
	              double *, double, int32_t *);
	void (*dense)(int, const float *, int, const float *, int, const float *, float *, int, int32_t *, float *, int32_t *);
	void (*act)(int64_t, const float *, float *, int, float);
	void (*gather)(int, const int32_t *, const float *, int, int, int, float *, int);
	void (*argmax)(int, const float *, int, int, int32_t *);
} sweep_ops;

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

// The reductions run on GCC vectors of LANES floats, the variant's register width (4, 8, 16),
// with the x86 min and max instructions where there are some: _mm_min_ps(a, b) is exactly
// a < b ? a : b (b when unordered), as the scalar code writes it.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#define load_v(p) ({ VF v_; memcpy(&v_, (p), sizeof v_); v_; })
#define select_v(m, a, b) ((VF)(((VI)(a) & (m)) | ((VI)(b) & ~(m))))
#define abs_v(x) ((VF)((VI)(x) & 0x7fffffff))
#define splat_v(x) ((VF){0} + (x))

// bits_v(m) is a bit mask of the lanes of an int vector m (a comparison's result) that are set.
#define LANES 4
#if defined(__SSE__)
#define min_v(a, b) ((VF)_mm_min_ps((__m128)(a), (__m128)(b)))
#define max_v(a, b) ((VF)_mm_max_ps((__m128)(a), (__m128)(b)))
#define bits_v(m) ((unsigned)_mm_movemask_ps((__m128)(m)))
#else
#define min_v(a, b) select_v((a) < (b), a, b)
#define max_v(a, b) select_v((a) > (b), a, b)
#define bits_v(m) ({ VI m_ = (m); (unsigned)((m_[0] != 0) | (m_[1] != 0) << 1 | (m_[2] != 0) << 2 | (m_[3] != 0) << 3); })
#endif
#define SFX portable
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v
#undef bits_v

#if defined(__x86_64__) || defined(__i386__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define SFX avx2
#define LANES 8
#define min_v(a, b) ((VF)_mm256_min_ps((__m256)(a), (__m256)(b)))
#define max_v(a, b) ((VF)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define bits_v(m) ((unsigned)_mm256_movemask_ps((__m256)(m)))
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v
#undef bits_v
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define SFX avx512
#define LANES 16
#define min_v(a, b) ((VF)_mm512_min_ps((__m512)(a), (__m512)(b)))
#define max_v(a, b) ((VF)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define bits_v(m) ((unsigned)_mm512_movepi32_mask((__m512i)(m)))
// the non-zeros of 16 floats, compressed in a register (a compressing store is slow on some CPUs)
#define COMPRESS_V(v, idx, mk, nzv, nz)                                                     \
	do {                                                                                     \
		_mm512_storeu_ps((nzv), _mm512_maskz_compress_ps((__mmask16)(mk), (__m512)(v)));      \
		_mm512_storeu_si512((nz), _mm512_maskz_compress_epi32((__mmask16)(mk), (__m512i)(idx))); \
	} while (0)
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v
#undef bits_v
#undef COMPRESS_V
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const sweep_ops *const variants[SWEEP_ISAS] = {&ops_portable, &ops_avx2, &ops_avx512};
#else
static const sweep_ops *const variants[SWEEP_ISAS] = {&ops_portable, 0, 0};
#endif

// calls counts the dispatched calls per variant (sweep_calls; the tests check that
// GOODNET_CPU_KERNEL reaches the sweep).
static uint64_t calls[SWEEP_ISAS];

static const sweep_ops *ops(int isa)
{
	__atomic_fetch_add(&calls[isa], 1, __ATOMIC_RELAXED);
	return variants[isa];
}

uint64_t sweep_calls(int isa) { return __atomic_load_n(&calls[isa], __ATOMIC_RELAXED); }

void sweep_readers(int isa, int m, const int32_t *idx, const float *p, int S, int C, const uint64_t *pruned, int nr,
                   const sweep_rd *rd, float *pre, int po, double *total, double *removed)
{
	ops(isa)->readers(m, idx, p, S, C, pruned, nr, rd, pre, po, total, removed);
}

int sweep_update(int isa, int m, const int32_t *idx, const float *p, int S, int C, int c, int nr, const sweep_rd *rd,
                 float *pre, int po, double *total, double *removed, double rebase, int32_t *reb)
{
	return ops(isa)->update(m, idx, p, S, C, c, nr, rd, pre, po, total, removed, rebase, reb);
}

void sweep_dense(int isa, int m, const float *x, int k, const float *w, int n, const float *b, float *y, int act,
                 int32_t *nz, float *nzv, int32_t *rowp)
{
	ops(isa)->dense(m, x, k, w, n, b, y, act, nz, nzv, rowp);
}

void sweep_act(int isa, int64_t n, const float *x, float *y, int act, float alpha) { ops(isa)->act(n, x, y, act, alpha); }

void sweep_gather(int isa, int m, const int32_t *idx, const float *pre, int po, int off, int out, float *y, int act)
{
	ops(isa)->gather(m, idx, pre, po, off, out, y, act);
}

void sweep_argmax(int isa, int m, const float *z, int k, int ld, int32_t *pred) { ops(isa)->argmax(m, z, k, ld, pred); }

// Indices of the images whose channel c is non-zero somewhere at the cut (p is n × S × C).
int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		const float *row = p + (int64_t)i * S * C + c;
		for (int s = 0; s < S; s++) {
			if (row[(int64_t)s * C] != 0) {
				idx[m++] = i;
				break;
			}
		}
	}
	return m;
}

// mask (n × words) gets bit c of image i set when channel c of the cut is non-zero somewhere.
void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask)
{
	for (int i = 0; i < n; i++) {
		uint64_t *mk = mask + (int64_t)i * words;
		for (int w = 0; w < words; w++) mk[w] = 0;
		const float *img = p + (int64_t)i * S * C;
		for (int s = 0; s < S; s++) {
			const float *row = img + (int64_t)s * C;
			for (int c = 0; c < C; c++)
				if (row[c] != 0) mk[c >> 6] |= (uint64_t)1 << (c & 63);
		}
	}
}

// Indices of the images whose mask has bit c.
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx)
{
	const uint64_t bit = (uint64_t)1 << (c & 63);
	const uint64_t *mk = mask + (c >> 6);
	int m = 0;
	for (int i = 0; i < n; i++)
		if (mk[(int64_t)i * words] & bit) idx[m++] = i;
	return m;
}

// y = a + b, n values.
void sweep_add(int64_t n, const float *a, const float *b, float *y)
{
	for (int64_t j = 0; j < n; j++) y[j] = a[j] + b[j];
}
