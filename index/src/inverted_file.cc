#include "kagami/index/inverted_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "kagami/base/fnv.h"

namespace kagami::index {
namespace {

constexpr char kMagic[4] = {'K', 'L', 'I', '1'};
constexpr uint32_t kVersion = 2;  // 1: records only; 2: plus the postings section
constexpr size_t kHeaderBytes = 64;
// The postings section (inverted_file.h): a 64-byte header, then the parts
// at the offsets it names (relative to the section, 8-byte aligned).
constexpr char kSectionMagic[4] = {'K', 'L', 'P', '1'};
constexpr uint32_t kSectionVersion = 1;
constexpr size_t kSectionHeaderBytes = 64;
constexpr uint64_t kSectionAlign = 4096;
constexpr size_t kWordEntryBytes = 16;  // u64 first posting, u32 length, u32 bucket table
constexpr uint32_t kNoBuckets = 0xFFFFFFFFu;
constexpr size_t kPageEntryBytes = 32;  // i64 unit, u64 keypoints' offset, u32 count, f32 w, h, pad
constexpr size_t kUnitEntryBytes = 16;  // i64 unit, u32 page, pad (sorted by unit)
constexpr size_t kWriteChunk = 8 << 20;

struct SectionHeader {
  uint32_t split_bits = 0;
  uint32_t words = 0;
  uint64_t pages = 0;
  uint64_t keypoints = 0;
  uint64_t postings = 0;  // count
  uint64_t buckets = 0;   // u32 entries
  uint64_t checksum = 0;  // FNV-1a 64 of the word table
  // Offsets of the parts follow from the counts (see SectionLayout).
};

struct SectionLayout {
  uint64_t postings, buckets, words, pages, units, end;
};

uint64_t Align8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

SectionLayout Layout(const SectionHeader& h) {
  SectionLayout l;
  l.postings = kSectionHeaderBytes;
  l.buckets = l.postings + h.postings * 8;
  l.words = Align8(l.buckets + h.buckets * 4);
  l.pages = l.words + uint64_t{h.words} * kWordEntryBytes;
  l.units = l.pages + h.pages * kPageEntryBytes;
  l.end = l.units + h.pages * kUnitEntryBytes;
  return l;
}

constexpr size_t kRecordHeaderBytes = 8 + 4 + 4 + 4;
// A record never holds more keypoints than a KLQ blob.
constexpr uint32_t kMaxRecordKeypoints = fingerprint::kMaxQuantisedKeypoints;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

uint64_t Pack(uint16_t word, cv::Point2f p, float w, float h, uint32_t sig) {
  const auto frac = [](float v, float extent) {
    return static_cast<uint64_t>(std::lround(std::clamp(v / extent, 0.0f, 1.0f) * 4095.0f));
  };
  return uint64_t{word} | (frac(p.x, w) << 16) | (frac(p.y, h) << 28) |
         (uint64_t{sig & 0xFFFFFFu} << 40);
}

Status WriteAll(int fd, const void* data, size_t n, off_t at, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    p += w;
    at += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status ReadAll(int fd, void* data, size_t n, off_t at, const std::string& what) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, at);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    if (r == 0) return Status::Corrupt(what + ": file is truncated");
    p += r;
    at += r;
    n -= static_cast<size_t>(r);
  }
  return Status::Ok();
}

std::vector<uint8_t> EncodeHeader(const InvertedFile::Header& h) {
  std::vector<uint8_t> out(kHeaderBytes, 0);
  const uint32_t mapped = static_cast<uint32_t>(h.mapped_pages);
  std::memcpy(out.data(), kMagic, 4);
  std::memcpy(&out[4], &h.version, 4);
  std::memcpy(&out[8], &h.vocabulary_id, 4);
  std::memcpy(&out[12], &mapped, 4);
  std::memcpy(&out[16], &h.pages, 8);
  std::memcpy(&out[24], &h.max_unit_id, 8);
  std::memcpy(&out[32], &h.records_bytes, 8);
  std::memcpy(&out[40], &h.mapped_records_bytes, 8);
  std::memcpy(&out[48], &h.postings_offset, 8);
  std::memcpy(&out[56], &h.postings_bytes, 8);
  return out;
}

// Buffered sequential writes with pwrite (Save streams gigabytes at scale).
class Writer {
 public:
  Writer(int fd, uint64_t at, std::string what) : fd_(fd), at_(at), what_(std::move(what)) {
    buf_.reserve(kWriteChunk);
  }
  Status Put(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      const size_t take = std::min(n, kWriteChunk - buf_.size());
      buf_.insert(buf_.end(), p, p + take);
      p += take;
      n -= take;
      if (buf_.size() == kWriteChunk) KAGAMI_RETURN_IF_ERROR(Flush());
    }
    return Status::Ok();
  }
  Status Flush() {
    KAGAMI_RETURN_IF_ERROR(WriteAll(fd_, buf_.data(), buf_.size(), static_cast<off_t>(at_), what_));
    at_ += buf_.size();
    buf_.clear();
    return Status::Ok();
  }
  uint64_t at() const { return at_ + buf_.size(); }

 private:
  int fd_;
  uint64_t at_;
  std::string what_;
  std::vector<uint8_t> buf_;
};

// A page's accumulator in Score(): one 16-byte slot, so a hit costs one
// cache line.
struct ScoreSlot {
  float score;
  float best_weight;
  int32_t last_query;
  int32_t matches;
};

// A posting that passed the Hamming test: its page and its term, t << 6 | d:
// t = group x assignment + the word's rank (Score()'s per-query tables give
// the term's group and its weight by Hamming distance d). 8 bytes: the hits
// of a slow query are written, sorted and read once each.
struct Hit {
  uint32_t page;
  uint32_t term;
};

// A query's hits in scan order (`size` of `hits` used; `hits` only grows).
struct HitBuffer {
  std::vector<Hit> hits;
  size_t size = 0;
  // Room for `more` hits past `size`.
  Hit* Reserve(size_t more) {
    if (hits.size() < size + more) hits.resize(std::max(size + more, 2 * hits.size()));
    return hits.data() + size;
  }
};

// Collects a query's hits in scan order. The scan itself then streams: at
// 1M pages the slots (16 MB) miss the caches and the TLB, and updating a
// hit's slot where it was found was most of the gate's time.
struct PostingVisitor {
  uint32_t term;  // t << 6 (see Hit; d < 33: a damaged mapped signature may have 32 bits)
  HitBuffer* buffer;
  uint32_t pages;  // a mapped posting's page number is checked against it
};

// Adds hits to their pages' scores: each query keypoint counts once per
// page, with its best weight. The score of a page depends only on the order
// of its own hits (by query keypoint), so hits may be applied grouped by page
// range as long as each page's hits keep their order.
// weight[t * 33 + d]: the term's weight at distance d; group[t]: its group.
void ApplyHits(const Hit* begin, const Hit* end, const float* weight, const int32_t* group,
               const int32_t* group_size, ScoreSlot* slots, std::vector<uint32_t>* touched) {
  // The slots of the hits a few ahead are fetched meanwhile (a range's
  // slots are not in the cache before its first hits).
  constexpr ptrdiff_t kAhead = 16;
  for (const Hit* h = begin; h != end; ++h) {
    if (end - h > kAhead) __builtin_prefetch(slots + h[kAhead].page, 1);
    ScoreSlot& slot = slots[h->page];
    const uint32_t t = h->term >> 6;
    const int32_t g = group[t];
    const float w = weight[t * 33 + (h->term & 63)];
    if (slot.last_query != g) {
      if (slot.last_query < 0)
        touched->push_back(h->page);
      else
        slot.score += slot.best_weight;
      slot.last_query = g;
      slot.best_weight = w;
      slot.matches += group_size[g];
    } else {
      slot.best_weight = std::max(slot.best_weight, w);
    }
  }
}

