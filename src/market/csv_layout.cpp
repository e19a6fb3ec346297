#include "market/csv_layout.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/strings.h"

namespace tapedeck::market {
namespace {

constexpr std::string_view kFormatNames[] = {"auto", "yahoo", "binance", "mt5", "generic"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "  <Adj Close> " -> "adj close", "Close*" -> "close": quotes, MT5's angle brackets and the
// footnote stars of a table copied from Yahoo's web page are decoration, not names.
std::string NormalizeName(std::string_view raw) {
  auto strip = [&raw](char open, char close) {
    if (raw.size() >= 2 && raw.front() == open && raw.back() == close) {
      raw = raw.substr(1, raw.size() - 2);
    }
  };
  auto trim = [&raw] {
    while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
  };
  trim();
  strip('"', '"');
  strip('<', '>');
  while (!raw.empty() && raw.back() == '*') raw.remove_suffix(1);
  trim();
  return Lower(raw);
}

Role RoleOfName(const std::string& n) {
  if (n == "date") return Role::kDate;
  if (n == "time" || n == "datetime" || n == "date time" || n == "date_time" || n == "timestamp" ||
      n == "open_time" || n == "open time" || n == "opentime") {
    return Role::kTime;
  }
  if (n == "open") return Role::kOpen;
  if (n == "high") return Role::kHigh;
  if (n == "low") return Role::kLow;
  if (n == "close") return Role::kClose;
  if (n == "volume" || n == "vol") return Role::kVolume;
  if (n == "tickvol" || n == "tick_volume" || n == "tick volume") return Role::kTickVolume;
  // Adj Close, Binance's close_time/quote_volume/count/..., MT5's spread, anything else.
  return Role::kSkip;
}

void IndexRoles(Layout& layout) {
  layout.column_of.fill(-1);
  for (int c = layout.columns - 1; c >= 0; --c) {
    layout.column_of[static_cast<int>(layout.roles[c])] = c;
  }
}

Result<Layout> FromHeader(CsvFormat requested, std::string_view first_line, char delim, size_t line,
                          std::string_view file) {
  const std::vector<std::string_view> fields = Split(first_line, delim);
  Layout layout;
  layout.delim = delim;
  layout.header = true;
  layout.columns = static_cast<int>(fields.size());
  if (layout.columns > kMaxColumns) {
    return CsvError(file, line, kMaxColumns + 1,
                    "at most " + std::to_string(kMaxColumns) + " columns",
                    std::to_string(fields.size()), false);
  }
  bool adj_close = false, angle_brackets = false;
  std::array<int, kRoleCount> seen;
  seen.fill(-1);
  for (int c = 0; c < layout.columns; ++c) {
    const std::string name = NormalizeName(fields[c]);
    adj_close |= name == "adj close" || name == "adjclose" || name == "adj_close";
    angle_brackets |= !fields[c].empty() && fields[c].front() == '<';
    const Role role = RoleOfName(name);
    layout.roles[c] = role;
    if (role == Role::kSkip) continue;
    int& first = seen[static_cast<int>(role)];
    if (first >= 0) {
      return CsvError(file, line, c + 1, "one '" + std::string(RoleName(role)) + "' column",
                      fields[c]);
    }
    first = c;
  }
  const int date = seen[static_cast<int>(Role::kDate)];
  const int time = seen[static_cast<int>(Role::kTime)];
  if (date >= 0 && time >= 0) {
    layout.roles[time] = Role::kClock;  // MT5: <DATE> and <TIME> of day
    layout.date_and_clock = true;
  } else if (date >= 0) {
    layout.roles[date] = Role::kTime;  // Yahoo: Date holds the whole time
  } else if (time < 0) {
    return CsvError(file, line, 1, "a 'time' or 'date' column", first_line);
  }
  for (Role r : {Role::kOpen, Role::kHigh, Role::kLow, Role::kClose}) {
    if (seen[static_cast<int>(r)] < 0) {
      return CsvError(file, line, 1, "a '" + std::string(RoleName(r)) + "' column", first_line);
    }
  }
  if (requested != CsvFormat::kAuto) {
    layout.format = requested;
  } else if (angle_brackets || seen[static_cast<int>(Role::kTickVolume)] >= 0) {
    layout.format = CsvFormat::kMt5;
  } else if (adj_close || (date >= 0 && time < 0)) {
    layout.format = CsvFormat::kYahoo;
  } else if (layout.columns == 12 && NormalizeName(fields[0]) == "open_time") {
    layout.format = CsvFormat::kBinance;
  } else {
    layout.format = CsvFormat::kGeneric;
  }
  if (layout.format == CsvFormat::kBinance) layout.time_kind = TimeKind::kEpochMsOrUs;
  IndexRoles(layout);
  return layout;
}

Layout Positional(CsvFormat format, int columns) {
  Layout layout;
  layout.format = format;
  layout.columns = columns;
  layout.time_kind =
      format == CsvFormat::kBinance ? TimeKind::kEpochMsOrUs : TimeKind::kIsoOrSeconds;
  constexpr Role kOrder[] = {Role::kTime, Role::kOpen,  Role::kHigh,
                             Role::kLow,  Role::kClose, Role::kVolume};
  for (int c = 0; c < columns; ++c) layout.roles[c] = c < 6 ? kOrder[c] : Role::kSkip;
  IndexRoles(layout);
  return layout;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSkip:
      return "skipped";
    case Role::kTime:
      return "time";
    case Role::kDate:
      return "date";
    case Role::kClock:
      return "time";
    case Role::kOpen:
      return "open";
    case Role::kHigh:
      return "high";
    case Role::kLow:
      return "low";
    case Role::kClose:
      return "close";
    case Role::kVolume:
      return "volume";
    case Role::kTickVolume:
      return "tick volume";
  }
  return "?";
}

Error CsvError(std::string_view file, size_t line, size_t column, std::string_view expected,
               std::string_view got, bool quote_got) {
  // A binary file can hand us a "field" of megabytes; the message only needs its start.
  constexpr size_t kMaxGot = 60;
  std::string got_text(got.substr(0, kMaxGot));
  if (got.size() > kMaxGot) got_text += "...";
  std::string msg = std::string(file) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                    ": expected " + std::string(expected) + ", got " +
                    (quote_got ? "'" + got_text + "'" : got_text);
  return MakeError(ErrorCode::kValidation, std::move(msg),
                   {{"file", std::string(file)},
                    {"line", std::to_string(line)},
                    {"column", std::to_string(column)},
                    {"expected", std::string(expected)},
                    {"got", got_text}});
}

Result<CsvFormat> ParseCsvFormat(std::string_view name) {
  const std::string lower = Lower(name);
  for (size_t i = 0; i < std::size(kFormatNames); ++i) {
    if (lower == kFormatNames[i]) return static_cast<CsvFormat>(i);
  }
  return MakeError(ErrorCode::kValidation,
                   "unknown CSV format '" + std::string(name) +
                       "': expected auto, yahoo, binance, mt5 or generic",
                   {{"field", "format"}, {"got", std::string(name)}});
}

std::string_view CsvFormatName(CsvFormat format) {
  return kFormatNames[static_cast<size_t>(format)];
}

Result<Layout> ResolveLayout(CsvFormat requested, std::string_view first_line, size_t line,
                             std::string_view file) {
  char delim = ',';
  if (requested == CsvFormat::kMt5 ||
      (requested == CsvFormat::kAuto && first_line.find('\t') != std::string_view::npos)) {
    delim = '\t';
  }
  // Data rows start with a digit (a date or an epoch); anything else is a header.
  const bool header = first_line.empty() || !IsDigit(first_line.front());
  if (header) return FromHeader(requested, first_line, delim, line, file);

  const std::string_view first_field = first_line.substr(0, first_line.find(delim));
  const int columns = static_cast<int>(Split(first_line, delim).size());
  switch (requested) {
    case CsvFormat::kYahoo:
      return CsvError(file, line, 1, "a Yahoo header (Date,Open,High,Low,Close,Adj Close,Volume)",
                      first_field);
    case CsvFormat::kMt5:
      return CsvError(file, line, 1,
                      "an MT5 header (<DATE>\\t<TIME>\\t<OPEN>\\t<HIGH>\\t<LOW>\\t<CLOSE>...)",
                      first_field);
    case CsvFormat::kBinance:
      return Positional(CsvFormat::kBinance, 12);  // rows of another width fail by line
    case CsvFormat::kGeneric:
      if (columns != 5 && columns != 6) {
        return CsvError(file, line, std::min(columns, 6) + 1,
                        "5 or 6 columns (time,open,high,low,close[,volume])",
                        std::to_string(columns), false);
      }
      return Positional(CsvFormat::kGeneric, columns);
    case CsvFormat::kAuto:
      if (delim == '\t') {
        return CsvError(file, line, 1, "a header naming the tab-separated columns (MT5: <DATE>)",
                        first_field);
      }
      if (columns == 12) return Positional(CsvFormat::kBinance, 12);
      if (columns == 5 || columns == 6) return Positional(CsvFormat::kGeneric, columns);
      return CsvError(file, line, 1, "a header, 5 or 6 columns (generic) or 12 columns (Binance)",
                      std::to_string(columns), false);
  }
  return MakeError(ErrorCode::kInternal, "unknown CSV format");
}

}  // namespace tapedeck::market
