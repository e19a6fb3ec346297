#include "server/access.h"

#include <gtest/gtest.h>

namespace tapedeck::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Access::Clock::time_point kNow = Access::Clock::time_point(seconds(1'700'000'000));
const std::string kKey(32, 'k');

Access WithTokens(std::vector<std::string> tokens = {"alpha-token-0123456789",
                                                     "bravo-token-0123456789"}) {
  return Access(tokens, seconds(60), kKey);
}

TEST(AccessTest, NoTokensMeansEverythingPasses) {
  const Access access({}, seconds(60), kKey);
  EXPECT_FALSE(access.enabled());
  auto who = access.Authenticate(std::nullopt);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(*who, "");
  EXPECT_EQ(*access.Authenticate("Bearer whatever-it-may-be"), "");
}

TEST(AccessTest, BearerTokenNamesWhichTokenItIsNeverTheToken) {
  const Access access = WithTokens();
  EXPECT_TRUE(access.enabled());
  EXPECT_EQ(*access.Authenticate("Bearer alpha-token-0123456789"), "token:1");
  EXPECT_EQ(*access.Authenticate("bearer  bravo-token-0123456789 "), "token:2");
}

TEST(AccessTest, MissingMalformedOrWrongCredentialsAreUnauthorized) {
  const Access access = WithTokens();
  for (const std::optional<std::string_view> header :
       {std::optional<std::string_view>{}, std::optional<std::string_view>{""},
        std::optional<std::string_view>{"alpha-token-0123456789"},
        std::optional<std::string_view>{"Basic alpha-token-0123456789"},
        std::optional<std::string_view>{"Bearer"}, std::optional<std::string_view>{"Bearer "},
        std::optional<std::string_view>{"Bearer alpha-token-012345678"},
        std::optional<std::string_view>{"Bearer alpha-token-01234567890"},
        std::optional<std::string_view>{"Bearer ALPHA-TOKEN-0123456789"}}) {
    auto who = access.Authenticate(header);
    ASSERT_FALSE(who.ok()) << header.value_or("(none)");
    EXPECT_EQ(who.error().code, ErrorCode::kUnauthorized);
    EXPECT_EQ(who.error().ToString().find("alpha-token"), std::string::npos);
  }
}

TEST(AccessTest, TicketOpensItsRunUntilItExpires) {
  const Access access = WithTokens();
  const auto ticket = access.Issue("run-7", kNow);
  EXPECT_EQ(ticket.expires, kNow + seconds(60));
  EXPECT_TRUE(access.Verify(ticket.value, "run-7", kNow).ok());
  EXPECT_TRUE(access.Verify(ticket.value, "run-7", kNow + milliseconds(59'999)).ok());
  const auto expired = access.Verify(ticket.value, "run-7", kNow + seconds(60));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(expired.error().msg.find("expired"), std::string::npos);
  EXPECT_EQ(expired.error().details.at("field"), "ticket");
}

TEST(AccessTest, TicketForAnotherRunIsRefused) {
  const Access access = WithTokens();
  const auto ticket = access.Issue("run-7", kNow);
  for (const char* other : {"run-8", "run-77", "run-", "", "RUN-7"}) {
    const auto refused = access.Verify(ticket.value, other, kNow);
    ASSERT_FALSE(refused.ok()) << other;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthorized);
  }
}

TEST(AccessTest, TamperedTicketIsRefused) {
  const Access access = WithTokens();
  const std::string good = access.Issue("run-7", kNow).value;
  const size_t dot = good.find('.');
  ASSERT_NE(dot, std::string::npos);
  // A later expiry with the old MAC: the MAC covers the expiry.
  const std::string later =
      std::to_string(std::stoll(good.substr(0, dot)) + 3'600'000) + good.substr(dot);
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  for (const std::string& bad : {later, flipped, good.substr(0, good.size() - 1), good + "0",
                                 good.substr(dot), good.substr(0, dot), std::string("x") + good,
                                 std::string(), std::string("."), std::string("12.34")}) {
    const auto refused = access.Verify(bad, "run-7", kNow);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthorized) << bad;
  }
}

TEST(AccessTest, TicketFromAnotherKeyIsRefused) {
  const Access mine = WithTokens();
  const Access other({"alpha-token-0123456789"}, seconds(60), std::string(32, 'o'));
  EXPECT_FALSE(mine.Verify(other.Issue("run-7", kNow).value, "run-7", kNow).ok());
  EXPECT_FALSE(other.Verify(mine.Issue("run-7", kNow).value, "run-7", kNow).ok());
}

TEST(AccessTest, CreateDrawsADifferentKeyEachTime) {
  auto a = Access::Create({"alpha-token-0123456789"}, seconds(60));
  auto b = Access::Create({"alpha-token-0123456789"}, seconds(60));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  const auto ticket = (*a)->Issue("run", kNow);
  EXPECT_TRUE((*a)->Verify(ticket.value, "run", kNow).ok());
  EXPECT_FALSE((*b)->Verify(ticket.value, "run", kNow).ok());
}

TEST(AccessTest, CreateWithAKeyAcceptsTheTicketsOfAnotherWithTheSameKey) {
  // Two nodes of a deployment given the same --ticket-key-file.
  const std::string key(48, 's');
  auto a = Access::Create({"alpha-token-0123456789"}, seconds(60), key);
  auto b = Access::Create({"alpha-token-0123456789"}, seconds(60), key);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE((*b)->Verify((*a)->Issue("run", kNow).value, "run", kNow).ok());
  EXPECT_TRUE((*a)->Verify((*b)->Issue("run", kNow).value, "run", kNow).ok());
}

}  // namespace
}  // namespace tapedeck::server
