#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "market/mapped_file.h"
#include "market/market.h"
#include "resident_kb.h"

namespace tapedeck::market {
namespace {

using ::testing::HasSubstr;

class SeriesFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("series_file_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void WriteAll(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::filesystem::path dir_;
};

void ExpectSame(const Series& a, const Series& b) {
  EXPECT_EQ(a.symbol(), b.symbol());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a.times()[i], b.times()[i]) << i;
    ASSERT_EQ(a.open()[i], b.open()[i]) << i;
    ASSERT_EQ(a.high()[i], b.high()[i]) << i;
    ASSERT_EQ(a.low()[i], b.low()[i]) << i;
    ASSERT_EQ(a.close()[i], b.close()[i]) << i;
    ASSERT_EQ(a.volume()[i], b.volume()[i]) << i;
  }
}

TEST_F(SeriesFileTest, RoundTripsEveryColumnAndTheSymbol) {
  GenOptions gen;
  gen.bars = 10'001;
  gen.symbol = "BTCUSDT";
  const Series s = Generate(gen);
  ASSERT_TRUE(WriteSeriesFile(s, Path("a.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("a.tds"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ExpectSame(s, *r);
  EXPECT_TRUE(VerifySeriesFile(Path("a.tds")).ok());
  EXPECT_FALSE(std::filesystem::exists(Path("a.tds.tmp")));
}

TEST_F(SeriesFileTest, ColumnsAreEightByteAligned) {
  const Series s = Generate({.bars = 3, .symbol = "ODD"});
  ASSERT_TRUE(WriteSeriesFile(s, Path("b.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("b.tds"));
  ASSERT_TRUE(r.ok());
  for (const void* p :
       {static_cast<const void*>(r->times().data()), static_cast<const void*>(r->open().data()),
        static_cast<const void*>(r->volume().data())}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
  }
}

TEST_F(SeriesFileTest, EmptySeriesRoundTrips) {
  const Series s = Series::FromBars("NONE", {});
  ASSERT_TRUE(WriteSeriesFile(s, Path("e.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("e.tds"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(r->symbol(), "NONE");
}

TEST_F(SeriesFileTest, SeriesOutlivesOtherHandlesAndKeepsMappingAlive) {
  const Series s = Generate({.bars = 1000});
  ASSERT_TRUE(WriteSeriesFile(s, Path("c.tds")).ok());
  Series slice;
  {
    Result<Series> r = ReadSeriesFile(Path("c.tds"));
    ASSERT_TRUE(r.ok());
    slice = r->Slice(r->times()[100], r->times()[200]);
  }
  std::filesystem::remove(Path("c.tds"));  // the mapping keeps the data even after unlink
  ASSERT_EQ(slice.size(), 100u);
  EXPECT_EQ(slice.close()[99], s.close()[199]);
}

TEST_F(SeriesFileTest, ReleasingResidentPagesKeepsEveryValueMappedOrOwned) {
  const Series s = Generate({.bars = 20'000, .symbol = "REL"});
  ASSERT_TRUE(WriteSeriesFile(s, Path("r.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("r.tds"));
  ASSERT_TRUE(r.ok());
  ExpectSame(s, *r);  // every page touched
  const Series slice = r->Slice(r->times()[5'000], r->times()[6'000]);
  slice.ReleaseResidentPages();
  r->ReleaseResidentPages();
  ExpectSame(s, *r);  // read again from the file
  EXPECT_EQ(slice.close()[999], s.close()[5'999]);
  // Owned columns: left alone (dropping heap pages would zero them).
  const Series copy = s;
  s.ReleaseResidentPages();
  ExpectSame(copy, s);
  ExpectSame(Generate({.bars = 20'000, .symbol = "REL"}), s);
}

using testing_util::ResidentKb;

TEST_F(SeriesFileTest, OneBarReadAfterAReleaseMapsLittleOfItsColumn) {
  // A column written in one piece sits in the page cache in folios as large as the write (Linux
  // 6.x), and a fault maps the faulting page's whole folio (2 MB on 6.18): the file is written
  // in pieces so that one bar read maps about the kernel's fault-around (64 KiB), not 2 MB.
  const Series s = Generate({.bars = 600'000, .symbol = "BIG"});  // 4.8 MB a column
  ASSERT_TRUE(WriteSeriesFile(s, Path("big.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("big.tds"));
  ASSERT_TRUE(r.ok());
  r->ReleaseResidentPages();
  EXPECT_EQ(r->close()[300'000], s.close()[300'000]);
  EXPECT_EQ(r->open()[100'000], s.open()[100'000]);
  const long kb = ResidentKb(r->close().data());
  ASSERT_GE(kb, 0);
  EXPECT_LE(kb, 512);
}

TEST_F(SeriesFileTest, OnlyAMappingsPagesAreReleased) {
  const Series s = Generate({.bars = 2'000});
  ASSERT_TRUE(WriteSeriesFile(s, Path("m.tds")).ok());
  Result<MappedFile> file = MapFile(Path("m.tds"), MapAccess::kRandom);
  ASSERT_TRUE(file.ok());
  const char* begin = file->bytes.data() + 100;
  EXPECT_TRUE(ReleaseMappedPages(file->owner, begin, begin + 9'000));
  EXPECT_FALSE(ReleaseMappedPages(file->owner, begin, begin));
  auto heap = std::make_shared<std::vector<char>>(9'000, 'x');
  const std::shared_ptr<const void> owner = heap;
  EXPECT_FALSE(ReleaseMappedPages(owner, heap->data(), heap->data() + heap->size()));
  EXPECT_EQ(std::count(heap->begin(), heap->end(), 'x'), 9'000);
  EXPECT_FALSE(ReleaseMappedPages(nullptr, begin, begin + 10));
}

TEST_F(SeriesFileTest, OverwriteReplacesTheWholeFile) {
  ASSERT_TRUE(WriteSeriesFile(Generate({.bars = 5000}), Path("d.tds")).ok());
  const Series small = Generate({.bars = 10, .seed = 9});
  ASSERT_TRUE(WriteSeriesFile(small, Path("d.tds")).ok());
  Result<Series> r = ReadSeriesFile(Path("d.tds"));
  ASSERT_TRUE(r.ok());
  ExpectSame(small, *r);
}

TEST_F(SeriesFileTest, TruncatedFileIsIoNamingThePath) {
  ASSERT_TRUE(WriteSeriesFile(Generate({.bars = 1000}), Path("t.tds")).ok());
  const std::string bytes = ReadAll(Path("t.tds"));
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{100}, size_t{10}, size_t{0}}) {
    WriteAll(Path("t.tds"), bytes.substr(0, keep));
    Result<Series> r = ReadSeriesFile(Path("t.tds"));
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_EQ(r.error().code, ErrorCode::kIo);
    EXPECT_THAT(r.error().msg, HasSubstr(Path("t.tds")));
    EXPECT_THAT(r.error().msg, HasSubstr("truncated"));
    EXPECT_EQ(r.error().details.at("path"), Path("t.tds"));
  }
}

TEST_F(SeriesFileTest, TrailingBytesAreRejected) {
  ASSERT_TRUE(WriteSeriesFile(Generate({.bars = 10}), Path("x.tds")).ok());
  WriteAll(Path("x.tds"), ReadAll(Path("x.tds")) + "junk");
  Result<Series> r = ReadSeriesFile(Path("x.tds"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
}

TEST_F(SeriesFileTest, WrongMagicOrVersionIsIo) {
  ASSERT_TRUE(WriteSeriesFile(Generate({.bars = 10}), Path("m.tds")).ok());
  std::string bytes = ReadAll(Path("m.tds"));
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  WriteAll(Path("m.tds"), bad_magic);
  Result<Series> r = ReadSeriesFile(Path("m.tds"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().msg, HasSubstr("bad magic"));
  std::string bad_version = bytes;
  bad_version[8] = 9;
  WriteAll(Path("m.tds"), bad_version);
  r = ReadSeriesFile(Path("m.tds"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().msg, HasSubstr("version 9"));
  WriteAll(Path("m.tds"), "time,open,high,low,close\n2024-01-01,1,1,1,1\n" + std::string(100, ' '));
  EXPECT_EQ(ReadSeriesFile(Path("m.tds")).error().code, ErrorCode::kIo);
}

TEST_F(SeriesFileTest, FlippedDataBitFailsVerificationButStillReads) {
  ASSERT_TRUE(WriteSeriesFile(Generate({.bars = 1000}), Path("f.tds")).ok());
  std::string bytes = ReadAll(Path("f.tds"));
  bytes[bytes.size() - 3] ^= 0x10;  // a bit of the last volume
  WriteAll(Path("f.tds"), bytes);
  EXPECT_TRUE(ReadSeriesFile(Path("f.tds")).ok());  // the fast path does not hash
  Status v = VerifySeriesFile(Path("f.tds"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kIo);
  EXPECT_THAT(v.error().msg, HasSubstr("checksum"));
}

TEST_F(SeriesFileTest, MissingFileIsIo) {
  Result<Series> r = ReadSeriesFile(Path("nope.tds"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_THAT(r.error().msg, HasSubstr("nope.tds"));
}

TEST_F(SeriesFileTest, UnwritableDirectoryIsIo) {
  Status s = WriteSeriesFile(Generate({.bars = 1}), Path("no/such/dir/a.tds"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace tapedeck::market

namespace tapedeck::market {
namespace {

TEST(IoErrorTest, AFullDiskIsUnavailableAndSaysSo) {
  for (int err : {ENOSPC, EDQUOT}) {
    const Error e = IoError("cannot write", "/x/ds.bars.tmp", err);
    EXPECT_EQ(e.code, ErrorCode::kUnavailable);
    EXPECT_NE(e.msg.find("the disk is full"), std::string::npos) << e.msg;
    EXPECT_EQ(e.details.at("path"), "/x/ds.bars.tmp");
  }
  const Error e = IoError("cannot write", "/x/ds.bars.tmp", EIO);
  EXPECT_EQ(e.code, ErrorCode::kIo);
  EXPECT_EQ(e.msg.find("full"), std::string::npos) << e.msg;
}

}  // namespace
}  // namespace tapedeck::market
