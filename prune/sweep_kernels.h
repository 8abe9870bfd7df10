/* sweep_kernels.h — the arithmetic of the incremental sweep, included by sweep.c once per
 * instruction-set variant with SFX set to its name (portable, avx2, avx512) under that
 * variant's target attributes. Built without -ffast-math: every operation rounds once as
 * written (an a·b + c may be contracted into one FMA, which rounds less), NaN and Inf are
 * seen, subnormals kept. Reductions run in LANES independent accumulators (a GCC vector of the
 * variant's register width: LANES and min_v/max_v come from sweep.c), combined in a fixed
 * order, so that they vectorise without reassociation. */

typedef float CAT(vf, SFX) __attribute__((vector_size(4 * LANES)));
typedef int32_t CAT(vi, SFX) __attribute__((vector_size(4 * LANES)));
#undef VF
#undef VI
#define VF CAT(vf, SFX)
#define VI CAT(vi, SFX)

/* Slack terms of logits y[lo, hi) against the top one (zt, |zt|, nt): s = min(s, v_j) with
 * v_j = (zt − y_j − ε_j) / (nt + norm_j), and *bad set when a v_j is NaN. */
static inline void CAT(slack_range, SFX)(const float *restrict y, const float *restrict norm, int lo, int hi,
                                         float zt, float at, float nt, float *s, int *bad)
{
	VF sl = splat_v(*s);
	VI nan = {0};
	int j = lo;
	for (; j + LANES <= hi; j += LANES) {
		const VF yj = load_v(y + j);
		const VF v = (zt - yj - (1.1e-5f * (at + abs_v(yj)) + 1.1e-6f)) / (nt + load_v(norm + j));
		sl = min_v(v, sl);
		nan |= v != v;
	}
	float m = *s;
	int b = 0;
	for (int l = 0; l < LANES; l++) {
		m = sl[l] < m ? sl[l] : m;
		b |= nan[l];
	}
	for (; j < hi; j++) {
		const float v = (zt - y[j] - (1.1e-5f * (at + fabsf(y[j])) + 1.1e-6f)) / (nt + norm[j]);
		m = v < m ? v : m;
		b |= v != v;
	}
	*s = m;
	*bad |= b != 0;
}

/* For each row r of z (m × k logits; bias added first when not NULL): pred[idx[r]] is the
 * first index of the largest logit (nn.Argmax: y[0], then each later y[j] > the largest so
 * far), and slack[idx[r]] a lower bound of the smallest ‖Δh‖₂ that could change it,
 * min over j ≠ t of (z_t − z_j − ε) / (norm_t + norm_j), ε = 1e-5·(|z_t| + |z_j|) + 1e-6 (see
 * certificate.go). It is computed in float32 with ε widened by 10 %: 1e-6·(|z_t| + |z_j|) +
 * 1e-7 more than the roundings of the numerator and the division can cost (a few 2⁻²⁴ of
 * |z_t| + |z_j|), so the result never exceeds the exact value (TestTop). A quotient that
 * overflows stays at FLT_MAX (a lower bound); a NaN anywhere (infinite logits) makes the
 * slack −∞: the image is recomputed at every step. */
static void CAT(top, SFX)(int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
                          int32_t *pred, double *slack)
{
	for (int r = 0; r < m; r++) {
		float *restrict y = z + (int64_t)r * k;
		if (bias)
			for (int j = 0; j < k; j++) y[j] += bias[j];
		VF lm = splat_v(y[0]);
		int j = 1;
		for (; j + LANES <= k; j += LANES) lm = max_v(load_v(y + j), lm);
		float mx = lm[0];
		for (int l = 1; l < LANES; l++) mx = lm[l] > mx ? lm[l] : mx;
		for (; j < k; j++) mx = y[j] > mx ? y[j] : mx;
		int t = 0;
		while (t < k && y[t] != mx) t++;
		if (t == k) t = 0; /* y[0] is NaN */
		const float zt = y[t], at = fabsf(zt), nt = norm[t];
		float s = FLT_MAX;
		int bad = 0;
		CAT(slack_range, SFX)(y, norm, 0, t, zt, at, nt, &s, &bad);
		CAT(slack_range, SFX)(y, norm, t + 1, k, zt, at, nt, &s, &bad);
		pred[idx[r]] = t;
		slack[idx[r]] = bad ? -INFINITY : s;
	}
}

