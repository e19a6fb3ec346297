// The two-thread split of ParseCsv (market/csv_parse.h): wherever the rows are cut, and into
// however many stretches, the result is the one-thread scan's, bit for bit, and so is every error.
#include "market/csv_parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr CsvSplit kOneThread{std::numeric_limits<size_t>::max(), 0.5, 2};

Result<Series> Parse(std::string_view text, const CsvSplit& split,
                     CsvFormat format = CsvFormat::kAuto) {
  CsvOptions options;
  options.format = format;
  options.source_name = "prices.csv";
  return ParseCsvSplit(text, options, split);
}

template <typename T>
bool SameBits(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

// Both parsed to the same bits, or both failed with the same code, message and details.
::testing::AssertionResult Same(const Result<Series>& split, const Result<Series>& one) {
  if (split.ok() != one.ok()) {
    return ::testing::AssertionFailure()
           << "split " << (split.ok() ? "parsed" : split.error().ToString()) << ", one thread "
           << (one.ok() ? "parsed" : one.error().ToString());
  }
  if (!one.ok()) {
    if (split.error().code != one.error().code || split.error().msg != one.error().msg ||
        split.error().details != one.error().details) {
      return ::testing::AssertionFailure()
             << "split: " << split.error().ToString() << "\none thread: " << one.error().ToString();
    }
    return ::testing::AssertionSuccess();
  }
  const Series& a = *split;
  const Series& b = *one;
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << a.size() << " bars against " << b.size();
  }
  if (!SameBits(a.times(), b.times()) || !SameBits(a.open(), b.open()) ||
      !SameBits(a.high(), b.high()) || !SameBits(a.low(), b.low()) ||
      !SameBits(a.close(), b.close()) || !SameBits(a.volume(), b.volume()) ||
      a.symbol() != b.symbol()) {
    return ::testing::AssertionFailure() << "the columns differ";
  }
  return ::testing::AssertionSuccess();
}

// Parses `text` with its first cut at every byte of its rows (the cut then moves to the next line
// start), the rest cut into 1, 2 or 15 more stretches, and holds each result to the one-thread
// scan's.
void ExpectSameAtEveryCut(const std::string& text, CsvFormat format = CsvFormat::kAuto) {
  const Result<Series> one = Parse(text, kOneThread, format);
  for (size_t at = 1; at < text.size(); ++at) {
    const double share = (static_cast<double>(at) + 0.5) / static_cast<double>(text.size());
    for (size_t stretches : {2, 3, 16}) {
      EXPECT_TRUE(Same(Parse(text, CsvSplit{0, share, stretches}, format), one))
          << "cut near byte " << at << " into " << stretches << " stretches";
    }
  }
}

std::string GenericRows(int from_day, int days, std::string_view eol) {
  std::string out;
  for (int d = from_day; d < from_day + days; ++d) {
    char row[160];
    std::snprintf(row, sizeof row, "2024-01-%02dT09:30:00Z,%d.5,%d.75,%d.25,%d.5,%d", d, d, d, d, d,
                  100 + d);
    out += row;
    out += eol;
  }
  return out;
}

TEST(CsvSplit, AnyCutGivesTheOneThreadSeriesBitForBit) {
  ExpectSameAtEveryCut("time,open,high,low,close,volume\n" + GenericRows(1, 28, "\n"));
  // No final line end, and rows without a header.
  std::string rows = GenericRows(1, 20, "\n");
  rows.pop_back();
  ExpectSameAtEveryCut(rows);
}

TEST(CsvSplit, CutsInsideCrlfOrBlankLinesOrLoneCrsKeepEveryRow) {
  ExpectSameAtEveryCut("\xEF\xBB\xBFtime,open,high,low,close,volume\r\n" +
                       GenericRows(1, 6, "\r\n") + "\r\n\r\n\n" + GenericRows(7, 6, "\r\n") +
                       "\r\n" + GenericRows(13, 6, "\r"));
  // Far more blank lines than rows in the first part: the second part's rows move down.
  ExpectSameAtEveryCut(GenericRows(1, 3, "\n") + std::string(40, '\n') + GenericRows(4, 5, "\n"));
}

TEST(CsvSplit, YahooRowsOfNullsAnywhereAreSkippedAsOnOneThread) {
  const std::string null_row = "2024-01-%02d,null,null,null,null,null,null\n";
  std::string text = "Date,Open,High,Low,Close,Adj Close,Volume\n";
  for (int d = 1; d <= 24; ++d) {
    char row[160];
    if (d % 5 == 0) {
      std::snprintf(row, sizeof row, null_row.c_str(), d);
    } else {
      std::snprintf(row, sizeof row, "2024-01-%02d,%d,%d.5,%d,%d.25,%d.25,%d\n", d, d, d, d, d, d,
                    1000 + d);
    }
    text += row;
  }
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 20u);
  ExpectSameAtEveryCut(text);
}

TEST(CsvSplit, Mt5AndBinanceShapesAtEveryCut) {
  std::string mt5 =
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n";
  for (int m = 0; m < 12; ++m) {
    char row[160];
    std::snprintf(row, sizeof row, "2024.01.02\t10:%02d:00\t1.1%d\t1.2\t1.0\t1.1\t%d\t0\t2\r\n", m,
                  m % 10, 10 + m);
    mt5 += row;
  }
  ExpectSameAtEveryCut(mt5);
  std::string binance;
  for (int m = 0; m < 12; ++m) {
    binance += std::to_string(1704067200000 + m * 60000) + ",1,2,0.5,1.5,10," +
               std::to_string(1704067259999 + m * 60000) + ",1,1,1,1,0\n";
  }
  ExpectSameAtEveryCut(binance);
}