// The posting scan: one popcount per posting dominates the gate's time at
// scale, so it is compiled twice, with the POPCNT instruction (dispatched at
// run time) and without (the x86-64 baseline's bit-twiddling popcount). With
// a prefix filter (lists read whole while probing) a posting also needs its
// prefix within `radius` bits of the query's.
template <bool kFilter, typename Posting>
__attribute__((always_inline)) inline void ScanBody(const Posting* begin, const Posting* end,
                                                    uint32_t qsig, int max_d, uint32_t prefix_mask,
                                                    int radius, const PostingVisitor& visit) {
  // Branch-free: every posting is written as a hit and kept (the output
  // pointer advanced) only when it passes; ~1 in 10 does, unpredictably.
  constexpr size_t kChunk = 4096;
  while (begin != end) {
    const Posting* const chunk_end = begin + std::min<size_t>(kChunk, end - begin);
    Hit* const first = visit.buffer->Reserve(chunk_end - begin);
    Hit* out = first;
    for (const Posting* p = begin; p != chunk_end; ++p) {
      const uint32_t x = p->signature ^ qsig;
      const int d = std::popcount(x);
      bool keep = (d <= max_d) & (p->page < visit.pages);
      if (kFilter) keep &= std::popcount(x & prefix_mask) <= radius;
      out->page = p->page;
      out->term = visit.term | static_cast<uint32_t>(d);
      out += keep;
    }
    visit.buffer->size += static_cast<size_t>(out - first);
    begin = chunk_end;
  }
}

template <bool kFilter, typename Posting>
void ScanScalar(const Posting* begin, const Posting* end, uint32_t qsig, int max_d,
                uint32_t prefix_mask, int radius, const PostingVisitor& visit) {
  ScanBody<kFilter>(begin, end, qsig, max_d, prefix_mask, radius, visit);
}

#if defined(__x86_64__) && defined(__GNUC__)
template <bool kFilter, typename Posting>
__attribute__((target("popcnt"))) void ScanPopcnt(const Posting* begin, const Posting* end,
                                                  uint32_t qsig, int max_d, uint32_t prefix_mask,
                                                  int radius, const PostingVisitor& visit) {
  ScanBody<kFilter>(begin, end, qsig, max_d, prefix_mask, radius, visit);
}
#endif

// Reads [begin, end); prefix_mask 0 means no prefix test.
template <typename Posting>
void ScanPostings(const Posting* begin, const Posting* end, uint32_t qsig, int max_d,
                  uint32_t prefix_mask, int radius, bool scalar, const PostingVisitor& visit) {
  if (begin == end) return;
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has_popcnt = __builtin_cpu_supports("popcnt");
  if (has_popcnt && !scalar) {
    if (prefix_mask != 0)
      return ScanPopcnt<true>(begin, end, qsig, max_d, prefix_mask, radius, visit);
    return ScanPopcnt<false>(begin, end, qsig, max_d, 0, 0, visit);
  }
#endif
  if (prefix_mask != 0)
    return ScanScalar<true>(begin, end, qsig, max_d, prefix_mask, radius, visit);
  ScanScalar<false>(begin, end, qsig, max_d, 0, 0, visit);
}

// The prefix patterns within `radius` bits of 0 over `bits` bits, in
// increasing order of distance (XOR one with a query prefix to get a probe).
std::vector<uint32_t> ProbeMasks(int bits, int radius) {
  std::vector<uint32_t> masks;
  for (int d = 0; d <= radius && d <= bits; ++d) {
    for (uint32_t m = 0; m < (uint32_t{1} << bits); ++m) {
      if (std::popcount(m) == d) masks.push_back(m);
    }
  }
  return masks;
}

}  // namespace

// A read-only mapping of local.index's postings section (munmap on release).
struct InvertedFile::Mapping {
  void* base = MAP_FAILED;
  size_t length = 0;
};

void InvertedFile::MappingDeleter::operator()(Mapping* m) const {
  if (m != nullptr && m->base != MAP_FAILED) ::munmap(m->base, m->length);
  delete m;
}

uint64_t InvertedFile::Header::TailOffset() const {
  return postings_bytes > 0 ? postings_offset + postings_bytes
                            : kHeaderBytes + mapped_records_bytes;
}

InvertedFile::InvertedFile(uint32_t vocabulary_id, bool searchable, int split_bits)
    : vocabulary_id_(vocabulary_id),
      searchable_(searchable),
      split_bits_(std::clamp(split_bits, 0, kMaxSplitBits)),
      postings_(searchable ? kWords : 0) {}

InvertedFile::~InvertedFile() = default;

void InvertedFile::Add(int64_t unit_id, const fingerprint::QuantisedFeatures& f) {
  const bool usable = f.vocabulary_id == vocabulary_id_;
  const uint32_t count =
      usable ? std::min<uint32_t>(static_cast<uint32_t>(f.size()), kMaxRecordKeypoints) : 0;
  thread_local std::vector<uint64_t> packed;
  packed.clear();
  for (uint32_t i = 0; i < count; ++i)
    packed.push_back(Pack(f.words[i], f.points[i], f.page_width, f.page_height, f.signatures[i]));
  AddPacked(unit_id, packed.data(), count, f.page_width, f.page_height);
}

void InvertedFile::AddPacked(int64_t unit_id, const uint64_t* packed, uint32_t count, float width,
                             float height) {
  uint32_t existing;
  if (FindPage(unit_id, &existing)) return;
  const uint32_t page = static_cast<uint32_t>(pages());
  pages_.push_back({unit_id, entries_.size(), count, width, height, false});
  keypoints_ += count;
  page_of_unit_.emplace(unit_id, page);
  max_unit_id_ = std::max(max_unit_id_, unit_id);
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = packed[i];
    entries_.push_back(e);
    if (!searchable_) continue;
    List& list = postings_[static_cast<uint16_t>(e)];
    list.postings.push_back({page, static_cast<uint32_t>(e >> 40)});
    ++ram_postings_;
    const size_t tail = list.postings.size() - list.split;
    if (split_bits_ > 0 && list.postings.size() >= kMinSplitLength && tail * 4 >= list.split)
      Split(list);
  }
}

// A stable counting sort of the whole list by prefix: within a bucket the
// postings stay in page order.
void InvertedFile::Split(List& list) const {
  if (split_bits_ <= 0 || list.postings.size() < kMinSplitLength) return;
  if (list.split == list.postings.size()) return;
  const uint32_t buckets = uint32_t{1} << split_bits_;
  const uint32_t mask = buckets - 1;
  list.bucket.assign(buckets + 1, 0);
  for (const Posting& p : list.postings) ++list.bucket[(p.signature & mask) + 1];
  for (uint32_t b = 0; b < buckets; ++b) list.bucket[b + 1] += list.bucket[b];
  std::vector<Posting> sorted(list.postings.size());
  std::vector<uint32_t> at(list.bucket.begin(), list.bucket.end() - 1);
  for (const Posting& p : list.postings) sorted[at[p.signature & mask]++] = p;
  list.postings.swap(sorted);
  list.split = static_cast<uint32_t>(list.postings.size());
}

