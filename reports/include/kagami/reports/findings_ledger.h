#pragma once

// The findings ledger: a tamper-evident, append-only record of what Kagami
// found (findings) and what people decided about it (review actions).
//
// Chain (format "kagami-ledger/1")
// --------------------------------
// Entries are numbered seq = 1, 2, 3, ... without gaps. Each entry stores
//   seq, kind ("finding" | "review"), recorded_at (UTC, "YYYY-MM-DDTHH:MM:SSZ"),
//   prev_hash (the previous entry's hash; 64 '0' for seq 1), body, hash
// where `body` is a JSON text (UTF-8) and
//   hash = lowercase hex SHA-256 (FIPS 180-4) of the preimage
//     "kagami-ledger/1\n" + decimal(seq) + "\n" + kind + "\n" + recorded_at + "\n"
//     + prev_hash + "\n" + body
// The body is hashed as the exact bytes stored; verifiers must never re-serialise
// it. Kagami writes bodies canonically (compact JSON, object keys sorted by byte
// value, no insignificant whitespace, non-ASCII as raw UTF-8, real numbers
// rounded to 6 decimals), so the same finding always gives the same body.
// The head (last seq and hash) commits to the whole history: reordering,
// editing, inserting or deleting any entry changes every later hash.
//
// Bodies
//   finding: FindingToJson() below: {"source","source_kind":"file"|"url",
//     "page_url","media_url","work","units":[...],"captured_at","server_ip",
//     "http_status","http_headers":[[name,value],...],"content_sha256",
//     "evidence_file","warc_file","warc_record_id","robots_override","recorded_by"}
//   review: {"finding":SEQ,"state":"confirmed"|...,"who","note"}
// A finding's ID is its seq. Its status is the state of its last review ("new"
// when none). Nothing is ever updated or deleted: a review appends.
//
// Storage: FindingsLedger is an interface. Open() gives the embedded default,
// `findings.sqlite` in the data directory (WAL; UPDATE and DELETE on the
// ledger table are refused by triggers). A later backend (PostgreSQL) keeps
// the same chain format so bundles and `kagami verify` do not change.
//
// Thread-safety: one FindingsLedger may be shared by threads; appends from
// several threads and processes are serialised on the head inside one write
// transaction (BEGIN IMMEDIATE), so every append sees and extends the latest
// head. A killed process leaves either the whole entry or none of it.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kagami/base/sha256.h"
#include "kagami/base/status.h"

