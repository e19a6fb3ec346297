// What the REST resources read from a request's query string, read one way for every route.
#pragma once

#include <cstddef>

#include "common/error.h"
#include "server/router.h"

namespace tapedeck::api {

// `?format=csv`, or an Accept header naming text/csv.
bool WantsCsv(const server::Request& req);

// The query parameter `name` as a non-negative integer, `fallback` when absent. VALIDATION naming
// the parameter when it is not one.
Result<size_t> SizeParam(const server::Request& req, const char* name, size_t fallback);

}  // namespace tapedeck::api
