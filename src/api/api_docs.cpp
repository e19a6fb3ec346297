#include "api/api_docs.h"

namespace tapedeck::api {

void RegisterApiDocs(server::Router& router) {
  using server::http::verb;
  for (auto [path, text] : {std::pair{"/api/openapi.yaml", OpenApiYaml()},
                            std::pair{"/api/asyncapi.yaml", AsyncApiYaml()}}) {
    router.Add(verb::get, path, [text](const server::Request& req) {
      // application/yaml: RFC 9512. The text is static: no copy per request but the body's.
      server::HttpResponse res = server::TextResponse(
          req.http, server::http::status::ok, std::string(text), "application/yaml; charset=utf-8");
      res.set(server::http::field::cache_control, "no-cache");
      return res;
    });
  }
}

}  // namespace tapedeck::api
