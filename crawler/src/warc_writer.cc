#include "kagami/crawler/warc_writer.h"

#include <sodium.h>
#include <zlib.h>

#include <cerrno>
#include <ctime>
#include <random>
#include <vector>

namespace kagami::crawler {
namespace {

std::string Sha256Hex(std::string_view data) {
  static const int sodium_ready = sodium_init();
  (void)sodium_ready;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<std::string> Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::Internal("deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("deflate failed");
  out.resize(produced);
  return out;
}

}  // namespace

std::string NewRecordId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  unsigned char b[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<unsigned char>(v >> (8 * k));
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char buf[64];
  std::snprintf(buf, sizeof buf,
                "<urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x>",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return buf;
}

std::string WarcDate(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

Result<std::unique_ptr<WarcWriter>> WarcWriter::Create(const std::filesystem::path& path,
                                                       const std::string& info) {
  std::unique_ptr<WarcWriter> w(new WarcWriter());
  w->path_ = path;
  w->file_ = std::fopen(path.c_str(), "wbx");
  if (w->file_ == nullptr) return ErrnoStatus(errno, "create " + path.string());
  int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  std::string block = info;
  std::string header = "WARC/1.1\r\nWARC-Type: warcinfo\r\nWARC-Record-ID: " + NewRecordId() +
                       "\r\nWARC-Date: " + WarcDate(now_ms) +
                       "\r\nWARC-Filename: " + path.filename().string() +
                       "\r\nContent-Type: application/warc-fields\r\nContent-Length: " +
                       std::to_string(block.size()) + "\r\n\r\n";
  KAGAMI_RETURN_IF_ERROR(w->WriteRecord(header, block));
  return w;
}

WarcWriter::~WarcWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status WarcWriter::WriteRecord(const std::string& header, std::string_view block) {
  std::string record;
  record.reserve(header.size() + block.size() + 4);
  record += header;
  record.append(block.data(), block.size());
  record += "\r\n\r\n";
  KAGAMI_ASSIGN_OR_RETURN(std::string gz, Gzip(record));
  if (std::fwrite(gz.data(), 1, gz.size(), file_) != gz.size() || std::fflush(file_) != 0) {
    return ErrnoStatus(errno, "write " + path_.string());
  }
  offset_ += gz.size();
  return Status::Ok();
}

Result<WarcRef> WarcWriter::Write(const HttpExchange& ex) {
  const std::string response_id = NewRecordId();
  const std::string request_id = NewRecordId();
  const std::string date = WarcDate(ex.date_unix_ms);
  std::string response_block = ex.response_head;
  response_block += ex.response_body;
  std::string common = "WARC-Date: " + date + "\r\nWARC-Target-URI: " + ex.target_uri + "\r\n";
  if (!ex.ip_address.empty()) common += "WARC-IP-Address: " + ex.ip_address + "\r\n";

  std::string response_header =
      "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: " + response_id + "\r\n" + common +
      "WARC-Block-Digest: sha256:" + Sha256Hex(response_block) +
      "\r\nWARC-Payload-Digest: sha256:" + Sha256Hex(ex.response_body) + "\r\n" +
      (ex.truncated ? "WARC-Truncated: length\r\n" : "") +
      "Content-Type: application/http;msgtype=response\r\nContent-Length: " +
      std::to_string(response_block.size()) + "\r\n\r\n";
  std::string request_header =
      "WARC/1.1\r\nWARC-Type: request\r\nWARC-Record-ID: " + request_id + "\r\n" + common +
      "WARC-Concurrent-To: " + response_id +
      "\r\nWARC-Block-Digest: sha256:" + Sha256Hex(ex.request_head) +
      "\r\nContent-Type: application/http;msgtype=request\r\nContent-Length: " +
      std::to_string(ex.request_head.size()) + "\r\n\r\n";

  std::lock_guard<std::mutex> lock(mutex_);
  WarcRef ref;
  ref.file = path_.filename().string();
  ref.record_id = response_id;
  ref.offset = offset_;
  KAGAMI_RETURN_IF_ERROR(WriteRecord(response_header, response_block));
  KAGAMI_RETURN_IF_ERROR(WriteRecord(request_header, ex.request_head));
  return ref;
}

}  // namespace kagami::crawler
