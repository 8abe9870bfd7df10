/* kernels.cu — every CUDA kernel of goodnet, readable top to bottom.
 *
 * Conventions (those of nn/ and Keras): float32 throughout, activations NHWC row-major, a
 * Conv2D kernel is (kh, kw, cin, cout), a Dense kernel (in, out). Softmax is never applied:
 * the output layer's values are logits, and predictions are their argmax.
 *
 * Each kernel's per-element arithmetic lives in a __host__ __device__ function (prefix gn_).
 * The __global__ kernels (prefix k_, extern "C" so that cuda/ finds them by name) only map
 * threads to elements and stage data through shared memory. The file is therefore also valid
 * C++: cuda/hostcheck compiles it with g++ (with __host__ and __device__ defined away) and runs
 * the same gn_ functions over whole tensors, so that CI checks the arithmetic without a GPU;
 * it also runs the kernels themselves on CPU threads (emulate.cc), for the tile, warp and
 * block logic. Everything that only the GPU can run is inside #ifdef __CUDACC__.
 *
 * `go generate ./cuda` (cuda/internal/cuda2go) reads this file: the extern "C" kernel
 * signatures become the typed argument builders and the name table of package cuda (and the
 * emulator's dispatch), the #define GN_<NAME> <integer> lines below become Go constants. So
 * a kernel's parameters and the launch geometry are written here once. Parameter types are
 * limited to float/int/double pointers (const or not), int and i64.
 *
 * Sums use fmaf in a fixed order (k ascending), so a dot product is bit-identical on the host
 * and on the device whatever the tiling.
 *
 * Contents:
 *   1. element-wise: relu, activation, add, merge (GoodNet)
 *   2. conv2d and dense as one tiled GEMM (conv: implicit im2col gather), + bias + activation
 *   3. max pooling (valid/same)
 *   4. argmax per row (first index on ties, as numpy)
 *   5. channel sums in float64 (the activation statistics of the pruning defense)
 */

typedef long long i64;

/* ---------------------------------------------------------------- launch geometry */

/* Shared with the launchers of package cuda (generated constants): */
#define GN_STRIDE_THREADS 256 /* threads per block of a grid-stride loop */
#define GN_BM 64              /* GEMM tile: GN_BM rows (output pixels or samples) ... */
#define GN_BN 32              /* ... × GN_BN output channels per block ... */
#define GN_BK 16              /* ... advancing GN_BK of the K dimension at a time */
#define GN_GEMM_THREADS 256   /* 16 × 16 threads per GEMM block, each 4 rows × 2 columns */
#define GN_ARGMAX_ROWS 8      /* argmax: one warp per row, GN_ARGMAX_ROWS rows per block */
#define GN_SUM_ROWS 1024      /* channel sums: rows per block ... */
#define GN_SUM_COLS 32        /* ... × GN_SUM_COLS channels, ... */
#define GN_SUM_LANES 8        /* ... GN_SUM_LANES lanes per channel (block GN_SUM_COLS × GN_SUM_LANES) */

static_assert(GN_BM == 4 * 16 && GN_BN == 2 * 16 && GN_GEMM_THREADS == 16 * 16, "the GEMM's thread layout");
static_assert(GN_BK == 16, "a GEMM thread loads A[ty + 16r][k0 + tx]: GN_BK is the 16 of tx");
static_assert(GN_ARGMAX_ROWS * 32 <= 1024 && GN_SUM_COLS * GN_SUM_LANES <= 1024, "block sizes");

/* ---------------------------------------------------------------- 1. element-wise */

__host__ __device__ inline float gn_relu(float v) { return v < 0.0f ? 0.0f : v; }

/* relu != 0: ReLU; else linear (also softmax: logits are kept). */
__host__ __device__ inline float gn_activate(float v, int relu) { return relu ? gn_relu(v) : v; }

__host__ __device__ inline float gn_add(float a, float b) { return a + b; }

/* GoodNet G(B, B'): B's class when B and B' agree, else flag (class N, the "N+1-th" class). */
__host__ __device__ inline int gn_merge(int b, int bprime, int flag) { return b == bprime ? b : flag; }

/* ---------------------------------------------------------------- 2. conv2d and dense */

/* out[m][o] = act(bias[o] + Σ_k A[m][k] · w[k][o]): a dense layer with A = x (M samples × K
 * inputs), or a convolution with M = samples × OH × OW output pixels, K = KH × KW × C and
 * A[m][k] the input value under kernel tap k of pixel m (zero outside the input: "same"
 * padding). Keras's conv kernel (kh, kw, cin, cout) is exactly w[k][o] with
 * k = (di·KW + dj)·C + c. */
