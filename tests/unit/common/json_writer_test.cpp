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

}  // namespace
}  // namespace tapedeck