TEST(CsvSplit, AnErrorInTheSecondPartNamesItsOwnRow) {
  std::string text = "time,open,high,low,close,volume\n" + GenericRows(1, 20, "\n");
  text += "2024-01-21T09:30:00Z,1,abc,0.5,1.5,1\n";  // line 22
  text += GenericRows(22, 3, "\n");
  const Result<Series> split = Parse(text, CsvSplit{0, 0.3});
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.error().msg, "prices.csv:22:3: expected a number for high, got 'abc'");
  EXPECT_EQ(split.error().details.at("line"), "22");
  ExpectSameAtEveryCut(text);
}

TEST(CsvSplit, OfTwoErrorsTheFirstIsReportedWhereverTheCut) {
  std::string text = GenericRows(1, 5, "\n") + "2024-01-06T09:30:00Z,1,2,3,1.5,1\n" +
                     GenericRows(7, 5, "\n") + "2024-01-12T09:30:00Z,1,2,0.5,1.5,-1\n" +
                     GenericRows(13, 5, "\n");
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().details.at("line"), "6");
  ExpectSameAtEveryCut(text);
}

TEST(CsvSplit, TimeGoingBackAcrossTheCutIsTheOneThreadError) {
  // Day 10 again right after day 12: whichever part it falls in, line 13 is blamed.
  const std::string text = GenericRows(1, 12, "\n") + GenericRows(10, 6, "\n");
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().details.at("line"), "13");
  ExpectSameAtEveryCut(text);
  // A repeated time exactly at the cut.
  ExpectSameAtEveryCut(GenericRows(1, 8, "\n") + GenericRows(8, 8, "\n"));
}

TEST(CsvSplit, MillisecondsThenMicrosecondsAcrossTheCutIsTheOneThreadError) {
  std::string text;
  for (int m = 0; m < 8; ++m) {
    text += std::to_string(1704067200000 + m * 60000) + ",1,2,0.5,1.5,10,1,1,1,1,1,0\n";
  }
  for (int m = 8; m < 16; ++m) {
    text += std::to_string((1704067200000 + m * 60000) * 1000) + ",1,2,0.5,1.5,10,1,1,1,1,1,0\n";
  }
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().details.at("line"), "9");
  ExpectSameAtEveryCut(text);
}

TEST(CsvSplit, AQuotedFieldHoldingALineEndIsTheOneThreadErrorWhereverTheCut) {
  // No data row may quote a field; one that does is an error, even when the cut falls inside it.
  const std::string text = GenericRows(1, 6, "\n") + "2024-01-07T09:30:00Z,\"1\n2\",2,0.5,1.5,1\n" +
                           GenericRows(8, 6, "\n");
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().details.at("line"), "7");
  ExpectSameAtEveryCut(text);
}

TEST(CsvSplit, EmptyHeaderOnlyAndOneRowTextsAreAsOnOneThread) {
  for (std::string text :
       {std::string(""), std::string("\n\n"), std::string("time,open,high,low,close,volume\n"),
        std::string("time,open,high,low,close,volume\n\n\r\n"), GenericRows(1, 1, "\n"),
        GenericRows(1, 1, ""), "time,open,high,low,close,volume\n" + GenericRows(1, 1, "\r\n")}) {
    const Result<Series> one = Parse(text, kOneThread);
    EXPECT_TRUE(Same(Parse(text, CsvSplit{0, 0.5}), one)) << "'" << text << "'";
    ExpectSameAtEveryCut(text);
  }
}

TEST(CsvSplit, RowsFarNarrowerThanTheFirstStillParse) {
  // The split sizes its room from the first row's width: a first row ten times wider than the
  // rest overflows it, and the one-thread scan (which grows its columns) takes over.
  std::string text =
      "2024-01-01,1.000000000000,2.000000000000,0.500000000000,1.500000000000,"
      "1000000000000\n";
  for (int i = 0; i < 400; ++i) text += std::to_string(1'710'000'000 + i * 60) + ",1,2,0,1,1\n";
  const Result<Series> one = Parse(text, kOneThread);
  ASSERT_TRUE(one.ok()) << one.error().ToString();
  EXPECT_EQ(one->size(), 401u);
  for (double share : {0.1, 0.5, 0.9}) EXPECT_TRUE(Same(Parse(text, CsvSplit{0, share}), one));
}

TEST(CsvSplit, ALargeTextSplitAsParseCsvSplitsItMatches) {
  // 525,600 generated bars (about 28 MB): the default split (ParseCsv takes it when a core is
  // idle), and ParseCsv itself, against one thread.
  const std::string text = ToGenericCsv(Generate({.bars = 525'600, .seed = 3}));
  const Result<Series> one = Parse(text, kOneThread);
  EXPECT_TRUE(Same(Parse(text, CsvSplit{}), one));
  CsvOptions options;
  options.source_name = "prices.csv";
  EXPECT_TRUE(Same(ParseCsv(text, options), one));
}

}  // namespace
}  // namespace tapedeck::market
