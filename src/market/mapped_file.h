// Internal to market: a read-only memory mapping of a whole file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tapedeck::market {

// The deleter of a mapping's owner: unmaps it. std::get_deleter<Unmapper>(owner) tells a mapping
// (read-only, private: its pages can be dropped and read again) from storage of any other kind.
struct Unmapper {
  size_t size = 0;
  void operator()(const void* addr) const;
};

struct MappedFile {
  // Unmaps when the last copy goes; null for an empty file (mmap cannot map zero bytes).
  std::shared_ptr<const void> owner;
  std::string_view bytes;
};

enum class MapAccess {
  kSequential,  // read once front to back: pages are faulted in up front, in one go
  kRandom,      // maybe only partly read: pages come in on first touch
};

// Maps `path` read-only. IO naming the path when it cannot be opened, stat'ed or mapped.
Result<MappedFile> MapFile(const std::string& path, MapAccess access);

// When `owner` is a mapping made by MapFile, drops the pages of [begin, end) (a range inside it)
// from the process's resident set (madvise MADV_DONTNEED): nothing changes in what the range
// reads, its pages are read again from the page cache (or the file) when next touched. Returns
// whether it did; false, and nothing done, for any other owner (heap columns would be zeroed).
bool ReleaseMappedPages(const std::shared_ptr<const void>& owner, const void* begin,
                        const void* end);

// IO error "what 'path': strerror(err)" with details `path` and `reason`; UNAVAILABLE (and
// "(the disk is full)" appended) for ENOSPC and EDQUOT.
Error IoError(std::string_view what, const std::string& path, int err);

}  // namespace tapedeck::market
