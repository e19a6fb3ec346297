#include <gtest/gtest.h>

#include "playback/playback.h"

namespace tapedeck::playback {
namespace {

void ExpectInvalid(std::string_view text, std::string_view field) {
  Result<Command> cmd = ParseControl(text);
  ASSERT_FALSE(cmd.ok()) << text;
  EXPECT_EQ(cmd.error().code, ErrorCode::kValidation) << text;
  EXPECT_EQ(cmd.error().details.at("field"), field) << text;
}

TEST(ControlTest, ParsesEveryCommand) {
  EXPECT_EQ(ParseControl(R"({"t":"ctrl","cmd":"play"})")->kind, Command::Kind::kPlay);
  EXPECT_EQ(ParseControl(R"({"t":"ctrl","cmd":"pause","extra":[1]})")->kind, Command::Kind::kPause);
  EXPECT_EQ(ParseControl(R"({"t":"hb"})")->kind, Command::Kind::kHeartbeat);
  auto seek = ParseControl(R"({"t":"ctrl","cmd":"seek","pos":42})");
  ASSERT_TRUE(seek.ok());
  EXPECT_EQ(seek->kind, Command::Kind::kSeek);
  EXPECT_EQ(std::get<uint64_t>(seek->target), 42u);
  EXPECT_EQ(std::get<uint64_t>(ParseControl(R"({"t":"ctrl","cmd":"seek","pos":3.0})")->target), 3u);
  EXPECT_EQ(std::get<uint64_t>(ParseControl(R"({"t":"ctrl","cmd":"seek","pos":"7"})")->target), 7u);
  auto by_time = ParseControl(R"({"t":"ctrl","cmd":"seek","pos":"2023-03-01T14:30:00Z"})");
  ASSERT_TRUE(by_time.ok());
  EXPECT_EQ(FormatIso(std::get<Timestamp>(by_time->target)), "2023-03-01T14:30:00Z");
  auto speed = ParseControl(R"({"t":"ctrl","cmd":"speed","val":120.5})");
  ASSERT_TRUE(speed.ok());
  EXPECT_EQ(speed->kind, Command::Kind::kSpeed);
  EXPECT_EQ(speed->speed.value(), 120.5);
  EXPECT_EQ(ParseControl(R"({"t":"ctrl","cmd":"speed","val":60})")->speed.value(), 60);
}

TEST(ControlTest, MalformedMessagesAreValidationNamingTheField) {
  ExpectInvalid("", "message");
  ExpectInvalid("not json", "message");
  ExpectInvalid(R"({"t":"ctrl","cmd":"play")", "message");
  ExpectInvalid("[1,2]", "message");
  ExpectInvalid("\"ctrl\"", "message");
  ExpectInvalid("{}", "t");
  ExpectInvalid(R"({"t":1,"cmd":"play"})", "t");
  ExpectInvalid(R"({"t":"frame"})", "t");
  ExpectInvalid(R"({"t":"ctrl"})", "cmd");
  ExpectInvalid(R"({"t":"ctrl","cmd":5})", "cmd");
  ExpectInvalid(R"({"t":"ctrl","cmd":"rewind"})", "cmd");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek"})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":-1})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":2.5})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":true})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":null})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":"yesterday"})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"seek","pos":1e300})", "pos");
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed"})", "val");
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed","val":"60"})", "val");
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed","val":0})", "val");
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed","val":1e9})", "val");
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed","val":1e999})", "val");  // parsed as inf
  ExpectInvalid(R"({"t":"ctrl","cmd":"speed","val":NaN})", "message");
}

TEST(ControlTest, MessagesOver4KiBAreValidation) {
  std::string big = R"({"t":"ctrl","cmd":"play","pad":")" + std::string(4096, 'x') + "\"}";
  ExpectInvalid(big, "message");
  std::string fits = R"({"t":"ctrl","cmd":"play","pad":")";
  fits += std::string(4096 - fits.size() - 2, 'x') + "\"}";
  ASSERT_EQ(fits.size(), 4096u);
  EXPECT_TRUE(ParseControl(fits).ok());
  EXPECT_EQ(BinaryMessageError().details.at("field"), "message");
}

}  // namespace
}  // namespace tapedeck::playback
