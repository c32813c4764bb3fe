#pragma once

#include <cstdint>
#include <string>

#include "kagami/base/status.h"

namespace kagami::ingest {

// What a fetch returned.
struct FetchedBytes {
  std::string url;           // final URL, after any redirects the fetcher followed
  std::string bytes;         // body, content-decoded
  std::string content_type;  // "" when the server sent none
};

// The seam through which ingest reads resources that an input names by URL
// (the playlists and segments of an HLS stream). Ingest never opens a socket
// itself: the crawler implements this with its safe fetcher (address policy
// after DNS, size and time caps, redirects checked hop by hop, every exchange
// archived to WARC), so the same rules apply to everything a stream pulls in.
class ByteFetcher {
 public:
  virtual ~ByteFetcher() = default;
  // Fetches an absolute http(s) URL; at most `max_bytes` of body. Errors:
  // kUnsupported (refused by policy: address, scheme, robots.txt),
  // kResourceExhausted (over `max_bytes`), kIoError (network, timeout, HTTP
  // error status), with the URL in the message. Called from one thread at a
  // time per fetcher.
  virtual Result<FetchedBytes> Fetch(const std::string& url, uint64_t max_bytes) = 0;
};

}  // namespace kagami::ingest
