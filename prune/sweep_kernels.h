/* sweep_kernels.h — the arithmetic of the incremental sweep, included by sweep.c once per
 * instruction-set variant with SFX set to its name (portable, avx2, avx512) under that
 * variant's target attributes. Built without -ffast-math: every operation rounds once as
 * written (an a·b + c may be contracted into one FMA, which rounds less), NaN and Inf are
 * seen, subnormals kept. Vectors are GCC vectors of LANES floats, the variant's register
 * width (LANES and min_v/max_v come from sweep.c). */

typedef float CAT(vf, SFX) __attribute__((vector_size(4 * LANES)));
typedef int32_t CAT(vi, SFX) __attribute__((vector_size(4 * LANES)));
#undef VF
#undef VI
#define VF CAT(vf, SFX)
#define VI CAT(vi, SFX)
#define store_v(p, v) ({ VF s_ = (v); memcpy((p), &s_, sizeof s_); })

/* The readers' pre-activations of images idx (m of them; p, pre, total, removed are the
 * sub-block's, image i at p + i·S·C, pre + i·po, total/removed + i·nr), computed afresh
 * from the cut p with the channels of pruned (a bit mask) left out: pre = bias + Σ over the
 * other cut values x ≠ 0 of x·w (reader entries in channel, position order), total = the ℓ₁
 * mass of those values (Σ |x|·mass, float64), removed = 0. */
static void CAT(readers, SFX)(int m, const int32_t *idx, const float *p, int S, int C, const uint64_t *pruned, int nr,
                              const sweep_rd *rd, float *pre, int po, double *total, double *removed)
{
	for (int k = 0; k < m; k++) {
		const int64_t i = idx ? idx[k] : k;
		const float *x = p + i * S * C;
		for (int q = 0; q < nr; q++) {
			const sweep_rd *r = rd + q;
			float *y = pre + i * po + r->off;
			memcpy(y, r->bias, sizeof(float) * r->out);
			double t = 0;
			for (int c = 0; c < C; c++) {
				if (pruned[c >> 6] >> (c & 63) & 1) continue;
				for (int s = 0; s < S; s++) {
					const float v = x[s * C + c];
					if (v == 0) continue;
					t += fabs((double)v) * r->mass[c * S + s];
					for (int e = r->start[c * S + s]; e < r->start[c * S + s + 1]; e++) {
						float *restrict yy = y + r->dst[e];
						const float *restrict ww = r->w + r->woff[e];
						for (int j = 0; j < r->width; j++) yy[j] += v * ww[j];
					}
				}
			}
			total[i * nr + q] = t;
			removed[i * nr + q] = 0;
		}
	}
}

/* One step for images idx (channel c pruned): for each reader, pre −= channel c's share
 * (its cut values x ≠ 0 times their weights), removed += its mass (Σ |x|·mass). When the mass
 * a reader has removed exceeds rebase times the mass it still holds, the image is appended to
 * reb (its pre-activations are then recomputed: sweep_readers). Returns how many were. */
static int CAT(update, SFX)(int m, const int32_t *idx, const float *p, int S, int C, int c, int nr, const sweep_rd *rd,
                            float *pre, int po, double *total, double *removed, double rebase, int32_t *reb)
{
	int nreb = 0;
	for (int k = 0; k < m; k++) {
		const int64_t i = idx[k];
		const float *x = p + i * S * C + c;
		int again = 0;
		for (int q = 0; q < nr; q++) {
			const sweep_rd *r = rd + q;
			float *y = pre + i * po + r->off;
			double gone = 0;
			for (int s = 0; s < S; s++) {
				const float v = x[s * C];
				if (v == 0) continue;
				gone += fabs((double)v) * r->mass[c * S + s];
				for (int e = r->start[c * S + s]; e < r->start[c * S + s + 1]; e++) {
					float *restrict yy = y + r->dst[e];
					const float *restrict ww = r->w + r->woff[e];
					for (int j = 0; j < r->width; j++) yy[j] -= v * ww[j];
				}
			}
			double *rm = removed + i * nr + q;
			*rm += gone;
			again |= *rm > rebase * (total[i * nr + q] - *rm);
		}
		if (again) reb[nreb++] = (int32_t)i;
	}
	return nreb;
}

