#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/quantised_features.h"

namespace kagami::index {

// The local stage's gate and store: an inverted file over the visual words of
// every registered page (fingerprint/quantised_features.h; the words are the
// leaves of a vocabulary tree, Nister & Stewenius, "Scalable recognition with
// a vocabulary tree", CVPR 2006), scored with tf-idf weights (Sivic &
// Zisserman, "Video Google", ICCV 2003) and Hamming embedding (Jegou, Douze &
// Schmid, "Hamming embedding and weak geometric consistency for large scale
// image search", ECCV 2008), plus every page's quantised keypoints for
// geometric verification of the few pages it lets through.
//
// Split posting lists (multi-probe): each word's list is ordered by the low
// split_bits() bits of the 24-bit signature (the "prefix") with a bucket
// table, so a (word, prefix) pair acts as a word of a 2^split_bits finer
// vocabulary. A query keypoint reads only the buckets whose prefix is within
// GateOptions::probe_radius bits of its own (1 + 8 of 256 buckets for 8 bits
// and radius 1: ~4% of the list) and weighs the rest of the signature as
// before. probe_radius < 0 reads whole lists (the exact reference).
//
// Score of a registered page for a query: sum over query keypoints that have
// at least one keypoint of the page in one of their words with a signature
// within max_signature_distance bits and (when probing) a prefix within
// probe_radius bits (0 bits for a narrow list, GateOptions::narrow_list_factor), of idf(word)^2 *
// exp(-d^2 / sigma^2) (d: the closest such signature, sigma = max_signature_distance / 2 + 1; idf =
// log(pages / postings of the word)); each query keypoint counts once per page. Identical query
// keypoints (equal words and 24-bit signature; repeated structure such as the corners of line art
// gives many, 2-3 per distinct one on the bench's line-art queries) are read once as a group of n:
// the term is n x the best weight (float), added in the order of the group's first keypoint, and
// the group counts n matches. The score is
// defined by that sum, not by the layout: lists too short to split (and postings added since a list
// was last ordered) are read whole and filtered by the same prefix test, so every path gives
// identical scores. The cut-off applied to it is RobustOptions::min_gate_score, chosen from the
// measured distributions (bench/RESULTS.md section 11).
//
// Memory: for pages added in RAM (built or tail), 8 bytes per posting (page
// number u32, signature u32, contiguous per word) plus 8 per keypoint (about
// 8 KB per page of 509 keypoints; 4 KB for a tail page), 40 bytes per page,
// and a bucket table of 4 x (2^split_bits + 1) bytes per word whose list is
// split (at most 67 MB for 8 bits). Pages in a mapped section cost no heap:
// their postings, buckets and page table are file pages of the mapping
// (shared, evictable page cache; resident as queries touch them).
//
// Persistence (the derived file local.index beside pdq.index, format
// version 2; native little-endian):
//   [header 64 B][records of the mapped pages][padding to 4 KiB]
//   [postings section][records of the pages appended since (the tail)]
// A record is one page in registration order (unit id, count, page size,
// packed keypoints as in the KLQ blob). The postings section holds, for the
// pages before it, every word's posting list already in its final
// bucket-ordered layout with its bucket table, a word table (offset, length,
// bucket table per word, checksummed), the page table and the unit ids in
// sorted order. Save() writes a whole file with a section covering every
// page, atomically (temp + rename; streaming: RAM beyond the index's own is
// the page table, 48 B/page, and the bucket tables, <= 67 MB). AppendTo()
// writes the new records past the end and rewrites the header last, so a
// reader or a crash sees the old or the new page count, never a torn record;
// once the tail exceeds max(kCompactTailPages, mapped pages / 8) (or the
// file is version 1) it rewrites the whole file instead (Load + Save,
// amortised O(1) per appended page).
//
// Load() maps the postings section read-only (nothing is rebuilt: cost
// independent of the page count, apart from the tail) and checks its
// header, sizes, bounds and the word table's checksum (kCorrupt otherwise;
// kCorrupt also when the file is shorter than its header says). The posting
// bytes, bucket tables and page table are not checksummed (reading them is
// the cost mapping avoids); every read of them is bounds-checked (bucket
// offsets clamped to the list, page numbers and record offsets checked), so
// a damaged section can change scores or make Features() return null but
// never read or write outside the mapping. Tail pages are read as records
// and kept in RAM posting lists (the path of Add(): ordered part plus
// unordered tail); every page's keypoints are read from its record on demand
// by Features() (one pread of <= 4 KB). Version 1 files (no section) still
// load, by rebuilding every list from the records (linear in pages), and are
// rewritten as version 2 by the next AppendTo() or Save(). The mapping and
// file stay valid while other processes rewrite the path (Save renames a new
// file over it; Append writes past the end and never touches the section).
//
// Thread-safety: Score() and Features() are const and safe concurrently;
// Add() needs exclusive access.
struct LocalGateOptions {
  // Leaf words per query keypoint that Score() looks up (at most the
  // query's own assignment).
  int assignment = 2;
  // Stop words: Score() skips a word whose posting list is longer than
  // max_word_fraction x pages (and than kMinStopLength): such a word is in
  // a good part of the catalog, weighs little (idf), and its list would
  // dominate the query's time at scale. <= 0 keeps every word.
  double max_word_fraction = 0.0;
  // Multi-probe radius over the split prefix (see above): buckets whose
  // prefix differs from the query keypoint's in at most this many bits are
  // read. < 0: whole lists, every signature within max_signature_distance
  // (the exact reference). Chosen in bench/RESULTS.md section 11.
  int probe_radius = 1;
  // Long lists read narrowly: a word whose list is longer than
  // max(narrow_list_factor x the mean list length (keypoints() / kWords),
  // narrow_min_length) postings is probed at radius 0 whatever probe_radius
  // says (its own bucket, and the prefix-equal postings of its tail). Such
  // lists are most of the slowest queries' reading at scale. 8 keeps every
  // accepted query of the bench at 10k, 100k and 1M pages and cuts the 1M
  // gate's p95 2.6x; 4 and 2 lose 1 and 2 of 120 at 1M (bench/RESULTS.md
  // section 11, "Mapped postings"). The floor keeps catalogs of a few
  // thousand pages (the real-image calibration's) at probe_radius for every
  // list. narrow_list_factor <= 0: off.
  double narrow_list_factor = 8.0;
  size_t narrow_min_length = 4096;
  // Prefetches the next query keypoints' buckets while probing (speed only;
  // the scores are the same either way).
  bool prefetch = true;
  // Hits are applied to the pages' scores grouped by ranges of this many
  // page numbers, rounded down to a power of two (speed only: the scores are
  // the same). 0: automatic
  // (InvertedFile::kHitRangePages when the index has more than
  // kDirectHitPages pages, else in scan order); > 0 forces it (tests).
  int hit_range_pages = 0;
  // Scans postings with the portable popcount even where the POPCNT
  // instruction is available (the reference path, for tests).
  bool scalar_scan = false;
};

class InvertedFile {
 public:
  static constexpr int kWords = 65536;
  // Signature bits a posting list is split by (0..kMaxSplitBits).
  static constexpr int kSplitBits = 8;
  static constexpr int kMaxSplitBits = 12;
  // Lists shorter than this are read whole (with the prefix test).
  static constexpr size_t kMinSplitLength = 64;
  // Score() applies hits in scan order up to this many pages (16 bytes of
  // accumulator per page: 1 MiB, the size of an L2 cache), and grouped by
  // ranges of kHitRangePages pages (256 KiB of accumulators) above.
  static constexpr size_t kDirectHitPages = 65536;
  static constexpr size_t kHitRangePages = 16384;