InvertedFile::View InvertedFile::MappedView(uint32_t word) const {
  View v;
  if (word_table_ == nullptr) return v;
  const uint8_t* e = word_table_ + size_t{word} * kWordEntryBytes;
  uint64_t first;
  uint32_t table;
  std::memcpy(&first, e, 8);
  std::memcpy(&v.size, e + 8, 4);
  std::memcpy(&table, e + 12, 4);
  // Load() checked first + size and the table's extent against the section.
  v.data = mapped_postings_ + first;
  if (table != kNoBuckets) {
    v.bucket = mapped_buckets_ + table;
    v.split = v.size;
  }
  return v;
}

InvertedFile::View InvertedFile::RamView(const List& list) {
  View v;
  v.data = list.postings.data();
  v.size = static_cast<uint32_t>(list.postings.size());
  v.bucket = list.bucket.empty() ? nullptr : list.bucket.data();
  v.split = list.split;
  return v;
}

namespace {

// Bucket b of a view's ordered part, clamped to it (a mapped bucket table is
// not checksummed: a damaged one reads the wrong postings, never outside).
template <typename View>
inline std::pair<uint32_t, uint32_t> BucketRange(const View& v, uint32_t b) {
  const uint32_t begin = std::min(v.bucket[b], v.split);
  const uint32_t end = std::clamp(v.bucket[b + 1], begin, v.split);
  return {begin, end};
}

// Groups identical query keypoints: equal signatures (24 bits) and equal
// first `assignment` words. first[g] is the group's first keypoint (groups in
// increasing order of it), size[g] its number of keypoints.
void GroupQueryKeypoints(const fingerprint::QuantisedQuery& query, int assignment,
                         std::vector<int32_t>* first, std::vector<int32_t>* size) {
  const int n = query.size();
  const auto words = [&](int qi) {
    return query.words.begin() + static_cast<std::ptrdiff_t>(qi) * query.assignment;
  };
  const auto less = [&](int a, int b) {
    const uint32_t sa = query.signatures[a] & 0xFFFFFFu, sb = query.signatures[b] & 0xFFFFFFu;
    if (sa != sb) return sa < sb;
    for (int k = 0; k < assignment; ++k) {
      if (words(a)[k] != words(b)[k]) return words(a)[k] < words(b)[k];
    }
    return a < b;
  };
  thread_local std::vector<int32_t> order, group_of;
  order.resize(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), less);
  // Runs of equal keys, each led by its first keypoint (ties are ordered by
  // index): group_of[leader] = the run's size, 0 for the others.
  group_of.assign(n, 0);
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n &&
           (query.signatures[order[j]] & 0xFFFFFFu) == (query.signatures[order[i]] & 0xFFFFFFu) &&
           std::equal(words(order[i]), words(order[i]) + assignment, words(order[j])))
      ++j;
    group_of[order[i]] = j - i;
    i = j;
  }
  first->clear();
  size->clear();
  for (int qi = 0; qi < n; ++qi) {
    if (group_of[qi] == 0) continue;
    first->push_back(qi);
    size->push_back(group_of[qi]);
  }
}

}  // namespace

