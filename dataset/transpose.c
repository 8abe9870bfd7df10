/* The pixels' layout change of the lab's sets, N×C×H×W → N×H×W×C float32 × the pixel
 * transform: the conversion goodnet's readers do for every image of every set, in C so that
 * the compiler vectorises the planes' loads and conversions (Go's loop, bounds-checked, ran
 * at about half the speed). The arithmetic is Go's: float32(v) when mul = div = 1,
 * float32(double(v)·mul) when div = 1, else float32(mul·double(v)/div) — IEEE double
 * operations in that order, rounded once to float (no a·b+c form that could become an FMA). */
#include <stdint.h>
#include "transpose.h"

#if defined(__x86_64__)
/* AVX-512 (goodnet/internal/simd's AVX512 = 2): the three planes of one image, 16 pixels at a
 * time, converted exactly as the scalar loop converts them (one rounding, to nearest) and
 * interleaved with two permutes per 16 outputs; returns whether a value is not finite (its
 * x − x is not 0), for the scalar scan to locate. */
#include <immintrin.h>
#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))

AVX512_TARGET static inline __m512 load16_f64(const double *p)
{
	__m256 lo = _mm512_cvtpd_ps(_mm512_loadu_pd(p)), hi = _mm512_cvtpd_ps(_mm512_loadu_pd(p + 8));
	return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
AVX512_TARGET static inline __m512 load16_f32(const float *p) { return _mm512_loadu_ps(p); }
AVX512_TARGET static inline __m512 load16_u8(const uint8_t *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

#define RGB_AVX512(T, TY)                                                                                     \
	AVX512_TARGET static int rgb_avx512_##T(const TY *r, const TY *g, const TY *b, float *o, long hw)      \
	{                                                                                                       \
		int32_t irg[3][16], ib[3][16];                                                                      \
		__mmask16 mb[3] = {0, 0, 0};                                                                        \
		for (int v = 0; v < 3; v++)                                                                         \
			for (int l = 0; l < 16; l++) {                                                                  \
				int k = 16 * v + l, j = k / 3, c = k % 3;                                                   \
				irg[v][l] = c == 1 ? 16 + j : j;                                                            \
				ib[v][l] = j;                                                                               \
				if (c == 2) mb[v] |= (__mmask16)(1u << l);                                                  \
			}                                                                                               \
		__m512i rg0 = _mm512_loadu_si512(irg[0]), rg1 = _mm512_loadu_si512(irg[1]), rg2 = _mm512_loadu_si512(irg[2]); \
		__m512i b0 = _mm512_loadu_si512(ib[0]), b1 = _mm512_loadu_si512(ib[1]), b2 = _mm512_loadu_si512(ib[2]);     \
		__m512i bad = _mm512_setzero_si512();                                                               \
		long j = 0;                                                                                         \
		for (; j + 16 <= hw; j += 16) {                                                                     \
			__m512 R = load16_##T(r + j), G = load16_##T(g + j), B = load16_##T(b + j);                     \
			__m512 o0 = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(R, rg0, G), mb[0], b0, B);        \
			__m512 o1 = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(R, rg1, G), mb[1], b1, B);        \
			__m512 o2 = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(R, rg2, G), mb[2], b2, B);        \
			_mm512_storeu_ps(o + 3 * j, o0);                                                                \
			_mm512_storeu_ps(o + 3 * j + 16, o1);                                                           \
			_mm512_storeu_ps(o + 3 * j + 32, o2);                                                           \
			bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(R, R)));                           \
			bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(G, G)));                           \
			bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(B, B)));                           \
		}                                                                                                   \
		int nf = _mm512_test_epi32_mask(bad, bad) != 0;                                                     \
		for (; j < hw; j++) {                                                                               \
			float x0 = (float)r[j], x1 = (float)g[j], x2 = (float)b[j];                                     \
			o[3 * j] = x0;                                                                                  \
			o[3 * j + 1] = x1;                                                                              \
			o[3 * j + 2] = x2;                                                                              \
			nf |= x0 - x0 != 0 || x1 - x1 != 0 || x2 - x2 != 0;                                             \
		}                                                                                                   \
		return nf;                                                                                          \
	}
RGB_AVX512(f64, double)
RGB_AVX512(f32, float)
RGB_AVX512(u8, uint8_t)
#define RGB_FAST(T, isa, img, o, hw, nf) (isa == 2 ? (nf = rgb_avx512_##T(img, img + hw, img + 2 * hw, o, hw), 1) : 0)
#else
#define RGB_FAST(T, isa, img, o, hw, nf) 0
#endif

#define TRANSPOSE(NAME, T, TS)                                                                              \
	long NAME(int isa, const T *in, float *out, long n, int C, long hw, double mul, double div, int check) \
	{                                                                                                       \
		long per = (long)C * hw;                                                                            \
		for (long i = 0; i < n; i++) {                                                                      \
			const T *img = in + i * per;                                                                    \
			float *o = out + i * per;                                                                       \
			int nf = 1;                                                                                     \
			if (C == 3 && mul == 1 && div == 1 && RGB_FAST(TS, isa, img, o, hw, nf)) {                     \
				if (!nf) continue; /* all finite: nothing to locate */                                      \
			} else if (C == 3 && mul == 1 && div == 1) {                                                   \
				const T *r = img, *g = img + hw, *b = img + 2 * hw;                               \
				for (long j = 0; j < hw; j++) {                                                   \
					o[3 * j] = (float)r[j];                                                       \
					o[3 * j + 1] = (float)g[j];                                                   \
					o[3 * j + 2] = (float)b[j];                                                   \
				}                                                                                 \
			} else if (mul == 1 && div == 1) {                                                    \
				for (int c = 0; c < C; c++)                                                       \
					for (long j = 0; j < hw; j++) o[j * C + c] = (float)img[c * hw + j];          \
			} else if (div == 1) {                                                                \
				for (int c = 0; c < C; c++)                                                       \
					for (long j = 0; j < hw; j++) o[j * C + c] = (float)((double)img[c * hw + j] * mul); \
			} else {                                                                              \
				for (int c = 0; c < C; c++)                                                       \
					for (long j = 0; j < hw; j++) o[j * C + c] = (float)(mul * (double)img[c * hw + j] / div); \
			}                                                                                     \
			if (check) {                                                                          \
				/* the first non-finite value, in the output's order */                           \
				for (long k = 0; k < per; k++) {                                                  \
					float x = o[k];                                                               \
					if (x - x != 0) return i * per + k;                                           \
				}                                                                                 \
			}                                                                                     \
		}                                                                                         \
		return -1;                                                                                \
	}

TRANSPOSE(gn_hwc_u8, uint8_t, u8)
TRANSPOSE(gn_hwc_f32, float, f32)
TRANSPOSE(gn_hwc_f64, double, f64)
