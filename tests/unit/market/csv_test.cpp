#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "market/market.h"

namespace tapedeck::market {
namespace {

using ::testing::HasSubstr;

Series MustParse(std::string_view text, CsvFormat format = CsvFormat::kAuto) {
  CsvOptions options;
  options.format = format;
  options.source_name = "prices.csv";
  Result<Series> r = ParseCsv(text, options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? *r : Series();
}

Error MustFail(std::string_view text, CsvFormat format = CsvFormat::kAuto) {
  CsvOptions options;
  options.format = format;
  options.source_name = "prices.csv";
  Result<Series> r = ParseCsv(text, options);
  EXPECT_FALSE(r.ok()) << "parsed " << (r.ok() ? r->size() : 0) << " bars";
  return r.ok() ? Error{} : r.error();
}

Timestamp T(std::string_view iso) { return *ParseIso(iso); }

// ---- Formats -------------------------------------------------------------------------------

TEST(CsvFormatNames, ParseAndNameRoundTrip) {
  for (CsvFormat f : {CsvFormat::kAuto, CsvFormat::kYahoo, CsvFormat::kBinance, CsvFormat::kMt5,
                      CsvFormat::kGeneric}) {
    Result<CsvFormat> parsed = ParseCsvFormat(CsvFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(*ParseCsvFormat("MT5"), CsvFormat::kMt5);
}

TEST(CsvFormatNames, UnknownNameIsValidationNamingFormat) {
  Result<CsvFormat> r = ParseCsvFormat("excel");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(r.error().details.at("field"), "format");
}

TEST(CsvYahoo, ImportsStandardHeader) {
  const Series s = MustParse(
      "Date,Open,High,Low,Close,Adj Close,Volume\n"
      "2024-01-02,10,12,9,11,10.5,1000\n"
      "2024-01-03,11,13,10.5,12.25,12,2000\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2024-01-02"));
  EXPECT_EQ(s.times()[1], T("2024-01-03"));
  EXPECT_EQ(s.bar(1).open, 11);
  EXPECT_EQ(s.bar(1).high, 13);
  EXPECT_EQ(s.bar(1).low, 10.5);
  EXPECT_EQ(s.bar(1).close, 12.25);  // Close, not Adj Close
  EXPECT_EQ(s.bar(1).volume, 2000);
  EXPECT_EQ(*DetectCsvFormat("Date,Open,High,Low,Close,Adj Close,Volume\n"), CsvFormat::kYahoo);
}

TEST(CsvYahoo, AcceptsLowercaseAdjcloseAndMissingAdjClose) {
  const Series a = MustParse(
      "date,open,high,low,close,adjclose,volume\n2000-01-03,1469.25,1478,1438.359985,"
      "1455.219971,1455.219971,931800000\n",
      CsvFormat::kYahoo);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a.bar(0).close, 1455.219971);
  const Series b =
      MustParse("Date,Open,High,Low,Close,Volume\n2024-01-02,10,12,9,11,5\n", CsvFormat::kYahoo);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.bar(0).volume, 5);
}

TEST(CsvYahoo, AcceptsFootnoteStarsAndQuotedNames) {
  const Series s = MustParse(
      "\"Date\",\"Open\",\"High\",\"Low\",\"Close*\",\"Adj Close**\",\"Volume\"\n"
      "2024-01-02,10,12,9,11,10.5,1000\n");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.bar(0).close, 11);
}

TEST(CsvYahoo, SkipsRowsOfNulls) {
  const Series s = MustParse(
      "Date,Open,High,Low,Close,Adj Close,Volume\n"
      "2024-01-02,10,12,9,11,11,1\n"
      "2024-01-03,null,null,null,null,null,null\n"
      "2024-01-04,10,12,9,11,11,1\n");
  EXPECT_EQ(s.size(), 2u);
}

TEST(CsvYahoo, NullInOneColumnIsStillAnError) {
  const Error e = MustFail(
      "Date,Open,High,Low,Close,Adj Close,Volume\n"
      "2024-01-02,10,null,9,11,11,1\n");
  EXPECT_EQ(e.msg, "prices.csv:2:3: expected a number for high, got 'null'");
}

TEST(CsvYahoo, NamedFormatWithoutHeaderIsRejected) {
  const Error e = MustFail("2024-01-02,10,12,9,11,11,1\n", CsvFormat::kYahoo);
  EXPECT_THAT(e.msg, HasSubstr("prices.csv:1:1: expected a Yahoo header"));
}

TEST(CsvBinance, ImportsMillisecondOpenTimes) {
  const Series s = MustParse(
      "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,"
      "53957248.97,47134,682.57581,28957416.82,0\n"
      "1704070800000,42475.23,42775.00,42431.65,42613.56,1196.37856,1704074399999,"
      "50984893.72,44298,603.33181,25710327.50,0\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(s.times()[1], T("2024-01-01T01:00:00Z"));
  EXPECT_EQ(s.bar(0).open, 42283.58);
  EXPECT_EQ(s.bar(0).volume, 1271.68108);
  EXPECT_EQ(*DetectCsvFormat("1704067200000,1,1,1,1,1,1,1,1,1,1,0\n"), CsvFormat::kBinance);
}

TEST(CsvBinance, ImportsMicrosecondOpenTimes) {
  const Series s = MustParse(
      "1735689600000000,1,2,0.5,1.5,10,1735689659999999,1,1,1,1,0\n"
      "1735689660000000,1.5,2,1,1.75,10,1735689719999999,1,1,1,1,0\n",
      CsvFormat::kBinance);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2025-01-01T00:00:00Z"));
  EXPECT_EQ(s.times()[1], T("2025-01-01T00:01:00Z"));
}

TEST(CsvBinance, AcceptsItsHeader) {
  const Series s = MustParse(
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
      "taker_buy_volume,taker_buy_quote_volume,ignore\n"
      "1704067200000,1,2,0.5,1.5,10,1704067259999,1,1,1,1,0\n");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.times()[0], T("2024-01-01T00:00:00Z"));
}

TEST(CsvBinance, MixingMillisecondsAndMicrosecondsIsAnError) {
  const Error e = MustFail(
      "1704067200000,1,2,0.5,1.5,10,1704067259999,1,1,1,1,0\n"
      "1704067260000000,1,2,0.5,1.5,10,1704067319999999,1,1,1,1,0\n");
  EXPECT_EQ(e.msg,
            "prices.csv:2:1: expected an open time in milliseconds, as in the first row, got "
            "'1704067260000000'");
}

TEST(CsvBinance, RowOfWrongWidthIsAnError) {
  const Error e = MustFail(
      "1704067200000,1,2,0.5,1.5,10,1704067259999,1,1,1,1,0\n"
      "1704067260000,1,2,0.5,1.5,10,1704067319999,1,1,1,1\n");
  EXPECT_EQ(e.msg, "prices.csv:2:12: expected 12 columns, got 11");
}

TEST(CsvMt5, ImportsTabSeparatedExport) {
  const Series s = MustParse(
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n"
      "2024.01.02\t00:00:00\t1.10427\t1.10447\t1.10409\t1.10434\t263\t0\t8\r\n"
      "2024.01.02\t00:01\t1.10434\t1.10440\t1.10420\t1.10421\t120\t5000\t8\r\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2024-01-02T00:00:00Z"));
  EXPECT_EQ(s.times()[1], T("2024-01-02T00:01:00Z"));
  EXPECT_EQ(s.bar(0).volume, 263);   // VOL 0: the tick volume
  EXPECT_EQ(s.bar(1).volume, 5000);  // real volume when there is one
  EXPECT_EQ(s.bar(1).close, 1.10421);
  EXPECT_EQ(*DetectCsvFormat("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\n"),
            CsvFormat::kMt5);
}