std::vector<InvertedFile::Candidate> InvertedFile::Score(const fingerprint::QuantisedQuery& query,
                                                         int max_candidates, float min_score,
                                                         const GateOptions& gate) const {
  std::vector<Candidate> out;
  if (!searchable_ || query.vocabulary_id != vocabulary_id_ || pages() == 0 ||
      max_candidates <= 0) {
    return out;
  }
  const size_t n_pages = static_cast<size_t>(pages());
  // Per-thread scratch sized to the page count; only touched entries are
  // reset, so a query costs its posting lists, not the catalog's size.
  struct Scratch {
    std::vector<ScoreSlot> slots;
    std::vector<uint32_t> touched;
  };
  thread_local Scratch scratch;
  if (scratch.slots.size() < n_pages) scratch.slots.resize(n_pages, ScoreSlot{0.0f, 0.0f, -1, 0});
  ScoreSlot* slots = scratch.slots.data();
  std::vector<uint32_t>& touched = scratch.touched;
  touched.clear();
  const double sigma = max_signature_distance / 2.0 + 1.0;
  float he_weight[33];
  for (int d = 0; d <= 32; ++d)
    he_weight[d] = static_cast<float>(std::exp(-d * d / (sigma * sigma)));
  const double log_pages = std::log(static_cast<double>(n_pages));
  const size_t stop_length = StopLength(gate.max_word_fraction);
  const bool probing = gate.probe_radius >= 0 && gate.probe_radius < split_bits_;
  const uint32_t prefix_mask = probing ? (uint32_t{1} << split_bits_) - 1 : 0;
  thread_local std::vector<uint32_t> probes;
  thread_local int probes_bits = -1, probes_radius = -1;
  if (probing && (probes_bits != split_bits_ || probes_radius != gate.probe_radius)) {
    probes = ProbeMasks(split_bits_, gate.probe_radius);
    probes_bits = split_bits_;
    probes_radius = gate.probe_radius;
  }
  const int assignment = std::min(query.assignment, std::max(1, gate.assignment));
  const auto word_of = [&](int qi, int a) {
    return query.words[static_cast<size_t>(qi) * query.assignment + a];
  };
  const bool mapped = word_table_ != nullptr;
  const bool in_ram = ram_postings_ > 0;
  // Probing is bound by memory latency (a list's header, its bucket table,
  // then each bucket: three dependent misses per probe), so the lookups of
  // the next query keypoints are prefetched in three stages ahead.
  const size_t narrow_length = NarrowLength(gate);
  const auto probes_for = [&](size_t length) {
    return length > narrow_length ? size_t{1} : probes.size();
  };
  const auto prefetch_view = [&](const View& v, uint32_t qprefix, size_t n_probes, int stage) {
    if (v.split == 0) return;
    for (size_t k = 0; k < n_probes; ++k) {
      const uint32_t b = qprefix ^ probes[k];
      if (stage == 1)
        __builtin_prefetch(v.bucket + b);
      else
        __builtin_prefetch(v.data + std::min(v.bucket[b], v.split));
    }
  };
  const auto prefetch = [&](int qi, int stage) {
    if (qi >= query.size()) return;
    const uint32_t qprefix = query.signatures[qi] & prefix_mask;
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = word_of(qi, a);
      if (w >= static_cast<uint32_t>(kWords)) continue;
      if (stage == 0) {
        if (mapped) __builtin_prefetch(word_table_ + size_t{w} * kWordEntryBytes);
        if (in_ram) __builtin_prefetch(&postings_[w]);
        continue;
      }
      const View mv = mapped ? MappedView(w) : View{};
      const View rv = in_ram ? RamView(postings_[w]) : View{};
      const size_t n_probes = probes_for(size_t{mv.size} + rv.size);
      prefetch_view(mv, qprefix, n_probes, stage);
      prefetch_view(rv, qprefix, n_probes, stage);
    }
  };
  const bool prefetching = probing && gate.prefetch;
  const int max_d = max_signature_distance;
  // The ordered part by buckets, then the unordered tail with the prefix test.
  // A narrow list (longer than narrow_length) is probed at radius 0: its
  // own bucket (probes[0] = 0) and the prefix-equal postings of its tail.
  const auto scan = [&](const View& v, uint32_t qsig, size_t n_probes,
                        const PostingVisitor& visit) {
    if (v.size == 0) return;
    if (!probing) {
      ScanPostings(v.data, v.data + v.size, qsig, max_d, 0, 0, gate.scalar_scan, visit);
      return;
    }
    if (v.split > 0) {
      const uint32_t qprefix = qsig & prefix_mask;
      for (size_t k = 0; k < n_probes; ++k) {
        const auto [begin, end] = BucketRange(v, qprefix ^ probes[k]);
        ScanPostings(v.data + begin, v.data + end, qsig, max_d, 0, 0, gate.scalar_scan, visit);
      }
    }
    const int radius = n_probes < probes.size() ? 0 : gate.probe_radius;
    ScanPostings(v.data + v.split, v.data + v.size, qsig, max_d, prefix_mask, radius,
                 gate.scalar_scan, visit);
  };
  thread_local HitBuffer hit_buffer;
  hit_buffer.size = 0;
  // Identical query keypoints (same words, same signature: repeated
  // structure, such as the corners of line art, gives many) are read once,
  // as one group of their count; see inverted_file.h.
  thread_local std::vector<int32_t> group_first, group_size;
  GroupQueryKeypoints(query, assignment, &group_first, &group_size);
  const int groups = static_cast<int>(group_first.size());
  thread_local std::vector<float> term_weight;
  thread_local std::vector<int32_t> term_group;
  term_weight.assign(static_cast<size_t>(groups) * assignment * 33, 0.0f);
  term_group.resize(static_cast<size_t>(groups) * assignment);
  for (size_t t = 0; t < term_group.size(); ++t)
    term_group[t] = static_cast<int32_t>(t / assignment);
  for (int g = 0; g < groups; ++g) {
    const int qi = group_first[g];
    const uint32_t qsig = query.signatures[qi] & 0xFFFFFFu;
    if (prefetching) {
      if (g + 3 < groups) prefetch(group_first[g + 3], 0);
      if (g + 2 < groups) prefetch(group_first[g + 2], 1);
      if (g + 1 < groups) prefetch(group_first[g + 1], 2);
    }
    const float count = static_cast<float>(group_size[g]);
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = word_of(qi, a);
      if (w >= static_cast<uint32_t>(kWords)) continue;
      const View mv = mapped ? MappedView(w) : View{};
      const View rv = in_ram ? RamView(postings_[w]) : View{};
      const size_t length = size_t{mv.size} + rv.size;
      if (length == 0 || length > stop_length) continue;
      const float idf = static_cast<float>(
          std::max(0.0, log_pages - std::log(static_cast<double>(length))) + 0.1);
      const float idf2 = idf * idf;
      const size_t t = static_cast<size_t>(g) * assignment + a;
      for (int d = 0; d <= 32; ++d) term_weight[t * 33 + d] = count * (idf2 * he_weight[d]);
      const PostingVisitor visit{static_cast<uint32_t>(t) << 6, &hit_buffer,
                                 static_cast<uint32_t>(n_pages)};
      const size_t n_probes = probes_for(length);
      scan(mv, qsig, n_probes, visit);
      scan(rv, qsig, n_probes, visit);
    }
  }
  // The best max_candidates by score, ties by unit id. Only pages that can
  // be among them (score at least the max_candidates-th best) look up their
  // unit id: the page table is not touched for every scored page.
  struct Scored {
    float score;
    uint32_t page;
    int matches;
  };
  thread_local std::vector<Scored> scored;
  scored.clear();
  // Moves the touched pages to `scored` and resets their slots.
  const auto collect = [&] {
    for (const uint32_t page : touched) {
      ScoreSlot& slot = slots[page];
      const float total = slot.score + slot.best_weight;
      if (total >= min_score) scored.push_back({total, page, slot.matches});
      slot = ScoreSlot{0.0f, 0.0f, -1, 0};
    }
    touched.clear();
  };
  // With more pages than the caches hold, the hits are grouped by page
  // range (a stable counting sort: each page's hits keep their order, so
  // the scores are the same) and each range is applied and collected while
  // its slots are in the cache, instead of one memory (and TLB) miss per hit
  // and per touched page.
  const size_t range_pages = gate.hit_range_pages > 0
                                 ? static_cast<size_t>(gate.hit_range_pages)
                                 : (n_pages > kDirectHitPages ? kHitRangePages : 0);
  const int range_shift = range_pages > 0 ? std::bit_width(range_pages) - 1 : 0;
  const size_t ranges = range_pages > 0 ? ((n_pages - 1) >> range_shift) + 1 : 1;
  const Hit* const hits = hit_buffer.hits.data();
  const size_t n_hits = hit_buffer.size;
  if (ranges <= 1) {
    ApplyHits(hits, hits + n_hits, term_weight.data(), term_group.data(), group_size.data(), slots,
              &touched);
    collect();
  } else {
    thread_local std::vector<Hit> grouped;
    thread_local std::vector<size_t> starts;
    if (grouped.size() < n_hits) grouped.resize(std::max(n_hits, 2 * grouped.size()));
    starts.assign(ranges + 1, 0);
    for (size_t i = 0; i < n_hits; ++i) ++starts[(hits[i].page >> range_shift) + 1];
    for (size_t r = 0; r < ranges; ++r) starts[r + 1] += starts[r];
    for (size_t i = 0; i < n_hits; ++i) grouped[starts[hits[i].page >> range_shift]++] = hits[i];
    // starts[r] is now the end of range r.
    size_t begin = 0;
    for (size_t r = 0; r < ranges; ++r) {
      ApplyHits(grouped.data() + begin, grouped.data() + starts[r], term_weight.data(),
                term_group.data(), group_size.data(), slots, &touched);
      collect();
      begin = starts[r];
    }
  }
  const size_t keep = std::min<size_t>(scored.size(), static_cast<size_t>(max_candidates));
  if (keep == 0) return out;
  float floor = std::numeric_limits<float>::lowest();
  if (scored.size() > keep) {
    std::nth_element(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep - 1),
                     scored.end(),
                     [](const Scored& a, const Scored& b) { return a.score > b.score; });
    floor = scored[keep - 1].score;
  }
  for (const Scored& c : scored) {
    if (c.score >= floor) out.push_back({PageAt(c.page).unit_id, c.score, c.matches});
  }
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(),
                    [](const Candidate& a, const Candidate& b) {
                      return a.score != b.score ? a.score > b.score : a.unit_id < b.unit_id;
                    });
  out.resize(keep);
  return out;
}

void InvertedFile::FileCloser::operator()(int* fd) const {
  if (fd != nullptr && *fd >= 0) ::close(*fd);
  delete fd;
}

InvertedFile::Page InvertedFile::PageAt(uint32_t page) const {
  if (page >= mapped_pages_) return pages_[page - mapped_pages_];
  const uint8_t* e = mapped_page_table_ + size_t{page} * kPageEntryBytes;
  Page p;
  std::memcpy(&p.unit_id, e, 8);
  std::memcpy(&p.first, e + 8, 8);
  std::memcpy(&p.count, e + 16, 4);
  std::memcpy(&p.width, e + 20, 4);
  std::memcpy(&p.height, e + 24, 4);
  p.in_file = true;
  return p;
}

bool InvertedFile::FindPage(int64_t unit_id, uint32_t* page) const {
  if (auto it = page_of_unit_.find(unit_id); it != page_of_unit_.end()) {
    *page = it->second;
    return true;
  }
  if (mapped_pages_ == 0) return false;
  const auto unit_at = [&](size_t i) {
    int64_t u;
    std::memcpy(&u, mapped_unit_index_ + i * kUnitEntryBytes, 8);
    return u;
  };
  size_t lo = 0, hi = static_cast<size_t>(mapped_pages_);
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (unit_at(mid) < unit_id)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == static_cast<size_t>(mapped_pages_) || unit_at(lo) != unit_id) return false;
  uint32_t p;
  std::memcpy(&p, mapped_unit_index_ + lo * kUnitEntryBytes + 8, 4);
  if (p >= mapped_pages_) return false;
  *page = p;
  return true;
}

