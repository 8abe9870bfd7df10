/* kernels.h — every inner loop of the CPU engine, in one place.
 *
 * engine.c includes this file once per instruction set, after defining
 *   ISA_SFX  the suffix of every name (portable, avx2, avx512),
 *   VW       floats per vector (4, 8, 16): a block's 16 lanes are LANES/VW vectors,
 *   REGS     vector registers (16 or 32), which bounds the micro-kernel tiles,
 * and (for avx2/avx512) a target pragma, so the same C becomes SSE/NEON, AVX2+FMA or AVX-512
 * code through GCC's vector extensions. The layout is described in engine.h. */

#define SFX(name) CAT(name, ISA_SFX)
#define VT SFX(vt)
#define VI SFX(vi)
typedef float VT __attribute__((vector_size(VW * 4)));
typedef int VI __attribute__((vector_size(VW * 4)));
typedef float SFX(vtu) __attribute__((vector_size(VW * 4), aligned(4))); /* unaligned */

#define LOAD(p) (*(const VT *)(p))
#define STORE(p, v) (*(VT *)(p) = (v))

static inline __attribute__((always_inline)) VT SFX(vrelu)(VT v) { return (VT)((VI)v & (v > 0)); }
static inline __attribute__((always_inline)) VT SFX(vmax)(VT a, VT b) {
	VI m = a > b;
	return (VT)(((VI)a & m) | ((VI)b & ~m));
}

/* ---- the micro-kernel ------------------------------------------------------------------
 * For each tile of NP consecutive pixels, each panel of NO output channels (the last tile
 * and the last panel are shifted back to end at npix and nout, so a few outputs are computed
 * twice, with the same result) and each group of VW lanes:
 *   acc[p][o] = bias[o] + Σ_{di<kh} Σ_{q<kwc} in[p*pstride + di*rowstride + q*LANES] · w[di,q][o]
 * NP×NO vector accumulators stay in registers; per step NP vector loads, NO broadcasts, NP·NO
 * FMAs. A conv row is kh kernel rows of KW*C contiguous input vectors; a dense layer is one
 * "row" of K. Pixel tiles are the outer loop so that a tile's inputs stay in L1 while every
 * panel of weights passes over them. NP and NO are constants after inlining: the loops unroll
 * completely. */
