// A small streaming JSON writer for tapedeck's own output (CLI reports, REST bodies).
//
// Numbers are written in their shortest round-trip form (std::to_chars): 0.1 stays "0.1", not
// Boost.JSON's "1E-1". Non-finite numbers, which JSON cannot carry, are written as null.
// Not thread-safe; one writer per document. The caller is responsible for well-formedness
// (Key before each value inside an object); commas are inserted automatically.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tapedeck {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-encoded JSON as one value.
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// Appends `s` JSON-escaped (without quotes) to `out`. Well-formed UTF-8 is copied as is; each byte
// that is not part of it is written as \ufffd (U+FFFD), so the result is always valid JSON text.
void AppendJsonEscaped(std::string& out, std::string_view s);
// Appends the shortest round-trip decimal form of a finite double; "null" otherwise.
void AppendJsonNumber(std::string& out, double value);

}  // namespace tapedeck