namespace kagami::reports {

inline constexpr std::string_view kLedgerFormat = "kagami-ledger/1";
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Which matcher stage found a unit.
enum class MatchMethod { kPdq, kLocal, kBoth };
std::string_view MatchMethodName(MatchMethod m);  // "pdq", "local", "both"
Result<MatchMethod> ParseMatchMethod(std::string_view name);

// Which view of the suspect unit matched.
// kBox: a page found inside a larger image (fingerprint::DetectPageBox).
// kUnbanded: the whole image with a full-width band laid over it (a
// watermark strip, fingerprint::DetectOverlayBand) filled from the rows
// around it.
// kDeskewed: a page lying askew on a plain canvas, turned upright
// (fingerprint::DetectSkewedPage).
// kLevelled: lines of type or staves lying askew on paper that shows no edge,
// turned level by the angle of the lines (fingerprint::DetectSkewedLines).
enum class MatchView { kFull, kTrimmed, kLeft, kRight, kBox, kUnbanded, kDeskewed, kLevelled };
// "full", "trimmed", "left", "right", "box", "unbanded", "deskewed", "levelled"
std::string_view MatchViewName(MatchView v);
Result<MatchView> ParseMatchView(std::string_view name);

// Review state of a finding.
enum class ReviewState { kNew, kConfirmed, kRejected, kNoticeSent, kRemoved };
std::string_view ReviewStateName(
    ReviewState s);  // "new", "confirmed", "rejected", "notice_sent", "removed"
Result<ReviewState> ParseReviewState(std::string_view name);  // also accepts "notice-sent"

enum class EntryKind { kFinding, kReview };
std::string_view EntryKindName(EntryKind k);  // "finding", "review"

// Seconds within a video; start <= end.
struct TimeRange {
  double start_s = 0;
  double end_s = 0;
};

// The query frame of a video unit read from a stream that cannot be re-read
// (HLS over http): the sampled frame as fingerprinted, kept in the evidence
// store, and the fetched piece (media segment) it was decoded from.
struct VideoQueryFrame {
  std::string file;               // evidence store path of the PNG, relative to the data dir
  double t = 0;                   // query seconds
  double ref_t = 0;               // the registered frame shown beside it (seconds)
  std::string segment_url;        // the media segment whose bytes gave the frame
  std::string segment_sha256;     // of that segment's bytes ("" if unknown)
  int64_t segment_sequence = -1;  // its HLS media sequence number (-1 unknown)
};

// One suspect unit (page or frame) matched to one registered unit.
// The geometric verification behind a local-feature match, as the matcher
// measured it (fingerprint::Verification): what a reviewer needs to judge the
// match. Units: coverage, overlap and overlap_coverage are area fractions
// 0..1; scale is sqrt|det| of the affine part (registered / suspect, in long-
// side units); rotation in degrees.
struct GeometryEvidence {
  int matches = 0;            // descriptor matches after the ratio test
  int inliers = 0;            // consistent with the transform
  int distinct_inliers = -1;  // inliers off the registered page's shared layout; -1 unchecked
  int layout_keypoints = -1;  // registered keypoints marked as shared layout; -1 unchecked
  double coverage = 0;        // inlier hull / area of coverage_of
  std::string coverage_of = "page";  // "page", or "content": the registered page's content box
  double overlap = 0;                // suspect page as mapped / registered area
  double overlap_coverage = 0;       // inlier hull / overlap
  int grid_cells = 0;                // occupied cells of a 4x4 grid over the overlap
  double scale = 0;
  double anisotropy = 0;  // singular value ratio, >= 1
  double rotation_deg = 0;
  double perspective = 0;            // max w / min w - 1 over the matched region
  std::string model = "homography";  // the transform judged: "homography" or "similarity"
  double projective_gain = 0;        // F statistic of homography over similarity
  // "geometry": the thresholds above held; "appearance": coverage or spread
  // fell short and the photometric check accepted (index::RobustOptions::
  // appearance_min_inliers): the suspect page warped onto the registered one
  // correlates `appearance` (ZNCC, -1..1) over `appearance_compared` of it.
  // appearance is -2 where it was not measured.
  std::string accepted_by = "geometry";
  double appearance = -2;
  double appearance_compared = 0;
};

// The same picture registered in another work (pipeline::PageMatchRecord::
// twin_of): the registered page of that work the scanned page also matched,
// on its own evidence, and recorded in that work's finding.
struct SamePicture {
  std::string work;
  int64_t ref_unit = 0;
  std::string ref_asset;
  std::string ref_member;
  int ref_index = 0;
  int registered_distance = 0;  // PDQ bits between the two registered pages
};

struct MatchedUnit {
  // The suspect side.
  std::string member;             // path inside the suspect archive/folder ("" for a plain file)
  int index = 0;                  // 0-based page (or frame) position in the suspect source
  std::string pdq_hex;            // the suspect unit's own PDQ hash (64 hex), "" if unknown
  int quality = 0;                // its PDQ quality, 0..100
  std::optional<TimeRange> time;  // video: where in the suspect stream
  // The registered side.
  int64_t ref_unit = 0;   // catalog unit id
  std::string ref_asset;  // registered asset path
  std::string ref_asset_sha256;
  std::string ref_member;
  int ref_index = 0;
  std::optional<TimeRange> ref_time;  // video: where in the registered work
  // Why it matched.
  MatchMethod method = MatchMethod::kPdq;
  MatchView view = MatchView::kFull;
  int distance = -1;  // PDQ Hamming bits; -1 when only local features matched
  // The distance is between Kagami's blurred hashes (fingerprint/blurred_pdq.h),
  // not PDQ's; serialised only when true, so older entries read as PDQ.
  bool blurred = false;
  double similarity = 0;  // [0, 1] (reports::MatchSimilarity)
  int variant = 0;        // dihedral variant of the suspect that matched (0 = original)
  int inliers = 0;        // geometric verification; 0 = not verified
  double coverage = 0;    // fraction of the registered page covered by inliers
  bool mirrored = false;
  // The colour check (index::RobustOptions::colour_check): the smaller of the
  // two sides' shares, 0..1, of colour in hues the other lacks
  // (fingerprint::CompareColour), measured when both the
  // matched region and the registered page are in colour; -1 when not
  // measured (either side without colour, the check off, video, entries
  // recorded before it was kept). Serialised only when measured.
  double colour_disagreement = -1;
  // Suspect -> registered page, row-major, coordinates in units of each page's
  // long side; empty when not verified.
  std::optional<std::array<double, 9>> homography;
  // Video read over http(s): the exhibit's query frame (absent otherwise).
  std::optional<VideoQueryFrame> query_frame;
  // Local-feature matches: the verification's measurements (absent for PDQ-only
  // matches, video segments and entries recorded before it was kept).
  std::optional<GeometryEvidence> geometry;
  // This registered page is a twin: the same picture in another work, which
  // the scanned page matched too (absent for other matches).
  std::optional<SamePicture> same_picture_as;
};

// One source (file or fetched media) that contains a registered work.
struct Finding {
  std::string source;  // absolute local path, or the media URL for crawled content
  bool source_is_url = false;
  std::string page_url;   // the page where the media was found ("" for local files)
  std::string media_url;  // the fetched media ("" for local files)
  std::string work;       // catalog work id
  std::vector<MatchedUnit> units;
  std::string captured_at;  // UTC "YYYY-MM-DDTHH:MM:SSZ": fetch time, or scan time for files
  std::string server_ip;    // crawled only
  int http_status = 0;      // crawled only; 0 = not HTTP
  std::vector<std::pair<std::string, std::string>> http_headers;  // response headers in order
  std::string content_sha256;  // of the source's bytes (lowercase hex)
  // Where the bytes are kept, relative to the data directory ("" if not kept);
  // see EvidenceStore.
  std::string evidence_file;
  std::string warc_file;        // crawled: WARC file name relative to the data directory
  std::string warc_record_id;   // crawled: WARC-Record-ID of the response record, "<urn:uuid:...>"
  std::string robots_override;  // "" or why robots.txt was overridden for this host
  std::string recorded_by;      // "kagami scan", "kagami crawl JOB", ...
};

struct ReviewAction {
  int64_t finding = 0;  // seq of the finding entry
  ReviewState state = ReviewState::kConfirmed;
  std::string who;   // operator name; required
  std::string note;  // why; may be empty
};

// One stored entry, exactly as chained.
struct LedgerEntry {
  int64_t seq = 0;
  EntryKind kind = EntryKind::kFinding;
  std::string recorded_at;
  std::string prev_hash;
  std::string body;
  std::string hash;
};

// A finding with its review history folded in.
struct FindingRecord {
  int64_t id = 0;  // seq of the finding entry
  std::string entry_hash;
  std::string recorded_at;
  Finding finding;
  ReviewState status = ReviewState::kNew;
  std::vector<std::pair<LedgerEntry, ReviewAction>> reviews;  // oldest first
};

struct FindingFilter {
  std::string work;   // "" = any
  std::string since;  // "" or "YYYY-MM-DD[THH:MM:SSZ]": captured_at >= since
  std::optional<ReviewState> status;
  std::vector<int64_t> ids;  // empty = any
};

struct LedgerHead {
  int64_t seq = 0;  // 0 for an empty ledger
  std::string hash = std::string(kGenesisHash);
};

// The outcome of checking a chain. `ok` only when every entry holds.
struct ChainCheck {
  bool ok = true;
  int64_t entries = 0;
  LedgerHead head;
  int64_t bad_seq = 0;  // first failing entry (0 when ok)
  std::string problem;  // e.g. "entry 7: hash mismatch (body edited?)"
};

// Canonical bodies (see the header comment). FromJson reject bodies that are
// not well-formed findings/reviews with kCorrupt.
std::string FindingToJson(const Finding& f);
Result<Finding> FindingFromJson(std::string_view body);
std::string ReviewToJson(const ReviewAction& r);
Result<ReviewAction> ReviewFromJson(std::string_view body);

// The entry hash for the given fields (the chain rule above).
std::string ComputeEntryHash(int64_t seq, EntryKind kind, std::string_view recorded_at,
                             std::string_view prev_hash, std::string_view body);

// Checks seq continuity from 1, prev_hash links, every hash, and that each
// body parses for its kind and each review names an earlier finding. Entries
// must be given in stored order. Used for the store and for exported bundles.
ChainCheck VerifyEntries(const std::vector<LedgerEntry>& entries);

// One entry as a JSON line {"seq","kind","recorded_at","prev_hash","hash","body"}
// (body as a JSON string holding the exact stored bytes), and back.
std::string EntryToJsonLine(const LedgerEntry& e);
Result<LedgerEntry> EntryFromJsonLine(std::string_view line);

// UTC now as "YYYY-MM-DDTHH:MM:SSZ".
std::string UtcNow();
// Accepts "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ"; returns the canonical
// comparable form (a date becomes "YYYY-MM-DDT00:00:00Z"); kInvalidArgument otherwise.
Result<std::string> ParseUtcTime(std::string_view text);

class FindingsLedger {
 public:
  using Clock = std::function<std::string()>;  // returns UTC "YYYY-MM-DDTHH:MM:SSZ"

