// Fuzzes the WebSocket control-message parser (playback::ParseControl) and a Session driven by
// the messages it accepts.
//
// Input: the whole input is one message; split at NUL bytes (which JSON text cannot hold) it is
// also a sequence of messages sent to one session, 40 ms apart on a fake clock.
//
// Invariants: a rejected message is VALIDATION naming one of the fields the contract lists; an
// accepted one re-encoded canonically parses to the same command; a session answers exactly the
// messages ParseControl rejects (or whose seek lands outside the run) with {"t":"err"}, sent
// before anything else; a successful seek is answered at once by the frame of the window Locate
// picks; every frame is JSON naming its window.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_writer.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/sparse_tape.h"
#include "playback/playback.h"
#include "unit/playback/fake_clock.h"

namespace tapedeck::playback {
namespace {

using fuzz::CheckError;
using fuzz::CheckErrorJson;
using fuzz::CheckIsoRoundTrip;
using fuzz::HasFourDigitYear;

// The text a well-behaved client sends for `command`.
std::string Canonical(const Command& command) {
  switch (command.kind) {
    case Command::Kind::kHeartbeat:
      return R"({"t":"hb"})";
    case Command::Kind::kPlay:
      return R"({"t":"ctrl","cmd":"play"})";
    case Command::Kind::kPause:
      return R"({"t":"ctrl","cmd":"pause"})";
    case Command::Kind::kSeek:
      if (const uint64_t* index = std::get_if<uint64_t>(&command.target)) {
        return R"({"t":"ctrl","cmd":"seek","pos":)" + std::to_string(*index) + "}";
      }
      return R"({"t":"ctrl","cmd":"seek","pos":")" +
             FormatIso(std::get<Timestamp>(command.target)) + "\"}";
    case Command::Kind::kSpeed: {
      std::string out = R"({"t":"ctrl","cmd":"speed","val":)";
      AppendJsonNumber(out, command.speed.value());
      return out + "}";
    }
  }
  return {};
}

bool SameCommand(const Command& a, const Command& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == Command::Kind::kSeek) return a.target == b.target;
  if (a.kind == Command::Kind::kSpeed) return a.speed == b.speed;
  return true;
}

void CheckParse(std::string_view text) {
  const Result<Command> parsed = ParseControl(text);
  if (!parsed.ok()) {
    CheckError(parsed.error(), ErrorCode::kValidation, {"message", "t", "cmd", "pos", "val"});
    if (text.size() > kMaxControlMessageBytes) {
      FUZZ_CHECK(parsed.error().details.at("field") == "message");
    }
    return;
  }
  FUZZ_CHECK(text.size() <= kMaxControlMessageBytes);
  const Command& command = *parsed;
  if (command.kind == Command::Kind::kSpeed) {
    const double v = command.speed.value();
    FUZZ_CHECK(std::isfinite(v) && v >= kMinSpeed && v <= kMaxSpeed);
  }
  if (command.kind == Command::Kind::kSeek) {
    if (const Timestamp* t = std::get_if<Timestamp>(&command.target)) {
      CheckIsoRoundTrip(*t);
      // A time outside four-digit years has no canonical ISO form to re-parse.
      if (!HasFourDigitYear(*t)) return;
    }
  }
  const Result<Command> again = ParseControl(Canonical(command));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameCommand(*again, command));
}

void CheckFrame(const Outgoing& out, const Session& session) {
  FUZZ_CHECK(!out.bars.empty());
  FUZZ_CHECK(out.window < session.timeline()->window_count());
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(out.Text(), ec);
  FUZZ_CHECK(!ec && doc.is_object());
  const boost::json::value* i = doc.as_object().if_contains("i");
  FUZZ_CHECK(i && i->is_number() && i->to_number<uint64_t>() == out.window);
}

void DriveSession(std::string_view input) {
  FakeClock clock;
  Result<Session> created = Session::Create(fuzz::SparseTape(), SessionOptions{}, clock);
  FUZZ_CHECK(created.ok());
  Session& session = *created;
  size_t messages = 0;
  while (messages++ < 64) {
    const size_t nul = input.find('\0');
    const std::string_view text = input.substr(0, nul);
    clock.Advance(std::chrono::milliseconds(40));

    const Result<Command> parsed = ParseControl(text);
    std::optional<size_t> seek_to;
    bool expect_ok = parsed.ok();
    if (parsed.ok() && parsed->kind == Command::Kind::kSeek) {
      const Result<size_t> located = session.timeline()->Locate(parsed->target);
      if (located.ok()) {
        seek_to = *located;
      } else {
        CheckError(located.error(), ErrorCode::kRange, {"pos"});
        expect_ok = false;
      }
    }
    const Status status = session.HandleText(text);
    FUZZ_CHECK(status.ok() == expect_ok);

    // The error, if any, goes out first; then a seek's frame; then whatever playback has due.
    for (int polls = 0; polls < 8; ++polls) {
      std::optional<Outgoing> out = session.Poll();
      if (!out) break;
      FUZZ_CHECK(!out->close_after);  // control errors never close a WebSocket
      if (polls == 0 && !status.ok()) {
        FUZZ_CHECK(out->kind == Outgoing::Kind::kError);
        CheckErrorJson(out->Text(), status.error().code, /*t_err=*/true);
      } else if (polls == 0 && seek_to) {
        FUZZ_CHECK(out->kind == Outgoing::Kind::kFrame);
        FUZZ_CHECK(out->window == *seek_to);
      } else {
        FUZZ_CHECK(out->kind != Outgoing::Kind::kError);
      }
      if (out->kind == Outgoing::Kind::kFrame) CheckFrame(*out, session);
      session.OnWriteDone();
    }
    if (nul == std::string_view::npos) break;
    input.remove_prefix(nul + 1);
  }
}

}  // namespace
}  // namespace tapedeck::playback

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tapedeck::playback::CheckParse(input);
  tapedeck::playback::DriveSession(input);
  return 0;
}
