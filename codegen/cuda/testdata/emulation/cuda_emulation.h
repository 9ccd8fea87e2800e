// cuda_emulation.h runs the CUDA kernels that ssmc generates as ordinary
// C++ on the CPU, so that the tests of package codegen/cuda can check their
// numbers on machines without a GPU.
//
// What it emulates, and how:
//   - a launch runs the blocks of the grid one after another; the threads
//     of a block are real std::threads, created once per launch, that then
//     step through the blocks together;
//   - threadIdx, blockIdx, blockDim and gridDim are thread_local variables
//     set before each block;
//   - __syncthreads() waits on a std::barrier of all the block's threads;
//   - __shared__ variables are function-local statics: one copy, shared by
//     the threads of the block that is running (blocks never overlap);
//   - the warp shuffles (__shfl_sync, __shfl_up_sync, __shfl_down_sync,
//     __shfl_xor_sync) go through a per-warp exchange buffer: every lane
//     writes its value, waits on the warp's barrier, reads its source lane,
//     and waits again before the buffer can be reused;
//   - the bit casts and rsqrtf the kernels use.
//
// Kernels must reach every __syncthreads() and shuffle in all threads of
// the block (warp), as on a GPU; a kernel that does not hangs here, and
// the test harness reports the time-out.
#pragma once

#include <math.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

namespace emu {

constexpr int kWarpSize = 32;

// Warp is the exchange buffer and barrier of one warp's lanes.
struct Warp {
    explicit Warp(int lanes) : size(lanes), sync(lanes) {}
    int size;
    std::barrier<> sync;
    std::uint64_t slot[kWarpSize];
};

// Block is what the threads of the running block share.
struct Block {
    explicit Block(int threads) : sync(threads) {}
    std::barrier<> sync;
    std::vector<std::unique_ptr<Warp>> warps;
};

inline thread_local Block* current_block;
inline thread_local Warp* current_warp;
inline thread_local int current_lane;

// exchange publishes v as this lane's value and returns the value of lane
// src of the same warp (a lane outside the warp reads its own value).
template <typename T>
T exchange(T v, int src) {
    static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffled values are at most 8 bytes");
    Warp& w = *current_warp;
    std::memcpy(&w.slot[current_lane], &v, sizeof v);
    w.sync.arrive_and_wait();
    T out = v;
    if (src >= 0 && src < w.size) {
        std::memcpy(&out, &w.slot[src], sizeof out);
    }
    w.sync.arrive_and_wait();
    return out;
}

// launch runs body() once per thread of every block of grid.
template <typename Body>
void launch(dim3 grid, dim3 block, Body body) {
    const int threads = int(block.x * block.y * block.z);
    Block state(threads);
    for (int first = 0; first < threads; first += kWarpSize) {
        state.warps.push_back(std::make_unique<Warp>(std::min(kWarpSize, threads - first)));
    }
    std::barrier<> block_done(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            threadIdx = {unsigned(t) % block.x, unsigned(t) / block.x % block.y, unsigned(t) / (block.x * block.y)};
            blockDim = block;
            gridDim = grid;
            current_block = &state;
            current_warp = state.warps[t / kWarpSize].get();
            current_lane = t % kWarpSize;
            for (unsigned z = 0; z < grid.z; ++z) {
                for (unsigned y = 0; y < grid.y; ++y) {
                    for (unsigned x = 0; x < grid.x; ++x) {
                        blockIdx = {x, y, z};
                        body();
                        block_done.arrive_and_wait();
                    }
                }
            }
        });
    }
    for (auto& th : pool) {
        th.join();
    }
}

// invoke calls kernel f with the arguments that params point to, as
// cuLaunchKernel's kernelParams do: params[i] holds the address of the
// i-th argument's value.
template <typename... P, std::size_t... I>
void invoke_with(void (*f)(P...), void** params, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<P>*>(params[I])...);
}

template <typename... P>
void invoke(void (*f)(P...), void** params) {
    invoke_with(f, params, std::index_sequence_for<P...>{});
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->sync.arrive_and_wait(); }

template <typename T>
T __shfl_sync(unsigned, T v, int src_lane, int width = emu::kWarpSize) {
    const int base = emu::current_lane / width * width;
    return emu::exchange(v, base + src_lane % width);
}

template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = emu::kWarpSize) {
    const int lane = emu::current_lane;
    const int src = lane % width >= int(delta) ? lane - int(delta) : lane;
    return emu::exchange(v, src);
}

template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = emu::kWarpSize) {
    const int lane = emu::current_lane;
    const int src = lane % width + int(delta) < width ? lane + int(delta) : lane;
    return emu::exchange(v, src);
}

template <typename T>
T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = emu::kWarpSize) {
    const int lane = emu::current_lane;
    const int src = lane ^ lane_mask;
    return emu::exchange(v, src / width == lane / width ? src : lane);
}
