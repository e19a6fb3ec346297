// The binary columnar form. Layout (all integers in host order, checked by `byte_order`):
//   0   FileHeader (64 bytes)
//   64  symbol bytes, then zero padding up to data_offset (a multiple of 64)
//   data_offset + k * count * 8: column k of six (time us, open, high, low, close, volume)
// Columns start 64-byte aligned in the file and the mapping is page aligned, so each column can
// be used in place as a span: loading is one mmap however many bars there are.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "market/mapped_file.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr char kMagic[8] = {'T', 'D', 'S', 'E', 'R', 'I', 'E', 'S'};
constexpr uint32_t kVersion = 1;
// Written as an integer: a file from a machine of the other byte order reads back byte-swapped.
constexpr uint32_t kByteOrder = 0x01020304;
constexpr size_t kMaxSymbolBytes = 1024;
constexpr size_t kColumns = 6;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;
  uint64_t count;     // bars
  uint64_t checksum;  // DataChecksum of the symbol and columns
  uint32_t symbol_size;
  uint32_t data_offset;
  uint8_t reserved[24];
};
static_assert(sizeof(FileHeader) == 64);
static_assert(sizeof(Timestamp) == sizeof(int64_t), "times are stored as int64 microseconds");

size_t DataOffset(size_t symbol_size) { return (sizeof(FileHeader) + symbol_size + 63) / 64 * 64; }

// FNV-1a-style over 8-byte words in four independent lanes (so the multiply latency overlaps),
// each step followed by an xorshift so high bits reach low ones. Written out here, not taken
// from a library, so the value is the same on every platform and release.
class Checksum {
 public:
  void Words(const void* data, size_t n_words) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 4 <= n_words; i += 4) {
      for (int l = 0; l < 4; ++l) Mix(lane_[l], Load(p + (i + l) * 8));
    }
    for (; i < n_words; ++i) Mix(lane_[i % 4], Load(p + i * 8));
  }
  void Bytes(std::string_view s) {
    for (unsigned char c : s) Mix(lane_[0], c);
  }
  uint64_t Finish(uint64_t count) const {
    uint64_t h = kOffset ^ count;
    for (uint64_t l : lane_) Mix(h, l);
    return h;
  }

 private:
  static constexpr uint64_t kOffset = 0xcbf29ce484222325ULL;
  static constexpr uint64_t kPrime = 0x100000001b3ULL;
  static uint64_t Load(const unsigned char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static void Mix(uint64_t& h, uint64_t w) {
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  uint64_t lane_[4] = {kOffset, kOffset + 1, kOffset + 2, kOffset + 3};
};

uint64_t DataChecksum(const Series& s) {
  Checksum c;
  c.Bytes(s.symbol());
  c.Words(s.times().data(), s.size());
  for (auto col : {s.open(), s.high(), s.low(), s.close(), s.volume()})
    c.Words(col.data(), s.size());
  return c.Finish(s.size());
}

Error Corrupt(const std::string& path, const std::string& why) {
  return MakeError(ErrorCode::kIo, "series file '" + path + "' " + why,
                   {{"path", path}, {"reason", why}});
}

// The most bytes one write hands the kernel. Linux (6.x, ext4 here) keeps written data in page
// cache folios as large as the writes that made them (a 4.2 MB column in one write: 2 MB folios),
// and a fault on a file mapping maps the faulting page's whole folio (6.18): a reader of one bar
// per column (a playback frame) would take 2 MB of each column into its resident set, which no
// release of the pages it has played could bring below. Written in 64 KiB pieces, a fault maps
// 64 KiB, as the kernel's fault-around does anyway. (A file read back after the page cache let
// it go gets the folios of the readahead instead.)
constexpr size_t kMaxWrite = 64u << 10;

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min(n, kMaxWrite));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Reads and checks the fixed header at the start of `bytes` (magic, byte order, version, symbol
// size and data offset); the symbol and bars that follow are the caller's to check.
Result<FileHeader> ReadHeader(std::string_view bytes, const std::string& name) {
  if (bytes.size() < sizeof(FileHeader)) {
    return Corrupt(name, "is truncated: " + std::to_string(bytes.size()) +
                             " bytes is shorter than the header");
  }
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) {
    return Corrupt(name, "is not a tapedeck series file (bad magic)");
  }
  if (h.byte_order != kByteOrder) return Corrupt(name, "was written with another byte order");
  if (h.version != kVersion) {
    return Corrupt(name, "has version " + std::to_string(h.version) + ", expected " +
                             std::to_string(kVersion));
  }
  if (h.symbol_size > kMaxSymbolBytes || h.data_offset != DataOffset(h.symbol_size)) {
    return Corrupt(name, "has a corrupt header");
  }
  return h;
}