struct gn_conv {
	int H, W, C;      /* input */
	int OH, OW, O;    /* output */
	int KH, KW, SH, SW;
	int PT, PL;       /* zero padding before the first row and column */
};

/* Where output pixel m reads: its sample's input, and the input position of tap (0, 0). */
struct gn_conv_row {
	i64 base;         /* index of the sample's first input value */
	int y0, x0;
};

__host__ __device__ inline gn_conv_row gn_conv_row_of(const gn_conv &s, i64 m) {
	gn_conv_row r;
	int j = (int)(m % s.OW);
	i64 t = m / s.OW;
	int i = (int)(t % s.OH);
	i64 b = t / s.OH;
	r.base = b * s.H * s.W * s.C;
	r.y0 = i * s.SH - s.PT;
	r.x0 = j * s.SW - s.PL;
	return r;
}

/* A[m][k] of a convolution, given m's row. */
__host__ __device__ inline float gn_conv_gather(const float *x, const gn_conv &s, const gn_conv_row &r, int k) {
	int c = k % s.C;
	int t = k / s.C;
	int dj = t % s.KW;
	int di = t / s.KW;
	int y = r.y0 + di, xx = r.x0 + dj;
	if (y < 0 || y >= s.H || xx < 0 || xx >= s.W)
		return 0.0f;
	return x[r.base + ((i64)y * s.W + xx) * s.C + c];
}

/* One multiply-add of the dot product (the only way sums are formed). */
__host__ __device__ inline float gn_madd(float a, float w, float acc) { return fmaf(a, w, acc); }

/* The epilogue: bias (b may be null: use_bias false), then the activation. */
__host__ __device__ inline float gn_epilogue(float acc, const float *b, int o, int relu) {
	if (b)
		acc += b[o];
	return gn_activate(acc, relu);
}

/* out[m][o] of a convolution, computed alone (the host's loop; the GPU's tiles give the same
 * bits). */
__host__ __device__ inline float gn_conv_at(const float *x, const float *w, const float *b, const gn_conv &s, i64 m, int o, int relu) {
	gn_conv_row r = gn_conv_row_of(s, m);
	int K = s.KH * s.KW * s.C;
	float acc = 0.0f;
	for (int k = 0; k < K; k++)
		acc = gn_madd(gn_conv_gather(x, s, r, k), w[(i64)k * s.O + o], acc);
	return gn_epilogue(acc, b, o, relu);
}

/* out[m][o] of a dense layer. */
__host__ __device__ inline float gn_dense_at(const float *x, const float *w, const float *b, int K, int O, i64 m, int o, int relu) {
	float acc = 0.0f;
	for (int k = 0; k < K; k++)
		acc = gn_madd(x[m * K + k], w[(i64)k * O + o], acc);
	return gn_epilogue(acc, b, o, relu);
}

/* ---------------------------------------------------------------- 3. max pooling */

/* The largest value of each window; window positions outside the input are ignored ("same"
 * padding), a NaN in the window gives NaN (as math.Max). */
struct gn_pool {
	int H, W, C;
	int OH, OW;
	int KH, KW, SH, SW;
	int PT, PL;
};

__host__ __device__ inline float gn_maxpool_at(const float *x, const gn_pool &s, i64 idx) {
	int c = (int)(idx % s.C);
	i64 t = idx / s.C;
	int j = (int)(t % s.OW);
	t /= s.OW;
	int i = (int)(t % s.OH);
	i64 b = t / s.OH;
	float best = -INFINITY;
	for (int di = 0; di < s.KH; di++) {
		int y = i * s.SH + di - s.PT;
		if (y < 0 || y >= s.H)
			continue;
		for (int dj = 0; dj < s.KW; dj++) {
			int xx = j * s.SW + dj - s.PL;
			if (xx < 0 || xx >= s.W)
				continue;
			float v = x[((b * s.H + y) * s.W + xx) * s.C + c];
			if (v > best || v != v)
				best = v;
			if (best != best)
				return best;
		}
	}
	return best;
}

/* ---------------------------------------------------------------- 4. argmax */

/* Whether (v, i) beats the current best (bv, bi): larger, or equal with a smaller index; NaN
 * never wins. A total preorder, so any reduction order gives the same winner. With one more
 * rule — a row whose first value is NaN gives 0 — the result is nn.Argmax's (a sequential
 * scan keeping the first maximum). */
