#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "kagami/base/status.h"

namespace kagami::crawler {

// Where a record sits: what a finding cites.
struct WarcRef {
  std::string file;       // file name (relative to the WARC folder)
  std::string record_id;  // "<urn:uuid:...>" of the response record
  uint64_t offset = 0;    // byte offset of the record's gzip member in the file
};

// One HTTP exchange as sent and received on the wire.
struct HttpExchange {
  std::string target_uri;
  std::string ip_address;     // the peer address the response came from
  int64_t date_unix_ms = 0;   // when the response was received (UTC)
  std::string request_head;   // request line + headers, CRLF-terminated, as sent
  std::string response_head;  // status line + headers, as received (CRLF-terminated)
  std::string response_body;  // body bytes as received (still content-encoded);
                              // may be truncated when a cap was hit
  bool truncated = false;     // adds "WARC-Truncated: length"
  // SHA-256 of response_body (64 lowercase hex digits) when the caller has it
  // already; "" computes it.
  std::string payload_sha256_hex;
};

// Writes WARC/1.1 files (ISO 28500:2017) as .warc.gz: one gzip member per
// record, so each record can be read from its offset alone. Each file opens
// with a warcinfo record; each exchange is a request record and a response
// record (WARC-Concurrent-To links them) carrying WARC-Target-URI, WARC-Date,
// WARC-IP-Address, WARC-Block-Digest and WARC-Payload-Digest (sha256:, lowercase
// hex; the payload is the HTTP entity body as transferred). Every record is
// flushed to the OS when written, so a killed process leaves whole records
// (a record being written may be cut; readers stop there).
// Payloads already compressed (JPEG, PNG, ZIP, MP4, ...) are stored in their
// gzip member rather than deflated again. Thread-safe: records are compressed
// by the calling thread, and written whole, one Write() at a time.
class WarcWriter {
 public:
  // Creates `path` (refuses an existing file). `info` goes into the warcinfo
  // record as "key: value" lines (software, operator, job).
  static Result<std::unique_ptr<WarcWriter>> Create(const std::filesystem::path& path,
                                                    const std::string& info);
  ~WarcWriter();

  Result<WarcRef> Write(const HttpExchange& exchange);
  const std::filesystem::path& path() const { return path_; }
  uint64_t bytes_written() const { return offset_; }

 private:
  WarcWriter() = default;
  Status WriteRecord(const std::string& header, std::string_view block);
  Status WriteMember(const std::string& gz);  // one whole gzip member; caller holds mutex_

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  std::mutex mutex_;
};

// "<urn:uuid:...>" from a random (version 4) UUID.
std::string NewRecordId();
// "2026-11-30T00:01:02.123Z"
std::string WarcDate(int64_t unix_ms);

}  // namespace kagami::crawler
