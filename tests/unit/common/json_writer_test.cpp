#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tapedeck {
namespace {

TEST(JsonWriter, WritesNestedDocumentsWithCommas) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Number(0.1).Null().Bool(true).EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").String("x").EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[0.1,null,true],"c":{},"d":"x"})");
}

TEST(JsonWriter, NumbersAreShortestRoundTripAndNonFiniteIsNull) {
  JsonWriter w;
  w.BeginArray().Number(1455.219971).Number(1e21).Number(-0.5);
  w.Number(std::numeric_limits<double>::infinity()).Number(NAN).EndArray();
  EXPECT_EQ(w.str(), "[1455.219971,1e+21,-0.5,null,null]");
}

TEST(JsonWriter, EscapesControlCharactersQuotesAndBackslashes) {
  JsonWriter w;
  w.String("a\"b\\c\n\x01");
  EXPECT_EQ(w.str(), R"("a\"b\\c\n\u0001")");
}

// Found by tests/fuzz/http_target: a 404 for "/b%ac" put the decoded byte 0xAC into its body.
TEST(JsonWriter, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  std::string out;
  AppendJsonEscaped(out, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x88");  // kept as they are
  EXPECT_EQ(out, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x88");
  out.clear();
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, > U+10FFFF.
  AppendJsonEscaped(out, "a\xAC b\xE2\x82 \xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80");
  EXPECT_EQ(out,
            R"(a\ufffd b\ufffd\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\ufffd)");
}

}  // namespace
}  // namespace tapedeck
