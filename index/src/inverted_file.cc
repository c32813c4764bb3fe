#include "kagami/index/inverted_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace kagami::index {
namespace {

constexpr char kMagic[4] = {'K', 'L', 'I', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;
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
  std::memcpy(out.data(), kMagic, 4);
  std::memcpy(&out[4], &kVersion, 4);
  std::memcpy(&out[8], &h.vocabulary_id, 4);
  std::memcpy(&out[16], &h.pages, 8);
  std::memcpy(&out[24], &h.max_unit_id, 8);
  std::memcpy(&out[32], &h.records_bytes, 8);
  return out;
}

// Adds a posting that passed the Hamming test to its page's score: each
// query keypoint counts once per page, with its best weight.
// A page's accumulator in Score(): one 16-byte slot, so a hit costs one
// cache line.
struct ScoreSlot {
  float score;
  float best_weight;
  int32_t last_query;
  int32_t matches;
};

struct PostingVisitor {
  int qi;
  float idf2;
  const float* he_weight;
  ScoreSlot* slots;
  std::vector<uint32_t>* touched;

  void operator()(uint32_t page, int d) const {
    const float weight = idf2 * he_weight[d];
    ScoreSlot& slot = slots[page];
    if (slot.last_query != qi) {
      if (slot.last_query < 0)
        touched->push_back(page);
      else
        slot.score += slot.best_weight;
      slot.last_query = qi;
      slot.best_weight = weight;
      ++slot.matches;
    } else {
      slot.best_weight = std::max(slot.best_weight, weight);
    }
  }
};

// The posting scan: one popcount per posting dominates the gate's time at
// scale, so it is compiled twice, with the POPCNT instruction (dispatched at
// run time) and without (the x86-64 baseline's bit-twiddling popcount). With
// a prefix filter (lists read whole while probing) a posting also needs its
// prefix within `radius` bits of the query's.
template <bool kFilter, typename Posting>
__attribute__((always_inline)) inline void ScanBody(const Posting* begin, const Posting* end,
                                                    uint32_t qsig, int max_d, uint32_t prefix_mask,
                                                    int radius, const PostingVisitor& visit) {
  for (const Posting* p = begin; p != end; ++p) {
    const uint32_t x = p->signature ^ qsig;
    const int d = std::popcount(x);
    if (d > max_d) continue;
    if (kFilter && std::popcount(x & prefix_mask) > radius) continue;
    visit(p->page, d);
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

InvertedFile::InvertedFile(uint32_t vocabulary_id, bool searchable, int split_bits)
    : vocabulary_id_(vocabulary_id),
      searchable_(searchable),
      split_bits_(std::clamp(split_bits, 0, kMaxSplitBits)),
      postings_(searchable ? kWords : 0) {}

InvertedFile::~InvertedFile() = default;

void InvertedFile::Add(int64_t unit_id, const fingerprint::QuantisedFeatures& f) {
  if (page_of_unit_.count(unit_id) != 0) return;
  const uint32_t page = static_cast<uint32_t>(pages_.size());
  const bool usable = f.vocabulary_id == vocabulary_id_;
  const uint32_t count =
      usable ? std::min<uint32_t>(static_cast<uint32_t>(f.size()), kMaxRecordKeypoints) : 0;
  pages_.push_back({unit_id, entries_.size(), count, f.page_width, f.page_height, false});
  keypoints_ += count;
  page_of_unit_.emplace(unit_id, page);
  max_unit_id_ = std::max(max_unit_id_, unit_id);
  for (uint32_t i = 0; i < count; ++i) {
    entries_.push_back(Pack(f.words[i], f.points[i], f.page_width, f.page_height, f.signatures[i]));
    if (!searchable_) continue;
    List& list = postings_[f.words[i]];
    list.postings.push_back({page, f.signatures[i] & 0xFFFFFFu});
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

std::vector<InvertedFile::Candidate> InvertedFile::Score(const fingerprint::QuantisedQuery& query,
                                                         int max_candidates, float min_score,
                                                         const GateOptions& gate) const {
  std::vector<Candidate> out;
  if (!searchable_ || query.vocabulary_id != vocabulary_id_ || pages_.empty() ||
      max_candidates <= 0) {
    return out;
  }
  const size_t n_pages = pages_.size();
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
  float he_weight[25];
  for (int d = 0; d <= 24; ++d)
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
  // Probing is bound by memory latency (a list's header, its bucket table,
  // then each bucket: three dependent misses per probe), so the lookups of
  // the next query keypoints are prefetched in three stages ahead.
  const auto prefetch = [&](int qi, int stage) {
    if (qi >= query.size()) return;
    const uint32_t qprefix = query.signatures[qi] & prefix_mask;
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = word_of(qi, a);
      if (w >= static_cast<uint32_t>(kWords)) continue;
      const List& list = postings_[w];
      if (stage == 0) {
        __builtin_prefetch(&list);
        continue;
      }
      if (list.split == 0) continue;
      for (uint32_t m : probes) {
        const uint32_t b = qprefix ^ m;
        if (stage == 1)
          __builtin_prefetch(list.bucket.data() + b);
        else
          __builtin_prefetch(list.postings.data() + list.bucket[b]);
      }
    }
  };
  const bool prefetching = probing && gate.prefetch;
  for (int qi = 0; qi < query.size(); ++qi) {
    const uint32_t qsig = query.signatures[qi] & 0xFFFFFFu;
    if (prefetching) {
      prefetch(qi + 3, 0);
      prefetch(qi + 2, 1);
      prefetch(qi + 1, 2);
    }
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = word_of(qi, a);
      if (w >= static_cast<uint32_t>(kWords)) continue;
      const List& list = postings_[w];
      const std::vector<Posting>& all = list.postings;
      if (all.empty() || all.size() > stop_length) continue;
      const float idf = static_cast<float>(
          std::max(0.0, log_pages - std::log(static_cast<double>(all.size()))) + 0.1);
      const float idf2 = idf * idf;
      PostingVisitor visit{qi, idf2, he_weight, slots, &touched};
      const Posting* data = all.data();
      const int max_d = max_signature_distance;
      if (!probing) {
        ScanPostings(data, data + all.size(), qsig, max_d, 0, 0, gate.scalar_scan, visit);
        continue;
      }
      // The split part by buckets, then the unordered tail with the prefix test.
      if (list.split > 0) {
        const uint32_t qprefix = qsig & prefix_mask;
        for (uint32_t m : probes) {
          const uint32_t b = qprefix ^ m;
          ScanPostings(data + list.bucket[b], data + list.bucket[b + 1], qsig, max_d, 0, 0,
                       gate.scalar_scan, visit);
        }
      }
      ScanPostings(data + list.split, data + all.size(), qsig, max_d, prefix_mask,
                   gate.probe_radius, gate.scalar_scan, visit);
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
  for (uint32_t page : touched) {
    ScoreSlot& slot = slots[page];
    const float total = slot.score + slot.best_weight;
    if (total >= min_score) scored.push_back({total, page, slot.matches});
    slot = ScoreSlot{0.0f, 0.0f, -1, 0};
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
    if (c.score >= floor) out.push_back({pages_[c.page].unit_id, c.score, c.matches});
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

bool InvertedFile::Entries(const Page& page, std::vector<uint64_t>* out) const {
  out->resize(page.count);
  if (!page.in_file) {
    std::copy_n(entries_.begin() + static_cast<std::ptrdiff_t>(page.first), page.count,
                out->begin());
    return true;
  }
  if (!file_) return false;
  return ReadAll(*file_, out->data(), page.count * sizeof(uint64_t), static_cast<off_t>(page.first),
                 "reading a local index record")
      .ok();
}

std::unique_ptr<fingerprint::QuantisedFeatures> InvertedFile::Features(int64_t unit_id) const {
  auto it = page_of_unit_.find(unit_id);
  if (it == page_of_unit_.end()) return nullptr;
  const Page& page = pages_[it->second];
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

size_t InvertedFile::StopLength(double max_word_fraction) const {
  if (max_word_fraction <= 0) return SIZE_MAX;
  return std::max<size_t>(kMinStopLength,
                          static_cast<size_t>(max_word_fraction * static_cast<double>(pages())));
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
  size_t n = 0;
  const int assignment = std::min(query.assignment, std::max(1, gate.assignment));
  for (int qi = 0; qi < query.size(); ++qi) {
    for (int a = 0; a < assignment; ++a) {
      const uint32_t w = query.words[static_cast<size_t>(qi) * query.assignment + a];
      if (w >= static_cast<uint32_t>(kWords)) continue;
      const List& list = postings_[w];
      const size_t len = list.postings.size();
      if (len > stop_length) continue;
      if (!probing) {
        n += len;
        continue;
      }
      n += len - list.split;
      if (list.split == 0) continue;
      const uint32_t qprefix = query.signatures[qi] & prefix_mask;
      for (uint32_t m : probes) n += list.bucket[(qprefix ^ m) + 1] - list.bucket[qprefix ^ m];
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

// Every page's record as stored in the file (empty when a loaded page's
// record cannot be read back; the caller reports it).
std::vector<uint8_t> InvertedFile::EncodeRecords() const {
  std::vector<uint8_t> out;
  std::vector<uint64_t> entries;
  for (const Page& p : pages_) {
    if (!Entries(p, &entries)) return {};
    uint8_t head[kRecordHeaderBytes];
    std::memcpy(head, &p.unit_id, 8);
    std::memcpy(head + 8, &p.count, 4);
    std::memcpy(head + 12, &p.width, 4);
    std::memcpy(head + 16, &p.height, 4);
    out.insert(out.end(), head, head + kRecordHeaderBytes);
    const auto* e = reinterpret_cast<const uint8_t*>(entries.data());
    out.insert(out.end(), e, e + p.count * sizeof(uint64_t));
  }
  return out;
}

Status InvertedFile::Save(const std::filesystem::path& path) const {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const std::string what = "writing local index " + tmp.string();
  Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (fd.fd < 0) return ErrnoStatus(errno, what);
  const std::vector<uint8_t> records = EncodeRecords();
  if (records.empty() && !pages_.empty())
    return Status::IoError(what + ": a page's record is unreadable");
  Header h{vocabulary_id_, pages(), max_unit_id_, records.size()};
  const std::vector<uint8_t> head = EncodeHeader(h);
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd.fd, head.data(), head.size(), 0, what));
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd.fd, records.data(), records.size(), kHeaderBytes, what));
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
  if (pages_.empty()) return Status::Ok();
  const std::string what = "appending to local index " + path.string();
  Fd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (fd.fd < 0) return ErrnoStatus(errno, what);
  const std::vector<uint8_t> records = EncodeRecords();
  if (records.empty()) return Status::IoError(what + ": a page's record is unreadable");
  KAGAMI_RETURN_IF_ERROR(WriteAll(fd.fd, records.data(), records.size(),
                                  static_cast<off_t>(kHeaderBytes + h.records_bytes), what));
  if (::fdatasync(fd.fd) != 0) return ErrnoStatus(errno, what);
  Header updated{vocabulary_id_, h.pages + pages(), std::max(h.max_unit_id, max_unit_id_),
                 h.records_bytes + records.size()};
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
  uint32_t version;
  std::memcpy(&version, head + 4, 4);
  if (version != kVersion) {
    return Status::Unsupported("local index " + path.string() + ": version " +
                               std::to_string(version));
  }
  Header h;
  std::memcpy(&h.vocabulary_id, head + 8, 4);
  std::memcpy(&h.pages, head + 16, 8);
  std::memcpy(&h.max_unit_id, head + 24, 8);
  std::memcpy(&h.records_bytes, head + 32, 8);
  if (h.pages < 0 ||
      h.records_bytes > static_cast<uint64_t>(h.pages) *
                            (kRecordHeaderBytes + kMaxRecordKeypoints * sizeof(uint64_t))) {
    return Status::Corrupt("local index " + path.string() + ": inconsistent header");
  }
  return h;
}

Result<std::unique_ptr<InvertedFile>> InvertedFile::Load(const std::filesystem::path& path) {
  KAGAMI_ASSIGN_OR_RETURN(Header h, ReadHeader(path));
  const std::string what = "reading local index " + path.string();
  std::unique_ptr<int, FileCloser> file(new int(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
  if (*file < 0) return ErrnoStatus(errno, what);
  const int fd = *file;
  auto index = std::make_unique<InvertedFile>(h.vocabulary_id);
  index->pages_.reserve(static_cast<size_t>(h.pages));
  // Visits every record in order, reading in chunks of whole records:
  // visit(page, packed keypoints) for each.
  auto scan = [&](auto&& visit) -> Status {
    std::vector<uint8_t> buf;
    uint64_t at = 0;
    constexpr size_t kChunk = 8 << 20;
    size_t buf_at = 0;
    auto need = [&](size_t n) -> Status {
      if (buf.size() - buf_at >= n) return Status::Ok();
      if (h.records_bytes - at < n - (buf.size() - buf_at)) {
        return Status::Corrupt(what + ": truncated record");
      }
      std::vector<uint8_t> next(buf.begin() + static_cast<std::ptrdiff_t>(buf_at), buf.end());
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(std::max(kChunk, n), h.records_bytes - at));
      const size_t old = next.size();
      next.resize(old + want);
      KAGAMI_RETURN_IF_ERROR(
          ReadAll(fd, next.data() + old, want, static_cast<off_t>(kHeaderBytes + at), what));
      at += want;
      buf = std::move(next);
      buf_at = 0;
      if (buf.size() < n) return Status::Corrupt(what + ": truncated record");
      return Status::Ok();
    };
    for (int64_t i = 0; i < h.pages; ++i) {
      KAGAMI_RETURN_IF_ERROR(need(kRecordHeaderBytes));
      Page page;
      const uint8_t* p = buf.data() + buf_at;
      std::memcpy(&page.unit_id, p, 8);
      std::memcpy(&page.count, p + 8, 4);
      std::memcpy(&page.width, p + 12, 4);
      std::memcpy(&page.height, p + 16, 4);
      page.in_file = true;
      page.first = kHeaderBytes + (at - (buf.size() - buf_at)) + kRecordHeaderBytes;
      buf_at += kRecordHeaderBytes;
      if (page.count > kMaxRecordKeypoints || !(page.width > 0 && page.width <= 1) ||
          !(page.height > 0 && page.height <= 1)) {
        return Status::Corrupt(what + ": bad record " + std::to_string(i));
      }
      KAGAMI_RETURN_IF_ERROR(need(page.count * sizeof(uint64_t)));
      visit(page, buf.data() + buf_at);
      buf_at += page.count * sizeof(uint64_t);
    }
    return Status::Ok();
  };
  // Pass 1: the page table and each word's list length.
  std::vector<uint32_t> length(kWords, 0);
  KAGAMI_RETURN_IF_ERROR(scan([&](const Page& page, const uint8_t* e) {
    for (uint32_t k = 0; k < page.count; ++k) {
      uint16_t word;
      std::memcpy(&word, e + k * 8, 2);
      ++length[word];
    }
    const uint32_t number = static_cast<uint32_t>(index->pages_.size());
    index->pages_.push_back(page);
    index->page_of_unit_.emplace(page.unit_id, number);
    index->max_unit_id_ = std::max(index->max_unit_id_, page.unit_id);
    index->keypoints_ += page.count;
  }));
  // Pass 2: the postings, into lists of exact size.
  for (int w = 0; w < kWords; ++w) index->postings_[w].postings.reserve(length[w]);
  uint32_t number = 0;
  KAGAMI_RETURN_IF_ERROR(scan([&](const Page& page, const uint8_t* e) {
    for (uint32_t k = 0; k < page.count; ++k) {
      uint64_t v;
      std::memcpy(&v, e + k * 8, 8);
      index->postings_[static_cast<uint16_t>(v)].postings.push_back(
          {number, static_cast<uint32_t>(v >> 40)});
    }
    ++number;
  }));
  index->file_ = std::move(file);
  index->ShrinkToFit();
  return index;
}

}  // namespace kagami::index
