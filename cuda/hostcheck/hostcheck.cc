// hostcheck.cc — kernels.cu's per-element functions compiled for the CPU by g++ and run over
// whole tensors, in the same order of summation as the GPU kernels (see hostcheck.go).
#include <math.h>
#include <stddef.h>

#define __host__
#define __device__
#include "kernels_cu.h" /* a link to ../kernels.cu (so that Go's build cache sees it) */

extern "C" {

#include "hostcheck.h"

void hc_relu(float *out, const float *x, i64 n) {
	for (i64 i = 0; i < n; i++)
		out[i] = gn_relu(x[i]);
}

void hc_add(float *out, const float *a, const float *b, i64 n) {
	for (i64 i = 0; i < n; i++)
		out[i] = gn_add(a[i], b[i]);
}

void hc_merge(int *out, const int *b, const int *bprime, i64 n, int flag) {
	for (i64 i = 0; i < n; i++)
		out[i] = gn_merge(b[i], bprime[i], flag);
}

void hc_conv2d(float *out, const float *x, const float *w, const float *b, i64 n, int H, int W, int C,
               int OH, int OW, int O, int KH, int KW, int SH, int SW, int PT, int PL, int relu) {
	gn_conv s = {H, W, C, OH, OW, O, KH, KW, SH, SW, PT, PL};
	i64 M = n * OH * OW;
	for (i64 m = 0; m < M; m++)
		for (int o = 0; o < O; o++)
			out[m * O + o] = gn_conv_at(x, w, b, s, m, o, relu);
}

void hc_dense(float *out, const float *x, const float *w, const float *b, i64 n, int K, int O, int relu) {
	for (i64 m = 0; m < n; m++)
		for (int o = 0; o < O; o++)
			out[m * O + o] = gn_dense_at(x, w, b, K, O, m, o, relu);
}

void hc_maxpool(float *out, const float *x, i64 n, int H, int W, int C, int OH, int OW, int KH, int KW,
                int SH, int SW, int PT, int PL) {
	gn_pool s = {H, W, C, OH, OW, KH, KW, SH, SW, PT, PL};
	i64 total = n * OH * OW * C;
	for (i64 i = 0; i < total; i++)
		out[i] = gn_maxpool_at(x, s, i);
}

void hc_argmax(int *out, const float *x, i64 rows, int k) {
	for (i64 r = 0; r < rows; r++) {
		const float *v = x + r * k;
		float bv = v[0];
		int bi = 0;
		for (int j = 1; j < k; j++)
			if (gn_argmax_better(v[j], j, bv, bi)) {
				bv = v[j];
				bi = j;
			}
		out[r] = gn_argmax_final(v, bi);
	}
}

/* The same blocks, lanes and order of additions as k_channel_sum_partial/_finish. */
void hc_channel_sum(double *acc, double *partial, const float *x, i64 rows, int C) {
	int blocks = (int)((rows + GN_SUM_ROWS - 1) / GN_SUM_ROWS);
	for (int blk = 0; blk < blocks; blk++) {
		i64 r0 = (i64)blk * GN_SUM_ROWS;
		i64 r1 = r0 + GN_SUM_ROWS < rows ? r0 + GN_SUM_ROWS : rows;
		for (int c = 0; c < C; c++) {
			double lane[GN_SUM_LANES];
			for (int l = 0; l < GN_SUM_LANES; l++)
				lane[l] = gn_channel_lane_sum(x, C, c, r0, r1, l);
			double s = 0.0;
			for (int l = 0; l < GN_SUM_LANES; l++)
				s += lane[l];
			partial[(i64)blk * C + c] = s;
		}
	}
	for (int c = 0; c < C; c++) {
		double s = 0.0;
		for (int blk = 0; blk < blocks; blk++)
			s += partial[(i64)blk * C + c];
		acc[c] += s;
	}
}

} /* extern "C" */