  static constexpr const char* kFileName = "findings.sqlite";

  // The embedded SQLite ledger at data_dir/findings.sqlite (created if missing,
  // directory included). `clock` stamps recorded_at (default UtcNow).
  static Result<std::unique_ptr<FindingsLedger>> Open(const std::filesystem::path& data_dir,
                                                      Clock clock = {});

  virtual ~FindingsLedger() = default;

  // Appends a finding; returns its id (seq). kInvalidArgument when `work` or
  // `source` is empty or `captured_at` is not UTC in the format above.
  virtual Result<int64_t> Append(const Finding& finding) = 0;
  // Appends a review of finding `action.finding`; returns the review's seq.
  // kNotFound when no such finding; kInvalidArgument without `who`.
  virtual Result<int64_t> Review(const ReviewAction& action) = 0;

  // Findings matching `filter`, oldest first, with their reviews folded in.
  virtual Result<std::vector<FindingRecord>> List(const FindingFilter& filter) = 0;
  // List() of the one finding; kNotFound when there is none.
  Result<FindingRecord> Get(int64_t id);
  // Every entry in seq order (for export and verification).
  virtual Result<std::vector<LedgerEntry>> Entries() = 0;
  virtual Result<LedgerHead> Head() = 0;
  // Re-reads the whole stored chain and checks it (VerifyEntries). A non-ok
  // Result means the store could not be read; a broken chain is a ChainCheck
  // with ok == false naming the first bad entry.
  Result<ChainCheck> VerifyChain();
};

// Content-addressed copies of suspect bytes under data_dir/evidence/ab/abcdef...
// (the SHA-256 of the content), so exhibits can be produced later. Files are
// written to a temporary name and renamed, so a killed process never leaves a
// partial file under a final name. Thread-safe (no shared state).
class EvidenceStore {
 public:
  explicit EvidenceStore(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

  // Copies `path` in, hashing while copying; returns {sha256, path relative to
  // the data dir}. Already-kept content is not copied again.
  Result<std::pair<std::string, std::string>> KeepFile(const std::filesystem::path& path);
  Result<std::pair<std::string, std::string>> KeepBytes(std::string_view bytes);
  // Absolute path of a kept file, checked to exist and to still hash to its name.
  Result<std::filesystem::path> Resolve(const std::string& relative) const;

 private:
  std::filesystem::path data_dir_;
};

}  // namespace kagami::reports
