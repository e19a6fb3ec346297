// Gives the memory of a burst back to the system. glibc keeps freed heap memory in the process
// (it returns only the top of the heap, and raises its mmap threshold as large blocks are freed),
// so after a burst of large frames (a stalled server catching up a thousand streams) RSS stays at
// the burst's peak. A background thread looks every `interval` at how much of the heap is free
// and, when that is `slack` bytes more than at its last trim, asks glibc to release it
// (malloc_trim: the free pages inside the heap are handed back with madvise; nothing in use
// moves).
//
// Thread-safety: the trimmer owns its thread; construct and destroy it on one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace tapedeck::server {

// Bytes glibc's heap holds free (mallinfo2's fordblks, all arenas); 0 where that is not known
// (another allocator, as under the sanitizers).
size_t FreeHeapBytes();

// Releases what it can when FreeHeapBytes() exceeds `given_back` (the free bytes right after the
// last trim, updated here; 0 before any) by more than `slack`; returns whether it trimmed.
// Trimmed pages stay counted as free, so only what was freed beyond them is worth a walk of the
// heap; free bytes that fell since were reused and no longer count as given back.
bool TrimHeapIfFreed(size_t& given_back, size_t slack);

class HeapTrimmer {
 public:
  HeapTrimmer(std::chrono::milliseconds interval, size_t slack);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  uint64_t trims() const;

 private:
  void Loop();

  const std::chrono::milliseconds interval_;
  const size_t slack_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t trims_ = 0;
  std::thread thread_;
};

}  // namespace tapedeck::server
