#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/address_policy.h"
#include "kagami/crawler/warc_writer.h"

namespace kagami::crawler {

struct HttpClientOptions {
  std::string user_agent;
  int connect_timeout_ms = 10000;
  int total_timeout_ms = 120000;
  int low_speed_bytes_per_s = 512;
  int low_speed_time_s = 15;
  int max_connections = 16;      // all hosts
  int max_host_connections = 2;  // per host
  double max_decompression_ratio = 100;
  std::vector<std::string> resolve;  // "HOST:PORT:ADDR" (curl --resolve)
  AddressPolicy policy;
};

struct HttpRequest {
  uint64_t token = 0;                 // caller's id, returned with the response
  std::string url;                    // absolute http(s) URL
  uint64_t max_body_bytes = 8 << 20;  // as received and as decoded
};

struct HttpResponse {
  uint64_t token = 0;
  std::string url;
  // Transport outcome: ok when a complete HTTP response arrived (any status
  // code). kPermissionDenied-like refusals by the address policy come back as
  // kUnsupported with the reason; caps as kResourceExhausted (the part
  // received is kept and `truncated` set); timeouts and network errors as
  // kIoError.
  Status status;
  bool refused_address = false;
  bool truncated = false;
  long code = 0;              // HTTP status code (0 when none arrived)
  std::string request_head;   // as sent
  std::string response_head;  // status line + headers of the final response, as received
  std::string raw_body;       // as received (content-encoded), at most max_body_bytes
  std::string body;           // decoded (gzip, deflate, br), at most max_body_bytes
  std::map<std::string, std::string> headers;  // lowercase name -> last value
  std::string ip;                              // peer address
  int64_t done_unix_ms = 0;
  double seconds = 0;
};

// An HTTP client on libcurl's multi interface: one event loop drives every
// transfer (no thread per request), with connection reuse, HTTP/1.1 and
// HTTP/2 (ALPN, multiplexed), and gzip/deflate/brotli decoded here rather than
// by libcurl so that the WARC keeps the bytes as sent and decoding is capped
// (size and ratio). Redirects are not followed: a 3xx is returned as is (the
// crawler queues the Location, so every hop is checked and archived).
// Only http and https; proxies from the environment are ignored; every
// connection's peer address passes `policy` (libcurl's open-socket callback,
// after name resolution). Not thread-safe: one thread calls Start and Poll.
class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Create(const HttpClientOptions& options);
  ~HttpClient();

  void Start(const HttpRequest& request);
  // Drives transfers for up to `timeout_ms` (waiting that long at most, also
  // when nothing is in flight) and returns those that finished.
  std::vector<HttpResponse> Poll(int timeout_ms);
  // Ends a Poll() wait early. The only member callable from any thread.
  void Wakeup();
  int in_flight() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decodes a Content-Encoding ("gzip", "x-gzip", "deflate", "br", "identity"
// or ""), refusing output over `max_bytes` or over `max_ratio` times the input.
Result<std::string> DecodeContent(const std::string& encoding, const std::string& raw,
                                  uint64_t max_bytes, double max_ratio);

// The exchange to archive for `r` (request and response heads, raw body,
// truncation), with the payload digest when the caller has it ("" lets the
// WARC writer compute it).
HttpExchange ToExchange(const HttpResponse& r, std::string payload_sha256_hex = "");

}  // namespace kagami::crawler