bool InvertedFile::Entries(const Page& page, std::vector<uint64_t>* out) const {
  if (page.count > kMaxRecordKeypoints) return false;
  out->resize(page.count);
  if (!page.in_file) {
    std::copy_n(entries_.begin() + static_cast<std::ptrdiff_t>(page.first), page.count,
                out->begin());
    return true;
  }
  if (!file_) return false;
  const uint64_t bytes = uint64_t{page.count} * sizeof(uint64_t);
  if (page.first > file_bytes_ || bytes > file_bytes_ - page.first) return false;
  return ReadAll(*file_, out->data(), bytes, static_cast<off_t>(page.first),
                 "reading a local index record")
      .ok();
}

std::unique_ptr<fingerprint::QuantisedFeatures> InvertedFile::Features(int64_t unit_id) const {
  uint32_t number;
  if (!FindPage(unit_id, &number)) return nullptr;
  const Page page = PageAt(number);
  if (!(page.width > 0 && page.width <= 1e6f) || !(page.height > 0 && page.height <= 1e6f))
    return nullptr;
  std::vector<uint64_t> entries;
  if (!Entries(page, &entries)) return nullptr;
  auto f = std::make_unique<fingerprint::QuantisedFeatures>();
  f->vocabulary_id = vocabulary_id_;
  f->page_width = page.width;
  f->page_height = page.height;
  for (const uint64_t e : entries) {
    f->words.push_back(static_cast<uint16_t>(e));
    f->points.emplace_back(((e >> 16) & 0xFFF) / 4095.0f * page.width,
                           ((e >> 28) & 0xFFF) / 4095.0f * page.height);
    f->signatures.push_back(static_cast<uint32_t>(e >> 40));
  }
  return f;
}

std::vector<int64_t> InvertedFile::NeighbourUnits(int64_t unit_id, int per_side) const {
  std::vector<int64_t> out;
  uint32_t number;
  if (per_side <= 0 || !FindPage(unit_id, &number)) return out;
  const int64_t total = pages();
  for (int64_t d = 1; d <= per_side; ++d) {
    for (const int64_t n : {static_cast<int64_t>(number) - d, static_cast<int64_t>(number) + d}) {
      if (n >= 0 && n < total) out.push_back(PageAt(static_cast<uint32_t>(n)).unit_id);
    }
  }
  return out;
}

size_t InvertedFile::StopLength(double max_word_fraction) const {
  if (max_word_fraction <= 0) return SIZE_MAX;
  return std::max<size_t>(kMinStopLength,
                          static_cast<size_t>(max_word_fraction * static_cast<double>(pages())));
}

size_t InvertedFile::NarrowLength(const GateOptions& gate) const {
  if (gate.narrow_list_factor <= 0) return SIZE_MAX;
  const double mean = static_cast<double>(keypoints_) / kWords;
  return std::max<size_t>(gate.narrow_min_length,
                          static_cast<size_t>(gate.narrow_list_factor * mean));
}

size_t InvertedFile::ListLength(uint32_t word) const {
  if (word >= static_cast<uint32_t>(kWords) || !searchable_) return 0;
  return size_t{MappedView(word).size} + postings_[word].postings.size();
}

void InvertedFile::Reserve(int64_t pages) {
  if (pages <= 0) return;
  pages_.reserve(static_cast<size_t>(pages));
  entries_.reserve(static_cast<size_t>(pages) * kMaxRecordKeypoints);
}

void InvertedFile::ShrinkToFit() {
  entries_.shrink_to_fit();
  pages_.shrink_to_fit();
  for (auto& list : postings_) {
    Split(list);
    list.postings.shrink_to_fit();
  }
}

size_t InvertedFile::PostingsScanned(const fingerprint::QuantisedQuery& query,
                                     const GateOptions& gate) const {
  if (!searchable_ || query.vocabulary_id != vocabulary_id_) return 0;
  const size_t stop_length = StopLength(gate.max_word_fraction);
  const bool probing = gate.probe_radius >= 0 && gate.probe_radius < split_bits_;
  const uint32_t prefix_mask = probing ? (uint32_t{1} << split_bits_) - 1 : 0;
  const std::vector<uint32_t> probes =
      probing ? ProbeMasks(split_bits_, gate.probe_radius) : std::vector<uint32_t>{};
  const size_t narrow_length = NarrowLength(gate);
  size_t n = 0;
  const int assignment = std::min(query.assignment, std::max(1, gate.assignment));
  std::vector<int32_t> group_first, group_size;
  GroupQueryKeypoints(query, assignment, &group_first, &group_size);
  for (const int qi : group_first) {
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = query.words[static_cast<size_t>(qi) * query.assignment + a];
      if (w >= static_cast<uint32_t>(kWords)) continue;
      const View views[2] = {MappedView(w), RamView(postings_[w])};
      const size_t len = size_t{views[0].size} + views[1].size;
      if (len > stop_length) continue;
      if (!probing) {
        n += len;
        continue;
      }
      const uint32_t qprefix = query.signatures[qi] & prefix_mask;
      const size_t n_probes = len > narrow_length ? 1 : probes.size();
      for (const View& v : views) {
        n += v.size - v.split;
        if (v.split == 0) continue;
        for (size_t k = 0; k < n_probes; ++k) {
          const auto [begin, end] = BucketRange(v, qprefix ^ probes[k]);
          n += end - begin;
        }
      }
    }
  }
  return n;
}

size_t InvertedFile::MemoryBytes() const {
  size_t bytes = entries_.capacity() * sizeof(uint64_t) + pages_.capacity() * sizeof(Page);
  for (const auto& list : postings_) {
    bytes += list.postings.capacity() * sizeof(Posting) +
             list.bucket.capacity() * sizeof(uint32_t) + sizeof(list);
  }
  // unordered_map: a node (key, value, next, hash) plus a bucket pointer per page.
  bytes += page_of_unit_.size() * 40 + page_of_unit_.bucket_count() * sizeof(void*);
  return bytes;
}

size_t InvertedFile::MappedBytes() const { return mapping_ ? mapping_->length : 0; }

Status InvertedFile::WriteRecords(int fd, uint64_t at, const std::string& what, uint64_t* bytes,
                                  std::vector<uint8_t>* table) const {
  Writer out(fd, at, what);
  std::vector<uint64_t> entries;
  table->clear();
  table->reserve(static_cast<size_t>(pages()) * kPageEntryBytes);
  for (uint32_t i = 0; i < static_cast<uint32_t>(pages()); ++i) {
    const Page p = PageAt(i);
    if (!Entries(p, &entries)) {
      return Status::IoError(what + ": the record of unit " + std::to_string(p.unit_id) +
                             " cannot be read back");
    }
    uint8_t head[kRecordHeaderBytes];
    std::memcpy(head, &p.unit_id, 8);
    std::memcpy(head + 8, &p.count, 4);
    std::memcpy(head + 12, &p.width, 4);
    std::memcpy(head + 16, &p.height, 4);
    KAGAMI_RETURN_IF_ERROR(out.Put(head, kRecordHeaderBytes));
    const uint64_t keypoints_at = out.at();
    KAGAMI_RETURN_IF_ERROR(out.Put(entries.data(), p.count * sizeof(uint64_t)));
    uint8_t entry[kPageEntryBytes] = {};
    std::memcpy(entry, &p.unit_id, 8);
    std::memcpy(entry + 8, &keypoints_at, 8);
    std::memcpy(entry + 16, &p.count, 4);
    std::memcpy(entry + 20, &p.width, 4);
    std::memcpy(entry + 24, &p.height, 4);
    table->insert(table->end(), entry, entry + kPageEntryBytes);
  }
  KAGAMI_RETURN_IF_ERROR(out.Flush());
  *bytes = out.at() - at;
  return Status::Ok();
}

