#pragma once

// Conversions between scan results, ledger findings and their listings.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/pipeline/scanner.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports {

// One Finding per (suspect file, work) in a scanned volume: a plain file or
// archive is one source; a folder volume gives one source per matched image
// (source = folder/member); a video gives one unit per aligned segment (index =
// its position among the report's segments, time / ref_time the query and
// reference seconds, similarity its score). `source` paths are made absolute; content_sha256 and
// evidence_file are left for the caller (EvidenceStore::KeepFile). A video
// read over http(s) gives source = media_url = the URL, source_is_url,
// content_sha256 = the report's, and an empty source_path (nothing to keep:
// its segments' frames are kept with KeepQueryFrame). Units keep
// page order. Scan matches with unknown method/view names are recorded as
// pdq/full (the scanner only produces the enum's names).
struct ScanFindingDraft {
  std::string source_path;  // the file to keep and hash
  Finding finding;
};
std::vector<ScanFindingDraft> FindingsFromScan(const pipeline::VolumeReport& report,
                                               const std::string& captured_at,
                                               const std::string& recorded_by);

// Keeps `match.query_frame` (a segment of a video read over http(s)) in
// `evidence` and records it on `unit`. Ok and nothing done when the match has
// no query frame; the store's error otherwise.
Status KeepQueryFrame(const pipeline::VideoSegmentMatch& match, EvidenceStore& evidence,
                      MatchedUnit& unit);

// The best (highest) similarity among a finding's units; 0 if none.
double BestSimilarity(const Finding& f);

// The other works whose registered page is the same picture as one this
// finding's units matched (MatchedUnit::same_picture_as), sorted, each once;
// empty when none.
std::vector<std::string> SamePictureWorks(const Finding& f);

// The `kagami findings --format jsonl` line for one finding (a stable
// interface): {"id","work","status","source","source_kind","page_url","media_url",
// "captured_at","recorded_at","content_sha256","evidence_file","warc_file",
// "warc_record_id","server_ip","http_status","best_similarity","units":[{"index",
// "member","pdq","ref_unit","ref_index","ref_member","method","view","distance",
// "similarity","inliers","coverage","time","ref_time", and for videos read over
// http(s) "query_frame":{"file","t","ref_t","segment_url","segment_sha256",
// "segment_sequence"}, and for the same picture registered in another work
// "same_picture_as":{"work","ref_unit","ref_index","ref_member",
// "registered_distance"}}],"reviews":[{"seq","state",
// "who","note","recorded_at"}],"entry_hash"}.
nlohmann::json FindingListJson(const FindingRecord& r);

// Host of a URL ("" if none); for local files "local".
std::string FindingHost(const Finding& f);

}  // namespace kagami::reports
