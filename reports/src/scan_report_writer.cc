#include "kagami/reports/scan_report_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "geometry_evidence.h"
#include "video_report.h"

namespace kagami::reports {
namespace {

const char* VariantName(fingerprint::Dihedral v) {
  static constexpr const char* kNames[] = {"original", "rot90", "rot180",    "rot270",
                                           "flipX",    "flipY", "flipPlus1", "flipMinus1"};
  return kNames[static_cast<int>(v)];
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Ellipsize(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return "..." + s.substr(s.size() - (width - 3));
}

std::string RefName(const pipeline::PageMatchRecord& m, size_t width) {
  return Ellipsize(m.ref.member.empty() ? m.ref.asset_path : m.ref.member, width) + " #" +
         std::to_string(m.ref.page_index);
}

}  // namespace

Result<ReportFormat> ParseReportFormat(std::string_view name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "jsonl") return ReportFormat::kJsonl;
  return Status::InvalidArgument("unknown format '" + std::string(name) + "' (use text or jsonl)");
}

double MatchSimilarity(const pipeline::PageMatchRecord& match) {
  if (match.hit.distance >= 0) return PdqSimilarity(match.hit.distance);
  return std::round(std::min(1.0, match.coverage) * 10000.0) / 10000.0;
}

double PdqSimilarity(int distance_bits) {
  return std::round((256.0 - distance_bits) / 256.0 * 10000.0) / 10000.0;
}

std::vector<std::string> ScanReportWriter::ToJsonLines(const pipeline::VolumeReport& report) {
  std::vector<std::string> lines = internal::VideoSegmentJsonLines(report);
  for (const pipeline::PageMatchRecord& m : report.matches) {
    nlohmann::json j;
    j["type"] = "match";
    j["source"] = report.source;
    j["member"] = m.member;
    j["unit"] = "page";
    j["index"] = m.page_index;
    j["work"] = m.ref.work_id;
    j["title"] = m.ref.title;
    j["ref_asset"] = m.ref.asset_path;
    j["ref_member"] = m.ref.member;
    j["ref_index"] = m.ref.page_index;
    if (m.hit.distance >= 0) {
      j["distance"] = m.hit.distance;
      j["variant"] = VariantName(m.hit.variant);
      j["view_quality"] = m.view_quality;
      // Of the registered hash the distance is to (the page's, its trimmed
      // view's or its blurred one), else of the registered page.
      j["ref_quality"] = m.ref_quality >= 0 ? m.ref_quality : m.ref.quality;
      // Which hashes the distance is between: PDQ's, or Kagami's blurred ones
      // (fingerprint/blurred_pdq.h).
      j["hash"] = m.blurred ? "blurred_pdq" : "pdq";
    } else {
      j["distance"] = nullptr;
      j["variant"] = nullptr;
    }
    j["similarity"] = MatchSimilarity(m);
    j["quality"] = m.quality;
    j["method"] = m.method;
    j["view"] = m.view;
    if (m.inliers > 0) {
      j["inliers"] = m.inliers;
      j["coverage"] = std::round(m.coverage * 10000.0) / 10000.0;
      j["mirrored"] = m.mirrored;
      nlohmann::json h = nlohmann::json::array();
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) h.push_back(m.homography(r, c));
      }
      j["homography"] = h;
      j["verification"] = internal::GeometryToJson(internal::GeometryOf(m), 4);
    }
    // Both pages in colour: how much of their colour lies in hues the other
    // lacks (index::RobustOptions::colour_check); absent when not measured.
    if (m.colour_disagreement >= 0)
      j["colour_disagreement"] = std::round(m.colour_disagreement * 1000.0) / 1000.0;
    if (const pipeline::PageMatchRecord* first = pipeline::TwinnedMatch(report, m)) {
      j["same_picture_as"] = {{"work", first->ref.work_id},
                              {"ref_asset", first->ref.asset_path},
                              {"ref_member", first->ref.member},
                              {"ref_index", first->ref.page_index},
                              {"registered_distance", m.twin_bits}};
    }
    lines.push_back(Dump(j));
  }
  nlohmann::json s;
  s["type"] = "summary";
  s["source"] = report.source;
  s["verdict"] = std::string(pipeline::VerdictName(report.verdict));
  nlohmann::json works = nlohmann::json::array();
  for (const pipeline::WorkResult& w : report.works) {
    works.push_back({{"work", w.tally.work_id},
                     {"title", w.title},
                     {"rights_holder", w.rights_holder},
                     {"matched_pages", w.tally.matched_pages},
                     {"required_pages", w.tally.required_pages},
                     {"matched", w.tally.matched}});
  }
  s["works"] = works;
  s["pages"] = report.pages;
  s["pages_hashed"] = report.pages_hashed;
  s["pages_low_quality"] = report.pages_low_quality;
  s["pages_local_skipped"] = report.pages_local_skipped;
  nlohmann::json errors = nlohmann::json::array();
  for (const pipeline::FileError& e : report.errors) {
    errors.push_back({{"file", e.source}, {"member", e.member}, {"error", e.status.ToString()}});
  }
  s["errors"] = errors;
  if (!report.status.ok()) s["error"] = report.status.ToString();
  lines.push_back(Dump(s));
  return lines;
}

