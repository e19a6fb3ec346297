// Internal to market: growable storage for one column of a series being built.
//
// Why not std::vector: an import writes tens of MB of fresh memory, and on virtual machines each
// first touch of a 4 KiB page is a costly fault (measured: ~300 ms to fault in the 25 MB of a
// 525,600-bar series, ~5 ms with 2 MiB pages). So a large column lives in its own anonymous
// mapping, 2 MiB aligned and advised to use transparent huge pages. Small columns (under 1 MiB)
// use plain pages so that many small series do not each pin 2 MiB per column.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <utility>

namespace tapedeck::market {

// A page-aligned anonymous read/write mapping; unmapped on destruction. Move-only.
class AnonymousMapping {
 public:
  AnonymousMapping() = default;
  // Maps at least `bytes`. Throws std::bad_alloc when the kernel refuses, as std::vector would.
  explicit AnonymousMapping(size_t bytes);
  AnonymousMapping(AnonymousMapping&& other) noexcept { *this = std::move(other); }
  AnonymousMapping& operator=(AnonymousMapping&& other) noexcept;
  AnonymousMapping(const AnonymousMapping&) = delete;
  AnonymousMapping& operator=(const AnonymousMapping&) = delete;
  ~AnonymousMapping();

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
class ColumnBuffer {
 public:
  void Reserve(size_t n) {
    if (n > capacity_) Reallocate(n);
  }
  void PushBack(const T& v) {
    if (size_ == capacity_) Reallocate(capacity_ < 1024 ? 1024 : capacity_ * 2);
    data_[size_++] = v;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  // Room for writers that fill the column out of order (the CSV scanner's stretches on two
  // threads): elements are written through data() below capacity(), then Resize(n) makes the
  // first n of them the column. REQUIRES: n <= capacity(), and every element below n written.
  T* data() { return data_; }
  void Resize(size_t n) { size_ = n; }
  const T& back() const { return data_[size_ - 1]; }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  void Reallocate(size_t n) {
    AnonymousMapping next(n * sizeof(T));
    if (size_ > 0) std::memcpy(next.data(), data_, size_ * sizeof(T));
    mapping_ = std::move(next);
    data_ = static_cast<T*>(mapping_.data());
    capacity_ = mapping_.size() / sizeof(T);
  }

  AnonymousMapping mapping_;
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace tapedeck::market
