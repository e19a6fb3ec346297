#include "api/synthetic_runs.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tapedeck::api {
namespace {

TEST(SyntheticRunsTest, TapeHoldsTheGeneratedBarsTradedBySmaCross) {
  auto tape = MakeSyntheticTape({"demo", 500, 7, "1h", {}});
  ASSERT_TRUE(tape.ok()) << tape.error().ToString();
  EXPECT_EQ((*tape)->bar_count(), 500u);
  EXPECT_EQ((*tape)->symbols(), std::vector<std::string>{"SYN"});
  EXPECT_EQ((*tape)->last_time() - (*tape)->first_time(), std::chrono::hours(499));
  EXPECT_FALSE((*tape)->run().events.empty());  // 500 bars are enough for a 10/30 cross
  auto again = MakeSyntheticTape({"demo", 500, 7, "1h", {}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->run().events.size(), (*tape)->run().events.size());  // seeded: the same
}

TEST(SyntheticRunsTest, BadIntervalIsValidation) {
  auto tape = MakeSyntheticTape({"demo", 10, 1, "7q", {}});
  ASSERT_FALSE(tape.ok());
  EXPECT_EQ(tape.error().code, ErrorCode::kValidation);
  auto source =
      MakeSyntheticRunSource({{"good", 10, 1, "1m", {}}, {"bad", 10, 1, "7q", {}}}, nullptr);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.error().details.at("id"), "bad");
}

TEST(SyntheticRunsTest, SourceAsksTheFallbackForOtherIds) {
  auto stored = std::make_shared<server::MemoryRunSource>();
  stored->AddFailed("stored", "boom");
  auto source = MakeSyntheticRunSource({{"synthetic", 100, 1, "1m", {}}}, stored);
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  auto synthetic = (*source)->Open("synthetic");
  ASSERT_TRUE(synthetic.ok());
  ASSERT_NE(*synthetic, nullptr);
  EXPECT_EQ((*synthetic)->bar_count(), 100u);
  auto from_fallback = (*source)->Open("stored");
  ASSERT_FALSE(from_fallback.ok());
  EXPECT_EQ(from_fallback.error().code, ErrorCode::kRunFailed);
  auto absent = (*source)->Open("absent");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ErrorCode::kRunNotFound);
}

TEST(SyntheticRunsTest, NoSyntheticRunsIsTheFallbackItself) {
  auto stored = std::make_shared<server::MemoryRunSource>();
  auto source = MakeSyntheticRunSource({}, stored);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->get(), stored.get());
  auto none = MakeSyntheticRunSource({{"only", 10, 1, "1m", {}}}, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->Open("other").error().code, ErrorCode::kRunNotFound);
}

TEST(SyntheticRunsTest, RunIsPendingUntilReadyAfter) {
  auto source = MakeSyntheticRunSource({{"late", 10, 1, "1m", std::chrono::hours(1)}}, nullptr);
  ASSERT_TRUE(source.ok());
  auto pending = (*source)->Open("late");
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(*pending, nullptr);
}

}  // namespace
}  // namespace tapedeck::api