/* nonzeros puts the indices j of the non-zero x[j] (NaN included), j < k, into nz and the
 * values into nzv, in order, and returns how many; nz and nzv have room for k + LANES. */
static int CAT(nonzeros, SFX)(const float *x, int k, int32_t *restrict nz, float *restrict nzv)
{
	const VF zero = {0};
	int cnt = 0, j = 0;
#ifdef COMPRESS_V
	VI idx;
	for (int l = 0; l < LANES; l++) idx[l] = l;
	for (; j + LANES <= k; j += LANES, idx += LANES) {
		const VF v = load_v(x + j);
		const unsigned mk = bits_v(v != zero);
		if (mk) {
			COMPRESS_V(v, idx, mk, nzv + cnt, nz + cnt);
			cnt += __builtin_popcount(mk);
		}
	}
#else
	for (; j + LANES <= k; j += LANES) {
		unsigned mk = bits_v(load_v(x + j) != zero);
		while (mk) {
			const int l = __builtin_ctz(mk);
			mk &= mk - 1;
			nz[cnt] = j + l;
			nzv[cnt++] = x[j + l];
		}
	}
#endif
	for (; j < k; j++) {
		nz[cnt] = j;
		nzv[cnt] = x[j];
		cnt += x[j] != 0;
	}
	return cnt;
}

/* TILE vectors of a row of y are accumulated at once (in registers). */
#define TILE 8

/* y (m × n) = act(x (m × k) · w (k × n) + b), b NULL for none, act 1: ReLU (x > 0 ? x : 0),
 * 0: none. The zeros of x are skipped (the readers' outputs after a ReLU mostly are: a
 * DeepID's are 80–90 % zero), so a row costs its non-zeros times n; each sum runs over
 * x's non-zeros in index order (in two interleaved partial sums for whole tiles), from the
 * bias. The rows' non-zeros are listed first (nz, nzv: room for m·k + LANES; rowp: m + 1;
 * k·n < 2³¹), then y is computed a tile of columns at a time for every row, so that the
 * tile of w stays in cache while the rows go by. */
static void CAT(dense, SFX)(int m, const float *x, int k, const float *w, int n, const float *b, float *y, int act,
                            int32_t *nz, float *nzv, int32_t *rowp)
{
	const VF zero = {0};
	int cnt = 0;
	for (int i = 0; i < m; i++) {
		rowp[i] = cnt;
		cnt += CAT(nonzeros, SFX)(x + (int64_t)i * k, k, nz + cnt, nzv + cnt);
	}
	rowp[m] = cnt;
	for (int e = 0; e < cnt; e++) nz[e] *= n; /* row offsets in w */
	int j0 = 0;
	for (; j0 + TILE * LANES <= n; j0 += TILE * LANES)
		for (int i = 0; i < m; i++) {
			/* two chains of accumulators (even and odd non-zeros), so that the FMAs of one
			 * non-zero need not wait for the previous one's */
			VF a[TILE], c[TILE];
			for (int t = 0; t < TILE; t++) {
				a[t] = b ? load_v(b + j0 + t * LANES) : zero;
				c[t] = zero;
			}
			const float *wj = w + j0;
			int e = rowp[i];
			for (; e + 2 <= rowp[i + 1]; e += 2) {
				const float *w0 = wj + nz[e], *w1 = wj + nz[e + 1];
				const VF v0 = splat_v(nzv[e]), v1 = splat_v(nzv[e + 1]);
				for (int t = 0; t < TILE; t++) {
					a[t] += v0 * load_v(w0 + t * LANES);
					c[t] += v1 * load_v(w1 + t * LANES);
				}
			}
			if (e < rowp[i + 1]) {
				const float *w0 = wj + nz[e];
				const VF v0 = splat_v(nzv[e]);
				for (int t = 0; t < TILE; t++) a[t] += v0 * load_v(w0 + t * LANES);
			}
			float *yi = y + (int64_t)i * n + j0;
			for (int t = 0; t < TILE; t++) {
				const VF r = a[t] + c[t];
				store_v(yi + t * LANES, act ? max_v(r, zero) : r);
			}
		}
	for (; j0 + LANES <= n; j0 += LANES)
		for (int i = 0; i < m; i++) {
			VF a = b ? load_v(b + j0) : zero;
			for (int e = rowp[i]; e < rowp[i + 1]; e++) a += splat_v(nzv[e]) * load_v(w + nz[e] + j0);
			store_v(y + (int64_t)i * n + j0, act ? max_v(a, zero) : a);
		}
	for (; j0 < n; j0++)
		for (int i = 0; i < m; i++) {
			float a = b ? b[j0] : 0;
			for (int e = rowp[i]; e < rowp[i + 1]; e++) a += nzv[e] * w[nz[e] + j0];
			y[(int64_t)i * n + j0] = act ? (a > 0 ? a : 0) : a;
		}
}