__host__ __device__ inline bool gn_argmax_better(float v, int i, float bv, int bi) {
	if (v != v)
		return false;
	if (bv != bv)
		return true;
	return v > bv || (v == bv && i < bi);
}

__host__ __device__ inline int gn_argmax_final(const float *row, int best) {
	return row[0] != row[0] ? 0 : best;
}

/* ---------------------------------------------------------------- 5. channel sums */

/* A layer output seen as rows × C (rows = samples × height × width). The GPU sums it in
 * blocks of GN_SUM_ROWS rows; inside a block GN_SUM_LANES lanes per channel take every
 * GN_SUM_LANES-th row. Every partial sum is float64, so 12k images × 20 positions lose
 * nothing that float32 would show. */

/* Σ x[r][c] over r = r0 + lane, r0 + lane + GN_SUM_LANES, … < r1, in float64. */
__host__ __device__ inline double gn_channel_lane_sum(const float *x, int C, int c, i64 r0, i64 r1, int lane) {
	double s = 0.0;
	for (i64 r = r0 + lane; r < r1; r += GN_SUM_LANES)
		s += (double)x[r * C + c];
	return s;
}

/* ================================================================ the GPU kernels */
#ifdef __CUDACC__

/* Grid-stride loop over n elements. */
#define GN_FOR(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

extern "C" __global__ void k_relu(float *out, const float *x, i64 n) {
	GN_FOR(i, n) out[i] = gn_relu(x[i]);
}

extern "C" __global__ void k_add(float *out, const float *a, const float *b, i64 n) {
	GN_FOR(i, n) out[i] = gn_add(a[i], b[i]);
}

extern "C" __global__ void k_merge(int *out, const int *b, const int *bprime, i64 n, int flag) {
	GN_FOR(i, n) out[i] = gn_merge(b[i], bprime[i], flag);
}

/* The tiled GEMM of section 2: a block computes a GN_BM × GN_BN tile of out with 16 × 16
 * threads, each 4 rows × 2 columns; k advances GN_BK at a time through shared memory. Thread
 * (ty, tx) loads A[ty + 16r][k0 + tx] — the rows it also computes — and so resolves the
 * convolution's pixel geometry once. */

template <bool CONV>
__device__ void gn_gemm(float *__restrict__ out, const float *__restrict__ x, const float *__restrict__ w,
                        const float *__restrict__ b, const gn_conv s, i64 M, int K, int O, int relu) {
	__shared__ float As[GN_BK][GN_BM + 1];
	__shared__ float Bs[GN_BK][GN_BN];
	const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	const i64 m0 = (i64)blockIdx.x * GN_BM;
	const int n0 = blockIdx.y * GN_BN;

	gn_conv_row rows[4];
	bool live[4];
	for (int r = 0; r < 4; r++) {
		i64 m = m0 + ty + 16 * r;
		live[r] = m < M;
		if (CONV && live[r])
			rows[r] = gn_conv_row_of(s, m);
	}
	float acc[4][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};

	for (int k0 = 0; k0 < K; k0 += GN_BK) {
		int k = k0 + tx;
		for (int r = 0; r < 4; r++) {
			float a = 0.0f;
			if (live[r] && k < K)
				a = CONV ? gn_conv_gather(x, s, rows[r], k) : x[(m0 + ty + 16 * r) * K + k];
			As[tx][ty + 16 * r] = a;
		}
		for (int e = threadIdx.x; e < GN_BK * GN_BN; e += GN_GEMM_THREADS) {
			int kk = e / GN_BN, n = e % GN_BN;
			Bs[kk][n] = (k0 + kk < K && n0 + n < O) ? w[(i64)(k0 + kk) * O + n0 + n] : 0.0f;
		}
		__syncthreads();
		for (int kk = 0; kk < GN_BK; kk++) {
			float bv0 = Bs[kk][tx], bv1 = Bs[kk][tx + 16];
			for (int r = 0; r < 4; r++) {
				float a = As[kk][ty + 16 * r];
				acc[r][0] = gn_madd(a, bv0, acc[r][0]);
				acc[r][1] = gn_madd(a, bv1, acc[r][1]);
			}
		}
		__syncthreads();
	}
	for (int r = 0; r < 4; r++) {
		if (!live[r])
			continue;
		i64 m = m0 + ty + 16 * r;
		for (int j = 0; j < 2; j++) {
			int o = n0 + tx + 16 * j;
			if (o < O)
				out[m * O + o] = gn_epilogue(acc[r][j], b, o, relu);
		}
	}
}

