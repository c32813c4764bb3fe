#pragma once

#include <string>
#include <string_view>

#include "kagami/base/status.h"

namespace kagami::crawler {

// An absolute http(s) URL split into the parts the crawler keys on.
struct Url {
  std::string canonical;          // see Canonicalize
  std::string scheme;             // "http" or "https"
  std::string host;               // lowercase, no brackets for IPv6
  int port = 0;                   // effective port (80/443 when absent)
  std::string path_query;         // "/path?query" (what robots.txt rules match against)
  std::string authority() const;  // "host:port" ("[v6]:port"), the politeness key
};

// Parses `reference` (absolute, or relative to `base` when base is non-empty;
// RFC 3986 section 5 resolution, by libcurl's URL API) and canonicalises it:
// scheme and host lowercased, default port dropped, dot segments removed,
// empty path made "/", fragment dropped. Only http and https are accepted
// (kUnsupported otherwise); URLs over 4096 bytes are refused.
Result<Url> ParseUrl(std::string_view reference, std::string_view base = {});

}  // namespace kagami::crawler