/* y = act(x) for n values: 0 a copy, 1 ReLU (x > 0 ? x : 0), 2 leaky ReLU (x > 0 ? x : alpha·x). */
static void CAT(act, SFX)(int64_t n, const float *restrict x, float *restrict y, int act, float alpha)
{
	if (act == 0) {
		if (x != y) memmove(y, x, sizeof(float) * n);
		return;
	}
	const VF zero = {0}, al = splat_v(alpha);
	int64_t j = 0;
	for (; j + LANES <= n; j += LANES) {
		const VF v = load_v(x + j);
		store_v(y + j, act == 1 ? max_v(v, zero) : select_v(v > zero, v, v * al));
	}
	for (; j < n; j++) y[j] = x[j] > 0 ? x[j] : act == 1 ? 0 : alpha * x[j];
}

/* Rows k of y (out values each) = act(the out values at pre + idx[k]·po + off); act 1: ReLU. */
static void CAT(gather, SFX)(int m, const int32_t *idx, const float *pre, int po, int off, int out, float *y, int act)
{
	for (int k = 0; k < m; k++)
		CAT(act, SFX)(out, pre + (int64_t)idx[k] * po + off, y + (int64_t)k * out, act, 0);
}

/* pred[r] = the first index of the largest of the first k values of row r of z (rows of ld
 * values; nn.Argmax: z[0], then each later z[j] > the largest so far; NaNs are never larger,
 * a NaN z[0] stays). */
static void CAT(argmax, SFX)(int m, const float *z, int k, int ld, int32_t *pred)
{
	for (int r = 0; r < m; r++) {
		const float *restrict y = z + (int64_t)r * ld;
		VF lm = splat_v(y[0]);
		int j = 1;
		for (; j + LANES <= k; j += LANES) lm = max_v(load_v(y + j), lm);
		float mx = lm[0];
		for (int l = 1; l < LANES; l++) mx = lm[l] > mx ? lm[l] : mx;
		for (; j < k; j++) mx = y[j] > mx ? y[j] : mx;
		const VF vm = splat_v(mx);
		int t = 0;
		for (; t + LANES <= k; t += LANES) {
			const unsigned mk = bits_v(load_v(y + t) == vm);
			if (mk) break;
		}
		while (t < k && y[t] != mx) t++;
		pred[r] = t == k ? 0 : t; /* y[0] is NaN */
	}
}

static const sweep_ops CAT(ops, SFX) = {CAT(readers, SFX), CAT(update, SFX), CAT(dense, SFX),
                                        CAT(act, SFX),     CAT(gather, SFX), CAT(argmax, SFX)};
