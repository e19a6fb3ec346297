#include "server/origin.h"

#include <gtest/gtest.h>

namespace tapedeck::server {
namespace {

const std::vector<std::string> kNone;
const std::vector<std::string> kListed = {"http://ui.example:3000", "https://desk.example/"};

TEST(OriginTest, NoOriginIsANonBrowserClient) {
  EXPECT_TRUE(OriginAllowed(std::nullopt, "127.0.0.1:8080", kNone));
}

TEST(OriginTest, SameOriginAsHost) {
  EXPECT_TRUE(OriginAllowed("http://127.0.0.1:8080", "127.0.0.1:8080", kNone));
  EXPECT_TRUE(OriginAllowed("http://LOCALHOST:8080", "localhost:8080", kNone));
  EXPECT_TRUE(OriginAllowed("http://desk", "desk:80", kNone));
  EXPECT_TRUE(OriginAllowed("https://desk:443", "desk", kNone));
  EXPECT_FALSE(OriginAllowed("http://127.0.0.1:8081", "127.0.0.1:8080", kNone));
  EXPECT_FALSE(OriginAllowed("http://evil.example", "127.0.0.1:8080", kNone));
  EXPECT_FALSE(OriginAllowed("http://127.0.0.1:8080.evil.example", "127.0.0.1:8080", kNone));
  EXPECT_FALSE(OriginAllowed("null", "127.0.0.1:8080", kNone));
  EXPECT_FALSE(OriginAllowed("file://", "127.0.0.1:8080", kNone));
  EXPECT_FALSE(OriginAllowed("", "", kNone));
}

TEST(OriginTest, ListedOrigins) {
  EXPECT_TRUE(OriginAllowed("http://ui.example:3000", "127.0.0.1:8080", kListed));
  EXPECT_TRUE(OriginAllowed("https://DESK.example", "127.0.0.1:8080", kListed));
  EXPECT_FALSE(OriginAllowed("http://ui.example:3001", "127.0.0.1:8080", kListed));
  EXPECT_EQ(CorsOrigin("http://ui.example:3000", kListed), "http://ui.example:3000");
  EXPECT_EQ(CorsOrigin("http://evil.example", kListed), std::nullopt);
  EXPECT_EQ(CorsOrigin(std::nullopt, kListed), std::nullopt);
}

}  // namespace
}  // namespace tapedeck::server
