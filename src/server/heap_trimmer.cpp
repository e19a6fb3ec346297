#include "server/heap_trimmer.h"

#include <malloc.h>

#include <algorithm>

namespace tapedeck::server {

size_t FreeHeapBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().fordblks;
#else
  return 0;
#endif
}

bool TrimHeapIfFreed(size_t& given_back, size_t slack) {
  const size_t free = FreeHeapBytes();
  given_back = std::min(given_back, free);
  if (free <= given_back + slack) return false;
  malloc_trim(0);
  given_back = free;
  return true;
}

HeapTrimmer::HeapTrimmer(std::chrono::milliseconds interval, size_t slack)
    : interval_(interval), slack_(slack), thread_([this] { Loop(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t HeapTrimmer::trims() const {
  std::lock_guard lock(mu_);
  return trims_;
}

void HeapTrimmer::Loop() {
  size_t given_back = 0;
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    const bool trimmed = TrimHeapIfFreed(given_back, slack_);
    lock.lock();
    if (trimmed) ++trims_;
  }
}

}  // namespace tapedeck::server
