// driver.cc executes a launch plan on the CPU with the kernels of one
// generated translation unit. The test harness builds it as
//
//	#include "cuda_emulation.h"
//	#include "kernels.cu"          // the generated translation unit
//	#include "kernel_list.h"       // SSMC_KERNEL(name) per kernel, in table order
//	#include "driver.cc"
//
// and runs it as `driver PLAN OUT`. PLAN (little-endian) is
//
//	"SSMCEMU1"
//	u32 buffers;  per buffer: u64 bytes, then its initial contents
//	u32 launches; per launch: u32 kernel, u32 grid[3], u32 block[3],
//	              u32 args; per argument: u32 kind (0: buffer index,
//	              1: a long long value), u64 value
//
// and OUT receives every buffer's final contents, in order.
#include <cstdio>
#include <string>

namespace driver {

template <auto F>
void call(dim3 grid, dim3 block, void** params) {
    emu::launch(grid, block, [params] { emu::invoke(F, params); });
}

struct Entry {
    const char* name;
    void (*call)(dim3, dim3, void**);
};

#define SSMC_KERNEL(name) {#name, &call<name>},
const Entry kKernels[] = {
#include "kernel_list.h"
};
#undef SSMC_KERNEL

constexpr std::size_t kNumKernels = sizeof kKernels / sizeof kKernels[0];

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "driver: %s\n", msg.c_str());
    std::exit(2);
}

struct Reader {
    std::FILE* f;
    template <typename T>
    T get() {
        T v{};
        if (std::fread(&v, sizeof v, 1, f) != 1) {
            fail("plan is truncated");
        }
        return v;
    }
};

}  // namespace driver

int main(int argc, char** argv) {
    using namespace driver;
    if (argc != 3) {
        fail("usage: driver PLAN OUT");
    }
    std::FILE* in = std::fopen(argv[1], "rb");
    if (!in) {
        fail(std::string("cannot open ") + argv[1]);
    }
    Reader r{in};
    char magic[8];
    if (std::fread(magic, 1, 8, in) != 8 || std::memcmp(magic, "SSMCEMU1", 8) != 0) {
        fail("bad plan magic");
    }
    std::vector<std::vector<unsigned char>> buffers(r.get<std::uint32_t>());
    for (auto& b : buffers) {
        // Over-allocate a little: kernels never read past a tensor, but a
        // zero-length tensor still needs a distinct address.
        const auto n = r.get<std::uint64_t>();
        b.resize(n + 16);
        if (n && std::fread(b.data(), 1, n, in) != n) {
            fail("buffer contents are truncated");
        }
        b.resize(n);
    }
    const auto launches = r.get<std::uint32_t>();
    for (std::uint32_t l = 0; l < launches; ++l) {
        const auto k = r.get<std::uint32_t>();
        if (k >= kNumKernels) {
            fail("kernel index out of range");
        }
        dim3 grid, block;
        grid.x = r.get<std::uint32_t>(), grid.y = r.get<std::uint32_t>(), grid.z = r.get<std::uint32_t>();
        block.x = r.get<std::uint32_t>(), block.y = r.get<std::uint32_t>(), block.z = r.get<std::uint32_t>();
        std::vector<std::uint64_t> values(r.get<std::uint32_t>());
        std::vector<void*> params(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            const auto kind = r.get<std::uint32_t>();
            const auto v = r.get<std::uint64_t>();
            if (kind == 0) {
                if (v >= buffers.size()) {
                    fail("buffer index out of range");
                }
                values[i] = reinterpret_cast<std::uint64_t>(buffers[v].data());
            } else {
                values[i] = v;
            }
            params[i] = &values[i];
        }
        kKernels[k].call(grid, block, params.data());
    }
    std::fclose(in);
    std::FILE* out = std::fopen(argv[2], "wb");
    if (!out) {
        fail(std::string("cannot create ") + argv[2]);
    }
    for (auto& b : buffers) {
        if (!b.empty() && std::fwrite(b.data(), 1, b.size(), out) != b.size()) {
            fail("short write");
        }
    }
    return std::fclose(out) == 0 ? 0 : 1;
}
