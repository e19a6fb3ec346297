// Internal: one I/O lane's shared wire bytes. The streams of a lane that send the same frame (the
// same cached head, the same per-connection envelope: streams in step, none of them with frames
// dropped) would each write the same bytes; this builds them once, as one contiguous buffer with
// the transport's framing (a WebSocket frame header) in front, and hands the same buffer to each,
// so that such a frame is one send of one buffer with no per-connection assembly.
//
// Direct-mapped and bounded (kSlots entries; an entry holds a reference to its head, so the head
// pointer in its key stays that head's while the entry lives). A key is built into bytes on its
// second request: a head no other stream asks for (one stream's own merged frame) costs no copy.
// A caller holds the returned buffer for as long as its write needs it.
//
// Thread-safety: none; one per lane, used on the lane's strand.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "playback/session.h"

namespace tapedeck::server {

// How a message's bytes are framed on the wire.
enum class Framing : uint8_t {
  kNone,           // as they are (SSE: the event is its own framing)
  kWebSocketText,  // one RFC 6455 text frame, unmasked, FIN set
};

// Appends the RFC 6455 header of an unmasked, final text frame of `payload_size` bytes (2, 4 or
// 10 bytes) to `out`; returns how many it wrote. `out` must have room for 10.
size_t WriteWebSocketTextHeader(char* out, uint64_t payload_size);

class WireCache {
 public:
  struct Stats {
    uint64_t hits = 0;    // a shared buffer handed out
    uint64_t builds = 0;  // a shared buffer built (its key's second request)
    uint64_t misses = 0;  // no buffer: not shareable, or the key's first request
  };

  WireCache() = default;
  WireCache(const WireCache&) = delete;
  WireCache& operator=(const WireCache&) = delete;

  // The bytes of `message` (prefix + *shared + suffix) framed by `framing`, as one buffer shared
  // with the lane's other streams; nullptr when there is none to share (the message is not a frame
  // with a shared head, or this is the first request for it): the caller then writes the parts
  // itself. The buffer's bytes are exactly what the caller would write.
  std::shared_ptr<const std::string> Get(const playback::Outgoing& message, Framing framing);

  const Stats& stats() const { return stats_; }

 private:
  static constexpr int kSlotBits = 9;
  static constexpr size_t kSlots = size_t{1} << kSlotBits;
  // Heads larger than this are not kept (a frame that large is one stream's merged frame; frames
  // on time are ~3 KB), so that the slots hold at most kSlots * 2 * kMaxHead.
  static constexpr size_t kMaxHead = 16 * 1024;

  struct Slot {
    std::shared_ptr<const std::string> head;  // null: empty slot
    Framing framing = Framing::kNone;
    std::string prefix, suffix;
    std::shared_ptr<const std::string> bytes;  // null until the second request
  };

  std::vector<Slot> slots_;  // kSlots once used
  Stats stats_;
};

}  // namespace tapedeck::server