  // Without posting lists (`searchable` false) the object only collects pages
  // for Save/AppendTo (registration), and Score() finds nothing.
  explicit InvertedFile(uint32_t vocabulary_id, bool searchable = true,
                        int split_bits = kSplitBits);
  ~InvertedFile();
  InvertedFile(const InvertedFile&) = delete;
  InvertedFile& operator=(const InvertedFile&) = delete;

  // Adds a registered page (a unit id at most once; a repeated id is ignored).
  // Pages of another vocabulary are added without keypoints.
  void Add(int64_t unit_id, const fingerprint::QuantisedFeatures& features);

  using GateOptions = LocalGateOptions;
  static constexpr size_t kMinStopLength = 4096;

  struct Candidate {
    int64_t unit_id = 0;
    float score = 0;  // see above
    int matches = 0;  // query keypoints that matched the page
  };
  // Pages ranked by score, at most max_candidates, only those with
  // score >= min_score.
  std::vector<Candidate> Score(const fingerprint::QuantisedQuery& query, int max_candidates,
                               float min_score, const GateOptions& gate = {}) const;

  // The page's quantised keypoints; null when the unit is not in the index
  // (or, for a loaded page, when reading its record from local.index fails).
  std::unique_ptr<fingerprint::QuantisedFeatures> Features(int64_t unit_id) const;
  // Unit ids of the pages up to `per_side` places before and after the
  // unit's in registration order (the index's page order), nearest first;
  // empty when the unit is not in the index. For positional stop words
  // (boilerplate.h): a work's pages are registered together.
  std::vector<int64_t> NeighbourUnits(int64_t unit_id, int per_side) const;

