/* The pixels' layout change of the lab's sets, N×C×H×W → N×H×W×C float32 × the pixel
 * transform: the conversion goodnet's readers do for every image of every set, in C so that
 * the compiler vectorises the planes' loads and conversions (Go's loop, bounds-checked, ran
 * at about half the speed). The arithmetic is Go's: float32(v) when mul = div = 1,
 * float32(double(v)·mul) when div = 1, else float32(mul·double(v)/div) — IEEE double
 * operations in that order, rounded once to float (no a·b+c form that could become an FMA). */
#include <stdint.h>
#include "transpose.h"

#define TRANSPOSE(NAME, T)                                                                        \
	long NAME(const T *in, float *out, long n, int C, long hw, double mul, double div, int check) \
	{                                                                                             \
		long per = (long)C * hw;                                                                  \
		for (long i = 0; i < n; i++) {                                                            \
			const T *img = in + i * per;                                                          \
			float *o = out + i * per;                                                             \
			if (C == 3 && mul == 1 && div == 1) {                                                 \
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

TRANSPOSE(gn_hwc_u8, uint8_t)
TRANSPOSE(gn_hwc_f32, float)
TRANSPOSE(gn_hwc_f64, double)
