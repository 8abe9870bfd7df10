// The inner loops of the incremental sweep (see sweep.go). Compiled for AVX-512, AVX2 and
// plain x86-64; the loader picks the best the CPU has (GCC target_clones).
#include <float.h>
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

// mask (n × words) gets bit c of image i set when channel c of the cut is non-zero somewhere.
void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask) {
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
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx) {
	const uint64_t bit = (uint64_t)1 << (c & 63);
	const uint64_t *mk = mask + (c >> 6);
	int m = 0;
	for (int i = 0; i < n; i++)
		if (mk[(int64_t)i * words] & bit) idx[m++] = i;
	return m;
}

// feed[k] = ref[idx[k]] = act(pre[idx[k]]) (act is ReLU when relu, else identity); rows of out.
CLONES
void sweep_gather(int m, const int32_t *idx, const float *pre, float *ref, int out, int relu, float *feed) {
	for (int k = 0; k < m; k++) {
		const float *restrict a = pre + (int64_t)idx[k] * out;
		float *restrict b = ref + (int64_t)idx[k] * out;
		float *restrict f = feed + (int64_t)k * out;
		if (relu) {
			for (int j = 0; j < out; j++) {
				const float v = a[j] > 0 ? a[j] : 0;
				f[j] = v;
				b[j] = v;
			}
		} else {
			for (int j = 0; j < out; j++) {
				f[j] = a[j];
				b[j] = a[j];
			}
		}
	}
}

// For each row r of z (m × k logits; bias added first when not NULL): pred[idx[r]] is the
// first index of the largest logit, and slack[idx[r]] a lower bound of the smallest ‖Δh‖₂
// that could change it, min over j ≠ t of (z_t − z_j − ε) / (norm_t + norm_j) with
// ε = 1e-5·(|z_t| + |z_j|) + 1e-6 (see sweep.go). It is computed in float32 with ε widened by
// 10 %: 1e-6·(|z_t| + |z_j|) + 1e-7 more than every rounding of the numerator and the
// division can cost, in whatever order -ffast-math evaluates them (a few 2⁻²⁴ of |z_t| +
// |z_j|), so the result never exceeds the exact value (TestTop).
CLONES
void sweep_top(int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
               int32_t *pred, double *slack) {
	for (int r = 0; r < m; r++) {
		float *restrict y = z + (int64_t)r * k;
		if (bias)
			for (int j = 0; j < k; j++) y[j] += bias[j];
		float mx = y[0];
		for (int j = 1; j < k; j++) mx = y[j] > mx ? y[j] : mx;
		int t = 0;
		while (t < k && y[t] != mx) t++;
		if (t == k) t = 0;
		const float zt = y[t], at = fabsf(zt), nt = norm[t];
		float s = FLT_MAX;
		for (int j = 0; j < t; j++) {
			const float v = (zt - y[j] - (1.1e-5f * (at + fabsf(y[j])) + 1.1e-6f)) / (nt + norm[j]);
			s = v < s ? v : s;
		}
		for (int j = t + 1; j < k; j++) {
			const float v = (zt - y[j] - (1.1e-5f * (at + fabsf(y[j])) + 1.1e-6f)) / (nt + norm[j]);
			s = v < s ? v : s;
		}
		pred[idx[r]] = t;
		slack[idx[r]] = s;
	}
}

// sweep_update then sweep_delta image by image (the row is still in cache for the norm).
CLONES
void sweep_update_delta(int m, const int32_t *idx, const float *p, int S, int C, int c,
                        const int32_t *start, const int32_t *dst, const int32_t *woff,
                        const float *w, int width, float *pre, const float *ref, int out,
                        int relu, double gain, double *bound) {
	for (int k = 0; k < m; k++) {
		sweep_update(1, idx + k, p, S, C, c, start, dst, woff, w, width, pre, out);
		sweep_delta(1, idx + k, pre, ref, out, relu, gain, bound + k);
	}
}

// ref[i] = act(pre[i]) for the n rows of out (act: ReLU when relu, else identity).
CLONES
void sweep_act(int64_t n, const float *pre, float *ref, int relu) {
	if (relu) {
		for (int64_t j = 0; j < n; j++) ref[j] = pre[j] > 0 ? pre[j] : 0;
	} else {
		for (int64_t j = 0; j < n; j++) ref[j] = pre[j];
	}
}
