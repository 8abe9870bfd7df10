// emulate.cc — the __global__ kernels of kernels.cu themselves, run on the CPU: the blocks of
// a launch one after the other, the threads of a block as OS threads, with a barrier for
// __syncthreads and a per-warp exchange for __shfl_down_sync. Slow, and only for tests: it
// checks the thread, tile and warp logic that hostcheck.cc's loops do not run.
#include <barrier>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

struct gn_dim3 {
	unsigned x, y, z;
};
static gn_dim3 gridDim, blockDim; // of the launch running
static thread_local gn_dim3 threadIdx, blockIdx;
static thread_local std::barrier<> *gn_block_barrier, *gn_warp_barrier;
static thread_local uint64_t *gn_warp_slots;
static thread_local int gn_lane;

static void __syncthreads() { gn_block_barrier->arrive_and_wait(); }

template <typename T> static T __shfl_down_sync(unsigned, T v, int delta) {
	uint64_t u = 0;
	memcpy(&u, &v, sizeof v);
	gn_warp_slots[gn_lane] = u;
	gn_warp_barrier->arrive_and_wait();
	T r = v;
	if (gn_lane + delta < 32) {
		uint64_t o = gn_warp_slots[gn_lane + delta];
		memcpy(&r, &o, sizeof r);
	}
	gn_warp_barrier->arrive_and_wait();
	return r;
}

#define __host__
#define __device__
#define __global__
#define __shared__ static /* blocks run one at a time */
#define __launch_bounds__(n)
#define __CUDACC__
#include "kernels_cu.h"
#undef __CUDACC__

/* A launch: one OS thread per thread of a block; together they run the blocks one after the
 * other, meeting at the block barrier after each (so every thread must pass the same
 * __syncthreads, as on the GPU). */
template <typename F> static void gn_run(int gx, int gy, int bx, int by, F body) {
	gridDim = {(unsigned)gx, (unsigned)gy, 1};
	blockDim = {(unsigned)bx, (unsigned)by, 1};
	int nt = bx * by, nw = (nt + 31) / 32;
	std::barrier<> block(nt);
	std::vector<std::unique_ptr<std::barrier<>>> warps;
	for (int w = 0; w < nw; w++)
		warps.emplace_back(new std::barrier<>(std::min(32, nt - 32 * w)));
	std::vector<uint64_t> slots(32 * nw);
	std::vector<std::thread> threads;
	for (int t = 0; t < nt; t++)
		threads.emplace_back([&, t] {
			threadIdx = {(unsigned)(t % bx), (unsigned)(t / bx), 0};
			gn_block_barrier = &block;
			gn_warp_barrier = warps[t / 32].get();
			gn_warp_slots = &slots[32 * (t / 32)];
			gn_lane = t % 32;
			for (int y = 0; y < gy; y++)
				for (int x = 0; x < gx; x++) {
					blockIdx = {(unsigned)x, (unsigned)y, 0};
					body();
					block.arrive_and_wait(); /* the block is done */
				}
		});
	for (auto &th : threads)
		th.join();
}

extern "C" {

#include "emulate.h"

void emu_relu(int gx, int gy, int bx, int by, float *out, const float *x, i64 n) {
	gn_run(gx, gy, bx, by, [=] { k_relu(out, x, n); });
}

void emu_add(int gx, int gy, int bx, int by, float *out, const float *a, const float *b, i64 n) {
	gn_run(gx, gy, bx, by, [=] { k_add(out, a, b, n); });
}

void emu_merge(int gx, int gy, int bx, int by, int *out, const int *b, const int *bprime, i64 n, int classes) {
	gn_run(gx, gy, bx, by, [=] { k_merge(out, b, bprime, n, classes); });
}

void emu_conv2d(int gx, int gy, int bx, int by, float *out, const float *x, const float *w, const float *b, i64 n,
                int H, int W, int C, int OH, int OW, int O, int KH, int KW, int SH, int SW, int PT, int PL, int relu) {
	gn_run(gx, gy, bx, by, [=] { k_conv2d(out, x, w, b, n, H, W, C, OH, OW, O, KH, KW, SH, SW, PT, PL, relu); });
}

void emu_dense(int gx, int gy, int bx, int by, float *out, const float *x, const float *w, const float *b, i64 n,
               int K, int O, int relu) {
	gn_run(gx, gy, bx, by, [=] { k_dense(out, x, w, b, n, K, O, relu); });
}

void emu_maxpool(int gx, int gy, int bx, int by, float *out, const float *x, i64 n, int H, int W, int C, int OH,
                 int OW, int KH, int KW, int SH, int SW, int PT, int PL) {
	gn_run(gx, gy, bx, by, [=] { k_maxpool(out, x, n, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL); });
}

void emu_argmax(int gx, int gy, int bx, int by, int *out, const float *x, i64 rows, int k) {
	gn_run(gx, gy, bx, by, [=] { k_argmax(out, x, rows, k); });
}

void emu_channel_sum_partial(int gx, int gy, int bx, int by, double *partial, const float *x, i64 rows, int C) {
	gn_run(gx, gy, bx, by, [=] { k_channel_sum_partial(partial, x, rows, C); });
}

void emu_channel_sum_finish(int gx, int gy, int bx, int by, double *acc, const double *partial, int blocks, int C) {
	gn_run(gx, gy, bx, by, [=] { k_channel_sum_finish(acc, partial, blocks, C); });
}

void emu_zero_channels(int gx, int gy, int bx, int by, float *w, float *b, i64 taps, int O, const int *chans, int nch) {
	gn_run(gx, gy, bx, by, [=] { k_zero_channels(w, b, taps, O, chans, nch); });
}

} /* extern "C" */
