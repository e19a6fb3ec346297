#include "server/wire_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tapedeck::server {
namespace {

using playback::Outgoing;

Outgoing Frame(std::shared_ptr<const std::string> head, std::string prefix, std::string suffix) {
  Outgoing m;
  m.kind = Outgoing::Kind::kFrame;
  m.shared = std::move(head);
  m.prefix = std::move(prefix);
  m.suffix = std::move(suffix);
  return m;
}

std::string WsHeader(uint64_t size) {
  char h[10];
  return std::string(h, WriteWebSocketTextHeader(h, size));
}

TEST(WireCacheTest, WebSocketTextHeaders) {
  EXPECT_EQ(WsHeader(0), std::string("\x81\x00", 2));
  EXPECT_EQ(WsHeader(125), "\x81\x7d");
  EXPECT_EQ(WsHeader(126), std::string("\x81\x7e\x00\x7e", 4));
  EXPECT_EQ(WsHeader(65535), std::string("\x81\x7e\xff\xff", 4));
  EXPECT_EQ(WsHeader(65536), std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(WireCacheTest, StreamsInStepShareOneBufferOfTheSameBytes) {
  WireCache cache;
  auto head = std::make_shared<const std::string>(std::string(3000, 'h'));
  const Outgoing a = Frame(head, "", "0}"), b = Frame(head, "", "0}"), c = Frame(head, "", "0}");
  // The first request only notes the frame: its stream writes the parts itself.
  EXPECT_EQ(cache.Get(a, Framing::kWebSocketText), nullptr);
  const auto second = cache.Get(b, Framing::kWebSocketText);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(*second, WsHeader(3002) + b.Text());
  EXPECT_EQ(cache.Get(c, Framing::kWebSocketText).get(), second.get());
  EXPECT_EQ(cache.stats().builds, 1u);
  EXPECT_EQ(cache.stats().hits, 1u);
  // The buffer outlives the slot it came from.
  for (int k = 0; k < 5000; ++k) {
    cache.Get(Frame(std::make_shared<const std::string>("x"), "", "0}"), Framing::kNone);
  }
  EXPECT_EQ(*second, WsHeader(3002) + b.Text());
}

TEST(WireCacheTest, PerConnectionBytesKeepTheirOwn) {
  WireCache cache;
  auto head = std::make_shared<const std::string>("{\"t\":\"frame\",\"dropped\":");
  auto twin = std::make_shared<const std::string>(*head);
  struct Case {
    Outgoing m;
    Framing framing;
  };
  const std::vector<Case> cases = {
      {Frame(head, "", "0}"), Framing::kWebSocketText},
      {Frame(head, "", "3}"), Framing::kWebSocketText},
      {Frame(head, "event: frame\nid: 7\ndata: ", "0}\n\n"), Framing::kNone},
      {Frame(head, "event: frame\nid: 8\ndata: ", "0}\n\n"), Framing::kNone},
      {Frame(head, "", "0}"), Framing::kNone},
      // Another head with equal bytes is another key (heads are named by address).
      {Frame(twin, "", "0}"), Framing::kWebSocketText},
  };
  // Whatever the slots they land in (two keys may share one and take turns), a buffer handed
  // out is always exactly its own message's.
  size_t shared = 0;
  for (int round = 0; round < 4; ++round) {
    for (const Case& c : cases) {
      const auto bytes = cache.Get(c.m, c.framing);
      if (!bytes) continue;
      ++shared;
      const std::string text = c.m.Text();
      EXPECT_EQ(*bytes, (c.framing == Framing::kWebSocketText ? WsHeader(text.size()) : "") + text);
    }
  }
  EXPECT_GT(shared, 0u);
  EXPECT_EQ(cache.stats().hits + cache.stats().builds, shared);
}

TEST(WireCacheTest, OnlyFramesWithASharedHead) {
  WireCache cache;
  Outgoing err;
  err.kind = Outgoing::Kind::kError;
  err.suffix = "{\"t\":\"err\"}";
  Outgoing hb;
  hb.kind = Outgoing::Kind::kHeartbeat;
  hb.shared = std::make_shared<const std::string>("{\"t\":\"hb\"}");
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(cache.Get(err, Framing::kWebSocketText), nullptr);
    EXPECT_EQ(cache.Get(hb, Framing::kWebSocketText), nullptr);
  }
}

}  // namespace
}  // namespace tapedeck::server
