#ifndef GOODNET_TRANSPOSE_H
#define GOODNET_TRANSPOSE_H
#include <stdint.h>
/* gn_hwc_*: n images of C planes of hw values → n×hw×C floats (see transpose.c); with check,
 * the index in out of the first non-finite value (-1: none). isa: goodnet/internal/simd's
 * variant (2: AVX-512 for three planes unscaled; the results are the same). */
long gn_hwc_u8(int isa, const uint8_t *in, float *out, long n, int C, long hw, double mul, double div, int check);
long gn_hwc_f32(int isa, const float *in, float *out, long n, int C, long hw, double mul, double div, int check);
long gn_hwc_f64(int isa, const double *in, float *out, long n, int C, long hw, double mul, double div, int check);
#endif