TEST(CsvMt5, ImportsDailyExportWithoutTimeColumn) {
  const Series s = MustParse(
      "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
      "2024.01.02\t1.1\t1.2\t1.0\t1.15\t100\t0\t8\n",
      CsvFormat::kMt5);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.times()[0], T("2024-01-02"));
}

TEST(CsvMt5, ReadsUtf16WithBom) {
  const std::string narrow =
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n"
      "2024.01.02\t00:00\t1\t2\t0.5\t1.5\t10\t0\t1\r\n";
  std::string wide = "\xFF\xFE";
  for (char c : narrow) {
    wide.push_back(c);
    wide.push_back('\0');
  }
  const Series s = MustParse(wide);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.bar(0).volume, 10);
}

TEST(CsvMt5, NegativeTickVolumeBlamesTheTickVolumeColumn) {
  const Error e = MustFail(
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
      "2024.01.02\t00:00\t1\t2\t0.5\t1.5\t-10\t0\t1\n");
  EXPECT_EQ(e.msg, "prices.csv:2:7: expected a non-negative number for tick volume, got '-10'");
}

TEST(CsvMt5, BadTimeOfDayNamesItsColumn) {
  const Error e = MustFail(
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
      "2024.01.02\t25:00\t1\t2\t0.5\t1.5\t10\t0\t1\n");
  EXPECT_EQ(e.msg, "prices.csv:2:2: expected a time of day (HH:MM[:SS]), got '25:00'");
}

