// The API's descriptions, served by the server itself so that tools can read them from a running
// instance: GET /api/openapi.yaml (docs/api/openapi.yaml, the REST API, OpenAPI 3.1) and
// GET /api/asyncapi.yaml (docs/api/asyncapi.yaml, the playback streams, AsyncAPI 3.0). The files
// are compiled in at build time (cmake/embed_files.cmake): an installed binary needs no source tree.
#pragma once

#include <string_view>

#include "server/router.h"

namespace tapedeck::api {

// The documents' bytes, as in docs/api when the binary was built.
std::string_view OpenApiYaml();
std::string_view AsyncApiYaml();

// Adds GET /api/openapi.yaml and GET /api/asyncapi.yaml to `router`, answered as
// `application/yaml`.
void RegisterApiDocs(server::Router& router);

}  // namespace tapedeck::api
