#include "market/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace tapedeck::market {

Error IoError(std::string_view what, const std::string& path, int err) {
  std::string reason = std::strerror(err);
  // A full disk (or quota) passes: it is UNAVAILABLE, try again once space is freed.
  const bool full = err == ENOSPC || err == EDQUOT;
  std::string msg = std::string(what) + " '" + path + "': " + reason;
  if (full) msg += " (the disk is full)";
  return MakeError(full ? ErrorCode::kUnavailable : ErrorCode::kIo, std::move(msg),
                   {{"path", path}, {"reason", reason}});
}

void Unmapper::operator()(const void* addr) const { ::munmap(const_cast<void*>(addr), size); }

bool ReleaseMappedPages(const std::shared_ptr<const void>& owner, const void* begin,
                        const void* end) {
  if (owner == nullptr || std::get_deleter<Unmapper>(owner) == nullptr || begin >= end) {
    return false;
  }
  // The mapping starts on a page and the kernel maps its last page whole, so the range widened
  // to pages stays inside it.
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) & ~(page - 1);
  const uintptr_t last = (reinterpret_cast<uintptr_t>(end) + page - 1) & ~(page - 1);
  return ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) == 0;
}

Result<MappedFile> MapFile(const std::string& path, MapAccess access) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError("cannot map", path, EINVAL);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return MappedFile{};
  }
  // A parse touches every page; faulting them in one by one costs far more (on VMs especially)
  // than one populating call.
  const int flags = MAP_PRIVATE | (access == MapAccess::kSequential ? MAP_POPULATE : 0);
  void* addr = ::mmap(nullptr, size, PROT_READ, flags, fd, 0);
  const int map_err = errno;
  // The mapping holds its own reference to the file; the descriptor is no longer needed.
  ::close(fd);
  if (addr == MAP_FAILED) return IoError("cannot map", path, map_err);
  ::madvise(addr, size, access == MapAccess::kSequential ? MADV_SEQUENTIAL : MADV_NORMAL);
  std::shared_ptr<const void> owner(addr, Unmapper{size});
  return MappedFile{std::move(owner), std::string_view(static_cast<const char*>(addr), size)};
}

}  // namespace tapedeck::market