/* Launch: grid (ceil(n·OH·OW / GN_BM), ceil(O / GN_BN)), GN_GEMM_THREADS threads. */
extern "C" __global__ void __launch_bounds__(GN_GEMM_THREADS)
k_conv2d(float *out, const float *x, const float *w, const float *b, i64 n,
         int H, int W, int C, int OH, int OW, int O, int KH, int KW, int SH, int SW, int PT, int PL, int relu) {
	gn_conv s = {H, W, C, OH, OW, O, KH, KW, SH, SW, PT, PL};
	gn_gemm<true>(out, x, w, b, s, n * OH * OW, KH * KW * C, O, relu);
}

/* Launch: grid (ceil(n / GN_BM), ceil(O / GN_BN)), GN_GEMM_THREADS threads. */
extern "C" __global__ void __launch_bounds__(GN_GEMM_THREADS)
k_dense(float *out, const float *x, const float *w, const float *b, i64 n, int K, int O, int relu) {
	gn_conv s = {0};
	gn_gemm<false>(out, x, w, b, s, n, K, O, relu);
}

extern "C" __global__ void k_maxpool(float *out, const float *x, i64 n,
                                     int H, int W, int C, int OH, int OW, int KH, int KW, int SH, int SW, int PT, int PL) {
	gn_pool s = {H, W, C, OH, OW, KH, KW, SH, SW, PT, PL};
	i64 total = n * OH * OW * C;
	GN_FOR(i, total) out[i] = gn_maxpool_at(x, s, i);
}

/* One warp per row of k values; GN_ARGMAX_ROWS rows per block of 32 · GN_ARGMAX_ROWS threads. */
extern "C" __global__ void k_argmax(int *out, const float *x, i64 rows, int k) {
	i64 row = (i64)blockIdx.x * GN_ARGMAX_ROWS + threadIdx.x / 32;
	int lane = threadIdx.x % 32;
	if (row >= rows)
		return;
	const float *v = x + row * k;
	float bv = NAN;
	int bi = k;
	for (int j = lane; j < k; j += 32)
		if (gn_argmax_better(v[j], j, bv, bi)) {
			bv = v[j];
			bi = j;
		}
	for (int off = 16; off > 0; off /= 2) {
		float ov = __shfl_down_sync(0xffffffffu, bv, off);
		int oi = __shfl_down_sync(0xffffffffu, bi, off);
		if (oi < k && gn_argmax_better(ov, oi, bv, bi)) {
			bv = ov;
			bi = oi;
		}
	}
	if (lane == 0)
		out[row] = gn_argmax_final(v, bi < k ? bi : 0);
}

/* Section 5, step 1: partial[blk][c] = Σ over the rows of block blk (GN_SUM_ROWS of them) of
 * x[r][c]. Launch: grid (ceil(rows / GN_SUM_ROWS), ceil(C / GN_SUM_COLS)), block (GN_SUM_COLS,
 * GN_SUM_LANES). */
extern "C" __global__ void k_channel_sum_partial(double *partial, const float *x, i64 rows, int C) {
	__shared__ double sh[GN_SUM_LANES][GN_SUM_COLS];
	int c = blockIdx.y * GN_SUM_COLS + threadIdx.x;
	i64 r0 = (i64)blockIdx.x * GN_SUM_ROWS;
	i64 r1 = r0 + GN_SUM_ROWS < rows ? r0 + GN_SUM_ROWS : rows;
	sh[threadIdx.y][threadIdx.x] = c < C ? gn_channel_lane_sum(x, C, c, r0, r1, threadIdx.y) : 0.0;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		double s = 0.0;
		for (int l = 0; l < GN_SUM_LANES; l++)
			s += sh[l][threadIdx.x];
		partial[(i64)blockIdx.x * C + c] = s;
	}
}

/* Step 2: acc[c] += Σ_blk partial[blk][c], blocks in order (deterministic). */
extern "C" __global__ void k_channel_sum_finish(double *acc, const double *partial, int blocks, int C) {
	GN_FOR(c, C) {
		double s = 0.0;
		for (int blk = 0; blk < blocks; blk++)
			s += partial[(i64)blk * C + c];
		acc[c] += s;
	}
}

#endif /* __CUDACC__ */