struct Opened {
  FileHeader header;
  Series series;
};

// Checks `bytes` (a whole series file, starting 8-byte aligned) and points a Series into them;
// `owner` keeps them alive. `name` stands for the file in errors (details `path`).
Result<Opened> Parse(std::string_view bytes, std::shared_ptr<const void> owner,
                     const std::string& name) {
  Opened out;
  TD_ASSIGN_OR_RETURN(out.header, ReadHeader(bytes, name));
  const FileHeader& h = out.header;
  // Compare in a form that cannot overflow: count comes from the file.
  const size_t room = bytes.size() >= h.data_offset ? bytes.size() - h.data_offset : 0;
  if (bytes.size() < h.data_offset || h.count > room / (kColumns * 8) ||
      room != h.count * kColumns * 8) {
    const bool short_file = bytes.size() < h.data_offset || h.count > room / (kColumns * 8) ||
                            room < h.count * kColumns * 8;
    return Corrupt(name, (short_file ? "is truncated: " : "has trailing bytes: ") +
                             std::to_string(bytes.size()) + " bytes for " +
                             std::to_string(h.count) + " bars");
  }
  const size_t n = h.count;
  const char* data = bytes.data() + h.data_offset;
  const auto column = [data, n](size_t k) {
    return std::span<const double>(reinterpret_cast<const double*>(data + k * n * 8), n);
  };
  const std::span<const Timestamp> times(reinterpret_cast<const Timestamp*>(data), n);
  std::string symbol(bytes.substr(sizeof(FileHeader), h.symbol_size));
  out.series = Series::FromSpans(std::move(symbol), std::move(owner), times, column(1), column(2),
                                 column(3), column(4), column(5));
  return out;
}

Result<Opened> Open(const std::string& path) {
  Result<MappedFile> file = MapFile(path, MapAccess::kRandom);
  if (!file.ok()) return file.take_error();
  return Parse(file->bytes, std::move(file->owner), path);
}

Status CheckSum(const Opened& opened, const std::string& name) {
  if (DataChecksum(opened.series) != opened.header.checksum) {
    return Corrupt(name, "is corrupt: its data does not match the checksum in its header");
  }
  return Ok();
}

FileHeader HeaderOf(const Series& series) {
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.byte_order = kByteOrder;
  h.count = series.size();
  h.checksum = DataChecksum(series);
  h.symbol_size = static_cast<uint32_t>(series.symbol().size());
  h.data_offset = static_cast<uint32_t>(DataOffset(h.symbol_size));
  return h;
}

Status CheckSymbol(const Series& series) {
  if (series.symbol().size() > kMaxSymbolBytes) {
    return MakeError(ErrorCode::kValidation,
                     "symbol longer than " + std::to_string(kMaxSymbolBytes) + " bytes",
                     {{"field", "symbol"}});
  }
  return Ok();
}

}  // namespace