/* ref[j] = act(pre[j]) for n values (act: ReLU when relu, else identity). */
static void CAT(act, SFX)(int64_t n, const float *restrict pre, float *restrict ref, int relu)
{
	if (!relu) {
		memcpy(ref, pre, sizeof(float) * n);
		return;
	}
	const VF zero = {0};
	int64_t j = 0;
	for (; j + LANES <= n; j += LANES) {
		const VF x = max_v(load_v(pre + j), zero); /* x > 0 ? x : 0 */
		memcpy(ref + j, &x, sizeof x);
	}
	for (; j < n; j++) ref[j] = pre[j] > 0 ? pre[j] : 0;
}

/* ‖act(a) − b‖₂² over n values, in LANES float accumulators. */
static inline float CAT(dist2, SFX)(const float *restrict a, const float *restrict b, int n, int relu)
{
	VF acc = {0};
	const VF zero = {0};
	int j = 0;
	for (; j + LANES <= n; j += LANES) {
		VF x = load_v(a + j);
		if (relu) x = max_v(x, zero); /* x > 0 ? x : 0 */
		const VF d = x - load_v(b + j);
		acc += d * d;
	}
	float sum = 0;
	for (int l = 0; l < LANES; l++) sum += acc[l];
	for (; j < n; j++) {
		const float x = relu ? (a[j] > 0 ? a[j] : 0) : a[j];
		const float d = x - b[j];
		sum += d * d;
	}
	return sum;
}

/* One step of the incremental sweep for the images idx (see sweep_rd in sweep.h): for each
 * image i, for each reader, pre −= channel c's share (the channel's S values at the cut are
 * pc[i, c, :]); bound = Σ gain·‖act(pre) − ref‖₂; unless bound·safety < slack[i] (so also
 * when either is NaN) the image's certificate failed: ref = act(pre) for every reader (the row
 * is still in cache) and i is appended to out. When the mass a reader has removed exceeds
 * rebase times the mass it still holds, i is appended to reb too (its pre-activations are
 * recomputed: see rebase in incremental.go). Returns how many were appended to out; *nreb
 * says how many to reb. */
static int CAT(step, SFX)(int m, const int32_t *idx, const float *pc, int S, int C, int c, int nr,
                          const sweep_rd *rd, const double *slack, double safety, double rebase, int32_t *out,
                          int32_t *reb, int *nreb)
{
	int nout = 0, nr2 = 0;
	for (int k = 0; k < m; k++) {
		const int64_t i = idx[k];
		const float *v = pc + (i * C + c) * S;
		double bound = 0;
		int again = 0;
		for (int q = 0; q < nr; q++) {
			const sweep_rd *r = rd + q;
			float *y = r->pre + i * r->out;
			double gone = 0;
			for (int s = 0; s < S; s++) gone += fabs((double)v[s]) * r->mass[c * S + s];
			r->removed[i] += gone;
			again |= r->removed[i] > rebase * (r->total[i] - r->removed[i]);
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
			bound += r->gain * sqrt((double)CAT(dist2, SFX)(y, r->ref + i * r->out, r->out, r->relu));
		}
		if (!(bound * safety < slack[i])) {
			for (int q = 0; q < nr; q++) {
				const sweep_rd *r = rd + q;
				CAT(act, SFX)(r->out, r->pre + i * r->out, r->ref + i * r->out, r->relu);
			}
			out[nout++] = (int32_t)i;
		}
		if (again) reb[nr2++] = (int32_t)i;
	}
	*nreb = nr2;
	return nout;
}

/* ref[idx[k]] = act(pre[idx[k]]), rows of out. */
static void CAT(act_rows, SFX)(int m, const int32_t *idx, const float *pre, float *ref, int out, int relu)
{
	for (int k = 0; k < m; k++) CAT(act, SFX)(out, pre + (int64_t)idx[k] * out, ref + (int64_t)idx[k] * out, relu);
}

static const sweep_ops CAT(ops, SFX) = {CAT(top, SFX), CAT(step, SFX), CAT(act_rows, SFX)};
