// Internal to market: a read-only memory mapping of a whole file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tapedeck::market {

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

// IO error "what 'path': strerror(err)" with details `path` and `reason`; UNAVAILABLE (and
// "(the disk is full)" appended) for ENOSPC and EDQUOT.
Error IoError(std::string_view what, const std::string& path, int err);

}  // namespace tapedeck::market
