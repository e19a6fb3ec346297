#include "server/serve.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "server/heap_trimmer.h"
#include "server/server.h"

namespace tapedeck::server {
namespace {

// Synthetic runs first (tests and demos), then the application's.
class LayeredRunSource final : public RunSource {
 public:
  LayeredRunSource(std::shared_ptr<RunSource> first, std::shared_ptr<RunSource> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override {
    auto found = first_->Open(id);
    if (found || found.error().code != ErrorCode::kRunNotFound || !second_) return found;
    return second_->Open(id);
  }

 private:
  std::shared_ptr<RunSource> first_, second_;
};

}  // namespace

int ServeMain(int argc, char** argv, const ApplicationFactory& factory) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(ServeUsage().data(), 1, ServeUsage().size(), stdout);
      return 0;
    }
  }
  auto settings = ParseServeArgs(argc, argv, 2);
  if (!settings) {
    std::fprintf(stderr, "tapedeck serve: %s\n\n%.*s", settings.error().ToString().c_str(),
                 static_cast<int>(ServeUsage().size()), ServeUsage().data());
    return 2;
  }
  return ServeMain(*settings, factory);
}

int ServeMain(const Settings& given, const ApplicationFactory& factory) {
  Settings settings = given;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (settings.threads <= 0) settings.threads = cores;
  if (settings.workers <= 0) settings.workers = cores;
  auto metrics = std::make_shared<Metrics>();
  Application app;
  if (factory) {
    auto made = factory(settings, *metrics);
    if (!made) {
      std::fprintf(stderr, "tapedeck serve: %s\n", made.error().ToString().c_str());
      return 1;
    }
    app = std::move(*made);
  }
  std::shared_ptr<RunSource> runs = app.runs;
  if (!settings.synthetic_runs.empty()) {
    auto memory = std::make_shared<MemoryRunSource>();
    for (const auto& spec : settings.synthetic_runs) {
      auto tape = MakeSyntheticTape(spec);
      if (!tape) {
        std::fprintf(stderr, "tapedeck serve: synthetic run '%s': %s\n", spec.id.c_str(),
                     tape.error().ToString().c_str());
        return 2;
      }
      memory->Add(spec.id, std::move(*tape), spec.ready_after);
    }
    runs = std::make_shared<LayeredRunSource>(std::move(memory), std::move(runs));
  }
  for (auto& collector : app.collectors) metrics->AddCollector(std::move(collector));

  int status = 0;
  {
    Server server(settings, std::move(app.router), std::move(runs), metrics);
    if (auto listening = server.Listen(); !listening) {
      std::fprintf(stderr, "tapedeck serve: %s\n", listening.error().ToString().c_str());
      status = 1;
    } else {
      std::printf("tapedeck serve: listening on http://%s:%u\n",
                  settings.host.find(':') == std::string::npos
                      ? settings.host.c_str()
                      : ("[" + settings.host + "]").c_str(),
                  static_cast<unsigned>(server.port()));
      std::fflush(stdout);
      if (!settings.auth_tokens.empty()) {
        // How many, never which.
        std::fprintf(
            stderr,
            "tapedeck serve: access control on: %zu bearer token(s), tickets live %lld ms\n",
            settings.auth_tokens.size(), static_cast<long long>(settings.ticket_ttl.count()));
      }
      // Every 10 s: when 16 MiB more of the heap is free than at the last trim, give it back (docs/perf.md, "What a stalled
      // server holds").
      HeapTrimmer trimmer(std::chrono::seconds(10), size_t{16} << 20);
      server.Run();
      std::fprintf(stderr, "tapedeck serve: stopped\n");
    }
  }
  if (app.on_stopped) app.on_stopped();
  app.owned.reset();
  return status;
}

}  // namespace tapedeck::server
