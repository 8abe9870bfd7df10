/* kernels.h — the training engine's inner loops, compiled once per instruction set.
 *
 * engine.c includes this file once per instruction set, after defining
 *   ISA_SFX  the suffix of every name (portable, avx2, avx512),
 *   VW       floats per vector (4, 8, 16): a block's 16 lanes are LANES/VW vectors,
 *   REGS     vector registers (16 or 32), which bounds the micro-kernel tiles,
 *   VSQRT    the square root of a vector,
 * and (for avx2/avx512) a target pragma, so that the same C becomes SSE/NEON, AVX2+FMA or
 * AVX-512 code through GCC's vector extensions (as host/kernels.h). The layout is in engine.h.
 *
 * Three register-tiled kernels do nearly all the arithmetic of a training step:
 *   fwd    a tile of pixels × outputs, one vector per (pixel, output), one weight broadcast per
 *          output and input step: the forward Conv2D and Dense, the input gradient of a Conv2D
 *          (a convolution of the zero-padded output gradient with the flipped, transposed
 *          kernel) and of a Dense (its kernel read transposed);
 *   wgrad  a tile of kernel entries × output channels of a Conv2D's weight gradient, one vector
 *          of per-lane partial sums each, streaming over the output pixels;
 *   dense_wgrad  a Dense weight gradient: a GEMM over the 16 lanes of the block. */

#define SFX(name) CAT(name, ISA_SFX)
#define VT SFX(vt)
#define VI SFX(vi)
#define VTU SFX(vtu)
typedef float VT __attribute__((vector_size(VW * 4)));
typedef int VI __attribute__((vector_size(VW * 4)));
typedef float VTU __attribute__((vector_size(VW * 4), aligned(4))); /* unaligned */

#define LOAD(p) (*(const VT *)(p))
#define STORE(p, v) (*(VT *)(p) = (v))
#define LOADU(p) ((VT)(*(const VTU *)(p)))
#define STOREU(p, v) (*(VTU *)(p) = (VTU)(v))
#define AI __attribute__((always_inline))

static inline AI VT SFX(vrelu)(VT v) { return (VT)((VI)v & (v > 0)); }
static inline AI VT SFX(vmax)(VT a, VT b)
{
	VI m = a > b;
	return (VT)(((VI)a & m) | ((VI)b & ~m));
}
static inline AI VT SFX(vsel)(VI m, VT v) { return (VT)((VI)v & m); }

/* ---- fwd: the micro-kernel ---------------------------------------------------------------
 * Pixels [j0, j1) in tiles of NP, outputs [o0, o1) in tiles of NO (both exact multiples): NP×NO
 * vector accumulators stay in registers; per input step NP vector loads, NO broadcasts, NP·NO
 * FMAs. Pixel tiles are the outer loop, so a tile's inputs stay in L1 while the weights of every
 * output tile pass over them. NP, NO and the weight mode T are constants after inlining. */
static inline AI void SFX(fwd_impl)(const fwd_args *a, int j0, int j1, int o0, int o1, const int NP, const int NO,
                                    const int T)
{
	const long ps = a->pstride, os = a->ostride, rs = a->rowstride, ldw = a->ldw;
	const int kh = a->kh, kwc = a->kwc, relu = a->relu, accum = a->acc;
	for (int j = j0; j < j1; j += NP)
		for (int ot = o0; ot < o1; ot += NO) {
			const float *in = a->in + j * ps;
			float *out = a->out + j * os + ot * LANES;
			for (int g = 0; g < LANES; g += VW) {
				VT acc[8][8];
#pragma GCC unroll 8
				for (int p = 0; p < NP; p++)
#pragma GCC unroll 8
					for (int o = 0; o < NO; o++)
						acc[p][o] = accum ? LOAD(out + p * os + o * LANES + g)
						                  : (VT){} + (a->bias ? a->bias[ot + o] : 0.0f);
				const float *wr[8];
#pragma GCC unroll 8
				for (int o = 0; o < NO; o++) wr[o] = T ? a->w + (ot + o) * ldw : a->w + ot + o;
				for (int di = 0; di < kh; di++) {
					const float *x = in + di * rs + g;
					for (int q = 0; q < kwc; q++, x += LANES) {
						const long wq = T ? (long)di * kwc + q : ((long)di * kwc + q) * ldw;
						VT xv[8];
#pragma GCC unroll 8
						for (int p = 0; p < NP; p++) xv[p] = LOAD(x + p * ps);
#pragma GCC unroll 8
						for (int o = 0; o < NO; o++) {
							const float s = wr[o][wq];
#pragma GCC unroll 8
							for (int p = 0; p < NP; p++) acc[p][o] += xv[p] * s;
						}
					}
				}
#pragma GCC unroll 8
				for (int p = 0; p < NP; p++)
#pragma GCC unroll 8
					for (int o = 0; o < NO; o++)
						STORE(out + p * os + o * LANES + g, relu ? SFX(vrelu)(acc[p][o]) : acc[p][o]);
			}
		}
}