// Each word's list in its final layout: a list of kMinSplitLength postings
// or more is ordered by prefix (within a bucket in page order, as Split()
// leaves it), a shorter one is in page order; the bucket table holds
// offsets relative to the list.
Status InvertedFile::WritePostings(int fd, uint64_t at, const std::vector<uint8_t>& page_table,
                                   const std::string& what, uint64_t* bytes) const {
  assert(searchable_);
  SectionHeader sh;
  sh.split_bits = static_cast<uint32_t>(split_bits_);
  sh.words = kWords;
  sh.pages = static_cast<uint64_t>(pages());
  sh.keypoints = static_cast<uint64_t>(keypoints_);
  const uint32_t nb = uint32_t{1} << split_bits_;
  const uint32_t mask = nb - 1;
  Writer out(fd, at + kSectionHeaderBytes, what);
  std::vector<uint8_t> words(size_t{kWords} * kWordEntryBytes);
  std::vector<uint32_t> buckets;
  std::vector<Posting> sorted;
  std::vector<uint32_t> offsets, next;
  // The unordered part of a view, stably ordered by prefix into `sorted`
  // with bucket b at [offsets[b], offsets[b + 1]).
  const auto order_tail = [&](const View& v) {
    offsets.assign(nb + 1, 0);
    for (uint32_t i = v.split; i < v.size; ++i) ++offsets[(v.data[i].signature & mask) + 1];
    for (uint32_t b = 0; b < nb; ++b) offsets[b + 1] += offsets[b];
    sorted.resize(v.size - v.split);
    next.assign(offsets.begin(), offsets.end() - 1);
    for (uint32_t i = v.split; i < v.size; ++i)
      sorted[next[v.data[i].signature & mask]++] = v.data[i];
  };
  uint64_t first = 0;
  for (uint32_t w = 0; w < static_cast<uint32_t>(kWords); ++w) {
    const View views[2] = {MappedView(w), RamView(postings_[w])};
    const uint64_t length = uint64_t{views[0].size} + views[1].size;
    if (length > std::numeric_limits<uint32_t>::max())
      return Status::ResourceExhausted(what + ": a posting list exceeds 2^32 postings");
    uint32_t table = kNoBuckets;
    if (split_bits_ > 0 && length >= kMinSplitLength) {
      table = static_cast<uint32_t>(buckets.size());
      buckets.resize(buckets.size() + nb + 1, 0);
      // Per view: its ordered buckets and its ordered tail, merged bucket by
      // bucket (views[0]'s pages precede views[1]'s).
      std::vector<std::vector<Posting>> tails(2);
      std::vector<std::vector<uint32_t>> tail_offsets(2);
      for (int k = 0; k < 2; ++k) {
        order_tail(views[k]);
        tails[k] = sorted;
        tail_offsets[k] = offsets;
      }
      uint32_t written = 0;
      for (uint32_t b = 0; b < nb; ++b) {
        buckets[table + b] = written;
        for (int k = 0; k < 2; ++k) {
          const View& v = views[k];
          if (v.split > 0) {
            const auto [begin, end] = BucketRange(v, b);
            KAGAMI_RETURN_IF_ERROR(out.Put(v.data + begin, (end - begin) * sizeof(Posting)));
            written += end - begin;
          }
          const uint32_t tb = tail_offsets[k][b], te = tail_offsets[k][b + 1];
          KAGAMI_RETURN_IF_ERROR(out.Put(tails[k].data() + tb, (te - tb) * sizeof(Posting)));
          written += te - tb;
        }
      }
      buckets[table + nb] = written;
      if (written != length) return Status::Corrupt(what + ": inconsistent bucket table");
    } else {
      for (const View& v : views) {
        if (v.split > 0) return Status::Corrupt(what + ": a short list is ordered");
        KAGAMI_RETURN_IF_ERROR(out.Put(v.data, v.size * sizeof(Posting)));
      }
    }
    uint8_t* e = words.data() + size_t{w} * kWordEntryBytes;
    const uint32_t length32 = static_cast<uint32_t>(length);
    std::memcpy(e, &first, 8);
    std::memcpy(e + 8, &length32, 4);
    std::memcpy(e + 12, &table, 4);
    first += length;
  }
  sh.postings = first;
  sh.buckets = buckets.size();
  sh.checksum = Fnv1a64(kFnv1a64Offset, words.data(), words.size());
  const SectionLayout layout = Layout(sh);
  KAGAMI_RETURN_IF_ERROR(out.Put(buckets.data(), buckets.size() * sizeof(uint32_t)));
  const uint8_t zeros[8] = {};
  KAGAMI_RETURN_IF_ERROR(out.Put(zeros, layout.words - (layout.buckets + sh.buckets * 4)));
  KAGAMI_RETURN_IF_ERROR(out.Put(words.data(), words.size()));
  KAGAMI_RETURN_IF_ERROR(out.Put(page_table.data(), page_table.size()));
  std::vector<std::pair<int64_t, uint32_t>> units(static_cast<size_t>(pages()));
  for (uint32_t i = 0; i < units.size(); ++i)
    std::memcpy(&units[i].first, &page_table[i * kPageEntryBytes], 8);
  for (uint32_t i = 0; i < units.size(); ++i) units[i].second = i;
  std::sort(units.begin(), units.end());
  for (const auto& [unit, page] : units) {
    uint8_t entry[kUnitEntryBytes] = {};
    std::memcpy(entry, &unit, 8);
    std::memcpy(entry + 8, &page, 4);
    KAGAMI_RETURN_IF_ERROR(out.Put(entry, kUnitEntryBytes));
  }
  KAGAMI_RETURN_IF_ERROR(out.Flush());
  if (out.at() - at != layout.end) return Status::Internal(what + ": section size mismatch");
  uint8_t head[kSectionHeaderBytes] = {};
  std::memcpy(head, kSectionMagic, 4);
  std::memcpy(head + 4, &kSectionVersion, 4);
  std::memcpy(head + 8, &sh.split_bits, 4);
  std::memcpy(head + 12, &sh.words, 4);
  std::memcpy(head + 16, &sh.pages, 8);
  std::memcpy(head + 24, &sh.keypoints, 8);
  std::memcpy(head + 32, &sh.postings, 8);
  std::memcpy(head + 40, &sh.buckets, 8);
  std::memcpy(head + 48, &sh.checksum, 8);
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd, head, kSectionHeaderBytes, static_cast<off_t>(at), what));
  *bytes = layout.end;
  return Status::Ok();
}

