#include "kagami/reports/finding_records.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <opencv2/imgproc.hpp>

#include "geometry_evidence.h"
#include "kagami/reports/exhibit_renderer.h"
#include "kagami/reports/scan_report_writer.h"

namespace kagami::reports {
namespace {

MatchedUnit UnitFromMatch(const pipeline::PageMatchRecord& m) {
  MatchedUnit u;
  u.member = m.member;
  u.index = m.page_index;
  u.pdq_hex = m.pdq.ToHex();
  u.quality = m.quality;
  u.ref_unit = m.hit.unit_id;
  u.ref_asset = m.ref.asset_path;
  u.ref_asset_sha256 = m.ref.asset_sha256;
  u.ref_member = m.ref.member;
  u.ref_index = m.ref.page_index;
  auto method = ParseMatchMethod(m.method);
  u.method = method.ok() ? *method : MatchMethod::kPdq;
  auto view = ParseMatchView(m.view);
  u.view = view.ok() ? *view : MatchView::kFull;
  u.distance = m.hit.distance;
  u.blurred = m.blurred;
  u.similarity = MatchSimilarity(m);
  u.variant = static_cast<int>(m.hit.variant);
  u.inliers = m.inliers;
  u.coverage = m.coverage;
  u.mirrored = m.mirrored;
  u.colour_disagreement = m.colour_disagreement;
  if (m.inliers > 0) {
    std::array<double, 9> h{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) h[r * 3 + c] = m.homography(r, c);
    }
    u.homography = h;
    u.geometry = internal::GeometryOf(m);
  }
  return u;
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// A scanned video: one finding per work, one unit per aligned segment (index =
// the segment's position in the report; time / ref_time its query and
// reference ranges, seconds).
std::vector<ScanFindingDraft> VideoFindings(const pipeline::VolumeReport& report,
                                            const std::string& captured_at,
                                            const std::string& recorded_by) {
  std::vector<ScanFindingDraft> out;
  std::map<std::string, size_t> pos;  // work -> draft
  const bool url =
      report.source.rfind("http://", 0) == 0 || report.source.rfind("https://", 0) == 0;
  const std::string file = url ? report.source : Absolute(report.source);
  for (size_t i = 0; i < report.segments.size(); ++i) {
    const pipeline::VideoSegmentMatch& m = report.segments[i];
    auto it = pos.find(m.ref.work_id);
    if (it == pos.end()) {
      ScanFindingDraft d;
      d.source_path = url ? "" : file;
      d.finding.source = file;
      if (url) {
        d.finding.source_is_url = true;
        d.finding.media_url = file;
        d.finding.content_sha256 = report.content_sha256;
      }
      d.finding.work = m.ref.work_id;
      d.finding.captured_at = captured_at;
      d.finding.recorded_by = recorded_by;
      it = pos.emplace(m.ref.work_id, out.size()).first;
      out.push_back(std::move(d));
    }
    MatchedUnit u;
    u.index = static_cast<int>(i);
    u.time = TimeRange{m.segment.start, m.segment.end};
    u.ref_time = TimeRange{m.segment.ref_start, m.segment.ref_end};
    u.ref_unit = m.ref.asset_id;
    u.ref_asset = m.ref.path;
    u.ref_asset_sha256 = m.ref.sha256;
    u.method = MatchMethod::kPdq;
    u.distance =
        m.segment.modality == "audio" ? -1 : static_cast<int>(std::lround(m.segment.mean_distance));
    u.similarity = m.segment.score;
    u.mirrored = m.segment.mirrored;
    out[it->second].finding.units.push_back(std::move(u));
  }
  return out;
}

}  // namespace

Status KeepQueryFrame(const pipeline::VideoSegmentMatch& match, EvidenceStore& evidence,
                      MatchedUnit& unit) {
  if (!match.query_frame) return Status::Ok();
  const pipeline::VideoEvidenceFrame& e = *match.query_frame;
  if (e.gray.empty() || e.gray.type() != CV_8UC1) {
    return Status::InvalidArgument("query frame is not an 8-bit gray image");
  }
  cv::Mat bgr;
  cv::cvtColor(e.gray, bgr, cv::COLOR_GRAY2BGR);
  KAGAMI_ASSIGN_OR_RETURN(std::string png, EncodePng(bgr));
  KAGAMI_ASSIGN_OR_RETURN(auto kept, evidence.KeepBytes(png));
  VideoQueryFrame q;
  q.file = kept.second;
  q.t = e.t;
  q.ref_t = e.ref_t;
  q.segment_url = e.piece_url;
  q.segment_sha256 = e.piece_sha256;
  q.segment_sequence = e.piece_sequence;
  unit.query_frame = std::move(q);
  return Status::Ok();
}

std::vector<ScanFindingDraft> FindingsFromScan(const pipeline::VolumeReport& report,
                                               const std::string& captured_at,
                                               const std::string& recorded_by) {
  if (report.video) return VideoFindings(report, captured_at, recorded_by);
  std::error_code ec;
  bool folder = std::filesystem::is_directory(report.source, ec);
  // (source file, work) -> draft, in first-match order.
  std::vector<ScanFindingDraft> out;
  std::map<std::pair<std::string, std::string>, size_t> pos;
  for (const pipeline::PageMatchRecord& m : report.matches) {
    std::string file = folder && !m.member.empty()
                           ? (std::filesystem::path(report.source) / m.member).string()
                           : report.source;
    file = Absolute(file);
    auto key = std::make_pair(file, m.ref.work_id);
    auto it = pos.find(key);
    if (it == pos.end()) {
      ScanFindingDraft d;
      d.source_path = file;
      d.finding.source = file;
      d.finding.work = m.ref.work_id;
      d.finding.captured_at = captured_at;
      d.finding.recorded_by = recorded_by;
      it = pos.emplace(key, out.size()).first;
      out.push_back(std::move(d));
    }
    MatchedUnit u = UnitFromMatch(m);
    if (const pipeline::PageMatchRecord* first = pipeline::TwinnedMatch(report, m)) {
      u.same_picture_as =
          SamePicture{first->ref.work_id, first->hit.unit_id,    first->ref.asset_path,
                      first->ref.member,  first->ref.page_index, m.twin_bits};
    }
    if (folder) u.member = "";  // the source is the image itself
    out[it->second].finding.units.push_back(std::move(u));
  }
  return out;
}

double BestSimilarity(const Finding& f) {
  double best = 0;
  for (const MatchedUnit& u : f.units) best = std::max(best, u.similarity);
  return best;
}

std::vector<std::string> SamePictureWorks(const Finding& f) {
  std::vector<std::string> works;
  for (const MatchedUnit& u : f.units)
    if (u.same_picture_as) works.push_back(u.same_picture_as->work);
  std::sort(works.begin(), works.end());
  works.erase(std::unique(works.begin(), works.end()), works.end());
  return works;
}

std::string FindingHost(const Finding& f) {
  const std::string& url = !f.page_url.empty() ? f.page_url : f.media_url;
  if (url.empty()) return "local";
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t at = host.rfind('@');
  if (at != std::string::npos) host = host.substr(at + 1);
  if (!host.empty() && host[0] != '[') {
    size_t colon = host.find(':');
    if (colon != std::string::npos) host = host.substr(0, colon);
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host.empty() ? "local" : host;
}

nlohmann::json FindingListJson(const FindingRecord& r) {
  using nlohmann::json;
  const Finding& f = r.finding;
  json units = json::array();
  for (const MatchedUnit& u : f.units) {
    auto range = [](const std::optional<TimeRange>& t) -> json {
      if (!t) return nullptr;
      return json::array({t->start_s, t->end_s});
    };
    units.push_back(
        {{"index", u.index},
         {"member", u.member},
         {"pdq", u.pdq_hex},
         {"ref_unit", u.ref_unit},
         {"ref_index", u.ref_index},
         {"ref_member", u.ref_member},
         {"method", MatchMethodName(u.method)},
         {"view", MatchViewName(u.view)},
         {"distance", u.distance < 0 ? json(nullptr) : json(u.distance)},
         {"hash", u.distance < 0 ? json(nullptr) : json(u.blurred ? "blurred_pdq" : "pdq")},
         {"similarity", u.similarity},
         {"inliers", u.inliers},
         {"coverage", u.coverage},
         {"time", range(u.time)},
         {"ref_time", range(u.ref_time)}});
    if (u.colour_disagreement >= 0)
      units.back()["colour_disagreement"] = std::round(u.colour_disagreement * 1000.0) / 1000.0;
    if (u.query_frame) {
      units.back()["query_frame"] = {{"file", u.query_frame->file},
                                     {"t", u.query_frame->t},
                                     {"ref_t", u.query_frame->ref_t},
                                     {"segment_url", u.query_frame->segment_url},
                                     {"segment_sha256", u.query_frame->segment_sha256},
                                     {"segment_sequence", u.query_frame->segment_sequence}};
    }
    if (u.same_picture_as) {
      units.back()["same_picture_as"] = {
          {"work", u.same_picture_as->work},
          {"ref_unit", u.same_picture_as->ref_unit},
          {"ref_index", u.same_picture_as->ref_index},
          {"ref_member", u.same_picture_as->ref_member},
          {"registered_distance", u.same_picture_as->registered_distance}};
    }
  }
  json reviews = json::array();
  for (const auto& [entry, action] : r.reviews) {
    reviews.push_back({{"seq", entry.seq},
                       {"state", ReviewStateName(action.state)},
                       {"who", action.who},
                       {"note", action.note},
                       {"recorded_at", entry.recorded_at}});
  }
  return {{"id", r.id},
          {"work", f.work},
          {"status", ReviewStateName(r.status)},
          {"source", f.source},
          {"source_kind", f.source_is_url ? "url" : "file"},
          {"page_url", f.page_url},
          {"media_url", f.media_url},
          {"captured_at", f.captured_at},
          {"recorded_at", r.recorded_at},
          {"content_sha256", f.content_sha256},
          {"evidence_file", f.evidence_file},
          {"warc_file", f.warc_file},
          {"warc_record_id", f.warc_record_id},
          {"server_ip", f.server_ip},
          {"http_status", f.http_status},
          {"robots_override", f.robots_override},
          {"best_similarity", BestSimilarity(f)},
          {"units", units},
          {"reviews", reviews},
          {"entry_hash", r.entry_hash}};
}

}  // namespace kagami::reports