typedef void (*SFX(fwd_fn))(const fwd_args *, int, int, int, int);
#define FWD(np, no)                                                                              \
	static void SFX(fwd_r_##np##_##no)(const fwd_args *a, int j0, int j1, int o0, int o1)       \
	{                                                                                            \
		SFX(fwd_impl)(a, j0, j1, o0, o1, np, no, WROW);                                          \
	}                                                                                            \
	static void SFX(fwd_t_##np##_##no)(const fwd_args *a, int j0, int j1, int o0, int o1)       \
	{                                                                                            \
		SFX(fwd_impl)(a, j0, j1, o0, o1, np, no, WTRANS);                                        \
	}
#define FWD_R(np, no) [np][no] = SFX(fwd_r_##np##_##no),
#define FWD_T(np, no) [np][no] = SFX(fwd_t_##np##_##no),

/* The tiles compiled: NP·NO accumulators + NP inputs + 1 broadcast fit the registers, and for
 * each NO every NP from 1 up; the largest NP falls as NO grows, so the remainder tiles of a
 * chosen (NP, NO) — (NP mod, NO), (NP, NO mod), (both) — always exist. */
#if REGS >= 32
#define FWD_TILES(X) \
	X(1,1) X(2,1) X(3,1) X(4,1) X(5,1) X(6,1) X(7,1) X(8,1) \
	X(1,2) X(2,2) X(3,2) X(4,2) X(5,2) X(6,2) X(7,2) X(8,2) \
	X(1,3) X(2,3) X(3,3) X(4,3) X(5,3) X(6,3) X(7,3) \
	X(1,4) X(2,4) X(3,4) X(4,4) X(5,4) X(6,4) \
	X(1,5) X(2,5) X(3,5) X(4,5) X(5,5) \
	X(1,6) X(2,6) X(3,6) X(4,6) \
	X(1,7) X(2,7) X(3,7) \
	X(1,8) X(2,8) X(3,8)
#else
#define FWD_TILES(X) \
	X(1,1) X(2,1) X(3,1) X(4,1) X(5,1) X(6,1) X(7,1) \
	X(1,2) X(2,2) X(3,2) X(4,2) X(5,2) \
	X(1,3) X(2,3) X(3,3) \
	X(1,4) X(2,4) X(3,4) \
	X(1,5) X(2,5) \
	X(1,6) X(2,6) \
	X(1,7) \
	X(1,8)
#endif
FWD_TILES(FWD)
static const SFX(fwd_fn) SFX(fwd_row)[9][9] = {FWD_TILES(FWD_R)};
static const SFX(fwd_fn) SFX(fwd_tr)[9][9] = {FWD_TILES(FWD_T)};

/* tile_cost estimates the cycles of one tile's input step: max(FMAs/2, loads/2, FMA latency 4). */
static double SFX(tile_cost)(int np, int no)
{
	double step = np * no / 2.0;
	if ((np + no) / 2.0 > step) step = (np + no) / 2.0;
	return step < 4 ? 4 : step;
}

/* choose_tile picks the (np ≤ npix, no ≤ nout) with the fewest estimated cycles, counting the
 * remainder tiles and a store and call overhead per tile. */
static void SFX(choose_tile)(int npix, int nout, long kk, int *bnp, int *bno)
{
	double best = -1;
	*bnp = *bno = 1;
	for (int no = 1; no <= 8 && no <= nout; no++)
		for (int np = 1; np <= 8 && np <= npix; np++) {
			if (!SFX(fwd_row)[np][no]) continue;
			const int rp = npix % np, ro = nout % no, tp = npix / np, to = nout / no;
			double cost = 0;
			const int rects[4][4] = {{tp, to, np, no}, {rp ? 1 : 0, to, rp, no}, {tp, ro ? 1 : 0, np, ro},
			                         {rp ? 1 : 0, ro ? 1 : 0, rp, ro}};
			for (int r = 0; r < 4; r++) {
				const int n = rects[r][0] * rects[r][1];
				if (n) cost += n * (kk * SFX(tile_cost)(rects[r][2], rects[r][3]) + rects[r][2] * rects[r][3] + 12);
			}
			if (best < 0 || cost < best) best = cost, *bnp = np, *bno = no;
		}
}

/* fwd runs a->npix × a->nout as the chosen main tile and its exact remainders. */
static void SFX(fwd)(const fwd_args *a)
{
	const SFX(fwd_fn)(*tab)[9] = a->wmode == WTRANS ? SFX(fwd_tr) : SFX(fwd_row);
	const int NP = a->np, NO = a->no, jm = a->npix / NP * NP, om = a->nout / NO * NO;
	const int rp = a->npix - jm, ro = a->nout - om;
	if (jm && om) tab[NP][NO](a, 0, jm, 0, om);
	if (rp && om) tab[rp][NO](a, jm, a->npix, 0, om);
	if (jm && ro) tab[NP][ro](a, 0, jm, om, a->nout);
	if (rp && ro) tab[rp][ro](a, jm, a->npix, om, a->nout);
}

/* conv: every output row of a block; row holds everything but in and out. */
static void SFX(conv)(const conv_g *c, const fwd_args *row, const float *in, float *out)
{
	fwd_args a = *row;
	for (int r = 0; r < c->OH; r++) {
		a.in = in + (long)r * c->SH * row->rowstride;
		a.out = out + (long)r * c->OW * c->O * LANES;
		SFX(fwd)(&a);
	}
}

/* conv_back: rows 0..H-1, columns 0..W-1 of the input gradient of a convolution whose input
 * was padded by (pt, pl): the "full" convolution of dpad (the output gradient, dilated by the
 * strides and framed by KH-1, KW-1 zeros) with the flipped, transposed kernel. Kernel rows
 * that fall on the frame's zero rows above and below the output gradient are skipped. */
static void SFX(conv_back)(const conv_g *c, const fwd_args *row, const float *dpad, float *dx, int pt, int pl, int H,
                           int W)
{
	fwd_args a = *row;
	a.npix = W;
	const int lo = c->KH - 1, hi = c->KH - 1 + (c->OH - 1) * c->SH; /* rows of dpad that hold data */
	for (int i = 0; i < H; i++) {
		const int r = i + pt; /* this row reads dpad rows r .. r+KH-1 */
		const int d0 = lo > r ? lo - r : 0, d1 = hi - r + 1 < c->KH ? hi - r + 1 : c->KH;
		float *out = dx + (long)i * W * c->C * LANES;
		if (d1 <= d0) { /* no data under the kernel: a zero gradient */
			if (!row->acc) memset(out, 0, sizeof(float) * W * c->C * LANES);
			continue;
		}
		a.in = dpad + (long)(r + d0) * row->rowstride + (long)pl * row->pstride;
		a.w = row->w + (long)d0 * row->kwc * row->ldw;
		a.kh = d1 - d0;
		a.out = out;
		SFX(fwd)(&a);
	}
}

/* ---- wgrad -------------------------------------------------------------------------------
 * For NK consecutive kernel entries (their input offsets in xoff) × NO output channels, NK·NO
 * vector accumulators collect x·d lane by lane over a chunk of output rows; per pixel NK + NO
 * vector loads and NK·NO FMAs. The accumulators live in s between chunks, which are sized so
 * that a chunk's output gradient stays in L2 while every tile passes over it. */
static inline AI void SFX(wgrad_impl)(const wgrad_args *a, int r0, int r1, int k0, int k1, int o0, int o1,
                                      const int NK, const int NO)
{
	const long xpix = a->xpix, xrow = a->xrow, dpix = a->dpix, drow = a->drow;
	const int ow = a->ow, nout = a->nout;
	for (int kt = k0; kt < k1; kt += NK)
		for (int ot = o0; ot < o1; ot += NO)
			for (int g = 0; g < LANES; g += VW) {
				long xo[8];
#pragma GCC unroll 8
				for (int i = 0; i < NK; i++) xo[i] = a->xoff[kt + i] + g;
				float *s = a->s + ((long)kt * nout + ot) * LANES + g;
				VT acc[8][8];
#pragma GCC unroll 8
				for (int i = 0; i < NK; i++)
#pragma GCC unroll 8
					for (int o = 0; o < NO; o++) acc[i][o] = LOAD(s + ((long)i * nout + o) * LANES);
				for (int r = r0; r < r1; r++) {
					const float *x = a->x + r * xrow;
					const float *d = a->d + r * drow + (long)ot * LANES + g;
					for (int p = 0; p < ow; p++, x += xpix, d += dpix) {
						VT xv[8];
#pragma GCC unroll 8
						for (int i = 0; i < NK; i++) xv[i] = LOAD(x + xo[i]);
#pragma GCC unroll 8
						for (int o = 0; o < NO; o++) {
							const VT dv = LOAD(d + o * LANES);
#pragma GCC unroll 8
							for (int i = 0; i < NK; i++) acc[i][o] += xv[i] * dv;
						}
					}
				}
#pragma GCC unroll 8
				for (int i = 0; i < NK; i++)
#pragma GCC unroll 8
					for (int o = 0; o < NO; o++) STORE(s + ((long)i * nout + o) * LANES, acc[i][o]);
			}
}

typedef void (*SFX(wgrad_fn))(const wgrad_args *, int, int, int, int, int, int);
#define WG(nk, no)                                                                                   \
	static void SFX(wg_##nk##_##no)(const wgrad_args *a, int r0, int r1, int k0, int k1, int o0, int o1) \
	{                                                                                                \
		SFX(wgrad_impl)(a, r0, r1, k0, k1, o0, o1, nk, no);                                           \
	}
#define WG_ENTRY(nk, no) [nk][no] = SFX(wg_##nk##_##no),
/* NK·NO accumulators + NK inputs + 1 output-gradient vector fit the registers */
#if REGS >= 32
#define WG_MAX_K 6
#define WG_MAX_O 4
#define WG_TILES(X) \
	X(1,1) X(2,1) X(3,1) X(4,1) X(5,1) X(6,1) \
	X(1,2) X(2,2) X(3,2) X(4,2) X(5,2) X(6,2) \
	X(1,3) X(2,3) X(3,3) X(4,3) X(5,3) X(6,3) \
	X(1,4) X(2,4) X(3,4) X(4,4) X(5,4) X(6,4)
#else
#define WG_MAX_K 3
#define WG_MAX_O 3
#define WG_TILES(X) \
	X(1,1) X(2,1) X(3,1) \
	X(1,2) X(2,2) X(3,2) \
	X(1,3) X(2,3) X(3,3)
#endif
WG_TILES(WG)
static const SFX(wgrad_fn) SFX(wg_tab)[9][9] = {WG_TILES(WG_ENTRY)};

static void SFX(wgrad_tile)(int *nk, int *no)
{
	*nk = WG_MAX_K;
	*no = WG_MAX_O;
}

/* wgrad adds one block's lane-wise products to a->s, in chunks of output rows (~192 KB of
 * output gradient each), and, when a->sb is set, the output gradient's per-lane sums over the
 * pixels to a->sb (the bias gradient) while the chunk is in cache. */
static void SFX(wgrad)(const wgrad_args *a)
{
	const int NK = a->nk, NO = a->no, km = a->kk / NK * NK, om = a->nout / NO * NO;
	const int rk = a->kk - km, ro = a->nout - om;
	long rowbytes = (long)a->ow * a->nout * LANES * 4;
	int chunk = (int)(196608 / (rowbytes > 0 ? rowbytes : 1));
	if (chunk < 1) chunk = 1;
	for (int r0 = 0; r0 < a->oh; r0 += chunk) {
		const int r1 = r0 + chunk < a->oh ? r0 + chunk : a->oh;
		if (a->sb)
			for (int r = r0; r < r1; r++)
				for (int p = 0; p < a->ow; p++) {
					const float *d = a->d + r * a->drow + p * a->dpix;
					for (long e = 0; e < (long)a->nout * LANES; e += VW) STORE(a->sb + e, LOAD(a->sb + e) + LOAD(d + e));
				}
		if (km && om) SFX(wg_tab)[NK][NO](a, r0, r1, 0, km, 0, om);
		if (rk && om) SFX(wg_tab)[rk][NO](a, r0, r1, km, a->kk, 0, om);
		if (km && ro) SFX(wg_tab)[NK][ro](a, r0, r1, 0, km, om, a->nout);
		if (rk && ro) SFX(wg_tab)[rk][ro](a, r0, r1, km, a->kk, om, a->nout);
	}
}

/* ---- max pool ----------------------------------------------------------------------------- */

/* pool_row folds one input row (W × C × LANES) into pool output row out (OW × C × LANES):
 * the max over each window's clipped columns, assigned (first) or max-ed into out. */
static void SFX(pool_row)(const pool_p *p, const float *row, float *out, int first)
{
	const long cl = (long)p->C * LANES;
	for (int j = 0; j < p->OW; j++) {
		int c0 = j * p->SW - p->PL, c1 = c0 + p->PW;
		if (c0 < 0) c0 = 0;
		if (c1 > p->W) c1 = p->W;
		float *o = out + j * cl;
		for (long e = 0; e < cl; e += VW) {
			VT m = LOAD(row + c0 * cl + e);
			for (int x = c0 + 1; x < c1; x++) m = SFX(vmax)(m, LOAD(row + x * cl + e));
			STORE(o + e, first ? m : SFX(vmax)(m, LOAD(o + e)));
		}
	}
}

static void SFX(maxpool)(const pool_p *p, const float *in, float *out)
{
	const long rin = (long)p->W * p->C * LANES, rout = (long)p->OW * p->C * LANES;
	for (int i = 0; i < p->OH; i++) {
		int r0 = i * p->SH - p->PT, r1 = r0 + p->PH;
		if (r0 < 0) r0 = 0;
		if (r1 > p->H) r1 = p->H;
		for (int r = r0; r < r1; r++) SFX(pool_row)(p, in + r * rin, out + i * rout, r == r0);
	}
}

/* maxpool_back routes each output gradient dy to the first input of its window (rows, then
 * columns) equal to the window's maximum y, lane by lane; with gate set only where y > 0 (the
 * ReLU before the pool: its gradient is then applied here). Windows that tile the input exactly
 * assign dx directly; otherwise dx is cleared first (unless acc) and the routes are added. */
static void SFX(maxpool_back)(const pool_p *p, const float *x, const float *y, const float *dy, float *dx, int acc,
                              int gate)
{
	const long cl = (long)p->C * LANES, rin = (long)p->W * cl, rout = (long)p->OW * cl;
	const int tiles = p->SH == p->PH && p->SW == p->PW && p->PT == 0 && p->PL == 0 && p->OH * p->SH == p->H &&
	                  p->OW * p->SW == p->W;
	const int assign = !acc && tiles;
	if (!acc && !tiles) memset(dx, 0, sizeof(float) * p->H * rin);
	for (int i = 0; i < p->OH; i++) {
		int r0 = i * p->SH - p->PT, r1 = r0 + p->PH;
		if (r0 < 0) r0 = 0;
		if (r1 > p->H) r1 = p->H;
		for (int j = 0; j < p->OW; j++) {
			int c0 = j * p->SW - p->PL, c1 = c0 + p->PW;
			if (c0 < 0) c0 = 0;
			if (c1 > p->W) c1 = p->W;
			const float *yo = y + i * rout + j * cl, *dyo = dy + i * rout + j * cl;
			for (long e = 0; e < cl; e += VW) {
				const VT m = LOAD(yo + e);
				VT d = LOAD(dyo + e);
				if (gate) d = SFX(vsel)(m > 0, d);
				VI taken = (VI){};
				for (int r = r0; r < r1; r++)
					for (int c = c0; c < c1; c++) {
						const long off = r * rin + c * cl + e;
						const VI hit = (LOAD(x + off) == m) & ~taken;
						taken |= hit;
						if (assign)
							STORE(dx + off, SFX(vsel)(hit, d));
						else
							STORE(dx + off, LOAD(dx + off) + SFX(vsel)(hit, d));
					}
			}
		}
	}
}

/* ---- conv + ReLU + max pool, fused ------------------------------------------------------
 * For a Conv2D+ReLU read only by a max pool whose windows tile its output (stride = window,
 * no padding), the conv's output is never stored: conv_pool computes PH conv rows at a time
 * into `rows`, pools them, and keeps per pooled value and lane a code, the window position
 * dr*PW + dc of the first maximum, or CODE_OFF where the maximum is ≤ 0 (there the ReLU's
 * gradient is 0 at every position). unpool turns codes and the pool's output gradient back into
 * the conv's output gradient, a chunk of rows at a time, for the weight gradient (and into the
 * frame of the input gradient). */
#define CODE_OFF 255
typedef unsigned char SFX(vc) __attribute__((vector_size(VW)));

static void SFX(conv_pool)(const conv_g *c, const fwd_args *row, const pool_p *p, const float *in, float *rows,
                           float *out, unsigned char *code)
{
	fwd_args a = *row;
	const long rl = (long)c->OW * c->O * LANES, cl = (long)c->O * LANES, rout = (long)p->OW * cl;
	for (int i = 0; i < p->OH; i++) {
		for (int dr = 0; dr < p->PH; dr++) {
			const int r = i * p->PH + dr;
			a.in = in + (long)r * c->SH * row->rowstride;
			a.out = rows + dr * rl;
			SFX(fwd)(&a);
		}
		for (int j = 0; j < p->OW; j++)
			for (long e = 0; e < cl; e += VW) {
				VT m = LOAD(rows + (long)j * p->PW * cl + e);
				VI at = (VI){};
				for (int dr = 0; dr < p->PH; dr++)
					for (int dc = 0; dc < p->PW; dc++) {
						const VT v = LOAD(rows + dr * rl + (long)(j * p->PW + dc) * cl + e);
						const VI gt = v > m;
						m = SFX(vmax)(v, m);
						at = (at & ~gt) | ((VI){} + (dr * p->PW + dc) & gt);
					}
				at = (at & (m > 0)) | ((VI){} + CODE_OFF & ~(m > 0));
				const long o = i * rout + j * cl + e;
				STORE(out + o, m);
				*(SFX(vc) *)(code + o) = __builtin_convertvector(at, SFX(vc));
			}
	}
}

/* unpool writes the conv output gradient of pooled rows [i0, i1) — conv rows i0*PH … — at
 * dst (conv pixel (r, col) at dst + (r − i0*PH)*drow + col*dpix): dp where the code names the
 * position, else 0. Columns past the last window are not written. With sb set it also adds
 * the gradient's per-lane sums to sb (the bias gradient: each pooled gradient lands on at
 * most one position, so they are sums over the pooled grid). */
static void SFX(unpool)(const pool_p *p, const unsigned char *code, const float *dp, int i0, int i1, float *dst,
                        long drow, long dpix, float *sb)
{
	const long cl = (long)p->C * LANES, rout = (long)p->OW * cl;
	for (int i = i0; i < i1; i++)
		for (int j = 0; j < p->OW; j++)
			for (long e = 0; e < cl; e += VW) {
				const long o = i * rout + j * cl + e;
				const VI at = __builtin_convertvector(*(const SFX(vc) *)(code + o), VI);
				const VT d = LOAD(dp + o);
				if (sb) STORE(sb + e, LOAD(sb + e) + SFX(vsel)(at != CODE_OFF, d));
				for (int dr = 0; dr < p->PH; dr++)
					for (int dc = 0; dc < p->PW; dc++)
						STORE(dst + (long)((i - i0) * p->PH + dr) * drow + (long)(j * p->PW + dc) * dpix + e,
						      SFX(vsel)(at == dr * p->PW + dc, d));
			}
}

/* conv_pool_back: the conv's output gradient from the codes, in chunks of q pooled rows (the
 * driver sizes them to about 192 KB of conv rows), each chunk followed by its weight gradient (wa, when set) while it
 * is in cache. With frame set, dst is the input gradient's frame (row 0 of the conv output
 * at dst, rows drow apart) and keeps the whole gradient; otherwise dst is one chunk's
 * scratch. */
static void SFX(conv_pool_back)(const pool_p *p, const unsigned char *code, const float *dp, const wgrad_args *wa,
                                float *dst, long drow, long dpix, int frame, int q)
{
	for (int i0 = 0; i0 < p->OH; i0 += q) {
		const int i1 = i0 + q < p->OH ? i0 + q : p->OH;
		float *d = frame ? dst + (long)i0 * p->PH * drow : dst;
		SFX(unpool)(p, code, dp, i0, i1, d, drow, dpix, wa ? wa->sb : NULL);
		if (wa) {
			wgrad_args a = *wa;
			a.sb = NULL; /* summed by unpool */
			a.x += (long)i0 * p->PH * a.xrow;
			a.d = d;
			a.drow = drow;
			a.dpix = dpix;
			a.oh = (i1 - i0) * p->PH;
			a.ow = p->OW * p->PW;
			SFX(wgrad)(&a);
		}
	}
}

/* ---- dense_wgrad --------------------------------------------------------------------------
 * dw[k][o] (+)= Σ_{v<16} x[k*16 + v] · dt[v*O + o]: rows of x in tiles of DMR, columns in DNV
 * vectors; a tile's accumulators stay in registers over the 16 lanes. */
#define DNV (REGS >= 32 ? 4 : 2)
#define DMR 6
static inline AI void SFX(dwg_micro)(int mr, int O, const float *x, const float *dt, float *dw, int acc, const int NV)
{
	VT c[DMR][4];
	const float *xr[DMR];
	float *wr[DMR];
#pragma GCC unroll 8
	for (int i = 0; i < DMR; i++) {
		const int ii = i < mr ? i : mr - 1;
		xr[i] = x + ii * LANES;
		wr[i] = dw + (long)ii * O;
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++) c[i][v] = acc ? LOADU(wr[i] + v * VW) : (VT){};
	}
#pragma GCC unroll 16
	for (int l = 0; l < LANES; l++) {
		VT b[4];
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++) b[v] = LOADU(dt + (long)l * O + v * VW);
#pragma GCC unroll 8
		for (int i = 0; i < DMR; i++) {
			const float s = xr[i][l];
#pragma GCC unroll 4
			for (int v = 0; v < NV; v++) c[i][v] += b[v] * s;
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < DMR; i++)
		if (i < mr)
#pragma GCC unroll 4
			for (int v = 0; v < NV; v++) STOREU(wr[i] + v * VW, c[i][v]);
}

static void SFX(dense_wgrad)(int K, int O, const float *x, const float *dt, float *dw, int acc)
{
	for (int k0 = 0; k0 < K; k0 += DMR) {
		const int mr = K - k0 < DMR ? K - k0 : DMR;
		const float *xk = x + (long)k0 * LANES;
		float *wk = dw + (long)k0 * O;
		int o = 0;
		for (; o + DNV * VW <= O; o += DNV * VW) SFX(dwg_micro)(mr, O, xk, dt + o, wk + o, acc, DNV);
		for (; o + VW <= O; o += VW) SFX(dwg_micro)(mr, O, xk, dt + o, wk + o, acc, 1);
		for (; o < O; o++)
			for (int i = 0; i < mr; i++) {
				float s = 0;
				for (int l = 0; l < LANES; l++) s += xk[i * LANES + l] * dt[(long)l * O + o];
				wk[(long)i * O + o] = acc ? wk[(long)i * O + o] + s : s;
			}
	}
}

/* ---- the loss -----------------------------------------------------------------------------
 * vexp is e^x for x ≤ 0 (Cephes' expf: a degree-6 polynomial on x − n·ln 2, times 2^n;
 * relative error < 2e-7; below −87.3 it returns e^−87.3 ≈ 1e-38). */
static inline AI VT SFX(vexp)(VT x)
{
	x = SFX(vmax)(x, (VT){} - 87.3f);
	const VT t = x * 1.44269504088896341f + 0.5f;
	VI n = __builtin_convertvector(t, VI);
	n -= (__builtin_convertvector(n, VT) > t) & 1; /* floor */
	const VT fn = __builtin_convertvector(n, VT);
	x = x - fn * 0.693359375f + fn * 2.12194440e-4f;
	const VT z = x * x;
	VT y = (VT){} + 1.9875691500e-4f;
	y = y * x + 1.3981999507e-3f;
	y = y * x + 8.3334519073e-3f;
	y = y * x + 4.1665795894e-2f;
	y = y * x + 1.6666665459e-1f;
	y = y * x + 5.0000001201e-1f;
	y = y * z + x + 1.0f;
	return y * (VT)((n + 127) << 23);
}

typedef double SFX(vd) __attribute__((vector_size(VW * 8)));

/* xent: the softmax cross-entropy of a block's logits z (K × 16) against label[v] for the
 * first nvalid lanes, lanes side by side: loss[v] = log Σ_o e^{z_o} − z_label (the sum in
 * float64), and the gradient of the batch's mean loss, dz = (softmax(z) − onehot)·inv_batch,
 * its label entry in float64 (no cancellation); 0 on the other lanes. argmax[v] is the first
 * largest logit. Returns Σ_v loss[v]. */
static double SFX(xent)(const float *z, float *dz, int K, int nvalid, const int *label, double inv_batch,
                        double *loss, int *argmax)
{
	double total = 0;
	for (int g = 0; g < LANES; g += VW) {
		VT mx = LOAD(z + g);
		VI am = (VI){};
		for (int o = 1; o < K; o++) {
			const VT v = LOAD(z + (long)o * LANES + g);
			const VI gt = v > mx;
			mx = SFX(vmax)(v, mx);
			am = (am & ~gt) | (((VI){} + o) & gt);
		}
		SFX(vd) s = (SFX(vd)){};
		for (int o = 0; o < K; o++) {
			const VT e = SFX(vexp)(LOAD(z + (long)o * LANES + g) - mx);
			STORE(dz + (long)o * LANES + g, e);
			s += __builtin_convertvector(e, SFX(vd));
		}
		VT f;
		VI valid;
		for (int j = 0; j < VW; j++) {
			const int v = g + j;
			valid[j] = -(v < nvalid);
			f[j] = 0;
			if (v >= nvalid) continue;
			loss[v] = (double)mx[j] + log(s[j]) - z[(long)label[v] * LANES + v];
			total += loss[v];
			f[j] = (float)(inv_batch / s[j]);
			argmax[v] = am[j];
		}
		for (int o = 0; o < K; o++) {
			float *d = dz + (long)o * LANES + g;
			STORE(d, SFX(vsel)(valid, LOAD(d) * f));
		}
		for (int j = 0; j < VW && g + j < nvalid; j++) {
			const long y = (long)label[g + j] * LANES + g + j;
			dz[y] = (float)((exp((double)z[y] - mx[j]) / s[j] - 1) * inv_batch);
		}
	}
	return total;
}

/* ---- Adam ----------------------------------------------------------------------------------
 * The gradient is g[0] + g[1] + … (the workers' sums, in this order, into g[0]) + l2·w; then
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← shrink·w − step·m / (√v·rc2 + ε) with
 * shrink = 1 − lr·decay (decoupled weight decay), except where fix is set (frozen or masked
 * weights keep their value, bit for bit). Chunks of 2048 keep the sum in L1 for the update.
 * (An explicit vector loop: cgo refuses -fno-math-errno, without which GCC does not vectorise
 * sqrtf.) */
static void SFX(adam)(long n, float *w, float *const *g, int ng, float *m, float *v, const unsigned char *fix,
                      float step, float rc2, float l2, float shrink)
{
	const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
	float *g0 = g[0];
	for (long lo = 0; lo < n; lo += 2048) {
		const long hi = lo + 2048 < n ? lo + 2048 : n;
		for (int k = 1; k < ng; k++) {
			const float *gk = g[k];
			for (long i = lo; i < hi; i++) g0[i] += gk[i];
		}
		long i = lo;
		for (; i + VW <= hi; i += VW) {
			VI fixed;
#pragma GCC unroll 16
			for (int j = 0; j < VW; j++) fixed[j] = -(fix[i + j] != 0);
			const VT wv = LOADU(w + i), mv = LOADU(m + i), vv = LOADU(v + i);
			const VT gi = LOADU(g0 + i) + l2 * wv;
			const VT mi = b1 * mv + (1 - b1) * gi;
			const VT vi = b2 * vv + (1 - b2) * gi * gi;
			const VT wi = shrink * wv - step * mi / (VSQRT(vi) * rc2 + eps);
			STOREU(m + i, (VT)(((VI)mv & fixed) | ((VI)mi & ~fixed)));
			STOREU(v + i, (VT)(((VI)vv & fixed) | ((VI)vi & ~fixed)));
			STOREU(w + i, (VT)(((VI)wv & fixed) | ((VI)wi & ~fixed)));
		}
		for (; i < hi; i++) {
			if (fix[i]) continue;
			const float gi = g0[i] + l2 * w[i];
			m[i] = b1 * m[i] + (1 - b1) * gi;
			v[i] = b2 * v[i] + (1 - b2) * gi * gi;
			w[i] = shrink * w[i] - step * m[i] / (__builtin_sqrtf(v[i]) * rc2 + eps);
		}
	}
}

static const isa_ops SFX(ops) = {
	SFX(choose_tile), SFX(wgrad_tile), SFX(fwd), SFX(conv), SFX(conv_back), SFX(wgrad),
	SFX(maxpool), SFX(maxpool_back), SFX(dense_wgrad), SFX(adam), SFX(conv_pool), SFX(conv_pool_back), SFX(xent),
};

#undef CODE_OFF
#undef FWD_TILES
#undef WG_TILES
#undef WG_MAX_K
#undef WG_MAX_O
#undef DNV
#undef DMR
#undef VT
#undef VI
#undef VTU
#undef LOAD
#undef STORE
#undef LOADU
#undef STOREU
#undef AI
