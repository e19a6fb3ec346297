// Internal to market: how the columns of one CSV file map onto a bar, found from the format asked
// for and the file's first line, and the VALIDATION error every CSV complaint is built with.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "market/market.h"

namespace tapedeck::market {

// What a column holds.
enum class Role : uint8_t {
  kSkip,   // read past (Adj Close, Binance's close time, MT5's spread, unknown names)
  kTime,   // a full time: ISO-8601 / Unix seconds, or Binance's epoch ms/us
  kDate,   // a date whose time of day is in a kClock column (MT5)
  kClock,  // HH:MM[:SS]
  kOpen,
  kHigh,
  kLow,
  kClose,
  kVolume,      // the volume, or MT5's VOL when a kTickVolume column exists
  kTickVolume,  // MT5's TICKVOL: the volume when VOL is 0
};
inline constexpr int kRoleCount = 10;

enum class TimeKind : uint8_t {
  kIsoOrSeconds,  // ISO-8601 or Unix seconds
  kEpochMsOrUs,   // Binance: integer ms or us since the epoch, told apart by magnitude
};

// More columns than this is not bar data.
inline constexpr int kMaxColumns = 64;

struct Layout {
  CsvFormat format = CsvFormat::kGeneric;  // resolved, never kAuto
  char delim = ',';
  bool header = false;  // the first non-blank line names the columns
  int columns = 0;      // every data row has exactly this many
  TimeKind time_kind = TimeKind::kIsoOrSeconds;
  bool date_and_clock = false;  // time = kDate column + kClock column
  std::array<Role, kMaxColumns> roles{};
  std::array<int, kRoleCount> column_of{};  // 0-based column of each role, -1 when absent
};

// The first line's words for a role, as error messages name it: "high", "volume", ...
std::string_view RoleName(Role role);

// Resolves the layout for `requested` from `first_line` (the first non-blank line, without its
// line end), which is line `line` of `file`. VALIDATION when the line fits no layout the format
// allows: no header where one is required, missing price columns, an unknown column count.
Result<Layout> ResolveLayout(CsvFormat requested, std::string_view first_line, size_t line,
                             std::string_view file);

// The one shape of CSV complaint: msg "file:line:column: expected <expected>, got <got>", with
// `got` in single quotes when it is text from the file, and the same five fields in details.
Error CsvError(std::string_view file, size_t line, size_t column, std::string_view expected,
               std::string_view got, bool quote_got = true);

}  // namespace tapedeck::market
