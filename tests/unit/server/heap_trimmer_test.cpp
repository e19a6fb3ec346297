#include "server/heap_trimmer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

namespace tapedeck::server {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kOwnAllocator = true;  // the sanitizers' allocator, not glibc's heap
#else
constexpr bool kOwnAllocator = false;
#endif

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// 64 MiB in 64 KiB blocks (below glibc's mmap threshold: heap memory), touched, then freed, each
// with a small block kept after it, so that glibc can neither merge them into the heap's top nor
// give them back by itself: the fragmented heap a burst of frames leaves. Returns the pins.
std::vector<void*> FreedBurst() {
  std::vector<void*> blocks, pins;
  for (int i = 0; i < 1024; ++i) {
    void* p = std::malloc(64 * 1024);
    std::memset(p, i & 0xff, 64 * 1024);
    blocks.push_back(p);
    pins.push_back(std::malloc(256));
  }
  for (void* p : blocks) std::free(p);
  return pins;
}

void FreeAll(const std::vector<void*>& pins) {
  for (void* p : pins) std::free(p);
}

TEST(HeapTrimmerTest, AFreedBurstIsGivenBack) {
  if (kOwnAllocator) GTEST_SKIP() << "the sanitizers bring their own allocator";
  const std::vector<void*> pins = FreedBurst();
  const size_t before = ResidentBytes();
  EXPECT_GE(FreeHeapBytes(), size_t{60} << 20);
  size_t given_back = 0;
  EXPECT_FALSE(TrimHeapIfFreed(given_back, size_t{1} << 40));  // under the slack: nothing done
  EXPECT_TRUE(TrimHeapIfFreed(given_back, size_t{16} << 20));
  const size_t after = ResidentBytes();
  EXPECT_GE(before - std::min(before, after), size_t{48} << 20)
      << "resident " << before << " -> " << after;
  FreeAll(pins);
}

TEST(HeapTrimmerTest, TheThreadTrimsOnItsOwnAndStops) {
  if (kOwnAllocator) GTEST_SKIP() << "the sanitizers bring their own allocator";
  const std::vector<void*> pins = FreedBurst();  // freed whole before the thread looks
  HeapTrimmer trimmer(std::chrono::milliseconds(20), size_t{16} << 20);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (trimmer.trims() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(trimmer.trims(), 1u);
  // Nothing freed since: the heap is not walked again.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(trimmer.trims(), 1u);
  FreeAll(pins);
}  // the destructor stops and joins the thread at once, not after an interval

}  // namespace
}  // namespace tapedeck::server