  uint32_t vocabulary_id() const { return vocabulary_id_; }
  int64_t pages() const { return mapped_pages_ + static_cast<int64_t>(pages_.size()); }
  int64_t max_unit_id() const { return max_unit_id_; }
  int64_t keypoints() const { return keypoints_; }
  int split_bits() const { return split_bits_; }
  // Bytes held on the heap (posting lists, keypoints, page table, lookup);
  // the mapped section is not counted (see MappedBytes()).
  size_t MemoryBytes() const;
  // Bytes of local.index mapped by Load() (0 when built in RAM or loaded
  // from a version 1 file); resident only as far as queries touch them.
  size_t MappedBytes() const;
  // Pages whose postings are in the mapped section.
  int64_t mapped_pages() const { return mapped_pages_; }
  // AppendTo() rewrites the file once the tail exceeds this (and mapped / 8).
  static constexpr int64_t kCompactTailPages = 1024;

  int max_signature_distance = 5;
  // Postings Score() would read for this query (diagnostics, benchmarks).
  size_t PostingsScanned(const fingerprint::QuantisedQuery& query,
                         const GateOptions& gate = {}) const;
  // Postings of a word's list (mapped plus RAM; diagnostics).
  size_t ListLength(uint32_t word) const;
  // Room for `pages` pages of up to 509 keypoints (before bulk Add()s).
  void Reserve(int64_t pages);
  // Orders every list's unsplit tail into its buckets and releases spare
  // capacity (after bulk Add()s; Load() does it). Add() alone keeps each
  // list's unordered tail below a quarter of its ordered part (amortised
  // O(1) per posting).
  void ShrinkToFit();

  // Writes every page and (for a searchable index) the postings section over
  // `path` atomically. A non-searchable object writes no section (its
  // records load by the rebuild path). Needs the records of loaded pages
  // (kIoError when one cannot be read back).
  Status Save(const std::filesystem::path& path) const;
  // Appends every page of this object to a file that holds exactly
  // `file_pages` pages of this vocabulary (kAborted otherwise, or kCorrupt
  // if it is unreadable; the caller then rebuilds). The registered pages of
  // one process are collected in a non-searchable InvertedFile and appended.
  // May rewrite the whole file (see above); `file_pages` + pages() either way.
  Status AppendTo(const std::filesystem::path& path, int64_t file_pages) const;
  // kNotFound when missing, kCorrupt when damaged or truncated (including the
  // postings section's header, sizes and word table), kUnsupported for
  // another version, kIoError when it cannot be read or mapped; a file of
  // another vocabulary loads with vocabulary_id() telling.
  static Result<std::unique_ptr<InvertedFile>> Load(const std::filesystem::path& path);