static inline __attribute__((always_inline)) void SFX(tile_impl)(const tile_args *a, const int NP, const int NO)
{
	const long ps = a->pstride, os = a->ostride, rs = a->rowstride, kk = (long)a->kh * a->kwc;
	const int kh = a->kh, kwc = a->kwc, npix = a->npix, nout = a->nout, relu = a->relu;
	for (int jt = 0; jt < npix; jt += NP) {
		const int j = jt + NP <= npix ? jt : npix - NP;
		for (int ot = 0, t = 0; ot < nout; ot += NO, t++) {
			const int o0 = ot + NO <= nout ? ot : nout - NO;
			const float *in = a->in + j * ps;
			float *out = a->out + j * os + o0 * LANES;
			const float *bias = a->bias + t * NO;
			for (int g = 0; g < LANES; g += VW) {
				VT acc[8][8];
#pragma GCC unroll 8
				for (int p = 0; p < NP; p++)
#pragma GCC unroll 8
					for (int o = 0; o < NO; o++) acc[p][o] = (VT){} + bias[o];
				const float *w = a->w + t * kk * NO;
				for (int di = 0; di < kh; di++) {
					const float *x = in + di * rs + g;
					for (int q = 0; q < kwc; q++, x += LANES, w += NO) {
						VT xv[8];
#pragma GCC unroll 8
						for (int p = 0; p < NP; p++) xv[p] = LOAD(x + p * ps);
#pragma GCC unroll 8
						for (int o = 0; o < NO; o++) {
							const float s = w[o];
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
}

typedef void (*SFX(tile_fn))(const tile_args *);
#define TILE(np, no) \
	static void SFX(tile_##np##_##no)(const tile_args *a) { SFX(tile_impl)(a, np, no); }
#define TILE_ENTRY(np, no) [np][no] = SFX(tile_##np##_##no),

/* The tiles compiled: NP·NO accumulators + NP inputs + 1 broadcast fit the registers, and for
 * each NO every NP from 1 up (a dense layer's short last chunk uses a smaller NP). */
#if REGS >= 32
#define TILES(X) \
	X(1,1) X(2,1) X(3,1) X(4,1) X(5,1) X(6,1) X(7,1) X(8,1) \
	X(1,2) X(2,2) X(3,2) X(4,2) X(5,2) X(6,2) X(7,2) X(8,2) \
	X(1,3) X(2,3) X(3,3) X(4,3) X(5,3) X(6,3) X(7,3) \
	X(1,4) X(2,4) X(3,4) X(4,4) X(5,4) X(6,4) \
	X(1,5) X(2,5) X(3,5) X(4,5) X(5,5) \
	X(1,6) X(2,6) X(3,6) X(4,6) \
	X(1,7) X(2,7) X(3,7) \
	X(1,8) X(2,8) X(3,8)
#else
#define TILES(X) \
	X(1,1) X(2,1) X(3,1) X(4,1) X(5,1) X(6,1) X(7,1) \
	X(1,2) X(2,2) X(3,2) X(4,2) X(5,2) \
	X(1,3) X(2,3) X(3,3) \
	X(1,4) X(2,4) X(3,4) \
	X(1,5) X(2,5) \
	X(1,6) X(2,6) \
	X(1,7) \
	X(1,8)
#endif
TILES(TILE)
static const SFX(tile_fn) SFX(tiles)[9][9] = {TILES(TILE_ENTRY)};

/* choose_tile picks the tile (np ≤ npix, no ≤ nout) with the fewest estimated cycles:
 * per step max(FMAs/2, loads, FMA latency 4), plus stores and call overhead per tile,
 * counting the pixels and channels that the shifted last tiles compute twice. Loads are the
 * np input vectors (half a cycle each while a tile's inputs stay in L1, a whole one when they
 * come from L2: every panel of weights passes over them again) and the no broadcasts (half a
 * cycle each). A tile of np pixels reads kh rows of (np−1)·sw + kw pixels of c channels. */
static void SFX(choose_tile)(int npix, int nout, long kk, int kh, int kw, int sw, int c, int *bnp, int *bno)
{
	double best = -1;
	*bnp = *bno = 1;
	for (int no = 1; no <= 8 && no <= nout; no++)
		for (int np = 1; np <= 8 && np <= npix; np++) {
			if (!SFX(tiles)[np][no]) continue;
			const double bytes = (double)kh * ((np - 1) * sw + kw) * c * LANES * 4;
			const double load = bytes <= 32 * 1024 ? 0.5 : 1.0;
			double step = np * no / 2.0;
			if (np * load + no * 0.5 > step) step = np * load + no * 0.5;
			if (step < 4) step = 4;
			double tiles = (double)((npix + np - 1) / np) * ((nout + no - 1) / no) * (LANES / VW);
			double cost = tiles * (kk * step + np * no + 12);
			if (best < 0 || cost < best) best = cost, *bnp = np, *bno = no;
		}
}

/* ---- convolution ------------------------------------------------------------------------ */

/* conv_row computes output row r of a block ([OW][O][LANES]) from the padded input. The
 * weights are panels of c->no channels ([KH*KW*C][no] each; the last panel starts at O-no). */
static void SFX(conv_row)(const conv_p *c, const float *in, const float *wp, const float *bp, float *out, int r)
{
	const tile_args a = {
		.in = in + (long)r * c->SH * c->W * c->C * LANES,
		.pstride = (long)c->SW * c->C * LANES,
		.rowstride = (long)c->W * c->C * LANES,
		.kh = c->KH, .kwc = c->KW * c->C, .npix = c->OW, .nout = c->O,
		.w = wp, .bias = bp, .out = out,
		.ostride = (long)c->O * LANES, .relu = c->relu,
	};
	SFX(tiles)[c->np][c->no](&a);
}

static void SFX(conv)(const conv_p *c, const float *in, const float *wp, const float *bp, float *out)
{
	const long row = (long)c->OW * c->O * LANES;
	for (int r = 0; r < c->OH; r++) SFX(conv_row)(c, in, wp, bp, out + r * row, r);
}

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

/* conv_pool is a convolution followed by a max pool, without the convolution's output:
 * conv rows are computed into `rows` (PH slots of OW*O*LANES floats, reused while a row
 * belongs to the next window too) and pooled at once, while they are in cache. */
static void SFX(conv_pool)(const conv_p *c, const pool_p *p, const float *in, const float *wp,
                           const float *bp, float *rows, float *out)
{
	const long rl = (long)c->OW * c->O * LANES, rout = (long)p->OW * p->C * LANES;
	int tag[p->PH];
	for (int s = 0; s < p->PH; s++) tag[s] = -1;
	for (int i = 0; i < p->OH; i++) {
		int r0 = i * p->SH - p->PT, r1 = r0 + p->PH;
		if (r0 < 0) r0 = 0;
		if (r1 > c->OH) r1 = c->OH;
		for (int r = r0; r < r1; r++) {
			float *row = rows + (r % p->PH) * rl;
			if (tag[r % p->PH] != r) {
				SFX(conv_row)(c, in, wp, bp, row, r);
				tag[r % p->PH] = r;
			}
			SFX(pool_row)(p, row, out + i * rout, r == r0);
		}
	}
}

/* avgpool: the sum over each window's clipped positions times 1/count (count: the clipped
 * window, or the whole window with count_pad). */
static void SFX(avgpool)(const pool_p *p, int count_pad, const float *in, float *out)
{
	const long cl = (long)p->C * LANES;
	for (int i = 0; i < p->OH; i++) {
		int r0 = i * p->SH - p->PT, r1 = r0 + p->PH;
		if (r0 < 0) r0 = 0;
		if (r1 > p->H) r1 = p->H;
		for (int j = 0; j < p->OW; j++) {
			int c0 = j * p->SW - p->PL, c1 = c0 + p->PW;
			if (c0 < 0) c0 = 0;
			if (c1 > p->W) c1 = p->W;
			const float inv = 1.0f / (float)(count_pad ? p->PH * p->PW : (r1 - r0) * (c1 - c0));
			float *o = out + ((long)i * p->OW + j) * cl;
			for (long e = 0; e < cl; e += VW) {
				VT s = (VT){};
				for (int r = r0; r < r1; r++)
					for (int x = c0; x < c1; x++) s += LOAD(in + ((long)r * p->W + x) * cl + e);
				STORE(o + e, s * inv);
			}
		}
	}
}

/* gap: each channel's mean over npos positions (4 partial sums per vector, for accuracy). */
static void SFX(gap)(long npos, int C, const float *in, float *out)
{
	const long cl = (long)C * LANES;
	const float inv = 1.0f / (float)npos;
	for (long e = 0; e < cl; e += VW) {
		VT s[4] = {(VT){}, (VT){}, (VT){}, (VT){}};
		long q = 0;
		for (; q + 4 <= npos; q += 4)
			for (int k = 0; k < 4; k++) s[k] += LOAD(in + (q + k) * cl + e);
		for (; q < npos; q++) s[0] += LOAD(in + q * cl + e);
		STORE(out + e, ((s[0] + s[1]) + (s[2] + s[3])) * inv);
	}
}

/* ---- element-wise steps ------------------------------------------------------------------
 * out = act((a [+ b]) · scale[c] + shift[c]); the flags are constants after inlining. */
static inline __attribute__((always_inline)) void SFX(elt_impl)(const elt_p *p, const float *a, const float *b,
                                                                const float *scale, const float *shift, float *out,
                                                                const int two, const int affine, const int act)
{
	const int C = p->C;
	const VT alpha = (VT){} + p->alpha;
	for (long q = 0; q < p->npos; q++) {
		const long base = q * C * LANES;
		for (int c = 0; c < C; c++) {
			const float s = affine ? scale[c] : 1, t = affine ? shift[c] : 0;
#pragma GCC unroll 4
			for (int g = 0; g < LANES; g += VW) {
				const long i = base + (long)c * LANES + g;
				VT v = LOAD(a + i);
				if (two) v += LOAD(b + i);
				if (affine) v = v * s + t;
				if (act == ACT_RELU) v = SFX(vrelu)(v);
				if (act == ACT_LEAKY) {
					VI m = v > 0;
					v = (VT)(((VI)v & m) | ((VI)(v * alpha) & ~m));
				}
				STORE(out + i, v);
			}
		}
	}
}

#define ELT(two, affine, act) \
	static void SFX(elt_##two##affine##act)(const elt_p *p, const float *a, const float *b, const float *scale, \
	                                        const float *shift, float *out) \
	{ SFX(elt_impl)(p, a, b, scale, shift, out, two, affine, act); }
ELT(0, 0, 0) ELT(0, 0, 1) ELT(0, 0, 2) ELT(0, 1, 0) ELT(0, 1, 1) ELT(0, 1, 2)
ELT(1, 0, 0) ELT(1, 0, 1) ELT(1, 0, 2) ELT(1, 1, 0) ELT(1, 1, 1) ELT(1, 1, 2)
#undef ELT

static void SFX(eltwise)(const elt_p *p, const float *a, const float *b, const float *scale, const float *shift,
                         float *out)
{
	typedef void (*fn)(const elt_p *, const float *, const float *, const float *, const float *, float *);
	static const fn fns[2][2][3] = {
		{{SFX(elt_000), SFX(elt_001), SFX(elt_002)}, {SFX(elt_010), SFX(elt_011), SFX(elt_012)}},
		{{SFX(elt_100), SFX(elt_101), SFX(elt_102)}, {SFX(elt_110), SFX(elt_111), SFX(elt_112)}},
	};
	fns[b != 0][scale != 0][p->act](p, a, b, scale, shift, out);
}

/* ---- dense ------------------------------------------------------------------------------
 * nb blocks of k inputs (istride floats apart) → o outputs (ostride apart): the micro-kernel
 * with blocks as pixels. */
static void SFX(dense)(int nb, int k, int o, int np, int no, const float *in, long istride, const float *wp,
                       const float *bp, float *out, long ostride, int relu)
{
	const tile_args a = {
		.in = in, .pstride = istride, .rowstride = 0, .kh = 1, .kwc = k, .npix = nb, .nout = o,
		.w = wp, .bias = bp, .out = out, .ostride = ostride, .relu = relu,
	};
	SFX(tiles)[np > nb ? nb : np][no](&a);
}

/* ---- element-wise (n is a multiple of LANES) ---------------------------------------------- */
static void SFX(add)(float *dst, const float *a, const float *b, long n)
{
	for (long i = 0; i < n; i += VW) STORE(dst + i, LOAD(a + i) + LOAD(b + i));
}

static void SFX(relu)(float *dst, const float *src, long n)
{
	for (long i = 0; i < n; i += VW) STORE(dst + i, SFX(vrelu)(LOAD(src + i)));
}

/* ---- GEMM ----------------------------------------------------------------------------------
 * B is packed in GEMM_KC×GEMM_NC blocks of GNR-column panels; A is read in place (GMR rows at
 * a time: one broadcast per row and step, sequential along each row; packing A cost more than
 * it saved for the skinny products of the pruning sweep). A GMR × GNR tile of C stays in
 * registers. */
#define GNV 2
#define GNR (GNV * VW)
#define GMR (REGS >= 32 ? 12 : 6)

/* gemm_micro: C[mr×nr] (+)= A[mr×kc] (rows lda apart) · Bp[kc×GNR]. Rows past mr read row
 * mr-1 again and are not stored. */
static void SFX(gemm_micro)(long kc, const float *a, long lda, const float *bp, float *c, long ldc, int beta, int mr,
                            int nr)
{
	VT acc[GMR][GNV];
	const float *ar[GMR];
#pragma GCC unroll 16
	for (int i = 0; i < GMR; i++) {
		ar[i] = a + (i < mr ? i : mr - 1) * lda;
#pragma GCC unroll 4
		for (int v = 0; v < GNV; v++) acc[i][v] = (VT){};
	}
	for (long p = 0; p < kc; p++, bp += GNR) {
		VT b[GNV];
#pragma GCC unroll 4
		for (int v = 0; v < GNV; v++) b[v] = LOAD(bp + v * VW);
#pragma GCC unroll 16
		for (int i = 0; i < GMR; i++) {
			const float s = ar[i][p];
#pragma GCC unroll 4
			for (int v = 0; v < GNV; v++) acc[i][v] += b[v] * s;
		}
	}
	if (mr == GMR && nr == GNR) {
#pragma GCC unroll 16
		for (int i = 0; i < GMR; i++)
#pragma GCC unroll 4
			for (int v = 0; v < GNV; v++) {
				SFX(vtu) *q = (SFX(vtu) *)(c + i * ldc + v * VW);
				*q = beta ? *q + acc[i][v] : acc[i][v];
			}
		return;
	}
	float t[GMR * GNR] __attribute__((aligned(64)));
#pragma GCC unroll 16
	for (int i = 0; i < GMR; i++)
#pragma GCC unroll 4
		for (int v = 0; v < GNV; v++) STORE(t + i * GNR + v * VW, acc[i][v]);
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++) c[i * ldc + j] = beta ? c[i * ldc + j] + t[i * GNR + j] : t[i * GNR + j];
}

static void SFX(gemm)(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                      float *c, long ldc, int acc, float *pb)
{
	for (long jc = 0; jc < n; jc += GEMM_NC) {
		const long nc = n - jc < GEMM_NC ? n - jc : GEMM_NC;
		for (long pc = 0; pc < k; pc += GEMM_KC) {
			const long kc = k - pc < GEMM_KC ? k - pc : GEMM_KC;
			const int beta = pc > 0 || acc;
			for (long jr = 0; jr < nc; jr += GNR) /* pack B */
				for (long p = 0; p < kc; p++) {
					const float *src = b + (pc + p) * ldb + jc + jr;
					float *dst = pb + jr * kc + p * GNR;
					for (long j = 0; j < GNR; j++) dst[j] = jr + j < nc ? src[j] : 0;
				}
			for (long ic = 0; ic < m; ic += GEMM_MC) {
				const long mc = m - ic < GEMM_MC ? m - ic : GEMM_MC;
				for (long jr = 0; jr < nc; jr += GNR)
					for (long ir = 0; ir < mc; ir += GMR)
						SFX(gemm_micro)(kc, a + (ic + ir) * lda + pc, lda, pb + jr * kc,
						                c + (ic + ir) * ldc + jc + jr, ldc, beta,
						                mc - ir < GMR ? (int)(mc - ir) : GMR, nc - jr < GNR ? (int)(nc - jr) : GNR);
			}
		}
	}
}

static const isa_ops SFX(ops) = {
	SFX(choose_tile), SFX(conv), SFX(conv_pool), SFX(maxpool), SFX(avgpool), SFX(gap), SFX(eltwise),
	SFX(dense), SFX(add), SFX(relu), SFX(gemm),
};

#undef TILES
#undef GNV
#undef GNR
#undef GMR
#undef VT
#undef VI
#undef LOAD
#undef STORE