Status InvertedFile::Save(const std::filesystem::path& path) const {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const std::string what = "writing local index " + tmp.string();
  Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (fd.fd < 0) return ErrnoStatus(errno, what);
  Header h;
  h.version = kVersion;
  h.vocabulary_id = vocabulary_id_;
  h.pages = pages();
  h.max_unit_id = max_unit_id_;
  std::vector<uint8_t> page_table;
  KAGAMI_RETURN_IF_ERROR(WriteRecords(fd.fd, kHeaderBytes, what, &h.records_bytes, &page_table));
  if (searchable_) {
    h.mapped_pages = pages();
    h.mapped_records_bytes = h.records_bytes;
    h.postings_offset =
        (kHeaderBytes + h.records_bytes + kSectionAlign - 1) / kSectionAlign * kSectionAlign;
    KAGAMI_RETURN_IF_ERROR(
        WritePostings(fd.fd, h.postings_offset, page_table, what, &h.postings_bytes));
  }
  const std::vector<uint8_t> head = EncodeHeader(h);
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd.fd, head.data(), head.size(), 0, what));
  if (::fdatasync(fd.fd) != 0) return ErrnoStatus(errno, what);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ErrnoStatus(ec.value(), "renaming " + tmp.string() + " to " + path.string());
  return Status::Ok();
}

Status InvertedFile::AppendTo(const std::filesystem::path& path, int64_t file_pages) const {
  KAGAMI_ASSIGN_OR_RETURN(Header h, ReadHeader(path));
  if (h.vocabulary_id != vocabulary_id_ || h.pages != file_pages) {
    return Status::Aborted("local index " + path.string() + " holds " + std::to_string(h.pages) +
                           " pages, expected " + std::to_string(file_pages));
  }
  if (pages() == 0) return Status::Ok();
  const int64_t tail = h.pages - h.mapped_pages + pages();
  if (h.version < 2 || tail > std::max(kCompactTailPages, h.mapped_pages / 8)) {
    // Compaction: one file again, its section covering every page.
    KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<InvertedFile> all, Load(path));
    if (all->pages() != file_pages) {
      return Status::Aborted("local index " + path.string() + " changed while appending");
    }
    std::vector<uint64_t> entries;
    for (uint32_t i = 0; i < static_cast<uint32_t>(pages()); ++i) {
      const Page p = PageAt(i);
      if (!Entries(p, &entries)) {
        return Status::IoError("appending to local index " + path.string() + ": unit " +
                               std::to_string(p.unit_id) + "'s record cannot be read back");
      }
      all->AddPacked(p.unit_id, entries.data(), p.count, p.width, p.height);
    }
    return all->Save(path);
  }
  const std::string what = "appending to local index " + path.string();
  Fd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (fd.fd < 0) return ErrnoStatus(errno, what);
  uint64_t bytes = 0;
  std::vector<uint8_t> unused;
  KAGAMI_RETURN_IF_ERROR(WriteRecords(fd.fd, h.EndOffset(), what, &bytes, &unused));
  if (::fdatasync(fd.fd) != 0) return ErrnoStatus(errno, what);
  Header updated = h;
  updated.pages = h.pages + pages();
  updated.max_unit_id = std::max(h.max_unit_id, max_unit_id_);
  updated.records_bytes = h.records_bytes + bytes;
  const std::vector<uint8_t> head = EncodeHeader(updated);
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd.fd, head.data(), head.size(), 0, what));
  if (::fdatasync(fd.fd) != 0) return ErrnoStatus(errno, what);
  return Status::Ok();
}

Result<InvertedFile::Header> InvertedFile::ReadHeader(const std::filesystem::path& path) {
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no local index at " + path.string());
    return ErrnoStatus(errno, "opening local index " + path.string());
  }
  uint8_t head[kHeaderBytes];
  Status read = ReadAll(fd.fd, head, kHeaderBytes, 0, "reading local index " + path.string());
  if (!read.ok()) return read;
  if (std::memcmp(head, kMagic, 4) != 0) {
    return Status::Corrupt("local index " + path.string() + ": missing 'KLI1' header");
  }
  Header h;
  std::memcpy(&h.version, head + 4, 4);
  if (h.version != 1 && h.version != kVersion) {
    return Status::Unsupported("local index " + path.string() + ": version " +
                               std::to_string(h.version));
  }
  uint32_t mapped = 0;
  std::memcpy(&h.vocabulary_id, head + 8, 4);
  std::memcpy(&h.pages, head + 16, 8);
  std::memcpy(&h.max_unit_id, head + 24, 8);
  std::memcpy(&h.records_bytes, head + 32, 8);
  if (h.version >= 2) {
    std::memcpy(&mapped, head + 12, 4);
    std::memcpy(&h.mapped_records_bytes, head + 40, 8);
    std::memcpy(&h.postings_offset, head + 48, 8);
    std::memcpy(&h.postings_bytes, head + 56, 8);
  }
  h.mapped_pages = mapped;
  constexpr uint64_t kMaxRecord = kRecordHeaderBytes + kMaxRecordKeypoints * sizeof(uint64_t);
  constexpr uint64_t kLimit = uint64_t{1} << 56;
  const bool section_ok =
      h.postings_bytes == 0
          ? h.mapped_pages == 0 && h.mapped_records_bytes == 0 && h.postings_offset == 0
          : h.postings_offset % kSectionAlign == 0 &&
                h.postings_offset >= kHeaderBytes + h.mapped_records_bytes &&
                h.postings_offset < kLimit && h.postings_bytes < kLimit;
  if (h.pages < 0 || static_cast<uint64_t>(h.pages) > kLimit / kMaxRecord ||
      h.mapped_pages > h.pages || h.records_bytes > static_cast<uint64_t>(h.pages) * kMaxRecord ||
      h.mapped_records_bytes > h.records_bytes ||
      h.mapped_records_bytes > static_cast<uint64_t>(h.mapped_pages) * kMaxRecord || !section_ok) {
    return Status::Corrupt("local index " + path.string() + ": inconsistent header");
  }
  return h;
}

// Reads `count` records from `fd` at [at, at + bytes) in chunks of whole
// records: visit(page, packed keypoints) for each (page.first: the file
// offset of its keypoints).
template <typename Visit>
static Status ScanRecords(int fd, uint64_t base, uint64_t bytes, int64_t count,
                          const std::string& what, Visit&& visit) {
  std::vector<uint8_t> buf;
  uint64_t at = 0;
  constexpr size_t kChunk = 8 << 20;
  size_t buf_at = 0;
  auto need = [&](size_t n) -> Status {
    if (buf.size() - buf_at >= n) return Status::Ok();
    if (bytes - at < n - (buf.size() - buf_at)) return Status::Corrupt(what + ": truncated record");
    std::vector<uint8_t> next(buf.begin() + static_cast<std::ptrdiff_t>(buf_at), buf.end());
    const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(kChunk, n), bytes - at));
    const size_t old = next.size();
    next.resize(old + want);
    KAGAMI_RETURN_IF_ERROR(
        ReadAll(fd, next.data() + old, want, static_cast<off_t>(base + at), what));
    at += want;
    buf = std::move(next);
    buf_at = 0;
    if (buf.size() < n) return Status::Corrupt(what + ": truncated record");
    return Status::Ok();
  };
  for (int64_t i = 0; i < count; ++i) {
    KAGAMI_RETURN_IF_ERROR(need(kRecordHeaderBytes));
    int64_t unit_id;
    uint32_t n;
    float width, height;
    const uint8_t* p = buf.data() + buf_at;
    std::memcpy(&unit_id, p, 8);
    std::memcpy(&n, p + 8, 4);
    std::memcpy(&width, p + 12, 4);
    std::memcpy(&height, p + 16, 4);
    const uint64_t first = base + (at - (buf.size() - buf_at)) + kRecordHeaderBytes;
    buf_at += kRecordHeaderBytes;
    if (n > kMaxRecordKeypoints || !(width > 0 && width <= 1) || !(height > 0 && height <= 1)) {
      return Status::Corrupt(what + ": bad record " + std::to_string(i));
    }
    KAGAMI_RETURN_IF_ERROR(need(n * sizeof(uint64_t)));
    visit(unit_id, first, n, width, height, buf.data() + buf_at);
    buf_at += n * sizeof(uint64_t);
  }
  return Status::Ok();
}

