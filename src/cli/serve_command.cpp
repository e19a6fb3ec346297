// `tapedeck serve`: the assembly. The api's Service (store, REST resources, workers, runs) is
// opened first; the server is built around its routes, runs and metrics, serves until SIGINT or
// SIGTERM, and is torn down before the Service, whose workers stop once no request can reach them
// and whose store is released last.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "api/api.h"
#include "cli/commands.h"
#include "cli/serve_args.h"
#include "server/heap_trimmer.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/server.h"
#include "store/store.h"

namespace tapedeck::cli {
namespace {

// "HOST" or, for an IPv6 address, "[HOST]", as it goes into a URL.
std::string UrlHost(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

int Serve(const ServeOptions& options) {
  auto opened = api::Service::Open(options.api);
  if (!opened) {
    const Error& e = opened.error();
    std::fprintf(stderr, "tapedeck serve: %s\n", e.ToString().c_str());
    // A --store that names no store (store::OpenStore checks it) is a usage error, as a bad
    // option is; anything else (the database unreachable, a newer schema) is a failure to start.
    const auto field = e.details.find("field");
    const bool usage =
        e.code == ErrorCode::kValidation && field != e.details.end() && field->second == "store";
    return usage ? 2 : 1;
  }
  std::unique_ptr<api::Service> service = std::move(opened).value();
  auto metrics = std::make_shared<server::Metrics>();
  metrics->AddCollector(service->MetricsCollector());
  server::Router router;
  service->RegisterRoutes(router);
  // Sweeps leave a core to playback while streams are open.
  service->runner().SetPlaybackActive([metrics] {
    return metrics->Connections(server::ConnectionKind::kWebSocket) +
               metrics->Connections(server::ConnectionKind::kSse) >
           0;
  });

  int status = 0;
  {
    server::Server server(options.server, std::move(router), service->runs(), metrics);
    if (auto listening = server.Listen(); !listening) {
      std::fprintf(stderr, "tapedeck serve: %s\n", listening.error().ToString().c_str());
      status = 1;
    } else {
      std::printf("tapedeck serve: listening on http://%s:%u\n",
                  UrlHost(options.server.host).c_str(), static_cast<unsigned>(server.port()));
      std::fflush(stdout);
      if (store::IsPostgresUrl(options.api.store)) {
        // Never the URL itself: it may hold a password.
        std::fprintf(
            stderr,
            "tapedeck serve: a node of a PostgreSQL deployment, %zu worker thread(s) "
            "here%s\n",
            options.api.workers,
            options.api.workers == 0 ? " (`tapedeck worker` processes execute the work)" : "");
      }
      if (!options.server.auth_tokens.empty()) {
        // How many, never which.
        std::fprintf(
            stderr,
            "tapedeck serve: access control on: %zu bearer token(s), tickets live %lld ms\n",
            options.server.auth_tokens.size(),
            static_cast<long long>(options.server.ticket_ttl.count()));
      }
      // Every 10 s: when 16 MiB more of the heap is free than at the last trim, give it back
      // (docs/perf.md, "What a stalled server holds").
      server::HeapTrimmer trimmer(std::chrono::seconds(10), size_t{16} << 20);
      server.Run();
      std::fprintf(stderr, "tapedeck serve: stopped\n");
    }
  }
  // The server has stopped (every connection closed, I/O threads joined): no request can queue a
  // run any more.
  service->Stop();
  service.reset();  // the store last
  return status;
}

}  // namespace

int ServeCommand(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(ServeUsage().data(), 1, ServeUsage().size(), stdout);
      return 0;
    }
  }
  auto options = ParseServeArgs(argc, argv, first);
  if (!options) {
    std::fprintf(stderr, "tapedeck serve: %s\n\n%.*s", options.error().ToString().c_str(),
                 static_cast<int>(ServeUsage().size()), ServeUsage().data());
    return 2;
  }
  options->api.sample_csv = FindSampleCsv();
  return Serve(*options);
}

}  // namespace tapedeck::cli
