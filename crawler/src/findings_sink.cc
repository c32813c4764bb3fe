#include "kagami/crawler/findings_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "kagami/crawler/warc_writer.h"

namespace kagami::crawler {

std::string FindingKey(const CrawlFinding& f) {
  return f.work_id + "|" + f.media_sha256 + "|" + f.member + "|" + std::to_string(f.unit_id);
}

std::string FindingToJson(const CrawlFinding& f) {
  nlohmann::json j;
  j["job"] = f.job;
  j["work"] = f.work_id;
  j["title"] = f.work_title;
  j["rights_holder"] = f.rights_holder;
  j["page_url"] = f.page_url;
  j["media_url"] = f.media_url;
  j["member"] = f.member;
  j["page_index"] = f.page_index;
  j["fetched"] = WarcDate(f.fetched_unix_ms);
  j["media_sha256"] = f.media_sha256;
  j["warc"] = {{"file", f.warc_file}, {"record_id", f.warc_record_id}, {"offset", f.warc_offset}};
  j["unit_id"] = f.unit_id;
  j["registered_member"] = f.registered_member;
  j["method"] = f.method;
  j["view"] = f.view;
  j["distance"] = f.distance;
  j["quality"] = f.quality;
  j["suspect_pdq"] = f.suspect_pdq_hex;
  j["inliers"] = f.inliers;
  j["coverage"] = f.coverage;
  j["robots_overridden"] = f.robots_overridden;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<JsonlFindingsSink>> JsonlFindingsSink::Open(
    const std::filesystem::path& path) {
  auto sink = std::unique_ptr<JsonlFindingsSink>(new JsonlFindingsSink());
  sink->path_ = path;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;  // a line cut by a kill
      CrawlFinding f;
      f.work_id = j.value("work", "");
      f.media_sha256 = j.value("media_sha256", "");
      f.member = j.value("member", "");
      f.unit_id = j.value("unit_id", int64_t{0});
      sink->keys_.insert(FindingKey(f));
    }
  }
  sink->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (sink->fd_ < 0) return ErrnoStatus(errno, "open findings " + path.string());
  // A previous writer killed mid-line leaves a partial line: start on a fresh one.
  off_t end = lseek(sink->fd_, 0, SEEK_END);
  if (end > 0) {
    char last = 0;
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
      if (pread(rfd, &last, 1, end - 1) == 1 && last != '\n') {
        if (::write(sink->fd_, "\n", 1) != 1) {
          ::close(rfd);
          return ErrnoStatus(errno, "write findings " + path.string());
        }
      }
      ::close(rfd);
    }
  }
  return sink;
}

JsonlFindingsSink::~JsonlFindingsSink() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> JsonlFindingsSink::Record(const CrawlFinding& finding) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key = FindingKey(finding);
  if (keys_.count(key)) return false;
  std::string line = FindingToJson(finding) + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n <= 0) return ErrnoStatus(errno, "write findings " + path_.string());
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "sync findings " + path_.string());
  keys_.insert(key);
  return true;
}

}  // namespace kagami::crawler