TEST(CsvGeneric, ImportsIsoTimesWithoutHeader) {
  const Series s = MustParse(
      "2024-01-02T09:30:00Z,10,11,9,10.5,100\n"
      "2024-01-02T09:31:00Z,10.5,11,10,10.75,50\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[1], T("2024-01-02T09:31:00Z"));
  EXPECT_EQ(s.bar(1).volume, 50);
  EXPECT_EQ(*DetectCsvFormat("2024-01-02,1,1,1,1\n"), CsvFormat::kGeneric);
}

TEST(CsvGeneric, ImportsUnixSecondsWithHeaderAndNoVolume) {
  const Series s = MustParse(
      "time,open,high,low,close\n"
      "1704067200,1,2,0.5,1.5\n"
      "1704067260,1.5,2,1,1.75\n",
      CsvFormat::kGeneric);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(s.times()[1], T("2024-01-01T00:01:00Z"));
  EXPECT_EQ(s.bar(0).volume, 0);
}

TEST(CsvGeneric, AppliesOffsetsAndFractions) {
  const Series s = MustParse(
      "2024-01-02 10:30:00+01:00,1,2,0.5,1.5\n"
      "2024-01-02T09:30:00.5,1,2,0.5,1.5\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.times()[0], T("2024-01-02T09:30:00Z"));
  EXPECT_EQ(ToMicros(s.times()[1]) - ToMicros(s.times()[0]), 500'000);
}

TEST(CsvGeneric, FindsColumnsByNameInAnyOrder) {
  const Series s = MustParse("close,open,symbol,time,low,high\n1.5,1,X,2024-01-01,0.5,2\n");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.bar(0).open, 1);
  EXPECT_EQ(s.bar(0).close, 1.5);
  EXPECT_EQ(s.bar(0).high, 2);
}

TEST(CsvText, HandlesCrlfBomMissingFinalNewlineAndBlankLines) {
  const Series s = MustParse(
      "\xEF\xBB\xBFtime,open,high,low,close,volume\r\n"
      "2024-01-02,1,2,0.5,1.5,1\r\n"
      "\r\n"
      "2024-01-03,1,2,0.5,1.5,1");
  ASSERT_EQ(s.size(), 2u);
  const Series t = MustParse("2024-01-02,1,2,0.5,1.5,1\n2024-01-03,1,2,0.5,1.5,1\n\n\n\r\n");
  EXPECT_EQ(t.size(), 2u);
}

TEST(CsvText, SymbolComesFromOptions) {
  CsvOptions options;
  options.symbol = "SPX";
  Result<Series> r = ParseCsv("2024-01-02,1,2,0.5,1.5\n", options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->symbol(), "SPX");
}

TEST(CsvText, ReportsProgressEndingAtTotal) {
  std::string text;
  for (int i = 0; i < 200'000; ++i)
    text += std::to_string(1'000'000'000 + i * 60) + ",1,2,0.5,1.5,3\n";
  size_t calls = 0, last_done = 0, last_total = 0;
  CsvOptions options;
  options.progress = [&](size_t done, size_t total) {
    ++calls;
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  ASSERT_TRUE(ParseCsv(text, options).ok());
  EXPECT_GE(calls, 2u);
  EXPECT_EQ(last_done, text.size());
  EXPECT_EQ(last_total, text.size());
}

// ---- Errors: each names file, line, column, what was expected and what was there ----------

TEST(CsvErrors, UnparsableNumberNamesLineColumnAndField) {
  std::string text = "time,open,high,low,close,volume\n";
  for (int d = 1; d <= 15; ++d) {
    char row[64];
    std::snprintf(row, sizeof row, "2024-01-%02d,1,2,0.5,1.5,1\n", d);
    text += row;
  }
  text += "2024-01-16,1,abc,0.5,1.5,1\n";  // line 17
  const Error e = MustFail(text);
  EXPECT_EQ(e.code, ErrorCode::kValidation);
  EXPECT_EQ(e.msg, "prices.csv:17:3: expected a number for high, got 'abc'");
  EXPECT_EQ(e.details.at("file"), "prices.csv");
  EXPECT_EQ(e.details.at("line"), "17");
  EXPECT_EQ(e.details.at("column"), "3");
  EXPECT_EQ(e.details.at("expected"), "a number for high");
  EXPECT_EQ(e.details.at("got"), "abc");
}

TEST(CsvErrors, NumberWithTrailingJunkIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,1.5x,1\n").msg,
            "prices.csv:1:5: expected a number for close, got '1.5x'");
}

TEST(CsvErrors, EmptyFieldIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,1,,0.5,1.5,1\n").msg,
            "prices.csv:1:3: expected a number for high, got ''");
}

TEST(CsvErrors, UnparsableTimeIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,1.5\n2024-13-02,1,2,0.5,1.5\n").msg,
            "prices.csv:2:1: expected a time (ISO-8601 or Unix seconds), got '2024-13-02'");
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,1.5\n2024-02-30,1,2,0.5,1.5\n").details.at("line"), "2");
  // Unix milliseconds where seconds belong would be the year 55000: refused, not guessed.
  EXPECT_EQ(MustFail("1704067200000,1,2,0.5,1.5\n").details.at("column"), "1");
}

TEST(CsvErrors, NanAndInfinityAreRejected) {
  EXPECT_EQ(MustFail("2024-01-02,nan,2,0.5,1.5\n").msg,
            "prices.csv:1:2: expected a finite number for open, got 'nan'");
  EXPECT_EQ(MustFail("2024-01-02,1,inf,0.5,1.5\n").msg,
            "prices.csv:1:3: expected a finite number for high, got 'inf'");
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,1.5,1e999\n").details.at("column"), "6");
}

TEST(CsvErrors, HighBelowLowIsRejected) {
  const Error e = MustFail("2024-01-02,1,2,0.5,1.5\n2024-01-03,1,0.5,2,1.5\n");
  EXPECT_EQ(e.msg, "prices.csv:2:3: expected high >= low (2), got '0.5'");
  EXPECT_EQ(e.details.at("expected"), "high >= low (2)");
}

TEST(CsvErrors, OpenOrCloseOutsideTheRangeIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,3,2,0.5,1.5\n").msg,
            "prices.csv:1:2: expected open within [low, high] = [0.5, 2], got '3'");
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,0.25\n").msg,
            "prices.csv:1:5: expected close within [low, high] = [0.5, 2], got '0.25'");
}

