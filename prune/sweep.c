// The inner loops of the incremental sweep (see sweep.go). Compiled for AVX-512, AVX2 and
// plain x86-64; the loader picks the best the CPU has (GCC target_clones).
#include <math.h>
#include <stdint.h>
#include "sweep.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

// Indices of the images whose channel c is non-zero somewhere at the cut (p is n × S × C).
int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx) {
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

// For each image i in idx: pre[i] -= Σ_s P[i, s, c] · w[woff[e] : +width] placed at dst[e],
// over the entries e of position s (start[s] .. start[s+1]).
CLONES
void sweep_update(int m, const int32_t *idx, const float *p, int S, int C, int c,
                  const int32_t *start, const int32_t *dst, const int32_t *woff,
                  const float *w, int width, float *pre, int out) {
	for (int k = 0; k < m; k++) {
		const int64_t i = idx[k];
		const float *row = p + i * S * C + c;
		float *y = pre + i * out;
		for (int s = 0; s < S; s++) {
			const float v = row[(int64_t)s * C];
			if (v == 0) continue;
			for (int e = start[s]; e < start[s + 1]; e++) {
				float *restrict yy = y + dst[e];
				const float *restrict ww = w + woff[e];
				for (int j = 0; j < width; j++) yy[j] -= v * ww[j];
			}
		}
	}
}

// bound[k] += gain · ‖act(pre[idx[k]]) − ref[idx[k]]‖₂ (act is ReLU when relu, else identity).
CLONES
void sweep_delta(int m, const int32_t *idx, const float *pre, const float *ref, int out,
                 int relu, double gain, double *bound) {
	for (int k = 0; k < m; k++) {
		const int64_t i = idx[k];
		const float *restrict a = pre + i * out;
		const float *restrict b = ref + i * out;
		float acc = 0;
		if (relu) {
			for (int j = 0; j < out; j++) {
				float d = (a[j] > 0 ? a[j] : 0) - b[j];
				acc += d * d;
			}
		} else {
			for (int j = 0; j < out; j++) {
				float d = a[j] - b[j];
				acc += d * d;
			}
		}
		bound[k] += gain * sqrt((double)acc);
	}
}