Result<std::unique_ptr<InvertedFile>> InvertedFile::Load(const std::filesystem::path& path) {
  KAGAMI_ASSIGN_OR_RETURN(Header h, ReadHeader(path));
  const std::string what = "reading local index " + path.string();
  std::unique_ptr<int, FileCloser> file(new int(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
  if (*file < 0) return ErrnoStatus(errno, what);
  const int fd = *file;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, what);
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < h.EndOffset()) {
    return Status::Corrupt(what + ": file is truncated (" + std::to_string(file_bytes) +
                           " bytes, the header describes " + std::to_string(h.EndOffset()) + ")");
  }
  SectionHeader sh;
  if (h.postings_bytes > 0) {
    uint8_t head[kSectionHeaderBytes];
    KAGAMI_RETURN_IF_ERROR(
        ReadAll(fd, head, kSectionHeaderBytes, static_cast<off_t>(h.postings_offset), what));
    uint32_t version;
    std::memcpy(&version, head + 4, 4);
    std::memcpy(&sh.split_bits, head + 8, 4);
    std::memcpy(&sh.words, head + 12, 4);
    std::memcpy(&sh.pages, head + 16, 8);
    std::memcpy(&sh.keypoints, head + 24, 8);
    std::memcpy(&sh.postings, head + 32, 8);
    std::memcpy(&sh.buckets, head + 40, 8);
    std::memcpy(&sh.checksum, head + 48, 8);
    if (std::memcmp(head, kSectionMagic, 4) != 0 || version != kSectionVersion) {
      return Status::Corrupt(what + ": bad postings section header");
    }
    const uint64_t n = h.postings_bytes;
    if (sh.words != kWords || sh.split_bits > kMaxSplitBits ||
        sh.pages != static_cast<uint64_t>(h.mapped_pages) || sh.postings > n / 8 ||
        sh.buckets > n / 4 || sh.keypoints != sh.postings || Layout(sh).end != n) {
      return Status::Corrupt(what + ": inconsistent postings section");
    }
  }
  auto index = std::make_unique<InvertedFile>(
      h.vocabulary_id, true, h.postings_bytes > 0 ? static_cast<int>(sh.split_bits) : kSplitBits);
  if (h.postings_bytes > 0) {
    const uint64_t page_size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t aligned = h.postings_offset / page_size * page_size;
    auto mapping = std::unique_ptr<Mapping, MappingDeleter>(new Mapping);
    mapping->length = static_cast<size_t>(h.postings_offset - aligned + h.postings_bytes);
    mapping->base =
        ::mmap(nullptr, mapping->length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(aligned));
    if (mapping->base == MAP_FAILED) return ErrnoStatus(errno, "mapping " + path.string());
    const uint8_t* base =
        static_cast<const uint8_t*>(mapping->base) + (h.postings_offset - aligned);
    const SectionLayout layout = Layout(sh);
    const uint8_t* words = base + layout.words;
    if (Fnv1a64(kFnv1a64Offset, words, size_t{kWords} * kWordEntryBytes) != sh.checksum) {
      return Status::Corrupt(what + ": postings section checksum mismatch");
    }
    const uint64_t table_size = (uint64_t{1} << sh.split_bits) + 1;
    for (uint32_t w = 0; w < static_cast<uint32_t>(kWords); ++w) {
      uint64_t first;
      uint32_t length, table;
      std::memcpy(&first, words + size_t{w} * kWordEntryBytes, 8);
      std::memcpy(&length, words + size_t{w} * kWordEntryBytes + 8, 4);
      std::memcpy(&table, words + size_t{w} * kWordEntryBytes + 12, 4);
      const bool bad_table = table != kNoBuckets && (sh.split_bits == 0 || table > sh.buckets ||
                                                     sh.buckets - table < table_size);
      if (first > sh.postings || length > sh.postings - first || bad_table) {
        return Status::Corrupt(what + ": postings section: bad list " + std::to_string(w));
      }
    }
    index->word_table_ = words;
    index->mapped_buckets_ = reinterpret_cast<const uint32_t*>(base + layout.buckets);
    index->mapped_bucket_count_ = sh.buckets;
    index->mapped_postings_ = reinterpret_cast<const Posting*>(base + layout.postings);
    index->mapped_posting_count_ = sh.postings;
    index->mapped_page_table_ = base + layout.pages;
    index->mapped_unit_index_ = base + layout.units;
    index->mapped_pages_ = h.mapped_pages;
    index->keypoints_ = static_cast<int64_t>(sh.keypoints);
    if (sh.pages > 0) {
      std::memcpy(&index->max_unit_id_, base + layout.units + (sh.pages - 1) * kUnitEntryBytes, 8);
    }
    index->mapping_ = std::move(mapping);
  }
  // The tail (every record of a version 1 file): lists rebuilt in RAM.
  const uint64_t tail_at = h.TailOffset();
  const uint64_t tail_bytes = h.records_bytes - h.mapped_records_bytes;
  const int64_t tail_pages = h.pages - h.mapped_pages;
  index->pages_.reserve(static_cast<size_t>(tail_pages));
  // Pass 1: the page table and each word's list length.
  std::vector<uint32_t> length(kWords, 0);
  KAGAMI_RETURN_IF_ERROR(
      ScanRecords(fd, tail_at, tail_bytes, tail_pages, what,
                  [&](int64_t unit_id, uint64_t first, uint32_t n, float width, float height,
                      const uint8_t* e) {
                    for (uint32_t k = 0; k < n; ++k) {
                      uint16_t word;
                      std::memcpy(&word, e + k * 8, 2);
                      ++length[word];
                    }
                    const uint32_t number = static_cast<uint32_t>(index->pages());
                    index->pages_.push_back({unit_id, first, n, width, height, true});
                    index->page_of_unit_.emplace(unit_id, number);
                    index->max_unit_id_ = std::max(index->max_unit_id_, unit_id);
                    index->keypoints_ += n;
                  }));
  // Pass 2: the postings, into lists of exact size.
  for (int w = 0; w < kWords; ++w) index->postings_[w].postings.reserve(length[w]);
  uint32_t number = static_cast<uint32_t>(index->mapped_pages_);
  KAGAMI_RETURN_IF_ERROR(
      ScanRecords(fd, tail_at, tail_bytes, tail_pages, what,
                  [&](int64_t, uint64_t, uint32_t n, float, float, const uint8_t* e) {
                    for (uint32_t k = 0; k < n; ++k) {
                      uint64_t v;
                      std::memcpy(&v, e + k * 8, 8);
                      index->postings_[static_cast<uint16_t>(v)].postings.push_back(
                          {number, static_cast<uint32_t>(v >> 40)});
                    }
                    index->ram_postings_ += n;
                    ++number;
                  }));
  index->file_ = std::move(file);
  index->file_bytes_ = file_bytes;
  index->ShrinkToFit();
  return index;
}

}  // namespace kagami::index
