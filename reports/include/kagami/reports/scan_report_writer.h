#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::reports {

enum class ReportFormat { kText, kJsonl };
Result<ReportFormat> ParseReportFormat(std::string_view name);  // "text" | "jsonl"

// Similarity in [0, 1] for a PDQ Hamming distance: (256 - bits) / 256.
double PdqSimilarity(int distance_bits);
// A match's similarity: PdqSimilarity when PDQ matched ("pdq", "both"), else
// (local features only) the fraction of the registered page its verified
// inliers cover.
double MatchSimilarity(const pipeline::PageMatchRecord& match);

// Writes scan results as they arrive.
//
// jsonl (a stable interface scripts rely on), one JSON object per line:
//  - per matched page: {"type":"match","source","member","unit":"page","index",
//    "work","title","ref_asset","ref_member","ref_index","distance" (bits, null
//    for local-only), "similarity","quality","variant","method":"pdq"|"local"|"both",
//    "view", when PDQ matched "view_quality" (of the matched view) and
//    "ref_quality" (of the registered hash "distance" is to), and when geometrically verified
//    "inliers","coverage","mirrored", "homography" (9 numbers, row-major,
//    scanned -> registered page in units of each page's long side) and
//    "verification" {"matches","inliers","coverage","overlap","overlap_coverage",
//    "grid_cells","scale","anisotropy","rotation_deg","perspective",
//    "coverage_of":"page"|"content"} (the measurements fingerprint::VerifyOptions
//    bounds; "content": coverage and overlap are relative to the registered
//    page's content box, index::RobustOptions::content_frame_min_inliers)}. A spread can give two
//    lines with the same index.
//  - per input volume: {"type":"summary","source","verdict":"match"|"no_match"|"error",
//    "works":[{"work","title","rights_holder","matched_pages","required_pages","matched"}],
//    "pages","pages_hashed","pages_low_quality","pages_local_skipped"
//    (pipeline::VolumeReport),"errors":[{"member","error"}],"error"?}
// text: a table for people, one block per volume, and totals from Finish().
// Not thread-safe; the caller serialises Write calls.
class ScanReportWriter {
 public:
  ScanReportWriter(ReportFormat format, std::ostream& out) : format_(format), out_(out) {}

  void Write(const pipeline::VolumeReport& report);
  // Text format: prints totals. jsonl: nothing (every line is self-contained).
  void Finish();

  int volumes_matched() const { return matched_; }
  int volumes_errored() const { return errored_; }

  // The JSON lines for one volume, without a trailing newline each.
  static std::vector<std::string> ToJsonLines(const pipeline::VolumeReport& report);

 private:
  void WriteText(const pipeline::VolumeReport& report);

  ReportFormat format_;
  std::ostream& out_;
  int volumes_ = 0;
  int matched_ = 0;
  int errored_ = 0;
};

}  // namespace kagami::reports