TEST(CsvErrors, TimeGoingBackwardsIsRejected) {
  const Error e = MustFail("2024-01-03,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.5\n");
  EXPECT_EQ(e.msg, "prices.csv:2:1: expected a time after 2024-01-03T00:00:00Z, got '2024-01-02'");
}

TEST(CsvErrors, RepeatedTimeIsRejected) {
  const Error e = MustFail(
      "time,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n\n"
      "2024-01-02,1,2,0.5,1.5\n");
  EXPECT_EQ(e.msg, "prices.csv:4:1: expected a time after 2024-01-02T00:00:00Z, got '2024-01-02'");
}

TEST(CsvErrors, TooFewColumnsNamesTheMissingColumn) {
  const Error e = MustFail("2024-01-02,1,2,0.5,1.5,1\n2024-01-03,1,2,0.5,1.5\n");
  EXPECT_EQ(e.msg, "prices.csv:2:6: expected 6 columns, got 5");
  EXPECT_EQ(e.details.at("got"), "5");
}

TEST(CsvErrors, TooManyColumnsNamesTheFirstExtraColumn) {
  const Error e = MustFail("2024-01-02,1,2,0.5,1.5\n2024-01-03,1,2,0.5,1.5,1,1\r\n");
  EXPECT_EQ(e.msg, "prices.csv:2:6: expected 5 columns, got 7");
}