  struct Header {
    uint32_t version = 0;  // 1 (no section) or 2
    uint32_t vocabulary_id = 0;
    int64_t pages = 0;
    int64_t max_unit_id = 0;
    uint64_t records_bytes = 0;  // all records, both regions
    // Version 2: pages (and their record bytes) before the postings section,
    // which is at [postings_offset, + postings_bytes) (0, 0: none).
    int64_t mapped_pages = 0;
    uint64_t mapped_records_bytes = 0;
    uint64_t postings_offset = 0;
    uint64_t postings_bytes = 0;
    // File offset of the first tail record, and where the next one goes.
    uint64_t TailOffset() const;
    uint64_t EndOffset() const { return TailOffset() + records_bytes - mapped_records_bytes; }
  };
  // Reads only the header (cheap; for staleness checks).
  static Result<Header> ReadHeader(const std::filesystem::path& path);

 private:
  size_t StopLength(double max_word_fraction) const;
  size_t NarrowLength(const LocalGateOptions& gate) const;

  struct Page {
    int64_t unit_id;
    uint64_t first;  // into entries_, or the byte offset in file_ when in_file
    uint32_t count;
    float width, height;
    bool in_file;
  };
  // Add() of packed keypoints (Add's record format).
  void AddPacked(int64_t unit_id, const uint64_t* packed, uint32_t count, float width,
                 float height);
  // Page number `page` (< pages()), from the mapped table or pages_.
  Page PageAt(uint32_t page) const;
  // The page number of a unit; false when it is not in the index.
  bool FindPage(int64_t unit_id, uint32_t* page) const;
  // The page's packed keypoints; false when its record cannot be read.
  bool Entries(const Page& page, std::vector<uint64_t>* out) const;
  // Streams every page's record to `fd` from `at`; `table` gets each page's
  // (unit id, keypoints' file offset, count, size) for the section.
  Status WriteRecords(int fd, uint64_t at, const std::string& what, uint64_t* bytes,
                      std::vector<uint8_t>* table) const;
  Status WritePostings(int fd, uint64_t at, const std::vector<uint8_t>& page_table,
                       const std::string& what, uint64_t* bytes) const;
  struct FileCloser {
    void operator()(int* fd) const;
  };
  struct Mapping;
  struct MappingDeleter {
    void operator()(Mapping* m) const;
  };
  struct Posting {
    uint32_t page;
    uint32_t signature;
  };
  // One word's postings: [0, split) ordered by prefix, bucket p holding
  // [bucket[p], bucket[p + 1]) (bucket empty when not split, split = 0);
  // [split, size) added since, in page order.
  struct List {
    std::vector<Posting> postings;
    std::vector<uint32_t> bucket;
    uint32_t split = 0;
  };
  // A word's part of the mapped section, or its RAM list, as Score reads it.
  struct View {
    const Posting* data = nullptr;
    uint32_t size = 0;
    const uint32_t* bucket = nullptr;  // 2^split_bits + 1 offsets, or null
    uint32_t split = 0;                // [0, split) bucket-ordered
  };
  View MappedView(uint32_t word) const;
  static View RamView(const List& list);
  void Split(List& list) const;
  uint32_t vocabulary_id_;
  bool searchable_;
  int64_t max_unit_id_ = 0;
  int64_t keypoints_ = 0;
  std::unique_ptr<int, FileCloser> file_;  // local.index, for loaded pages
  uint64_t file_bytes_ = 0;                // its size when loaded
  std::unique_ptr<Mapping, MappingDeleter> mapping_;
  // Within mapping_ (null without one): the section's tables.
  const uint8_t* word_table_ = nullptr;
  const uint32_t* mapped_buckets_ = nullptr;
  uint64_t mapped_bucket_count_ = 0;
  const Posting* mapped_postings_ = nullptr;
  uint64_t mapped_posting_count_ = 0;
  const uint8_t* mapped_page_table_ = nullptr;
  const uint8_t* mapped_unit_index_ = nullptr;
  int64_t mapped_pages_ = 0;
  // Pages added in RAM or read from the tail: page number mapped_pages_ + i.
  std::vector<Page> pages_;
  std::vector<uint64_t> entries_;  // packed: word | x12 << 16 | y12 << 28 | sig24 << 40
  int split_bits_;
  std::vector<List> postings_;
  size_t ram_postings_ = 0;
  std::unordered_map<int64_t, uint32_t> page_of_unit_;  // RAM pages only
};

}  // namespace kagami::index
