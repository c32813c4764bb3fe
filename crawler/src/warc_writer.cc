#include "kagami/crawler/warc_writer.h"

#include <zlib.h>

#include "kagami/base/sha256.h"

#include <cerrno>
#include <ctime>
#include <initializer_list>
#include <random>
#include <vector>

namespace kagami::crawler {
namespace {

// Payloads in formats that are compressed already (JPEG, PNG, GIF, WebP, ZIP,
// 7z, RAR, gzip, MP4/MOV, MPEG-TS, Matroska): deflate cannot shrink them, so
// their records are stored (deflate level 0, still one valid gzip member) at
// memory speed instead of costing about 10 ms per MB at level 6.
bool AlreadyCompressed(std::string_view b) {
  auto at = [&](size_t off, std::string_view magic) {
    return b.size() >= off + magic.size() && b.compare(off, magic.size(), magic) == 0;
  };
  return at(0, "\xff\xd8\xff") || at(0, "\x89PNG") || at(0, "GIF8") ||
         (at(0, "RIFF") && at(8, "WEBP")) || at(0, "PK\x03\x04") || at(0, "7z\xbc\xaf") ||
         at(0, "Rar!") || at(0, "\x1f\x8b") || at(4, "ftyp") || at(4, "moof") ||
         at(0, "\x1a\x45\xdf\xa3") || (b.size() >= 189 && b[0] == 0x47 && b[188] == 0x47);
}

// One gzip member holding the concatenation of `parts`.
Result<std::string> Gzip(std::initializer_list<std::string_view> parts, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::Internal("deflateInit2 failed");
  size_t total = 0;
  for (std::string_view p : parts) total += p.size();
  std::string out;
  out.resize(deflateBound(&zs, total) + 64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  size_t i = 0, n = parts.size();
  for (std::string_view p : parts) {
    ++i;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data()));
    zs.avail_in = static_cast<uInt>(p.size());
    rc = deflate(&zs, i == n ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) break;
  }
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
  KAGAMI_ASSIGN_OR_RETURN(std::string gz, Gzip({header, block, "\r\n\r\n"}, 6));
  return WriteMember(gz);
}

Status WarcWriter::WriteMember(const std::string& gz) {
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
  std::string common = "WARC-Date: " + date + "\r\nWARC-Target-URI: " + ex.target_uri + "\r\n";
  if (!ex.ip_address.empty()) common += "WARC-IP-Address: " + ex.ip_address + "\r\n";
  const std::string payload_digest =
      ex.payload_sha256_hex.size() == 64 ? ex.payload_sha256_hex : Sha256Hex({ex.response_body});
  std::string response_header =
      "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: " + response_id + "\r\n" + common +
      "WARC-Block-Digest: sha256:" + Sha256Hex({ex.response_head, ex.response_body}) +
      "\r\nWARC-Payload-Digest: sha256:" + payload_digest + "\r\n" +
      (ex.truncated ? "WARC-Truncated: length\r\n" : "") +
      "Content-Type: application/http;msgtype=response\r\nContent-Length: " +
      std::to_string(ex.response_head.size() + ex.response_body.size()) + "\r\n\r\n";
  std::string request_header =
      "WARC/1.1\r\nWARC-Type: request\r\nWARC-Record-ID: " + request_id + "\r\n" + common +
      "WARC-Concurrent-To: " + response_id +
      "\r\nWARC-Block-Digest: sha256:" + Sha256Hex({ex.request_head}) +
      "\r\nContent-Type: application/http;msgtype=request\r\nContent-Length: " +
      std::to_string(ex.request_head.size()) + "\r\n\r\n";
  // Compressed outside the lock, so that several threads archive at once.
  int level = AlreadyCompressed(ex.response_body) ? 0 : 6;
  KAGAMI_ASSIGN_OR_RETURN(
      std::string response_gz,
      Gzip({response_header, ex.response_head, ex.response_body, "\r\n\r\n"}, level));
  KAGAMI_ASSIGN_OR_RETURN(std::string request_gz,
                          Gzip({request_header, ex.request_head, "\r\n\r\n"}, 6));

  std::lock_guard<std::mutex> lock(mutex_);
  WarcRef ref;
  ref.file = path_.filename().string();
  ref.record_id = response_id;
  ref.offset = offset_;
  KAGAMI_RETURN_IF_ERROR(WriteMember(response_gz));
  KAGAMI_RETURN_IF_ERROR(WriteMember(request_gz));
  return ref;
}

}  // namespace kagami::crawler