TEST(CsvErrors, UnknownColumnCountWithoutHeaderIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5\n").details.at("got"), "4");
  EXPECT_EQ(MustFail("2024-01-02,1,2\n", CsvFormat::kGeneric).msg,
            "prices.csv:1:4: expected 5 or 6 columns (time,open,high,low,close[,volume]), got 3");
}

TEST(CsvErrors, NegativeVolumeIsRejected) {
  EXPECT_EQ(MustFail("2024-01-02,1,2,0.5,1.5,-3\n").msg,
            "prices.csv:1:6: expected a non-negative number for volume, got '-3'");
}

TEST(CsvErrors, EmptyFileIsRejected) {
  const Error e = MustFail("");
  EXPECT_EQ(e.msg, "prices.csv:1:1: expected a data row, got end of file");
  EXPECT_EQ(MustFail("\xEF\xBB\xBF\r\n\r\n").details.at("line"), "3");
}

TEST(CsvErrors, HeaderWithoutRowsIsRejected) {
  EXPECT_EQ(MustFail("Date,Open,High,Low,Close,Adj Close,Volume\n\n").msg,
            "prices.csv:3:1: expected a data row, got end of file");
}

TEST(CsvErrors, HeaderMissingAPriceColumnIsRejected) {
  EXPECT_EQ(MustFail("time,open,low,close\n2024-01-02,1,0.5,1.5\n").msg,
            "prices.csv:1:1: expected a 'high' column, got 'time,open,low,close'");
}

TEST(CsvErrors, HeaderRepeatingAColumnIsRejected) {
  EXPECT_EQ(MustFail("time,open,high,low,close,Close\n").msg,
            "prices.csv:1:6: expected one 'close' column, got 'Close'");
}

TEST(CsvErrors, ErrorAfterManyGoodRowsReturnsNothingPartial) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(1'000'000'000 + i * 60) + ",1,2,0.5,1.5\n";
  text += "999,1,2,0.5,1.5\n";
  const Error e = MustFail(text);
  EXPECT_EQ(e.details.at("line"), "1001");
}

// ---- Files ---------------------------------------------------------------------------------

std::string SampleFile() {
  for (std::string path :
       {std::string(TAPEDECK_SOURCE_DIR) + "/node_modules/vega-datasets/data/sp500-2000.csv",
        std::string("/tmp/vd/package/data/sp500-2000.csv")}) {
    if (std::ifstream(path).good()) return path;
  }
  return "";
}

TEST(CsvFile, BundledSp500SampleImportsWithAutoDetection) {
  const std::string path = SampleFile();
  if (path.empty()) GTEST_SKIP() << "vega-datasets not installed (npm ci)";
  Result<Series> r = ImportCsvFile(path, CsvOptions{});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  // 5105 rows after the header; `wc -l` says 5105 lines only because the last has no newline.
  EXPECT_EQ(r->size(), 5105u);
  EXPECT_EQ(r->times().front(), T("2000-01-03"));
  EXPECT_EQ(r->times().back(), T("2020-04-17"));
  EXPECT_EQ(r->bar(0).open, 1469.25);
  EXPECT_EQ(r->bar(5104).close, 2874.560059);
  EXPECT_EQ(r->bar(5104).volume, 5792140000);
}

