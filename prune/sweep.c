// The inner loops of the incremental sweep (see sweep.go). Compiled for AVX-512, AVX2 and
// plain x86-64; the loader picks the best the CPU has (GCC target_clones).
#include <float.h>
#include <math.h>
#include <string.h>
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

// ref[i] = act(pre[i]) for the n rows of out (act: ReLU when relu, else identity).
CLONES
void sweep_act(int64_t n, const float *pre, float *ref, int relu) {
	if (relu) {
		for (int64_t j = 0; j < n; j++) ref[j] = pre[j] > 0 ? pre[j] : 0;
	} else {
		for (int64_t j = 0; j < n; j++) ref[j] = pre[j];
	}
}

// One step of the incremental sweep for the images idx (see sweep_rd in sweep.h): for each
// image i, for each reader, pre -= channel c's share (the channel's S values at the cut are
// pc[i, c, :]); bound = Σ gain·‖act(pre) − ref‖₂; when bound·safety ≥ slack[i] the image's
// certificate failed: ref = act(pre) for every reader (the row is still in cache) and i is
// appended to out. Returns how many were appended.
CLONES
int sweep_step(int m, const int32_t *idx, const float *pc, int S, int C, int c, int nr,
               const sweep_rd *rd, const double *slack, double safety, int32_t *out) {
	int nout = 0;
	for (int k = 0; k < m; k++) {
		const int64_t i = idx[k];
		const float *v = pc + (i * C + c) * S;
		double bound = 0;
		for (int q = 0; q < nr; q++) {
			const sweep_rd *r = rd + q;
			float *y = r->pre + i * r->out;
			if (r->dst) {
				for (int s = 0; s < S; s++) {
					const float x = v[s];
					if (x == 0) continue;
					for (int e = r->start[s]; e < r->start[s + 1]; e++) {
						float *restrict yy = y + r->dst[e];
						const float *restrict ww = r->w + r->woff[e];
						for (int j = 0; j < r->width; j++) yy[j] -= x * ww[j];
					}
				}
			}
			const float *restrict a = y;
			const float *restrict b = r->ref + i * r->out;
			float acc = 0;
			if (r->relu) {
				for (int j = 0; j < r->out; j++) {
					const float d = (a[j] > 0 ? a[j] : 0) - b[j];
					acc += d * d;
				}
			} else {
				for (int j = 0; j < r->out; j++) {
					const float d = a[j] - b[j];
					acc += d * d;
				}
			}
			bound += r->gain * sqrt((double)acc);
		}
		if (bound * safety >= slack[i]) {
			for (int q = 0; q < nr; q++) {
				const sweep_rd *r = rd + q;
				const float *restrict a = r->pre + i * r->out;
				float *restrict b = r->ref + i * r->out;
				if (r->relu) {
					for (int j = 0; j < r->out; j++) b[j] = a[j] > 0 ? a[j] : 0;
				} else {
					for (int j = 0; j < r->out; j++) b[j] = a[j];
				}
			}
			out[nout++] = (int32_t)i;
		}
	}
	return nout;
}

// pc (n × C × S) = p (n × S × C) transposed per image.
void sweep_channel_major(int n, const float *p, int S, int C, float *pc) {
	for (int64_t i = 0; i < n; i++) {
		const float *a = p + i * S * C;
		float *b = pc + i * S * C;
		for (int s = 0; s < S; s++)
			for (int c = 0; c < C; c++) b[c * S + s] = a[s * C + c];
	}
}

// feed[k] = ref[idx[k]], rows of out.
void sweep_rows(int m, const int32_t *idx, const float *ref, int out, float *feed) {
	for (int k = 0; k < m; k++) memcpy(feed + (int64_t)k * out, ref + (int64_t)idx[k] * out, sizeof(float) * out);
}

// ref[idx[k]] = act(pre[idx[k]]), rows of out (act: ReLU when relu, else identity).
CLONES
void sweep_act_rows(int m, const int32_t *idx, const float *pre, float *ref, int out, int relu) {
	for (int k = 0; k < m; k++) sweep_act(out, pre + (int64_t)idx[k] * out, ref + (int64_t)idx[k] * out, relu);
}