Status WriteSeriesFile(const Series& series, const std::string& path) {
  TD_TRY(CheckSymbol(series));
  const FileHeader h = HeaderOf(series);

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  const auto fail = [&](std::string_view what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError(what, tmp, err);
  };
  const std::string padding(h.data_offset - sizeof h - h.symbol_size, '\0');
  const size_t bytes = series.size() * 8;
  bool ok =
      WriteAll(fd, &h, sizeof h) && WriteAll(fd, series.symbol().data(), series.symbol().size()) &&
      WriteAll(fd, padding.data(), padding.size()) && WriteAll(fd, series.times().data(), bytes);
  for (auto col : {series.open(), series.high(), series.low(), series.close(), series.volume()}) {
    ok = ok && WriteAll(fd, col.data(), bytes);
  }
  if (!ok) return fail("cannot write");
  // Data on disk before the rename makes it visible: a crash leaves the old file or the new one.
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename into", path, err);
  }
  // And the rename itself survives a crash once the directory entry is on disk.
  const std::string dir = DirectoryOf(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Ok();
}

Result<Series> ReadSeriesFile(const std::string& path) {
  Result<Opened> opened = Open(path);
  if (!opened.ok()) return opened.take_error();
  return std::move(opened->series);
}

Status VerifySeriesFile(const std::string& path) {
  Result<Opened> opened = Open(path);
  if (!opened.ok()) return opened.take_error();
  return CheckSum(*opened, path);
}

Result<std::vector<std::byte>> SeriesFileBytes(const Series& series) {
  TD_TRY(CheckSymbol(series));
  const FileHeader h = HeaderOf(series);
  const size_t column_bytes = series.size() * 8;
  // Appended piece by piece, not sized up front: zero-filling 25 MB first would cost a pass.
  std::vector<std::byte> out;
  out.reserve(h.data_offset + kColumns * column_bytes);
  const auto append = [&out](const void* data, size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    out.insert(out.end(), p, p + n);
  };
  append(&h, sizeof h);
  append(series.symbol().data(), series.symbol().size());
  out.resize(h.data_offset);  // the padding, zeroed
  append(series.times().data(), column_bytes);
  for (auto col : {series.open(), series.high(), series.low(), series.close(), series.volume()}) {
    append(col.data(), column_bytes);
  }
  return out;
}

Result<Series> ReadSeriesBytes(std::span<const std::byte> bytes, std::shared_ptr<const void> owner,
                               const std::string& name) {
  std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!owner || reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
    // The columns are read in place as int64s and doubles: copied into 8-byte words. (Not
    // zero-filled first: a pass over 25 MB for nothing.)
    std::shared_ptr<uint64_t[]> words(new uint64_t[(bytes.size() + 7) / 8]);
    if (!bytes.empty()) std::memcpy(words.get(), bytes.data(), bytes.size());
    view = std::string_view(reinterpret_cast<const char*>(words.get()), bytes.size());
    owner = std::move(words);
  }
  Result<Opened> opened = Parse(view, std::move(owner), name);
  if (!opened.ok()) return opened.take_error();
  TD_TRY(CheckSum(*opened, name));
  return std::move(opened->series);
}

Result<Series> ReadSeriesBytes(std::span<const std::byte> bytes, const std::string& name) {
  return ReadSeriesBytes(bytes, nullptr, name);
}

Result<SeriesFileLayout> ReadSeriesFileLayout(std::span<const std::byte> prefix, size_t total_bytes,
                                              const std::string& name) {
  static_assert(kSeriesFileMaxPrefix >= sizeof(FileHeader) + kMaxSymbolBytes);
  TD_ASSIGN_OR_RETURN(const FileHeader h,
                      ReadHeader(std::string_view(reinterpret_cast<const char*>(prefix.data()),
                                                  prefix.size()),
                                 name));
  if (prefix.size() < sizeof(FileHeader) + h.symbol_size) {
    return Corrupt(name, "has a corrupt header");
  }
  if (h.count > (total_bytes - std::min<size_t>(total_bytes, h.data_offset)) / (kColumns * 8) ||
      total_bytes != h.data_offset + h.count * kColumns * 8) {
    return Corrupt(name, "has " + std::to_string(total_bytes) + " bytes, not what its header says");
  }
  SeriesFileLayout layout;
  layout.count = h.count;
  layout.data_offset = h.data_offset;
  layout.symbol.assign(reinterpret_cast<const char*>(prefix.data()) + sizeof(FileHeader),
                       h.symbol_size);
  return layout;
}

}  // namespace tapedeck::market
