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

typedef struct {
	void (*top)(int, const int32_t *, float *, int, const float *, const float *, int32_t *, double *);
	int (*step)(int, const int32_t *, const float *, int, int, int, int, const sweep_rd *, const double *, double,
	            double, int32_t *, int32_t *, int *);
	void (*act_rows)(int, const int32_t *, const float *, float *, int, int);
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

#define LANES 4
#if defined(__SSE__)
#define min_v(a, b) ((VF)_mm_min_ps((__m128)(a), (__m128)(b)))
#define max_v(a, b) ((VF)_mm_max_ps((__m128)(a), (__m128)(b)))
#else
#define min_v(a, b) select_v((a) < (b), a, b)
#define max_v(a, b) select_v((a) > (b), a, b)
#endif
#define SFX portable
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v

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
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v
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
#include "sweep_kernels.h"
#undef SFX
#undef LANES
#undef min_v
#undef max_v
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

void sweep_top(int isa, int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
               int32_t *pred, double *slack)
{
	ops(isa)->top(m, idx, z, k, bias, norm, pred, slack);
}

int sweep_step(int isa, int m, const int32_t *idx, const float *pc, int S, int C, int c, int nr, const sweep_rd *rd,
               const double *slack, double safety, double rebase, int32_t *out, int32_t *reb, int *nreb)
{
	return ops(isa)->step(m, idx, pc, S, C, c, nr, rd, slack, safety, rebase, out, reb, nreb);
}

void sweep_act_rows(int isa, int m, const int32_t *idx, const float *pre, float *ref, int out, int relu)
{
	ops(isa)->act_rows(m, idx, pre, ref, out, relu);
}

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

// pc (n × C × S) = p (n × S × C) transposed per image.
void sweep_channel_major(int n, const float *p, int S, int C, float *pc)
{
	for (int64_t i = 0; i < n; i++) {
		const float *a = p + i * S * C;
		float *b = pc + i * S * C;
		for (int s = 0; s < S; s++)
			for (int c = 0; c < C; c++) b[c * S + s] = a[s * C + c];
	}
}

// For every image i in [lo, hi) and reader: total = the ℓ₁ mass of its cut values (Σ over c, s of
// |pc[i, c, s]|·mass[c·S+s]), removed = 0.
void sweep_mass(int lo, int hi, const float *pc, int S, int C, int nr, const sweep_rd *rd)
{
	for (int64_t i = lo; i < hi; i++)
		for (int q = 0; q < nr; q++) {
			double t = 0;
			for (int c = 0; c < C; c++)
				for (int s = 0; s < S; s++) t += fabs((double)pc[(i * C + c) * S + s]) * rd[q].mass[c * S + s];
			rd[q].total[i] = t;
			rd[q].removed[i] = 0;
		}
}

// feed[k] = ref[idx[k]], rows of out.
void sweep_rows(int m, const int32_t *idx, const float *ref, int out, float *feed)
{
	for (int k = 0; k < m; k++) memcpy(feed + (int64_t)k * out, ref + (int64_t)idx[k] * out, sizeof(float) * out);
}