void ScanReportWriter::Write(const pipeline::VolumeReport& report) {
  ++volumes_;
  if (report.verdict == pipeline::Verdict::kMatch) ++matched_;
  if (report.verdict == pipeline::Verdict::kError) ++errored_;
  if (format_ == ReportFormat::kJsonl) {
    for (const std::string& line : ToJsonLines(report)) out_ << line << '\n';
    out_.flush();
    return;
  }
  WriteText(report);
}

void ScanReportWriter::WriteText(const pipeline::VolumeReport& report) {
  const char* verdict = report.verdict == pipeline::Verdict::kMatch     ? "MATCH"
                        : report.verdict == pipeline::Verdict::kNoMatch ? "no match"
                                                                        : "ERROR";
  const size_t twins =
      std::count_if(report.matches.begin(), report.matches.end(),
                    [](const pipeline::PageMatchRecord& m) { return m.twin_of != 0; });
  out_ << verdict << "  " << report.source << "  (" << report.pages
       << (report.video ? " frames, " : " pages, ")
       << (report.video ? report.segments.size() : report.matches.size() - twins)
       << (report.video ? " segments" : " matched");
  if (twins > 0) out_ << ", " << twins << " also registered in another work";
  if (report.pages_low_quality > 0)
    out_ << ", " << report.pages_low_quality << " too plain to match";
  if (report.pages_local_skipped > 0)
    out_ << ", " << report.pages_local_skipped
         << " not checked by local features (no page of the volume matched)";
  if (!report.errors.empty()) out_ << ", " << report.errors.size() << " errors";
  out_ << ")\n";
  if (!report.status.ok() && report.verdict == pipeline::Verdict::kError) {
    out_ << "    error: " << report.status.ToString() << '\n';
  }
  for (const pipeline::WorkResult& w : report.works) {
    out_ << "    work " << w.tally.work_id << " \"" << w.title << "\"";
    if (!w.rights_holder.empty()) out_ << " (" << w.rights_holder << ")";
    out_ << ": " << w.tally.matched_pages << " registered pages matched, " << w.tally.required_pages
         << " needed" << (w.tally.matched ? "" : " - not enough") << '\n';
  }
  internal::WriteVideoSegmentsText(report, out_);
  if (!report.matches.empty()) {
    char line[512];
    std::snprintf(line, sizeof line, "    %5s  %-28s  %-16s  %-28s  %4s  %5s  %s\n", "page",
                  "member", "work", "registered page", "dist", "sim", "how");
    out_ << line;
    for (const pipeline::PageMatchRecord& m : report.matches) {
      std::string ref = RefName(m, 22);
      std::string how = m.method;
      if (m.hit.distance >= 0 && m.hit.variant != fingerprint::kOriginal) {
        how += std::string(" ") + VariantName(m.hit.variant);
      }
      if (m.view != "full") how += " " + m.view;
      if (m.inliers > 0) {
        how += " " + std::to_string(m.inliers) + " inliers, coverage " +
               std::to_string(static_cast<int>(std::lround(std::min(1.0, m.coverage) * 100))) + "%";
      }
      if (const pipeline::PageMatchRecord* first = pipeline::TwinnedMatch(report, m)) {
        how += "; same picture as " + first->ref.work_id + " " + RefName(*first, 40) + " (" +
               std::to_string(m.twin_bits) + " bits apart)";
      }
      std::string dist = m.hit.distance >= 0 ? std::to_string(m.hit.distance) : "-";
      std::snprintf(line, sizeof line, "    %5d  %-28s  %-16s  %-28s  %4s  %5.3f  %s\n",
                    m.page_index, Ellipsize(m.member, 28).c_str(),
                    Ellipsize(m.ref.work_id, 16).c_str(), Ellipsize(ref, 28).c_str(), dist.c_str(),
                    MatchSimilarity(m), how.c_str());
      out_ << line;
    }
  }
  for (const pipeline::FileError& e : report.errors) {
    out_ << "    error: " << (e.member.empty() ? e.source : e.member) << ": " << e.status.ToString()
         << '\n';
  }
}

void ScanReportWriter::Finish() {
  if (format_ != ReportFormat::kText) return;
  out_ << volumes_ << " inputs scanned: " << matched_ << " matched, " << errored_ << " errors\n";
}

}  // namespace kagami::reports