TEST(CsvFile, MissingFileIsIoNamingThePath) {
  Result<Series> r = ImportCsvFile("/nonexistent/prices.csv", CsvOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_THAT(r.error().msg, HasSubstr("/nonexistent/prices.csv"));
}

TEST(CsvFile, ErrorsNameThePathWhenNoSourceNameIsGiven) {
  const std::string path = std::string(::testing::TempDir()) + "/bad_prices.csv";
  std::ofstream(path) << "2024-01-02,1,2,0.5,1.5\n2024-01-03,1,2,x,1.5\n";
  Result<Series> r = ImportCsvFile(path, CsvOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().msg, path + ":2:4: expected a number for low, got 'x'");
  std::remove(path.c_str());
}

TEST(CsvFile, EmptyFileIsValidationNotIo) {
  const std::string path = std::string(::testing::TempDir()) + "/empty_prices.csv";
  std::ofstream(path).flush();
  Result<Series> r = ImportCsvFile(path, CsvOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  std::remove(path.c_str());
}

// ---- Writing -------------------------------------------------------------------------------

TEST(GenericCsv, WritesNumbersThatReadBackExactly) {
  const std::vector<double> values = {0,       1,     -1,        0.5,        0.05, 100.37,
                                      -2.1,    1e-7,  0.1 + 0.2, 1234567.89, 5e14, 3e20,
                                      1.0 / 3, -0.07, 99.99,     1e15};
  std::vector<Bar> bars;
  int64_t t = 0;
  for (double v : values) bars.push_back({FromMicros(t += 1'000'000), v, v, v, v, std::abs(v)});
  const Series back = MustParse(ToGenericCsv(Series::FromBars("N", bars)));
  ASSERT_EQ(back.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(back.open()[i], values[i]) << values[i];
    EXPECT_EQ(back.volume()[i], std::abs(values[i])) << values[i];
  }
  EXPECT_NE(ToGenericCsv(Series::FromBars("N", bars)).find(",100.37,"), std::string::npos);
}

TEST(GenericCsv, WritesTimesExactlyAsFormatIso) {
  std::vector<Bar> bars;
  for (int64_t us : {int64_t{-86'400'000'001}, int64_t{-1}, int64_t{0}, int64_t{1},
                     int64_t{59'999'999}, int64_t{1'709'164'800'250'000},
                     int64_t{1'709'251'199'000'000}, int64_t{1'709'251'200'000'000}}) {
    bars.push_back({FromMicros(us), 1, 1, 1, 1, 0});
  }
  const std::string text = ToGenericCsv(Series::FromBars("T", bars));
  size_t pos = text.find('\n') + 1;
  for (const Bar& b : bars) {
    const size_t comma = text.find(',', pos);
    EXPECT_EQ(text.substr(pos, comma - pos), FormatIso(b.time));
    pos = text.find('\n', pos) + 1;
  }
}

TEST(GenericCsv, RoundTripsExactly) {
  GenOptions gen;
  gen.bars = 500;
  const Series s = Generate(gen);
  const std::string text = ToGenericCsv(s);
  EXPECT_TRUE(text.starts_with("time,open,high,low,close,volume\n2023-01-01T00:00:00Z,"));
  const Series back = MustParse(text);
  ASSERT_EQ(back.size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(back.times()[i], s.times()[i]);
    EXPECT_EQ(back.open()[i], s.open()[i]);
    EXPECT_EQ(back.high()[i], s.high()[i]);
    EXPECT_EQ(back.low()[i], s.low()[i]);
    EXPECT_EQ(back.close()[i], s.close()[i]);
    EXPECT_EQ(back.volume()[i], s.volume()[i]);
  }
}

// A UTF-16 file whose narrowed text is short enough to live inside the std::string object (the
// fuzzer found the parser reading it after it had been moved; ASan: stack-use-after-return).
TEST(CsvMt5, ShortUtf16TextIsReadFromWhereItLives) {
  std::string wide = "\xFF\xFE";
  for (char c : std::string("a,b\n")) {
    wide.push_back(c);
    wide.push_back('\0');
  }
  CsvOptions options;
  options.source_name = "short.csv";
  Result<Series> s = ParseCsv(wide, options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kValidation);
  EXPECT_NE(s.error().msg.find("short.csv:1"), std::string::npos) << s.error().msg;
  EXPECT_NE(s.error().msg.find("a,b"), std::string::npos) << s.error().msg;
}

}  // namespace
}  // namespace tapedeck::market
