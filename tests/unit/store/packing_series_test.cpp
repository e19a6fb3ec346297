// A run's times and equity packed (store/packing.h, kSeriesRuns): exact round trips, the sizes
// that make it worth it, heads read a piece at a time, and damage caught rather than decoded.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "store/packing.h"

namespace tapedeck::store::internal {
namespace {

std::vector<Timestamp> Grid(size_t n, int64_t step_us, int64_t t0 = 1'672'531'200'000'000) {
  std::vector<Timestamp> out;
  for (size_t i = 0; i < n; ++i) out.push_back(FromMicros(t0 + static_cast<int64_t>(i) * step_us));
  return out;
}

std::vector<uint64_t> Bits(const std::vector<double>& v) {
  std::vector<uint64_t> out;
  for (double d : v) out.push_back(std::bit_cast<uint64_t>(d));
  return out;
}

// Equity as a backtest's: flat out of the market, moving in it; and every awkward double.
std::vector<double> Equity(size_t n) {
  std::vector<double> out;
  double cash = 10'000;
  for (size_t i = 0; i < n; ++i) {
    if ((i / 500) % 2 == 0) {
      out.push_back(cash);
    } else {
      cash += std::sin(static_cast<double>(i)) * 3.25;
      out.push_back(cash);
    }
  }
  if (n > 40) {
    out[10] = std::bit_cast<double>(uint64_t{0x7ff8'0000'0000'0123});  // a NaN with a payload
    out[11] = std::bit_cast<double>(uint64_t{0xfff8'0000'0000'0000});  // a negative NaN
    out[12] = std::bit_cast<double>(uint64_t{0xfff8'0000'0000'0000});  // repeated
    out[20] = -0.0;
    out[21] = 0.0;
    out[22] = -0.0;
    out[23] = -0.0;
    out[30] = INFINITY;
    out[31] = -INFINITY;
    out[32] = -INFINITY;
    out[33] = std::numeric_limits<double>::denorm_min();
  }
  return out;
}

BlobRead Over(const std::vector<std::byte>& blob, size_t* read_bytes = nullptr) {
  return [&blob, read_bytes](size_t offset, size_t length) -> Result<std::vector<std::byte>> {
    if (offset >= blob.size()) return std::vector<std::byte>{};
    const size_t n = std::min(length, blob.size() - offset);
    if (read_bytes) *read_bytes += n;
    return std::vector<std::byte>(blob.begin() + static_cast<ptrdiff_t>(offset),
                                  blob.begin() + static_cast<ptrdiff_t>(offset + n));
  };
}

TEST(PackingSeriesTest, ARegularGridIsAFewBytesAndEachGapAFewMore) {
  const std::vector<Timestamp> year = Grid(525'600, 60'000'000);
  const std::vector<std::byte> packed = PackTimes(year);
  EXPECT_LE(packed.size(), 16u);
  auto back = UnpackTimes(kSeriesRuns, packed, year.size());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, year);

  std::vector<Timestamp> gaps = year;
  for (size_t i = 1'000; i < gaps.size(); i += 10'000) {
    for (size_t j = i; j < gaps.size(); ++j) gaps[j] += std::chrono::hours(48);
  }
  const std::vector<std::byte> gapped = PackTimes(gaps);
  EXPECT_LE(gapped.size(), 16u + 53u * 14u);  // a gap: two more runs
  back = UnpackTimes(kSeriesRuns, gapped, gaps.size());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, gaps);
}

TEST(PackingSeriesTest, AnyTimesRoundTripExactly) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<std::vector<int64_t>> cases = {
      {},
      {42},
      {kMin, kMax, kMin, 0, -1, 1, kMax, kMax, kMax, kMin + 1},
      {5, 4, 3, 2, 1, 0, -1, -2, 7, 7, 7, 100},
  };
  for (const std::vector<int64_t>& us : cases) {
    std::vector<Timestamp> times;
    for (int64_t v : us) times.push_back(FromMicros(v));
    const std::vector<std::byte> packed = PackTimes(times);
    auto back = UnpackTimes(kSeriesRuns, packed, times.size());
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(*back, times);
    for (size_t bars : {size_t{0}, size_t{1}, times.size() / 2, times.size() + 3}) {
      auto head = UnpackTimesHead(kSeriesRuns, packed, times.size(), bars);
      ASSERT_TRUE(head.ok()) << head.error().ToString();
      EXPECT_EQ(head->times,
                std::vector<Timestamp>(times.begin(),
                                       times.begin() + static_cast<ptrdiff_t>(
                                                           std::min(bars, times.size()))));
      if (times.empty()) {
        EXPECT_FALSE(head->last.has_value());
      } else {
        EXPECT_EQ(head->last, times.back());
      }
    }
  }
}

TEST(PackingSeriesTest, EquityRoundTripsBitForBitAndFlatStretchesCollapse) {
  const std::vector<double> equity = Equity(100'000);
  const std::vector<std::byte> packed = PackEquity(equity);
  // Half the values are flat: about half the raw bytes.
  EXPECT_LT(packed.size(), equity.size() * sizeof(double) * 55 / 100);
  auto back = UnpackEquity(kSeriesRuns, packed, equity.size());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(Bits(*back), Bits(equity));

  const std::vector<double> flat(525'600, 10'000.0);
  EXPECT_LE(PackEquity(flat).size(), 8u + 2u * 10u);
  back = UnpackEquity(kSeriesRuns, PackEquity(flat), flat.size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Bits(*back), Bits(flat));

  EXPECT_TRUE(PackEquity({}).empty());
  EXPECT_TRUE(UnpackEquity(kSeriesRuns, {}, 0)->empty());
  EXPECT_TRUE(PackTimes({}).empty());
}

TEST(PackingSeriesTest, RawBlobsOfEarlierRunsReadAsTheyAre) {
  const std::vector<Timestamp> times = Grid(1'000, 60'000'000);
  const std::vector<double> equity = Equity(1'000);
  const auto raw_times = std::as_bytes(std::span(times));
  const auto raw_equity = std::as_bytes(std::span(equity));
  auto t = UnpackTimes(kSeriesRaw, raw_times, times.size());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, times);
  auto head = UnpackTimesHead(kSeriesRaw, raw_times, times.size(), 10);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->times.size(), 10u);
  EXPECT_EQ(head->last, times.back());
  auto e = UnpackEquity(kSeriesRaw, raw_equity, equity.size());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Bits(*e), Bits(equity));
  const std::vector<std::byte> blob(raw_equity.begin(), raw_equity.end());
  auto eh = ReadEquityHead(kSeriesRaw, Over(blob), equity.size(), 10);
  ASSERT_TRUE(eh.ok());
  EXPECT_EQ(Bits(*eh), Bits(std::vector<double>(equity.begin(), equity.begin() + 10)));
  EXPECT_FALSE(UnpackTimes(kSeriesRaw, raw_times.first(raw_times.size() - 1), times.size()).ok());
  EXPECT_FALSE(UnpackEquity(kSeriesRaw, raw_equity, equity.size() + 1).ok());
}

TEST(PackingSeriesTest, AnEquityHeadIsReadFromTheFrontOnly) {
  const std::vector<double> equity = Equity(60'000);
  const std::vector<std::byte> packed = PackEquity(equity);
  for (size_t bars : {size_t{0}, size_t{1}, size_t{11}, size_t{499}, size_t{500}, size_t{501},
                      size_t{16'384}, size_t{59'999}, size_t{60'000}, size_t{70'000}}) {
    SCOPED_TRACE(bars);
    size_t read = 0;
    auto head = ReadEquityHead(kSeriesRuns, Over(packed, &read), equity.size(), bars);
    ASSERT_TRUE(head.ok()) << head.error().ToString();
    const size_t n = std::min(bars, equity.size());
    EXPECT_EQ(Bits(*head), Bits(std::vector<double>(equity.begin(),
                                                    equity.begin() + static_cast<ptrdiff_t>(n))));
    // No more than the head's values as literals, and its segments' headers, are read.
    EXPECT_LE(read, n * sizeof(double) + 64);
  }
  // A cut inside a literal that the head needs is damage once the blob ends.
  std::vector<std::byte> cut(packed.begin(), packed.begin() + 100);
  EXPECT_FALSE(ReadEquityHead(kSeriesRuns, Over(cut), equity.size(), 1'000).ok());
  EXPECT_EQ(ReadEquityHead(kSeriesRuns, Over(cut), equity.size(), 1'000).error().code,
            ErrorCode::kIo);
}

TEST(PackingSeriesTest, AWholeEquityBlobReadInPiecesIsCheckedAsUnpacked) {
  const std::vector<double> equity = Equity(300'000);  // many pieces
  const std::vector<std::byte> packed = PackEquity(equity);
  ASSERT_GT(packed.size(), 256u * 1024u);
  auto whole = ReadEquity(Over(packed), equity.size());
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  EXPECT_EQ(Bits(*whole), Bits(equity));
  std::vector<std::byte> longer = packed;
  longer.push_back(std::byte{0x03});
  EXPECT_FALSE(ReadEquity(Over(longer), equity.size()).ok());
  std::vector<std::byte> shorter(packed.begin(), packed.end() - 1);
  EXPECT_FALSE(ReadEquity(Over(shorter), equity.size()).ok());
  EXPECT_FALSE(ReadEquity(Over(packed), equity.size() + 1).ok());
  EXPECT_FALSE(ReadEquity(Over(packed), equity.size() - 1).ok());
}

// Every check of the decoders, each failing a blob it would otherwise turn into values.
TEST(PackingSeriesTest, DamagedTimesAreAnErrorNeverValues) {
  std::vector<Timestamp> times = Grid(5'000, 60'000'000);
  times[2'000] += std::chrono::hours(3);
  const std::vector<std::byte> packed = PackTimes(times);
  ASSERT_GT(packed.size(), 8u);
  // Every truncation.
  for (size_t n = 0; n < packed.size(); ++n) {
    SCOPED_TRACE(n);
    auto t = UnpackTimes(kSeriesRuns, std::span(packed).first(n), times.size());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().code, ErrorCode::kIo);
    EXPECT_FALSE(UnpackTimesHead(kSeriesRuns, std::span(packed).first(n), times.size(), 3).ok());
  }
  // Counts that do not add up to the row's.
  EXPECT_FALSE(UnpackTimes(kSeriesRuns, packed, times.size() - 1).ok());
  auto more = UnpackTimes(kSeriesRuns, packed, times.size() + 1);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.error().msg.find("times blob"), std::string::npos) << more.error().msg;
  EXPECT_FALSE(UnpackTimes(kSeriesRuns, packed, 0).ok());
  // Bytes past the last value.
  std::vector<std::byte> longer = packed;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(UnpackTimes(kSeriesRuns, longer, times.size()).ok());
  // A run of zero values.
  std::vector<std::byte> zero(packed.begin(), packed.begin() + 8);
  for (uint8_t b : {0x00, 0x00, 0x02, 0x01}) zero.push_back(std::byte{b});
  EXPECT_FALSE(UnpackTimes(kSeriesRuns, zero, 2).ok());
  // A count past 64 bits.
  std::vector<std::byte> huge(packed.begin(), packed.begin() + 8);
  huge.push_back(std::byte{0x02});
  for (int i = 0; i < 9; ++i) huge.push_back(std::byte{0xff});
  huge.push_back(std::byte{0x7f});
  EXPECT_FALSE(UnpackTimes(kSeriesRuns, huge, 3).ok());
  // A codec this build does not know.
  EXPECT_FALSE(UnpackTimes(7, packed, times.size()).ok());
}

TEST(PackingSeriesTest, DamagedEquityIsAnErrorNeverValues) {
  const std::vector<double> equity = Equity(3'000);
  const std::vector<std::byte> packed = PackEquity(equity);
  for (size_t n = 0; n < packed.size(); n += (n < 64 ? 1 : 37)) {
    SCOPED_TRACE(n);
    auto e = UnpackEquity(kSeriesRuns, std::span(packed).first(n), equity.size());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kIo);
  }
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, std::span(packed).first(packed.size() - 1),
                            equity.size())
                   .ok());
  // Segments that hold more or fewer values than the row says.
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, packed, equity.size() - 1).ok());
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, packed, equity.size() + 1).ok());
  std::vector<std::byte> longer = packed;
  longer.push_back(std::byte{0x03});  // one more repeat
  auto past = UnpackEquity(kSeriesRuns, longer, equity.size());
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().msg.find("equity blob"), std::string::npos) << past.error().msg;
  // A repeat with nothing before it; an empty segment.
  const std::vector<std::byte> repeat_first = {std::byte{0x03}};
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, repeat_first, 1).ok());
  EXPECT_FALSE(ReadEquityHead(kSeriesRuns, Over(repeat_first), 1, 1).ok());
  const std::vector<std::byte> empty_segment = {std::byte{0x00}};
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, empty_segment, 1).ok());
  EXPECT_FALSE(UnpackEquity(kSeriesRuns, {}, 1).ok());
  EXPECT_FALSE(UnpackEquity(2, packed, equity.size()).ok());
  EXPECT_FALSE(ReadEquityHead(2, Over(packed), equity.size(), 1).ok());
}

}  // namespace
}  // namespace tapedeck::store::internal
