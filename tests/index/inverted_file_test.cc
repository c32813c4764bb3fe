#include "kagami/index/inverted_file.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include <filesystem>
#include <fstream>

#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/index/store.h"
#include "kagami/synth/page_generator.h"

#include "page_fixtures.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

using fingerprint::QuantisedFeatures;
using fingerprint::VisualVocabulary;
using ::kagami::testing::Extract;
using ::kagami::testing::Gray;

constexpr int kPages = 12;

class InvertedFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pages_ = std::make_unique<std::vector<cv::Mat>>();
    refs_ = std::make_unique<std::vector<fingerprint::LocalFeatures>>();
    fingerprint::LocalFeatureOptions o;
    o.max_keypoints = 1000;
    for (int i = 0; i < kPages; ++i) {
      pages_->push_back(Gray(synth::GenerateMangaPage(700 + i, 600, 850)));
      refs_->push_back(Extract(pages_->back(), false, o));
    }
  }
  static void TearDownTestSuite() {
    pages_.reset();
    refs_.reset();
  }
  static QuantisedFeatures Ref(int i) {
    return fingerprint::Quantise((*refs_)[i], VisualVocabulary::BuiltIn());
  }
  static fingerprint::QuantisedQuery CropQuery(int i) {
    const cv::Mat& p = (*pages_)[i];
    const cv::Rect crop(p.cols / 8, p.rows / 8, p.cols * 3 / 4, p.rows * 3 / 4);
    return fingerprint::QuantiseQuery(Extract(p(crop).clone()), VisualVocabulary::BuiltIn());
  }
  static inline std::unique_ptr<std::vector<cv::Mat>> pages_;
  static inline std::unique_ptr<std::vector<fingerprint::LocalFeatures>> refs_;
};

TEST_F(InvertedFileTest, ACropScoresItsPageFirst) {
  InvertedFile index(VisualVocabulary::BuiltIn().id());
  for (int i = 0; i < kPages; ++i) index.Add(100 + i, Ref(i));
  EXPECT_EQ(index.pages(), kPages);
  EXPECT_EQ(index.max_unit_id(), 100 + kPages - 1);
  for (int i : {0, 5, 11}) {
    const auto ranked = index.Score(CropQuery(i), 3, 0.0f);
    ASSERT_FALSE(ranked.empty());
    EXPECT_EQ(ranked[0].unit_id, 100 + i);
    // A cut-off above every other page's score lets only the true page through.
    const float cut = ranked.size() > 1 ? ranked[1].score + 1e-3f : 0.0f;
    const auto gated = index.Score(CropQuery(i), 12, cut);
    ASSERT_EQ(gated.size(), 1u);
    EXPECT_EQ(gated[0].unit_id, 100 + i);
  }
  auto f = index.Features(105);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->words, Ref(5).words);
  EXPECT_EQ(index.Features(99), nullptr);
}

void ExpectSameRanking(const std::vector<InvertedFile::Candidate>& a,
                       const std::vector<InvertedFile::Candidate>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].unit_id, b[k].unit_id);
    EXPECT_EQ(a[k].score, b[k].score);
    EXPECT_EQ(a[k].matches, b[k].matches);
  }
}

TEST_F(InvertedFileTest, RepeatedQueriesScoreAlikeAcrossIndexes) {
  // Score() keeps per-thread scratch between calls: nothing of one query may
  // leak into the next, on this index or on a smaller one.
  InvertedFile big(VisualVocabulary::BuiltIn().id()), small(VisualVocabulary::BuiltIn().id());
  for (int i = 0; i < kPages; ++i) big.Add(100 + i, Ref(i));
  for (int i = 0; i < 4; ++i) small.Add(100 + i, Ref(i));
  const auto first = big.Score(CropQuery(2), 12, 0.0f);
  const auto small_first = small.Score(CropQuery(2), 12, 0.0f);
  (void)big.Score(CropQuery(7), 12, 0.0f);
  ExpectSameRanking(big.Score(CropQuery(2), 12, 0.0f), first);
  ExpectSameRanking(small.Score(CropQuery(2), 12, 0.0f), small_first);
  ASSERT_FALSE(small_first.empty());
  EXPECT_EQ(small_first[0].unit_id, 102);
}

TEST_F(InvertedFileTest, PopcntAndPortableScansAgree) {
  InvertedFile index(VisualVocabulary::BuiltIn().id());
  for (int i = 0; i < kPages; ++i) index.Add(100 + i, Ref(i));
  InvertedFile::GateOptions portable;
  portable.scalar_scan = true;
  for (int i : {1, 6, 10}) {
    ExpectSameRanking(index.Score(CropQuery(i), 12, 0.0f, portable),
                      index.Score(CropQuery(i), 12, 0.0f));
  }
}

// Filler pages whose words are drawn from the registered pages' own keypoints
// (so that the query's lists are long enough to split), with random
// signatures (unrelated pages).
void AddFillers(InvertedFile& index, const std::vector<QuantisedFeatures>& pool_pages, int count,
                int64_t first_unit) {
  std::vector<uint16_t> pool;
  for (const auto& p : pool_pages) pool.insert(pool.end(), p.words.begin(), p.words.end());
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  QuantisedFeatures f = pool_pages[0];
  for (int n = 0; n < count; ++n) {
    for (int k = 0; k < f.size(); ++k) {
      f.words[k] = pool[pick(rng)];
      f.signatures[k] = static_cast<uint32_t>(rng()) & 0xFFFFFFu;
      f.points[k] = cv::Point2f(static_cast<float>(rng() % 1000) / 1000.0f * f.page_width,
                                static_cast<float>(rng() % 1000) / 1000.0f * f.page_height);
    }
    index.Add(first_unit + n, f);
  }
}

// The gate's score by its definition (inverted_file.h), page by page from
// the stored keypoints: the reference the split, probed scan must equal.
std::map<int64_t, std::pair<float, int>> ReferenceScores(const InvertedFile& index,
                                                         const std::vector<int64_t>& units,
                                                         const fingerprint::QuantisedQuery& query,
                                                         int probe_radius,
                                                         size_t narrow_length = SIZE_MAX) {
  std::vector<std::unique_ptr<QuantisedFeatures>> pages;
  std::map<uint32_t, size_t> list_length;
  for (int64_t u : units) {
    pages.push_back(index.Features(u));
    for (uint16_t w : pages.back()->words) ++list_length[w];
  }
  const int max_d = index.max_signature_distance;
  const double sigma = max_d / 2.0 + 1.0;
  const uint32_t prefix_mask = (uint32_t{1} << index.split_bits()) - 1;
  const bool probing = probe_radius >= 0 && probe_radius < index.split_bits();
  const double log_pages = std::log(static_cast<double>(units.size()));
  // Identical query keypoints (word and 24-bit signature) count as one group
  // of their number, in the order of their first keypoint.
  std::vector<int> group_first, group_size;
  {
    std::map<std::pair<uint32_t, uint32_t>, size_t> group_of;
    for (int qi = 0; qi < query.size(); ++qi) {
      const std::pair<uint32_t, uint32_t> key{
          query.words[static_cast<size_t>(qi) * query.assignment],
          query.signatures[qi] & 0xFFFFFFu};
      const auto [it, inserted] = group_of.try_emplace(key, group_first.size());
      if (inserted) {
        group_first.push_back(qi);
        group_size.push_back(0);
      }
      ++group_size[it->second];
    }
  }
  std::map<int64_t, std::pair<float, int>> out;
  for (size_t p = 0; p < pages.size(); ++p) {
    float score = 0;
    int matches = 0;
    for (size_t g = 0; g < group_first.size(); ++g) {
      const int qi = group_first[g];
      const uint32_t w = query.words[static_cast<size_t>(qi) * query.assignment];
      const float idf = static_cast<float>(
          std::max(0.0, log_pages - std::log(static_cast<double>(list_length[w]))) + 0.1);
      float best = -1;
      for (int k = 0; k < pages[p]->size(); ++k) {
        if (pages[p]->words[k] != w) continue;
        const uint32_t x = (pages[p]->signatures[k] ^ query.signatures[qi]) & 0xFFFFFFu;
        const int d = std::popcount(x);
        const int radius = list_length[w] > narrow_length ? 0 : probe_radius;
        if (d > max_d || (probing && std::popcount(x & prefix_mask) > radius)) continue;
        const float weight = idf * idf * static_cast<float>(std::exp(-d * d / (sigma * sigma)));
        best = std::max(best, weight);
      }
      if (best >= 0) {
        score += static_cast<float>(group_size[g]) * best;
        matches += group_size[g];
      }
    }
    if (matches > 0) out[units[p]] = {score, matches};
  }
  return out;
}

// `index` scores `query` exactly as `reference`: every ranked page with the
// reference's score and matches, nothing more, nothing less.
void ExpectReferenceScores(const InvertedFile& index, const fingerprint::QuantisedQuery& query,
                           const std::map<int64_t, std::pair<float, int>>& reference,
                           int candidates, const InvertedFile::GateOptions& options) {
  const auto ranked = index.Score(query, candidates, 0.0f, options);
  ASSERT_EQ(ranked.size(), reference.size()) << "radius " << options.probe_radius;
  for (const auto& c : ranked) {
    ASSERT_EQ(reference.count(c.unit_id), 1u);
    EXPECT_EQ(c.score, reference.at(c.unit_id).first) << c.unit_id;
    EXPECT_EQ(c.matches, reference.at(c.unit_id).second) << c.unit_id;
  }
}

// The default scan, the portable one without prefetch, and hits applied by
// page ranges (automatic only above 65,536 pages), one word per query
// keypoint, at `radius`.
std::vector<InvertedFile::GateOptions> ScanPaths(int radius) {
  InvertedFile::GateOptions gate, portable, ranged, tiny_ranges;
  gate.probe_radius = portable.probe_radius = ranged.probe_radius = tiny_ranges.probe_radius =
      radius;
  gate.assignment = portable.assignment = ranged.assignment = tiny_ranges.assignment = 1;
  portable.scalar_scan = true;
  portable.prefetch = false;
  ranged.hit_range_pages = 256;
  tiny_ranges.hit_range_pages = 1;
  return {gate, portable, ranged, tiny_ranges};
}

TEST_F(InvertedFileTest, SplitListsRankACropsOwnPageAsTheExactScanReadingAFewPercent) {
  InvertedFile index(VisualVocabulary::BuiltIn().id());
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  for (int i = 0; i < kPages; ++i) index.Add(100 + i, refs[i]);
  AddFillers(index, refs, 3000, 10000);
  index.ShrinkToFit();
  // These generated pages share fonts and panel styles, so another page can
  // outscore a crop's own with one word per query keypoint (the matcher's
  // setting; it verifies the best 12): the probe must rank the true page
  // within the best 3 and no lower than the exact scan does, and first
  // with two words per keypoint.
  const auto rank_of = [](const std::vector<InvertedFile::Candidate>& ranked, int64_t unit) {
    for (size_t k = 0; k < ranked.size(); ++k)
      if (ranked[k].unit_id == unit) return static_cast<int>(k);
    return 1 << 20;
  };
  for (int i : {0, 4, 8, 11}) {
    const auto query = CropQuery(i);
    for (int words : {1, 2}) {
      InvertedFile::GateOptions exact, probe;
      exact.assignment = probe.assignment = words;
      exact.probe_radius = -1;
      ASSERT_GE(probe.probe_radius, 0);  // the default probes
      const int probed_rank = rank_of(index.Score(query, 12, 0.0f, probe), 100 + i);
      EXPECT_LE(probed_rank, rank_of(index.Score(query, 12, 0.0f, exact), 100 + i));
      EXPECT_LT(probed_rank, words == 1 ? 3 : 1) << "page " << i << ", " << words << " words";
      // 1 + 8 of 256 buckets: well under a tenth of the exact scan's postings.
      const size_t probed = index.PostingsScanned(query, probe);
      const size_t whole = index.PostingsScanned(query, exact);
      EXPECT_GT(probed, 0u);
      EXPECT_LT(probed * 10, whole) << probed << " of " << whole;
    }
  }
}

TEST_F(InvertedFileTest, ProbedSplitAndUnsplitScansEqualTheReferenceScores) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  // `split`: every list ordered into buckets; `tails`: pages added after
  // the last ordering stay in unordered tails (read whole with the prefix test).
  InvertedFile split(vocab), tails(vocab);
  std::vector<int64_t> units;
  for (int i = 0; i < kPages; ++i) units.push_back(100 + i);
  AddFillers(split, refs, 400, 10000);
  AddFillers(tails, refs, 400, 10000);
  split.ShrinkToFit();
  for (int i = 0; i < kPages; ++i) {
    split.Add(100 + i, refs[i]);
    tails.Add(100 + i, refs[i]);
  }
  split.ShrinkToFit();
  for (int n = 0; n < 400; ++n) units.push_back(10000 + n);
  for (int radius : {-1, 0, 1, 2}) {
    for (int i : {3, 9}) {
      const auto query = CropQuery(i);
      const auto reference = ReferenceScores(split, units, query, radius);
      ASSERT_FALSE(reference.empty());
      for (const InvertedFile* index : {&split, &tails}) {
        for (const auto& options : ScanPaths(radius)) {
          ExpectReferenceScores(*index, query, reference, static_cast<int>(units.size()), options);
        }
      }
    }
  }
}

// Identical query keypoints (same word, same signature) are read once and
// count as a group of their number: a query with a keypoint repeated scores
// that keypoint's best weight once per copy, as the reference does, from
// every scan path, and matches count every copy.
TEST_F(InvertedFileTest, IdenticalQueryKeypointsCountOncePerCopy) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  InvertedFile index(vocab);
  std::vector<int64_t> units;
  AddFillers(index, refs, 400, 10000);
  for (int n = 0; n < 400; ++n) units.push_back(10000 + n);
  for (int i = 0; i < kPages; ++i) {
    index.Add(100 + i, refs[i]);
    units.push_back(100 + i);
  }
  index.ShrinkToFit();
  const auto query = CropQuery(4);
  // Keypoint 0 repeated 7 times more, interleaved with the others.
  fingerprint::QuantisedQuery repeated = query;
  for (int copy = 0; copy < 7; ++copy) {
    const size_t at = static_cast<size_t>(copy) * 11 + 5;
    repeated.words.insert(
        repeated.words.begin() + static_cast<std::ptrdiff_t>(at * query.assignment),
        query.words.begin(), query.words.begin() + query.assignment);
    repeated.signatures.insert(repeated.signatures.begin() + static_cast<std::ptrdiff_t>(at),
                               query.signatures[0]);
    repeated.points.insert(repeated.points.begin() + static_cast<std::ptrdiff_t>(at),
                           query.points[0]);
  }
  ASSERT_EQ(repeated.size(), query.size() + 7);
  for (int radius : {-1, 1}) {
    const auto once = ReferenceScores(index, units, query, radius);
    const auto reference = ReferenceScores(index, units, repeated, radius);
    for (const auto& options : ScanPaths(radius)) {
      ExpectReferenceScores(index, repeated, reference, static_cast<int>(units.size()), options);
    }
    // The pages that keypoint 0 matches gain 7 matches; the others none.
    int gained = 0;
    for (const auto& [unit, score_matches] : reference) {
      const int before = once.count(unit) ? once.at(unit).second : 0;
      const int more = score_matches.second - before;
      EXPECT_TRUE(more == 0 || more == 7) << unit << " " << more;
      gained += more == 7;
    }
    EXPECT_GT(gained, 0);
    EXPECT_EQ(index.PostingsScanned(repeated, ScanPaths(radius)[0]),
              index.PostingsScanned(query, ScanPaths(radius)[0]));
  }
}

// Narrow lists: words whose list is longer than narrow_list_factor x the
// mean length are probed at radius 0, the rest at the probe radius; the same
// definition from the built, split, mapped and RAM-tail paths.
TEST_F(InvertedFileTest, NarrowLongListsScoreAsTheDefinitionAndReadLess) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  InvertedFile index(vocab);
  AddFillers(index, refs, 400, 10000);
  std::vector<int64_t> units;
  for (int n = 0; n < 400; ++n) units.push_back(10000 + n);
  for (int i = 0; i < kPages; ++i) {
    index.Add(100 + i, refs[i]);
    units.push_back(100 + i);
  }
  testing::TempDir dir;
  ASSERT_TRUE(index.Save(dir / "local.index").ok());
  auto mapped = InvertedFile::Load(dir / "local.index");
  ASSERT_TRUE(mapped.ok());
  const double mean = static_cast<double>(index.keypoints()) / InvertedFile::kWords;
  InvertedFile::GateOptions wide, narrow;
  wide.assignment = narrow.assignment = 1;
  wide.narrow_list_factor = 0;
  narrow.narrow_list_factor = 2.0;
  narrow.narrow_min_length = InvertedFile::kMinSplitLength;
  const size_t narrow_length =
      std::max<size_t>(InvertedFile::kMinSplitLength, static_cast<size_t>(2.0 * mean));
  for (int i : {3, 9}) {
    const auto query = CropQuery(i);
    const auto reference = ReferenceScores(index, units, query, narrow.probe_radius, narrow_length);
    for (const InvertedFile* from : {&index, mapped->get()}) {
      ExpectReferenceScores(*from, query, reference, static_cast<int>(units.size()), narrow);
      EXPECT_LT(from->PostingsScanned(query, narrow), from->PostingsScanned(query, wide));
    }
  }
}

TEST_F(InvertedFileTest, StopWordsSkipOnlyListsLongerThanTheFloor) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  InvertedFile index(vocab);
  for (int i = 0; i < kPages; ++i) index.Add(100 + i, Ref(i));
  const fingerprint::QuantisedQuery query = CropQuery(3);
  InvertedFile::GateOptions all, stop;
  stop.max_word_fraction = 1e-9;
  all.probe_radius = stop.probe_radius = -1;  // whole lists: PostingsScanned counts them
  // Every list is below kMinStopLength: nothing is skipped.
  EXPECT_EQ(index.PostingsScanned(query, stop), index.PostingsScanned(query, all));
  ExpectSameRanking(index.Score(query, 12, 0.0f, stop), index.Score(query, 12, 0.0f, all));
  // Pages made of the query's first word only: that list passes the floor.
  QuantisedFeatures flood = Ref(0);
  const uint32_t word = query.words[0];
  ASSERT_LT(word, static_cast<uint32_t>(InvertedFile::kWords));
  for (auto& w : flood.words) w = static_cast<uint16_t>(word);
  const int flood_pages =
      static_cast<int>(InvertedFile::kMinStopLength / static_cast<size_t>(flood.size())) + 1;
  for (int k = 0; k < flood_pages; ++k) index.Add(1000 + k, flood);
  const size_t with_word = index.PostingsScanned(query, all);
  const size_t without_word = index.PostingsScanned(query, stop);
  EXPECT_GT(with_word, without_word + InvertedFile::kMinStopLength);
  // The flood pages share nothing else with the query: skipped with the word.
  for (const auto& c : index.Score(query, 12, 0.0f, stop)) EXPECT_LT(c.unit_id, 1000);
  bool flood_scored = false;
  for (const auto& c : index.Score(query, 100, 0.0f, all)) flood_scored |= c.unit_id >= 1000;
  EXPECT_TRUE(flood_scored);
}

std::string FileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(InvertedFileTest, SavedAndAppendedFilesLoadToTheSameScores) {
  testing::TempDir dir;
  const auto path = dir / "local.index";
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  InvertedFile all(vocab), first(vocab), rest(vocab, /*searchable=*/false);
  for (int i = 0; i < kPages; ++i) {
    all.Add(100 + i, Ref(i));
    (i < 5 ? first : rest).Add(100 + i, Ref(i));
  }
  ASSERT_TRUE(first.Save(path).ok());
  EXPECT_EQ(rest.AppendTo(path, 4).code(), StatusCode::kAborted);  // the file holds 5
  ASSERT_TRUE(rest.AppendTo(path, 5).ok());
  Result<InvertedFile::Header> header = InvertedFile::ReadHeader(path);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->pages, kPages);
  EXPECT_EQ(header->max_unit_id, 100 + kPages - 1);
  auto loaded = InvertedFile::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (int i : {2, 9}) {
    const auto a = all.Score(CropQuery(i), 5, 0.0f);
    const auto b = (*loaded)->Score(CropQuery(i), 5, 0.0f);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].unit_id, b[k].unit_id);
      EXPECT_FLOAT_EQ(a[k].score, b[k].score);
    }
  }
  // A loaded page's keypoints are read from its record: the same as added,
  // while RAM holds only the postings and the page table.
  for (int i : {0, 7, 11}) {
    auto a = all.Features(100 + i);
    auto b = (*loaded)->Features(100 + i);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(a->words, b->words);
    EXPECT_EQ(a->signatures, b->signatures);
    EXPECT_EQ(a->points, b->points);
    EXPECT_EQ(a->page_width, b->page_width);
  }
  EXPECT_EQ((*loaded)->keypoints(), all.keypoints());
  EXPECT_LT((*loaded)->MemoryBytes() + static_cast<size_t>(all.keypoints()) * 8,
            all.MemoryBytes() + 4096);
  // Saving the loaded index (mapped section plus appended tail) writes the
  // file a built index writes; a page registered since the load is kept in
  // RAM and saved with them. The loaded index keeps reading its records after
  // the path is replaced.
  const auto copy = dir / "copy.index";
  const auto built = dir / "built.index";
  ASSERT_TRUE((*loaded)->Save(copy).ok());
  ASSERT_TRUE(all.Save(built).ok());
  EXPECT_TRUE(FileBytes(copy) == FileBytes(built));
  std::filesystem::rename(copy, path);
  (*loaded)->Add(500, Ref(3));
  ASSERT_TRUE((*loaded)->Save(copy).ok());
  auto reloaded = InvertedFile::Load(copy);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ((*reloaded)->pages(), kPages + 1);
  EXPECT_EQ((*reloaded)->mapped_pages(), kPages + 1);
  EXPECT_EQ((*reloaded)->Features(500)->words, Ref(3).words);
  EXPECT_EQ((*reloaded)->Features(104)->words, Ref(4).words);
  // A torn file is reported, not half-loaded.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
  EXPECT_EQ(InvertedFile::Load(path).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(InvertedFile::Load(dir / "missing").status().code(), StatusCode::kNotFound);
}

// Where local.index's postings section and its parts lie (inverted_file.h).
struct SectionOffsets {
  uint64_t section = 0, words = 0, pages = 0;
};
SectionOffsets OffsetsOf(const std::filesystem::path& path) {
  const std::string b = FileBytes(path);
  SectionOffsets o;
  uint64_t postings = 0, buckets = 0;
  std::memcpy(&o.section, b.data() + 48, 8);
  std::memcpy(&postings, b.data() + o.section + 32, 8);
  std::memcpy(&buckets, b.data() + o.section + 40, 8);
  o.words = o.section + ((64 + postings * 8 + buckets * 4 + 7) & ~uint64_t{7});
  o.pages = o.words + InvertedFile::kWords * 16;
  return o;
}

void Overwrite(const std::filesystem::path& path, uint64_t at, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Saved with the postings section and mapped by Load (nothing rebuilt), with
// pages appended to the file after the section (read into RAM lists) and
// pages added after the load: every probe radius scores as the definition,
// and saving any of them writes the built index's file.
TEST_F(InvertedFileTest, MappedPostingsScoreAsTheDefinitionWithAppendedAndAddedPages) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  testing::TempDir dir;
  InvertedFile all(vocab), first(vocab), later(vocab, /*searchable=*/false);
  AddFillers(all, refs, 400, 10000);
  AddFillers(first, refs, 400, 10000);
  std::vector<int64_t> units;
  for (int n = 0; n < 400; ++n) units.push_back(10000 + n);
  for (int i = 0; i < kPages; ++i) {
    all.Add(100 + i, refs[i]);
    if (i < 6) first.Add(100 + i, refs[i]);
    if (i >= 6 && i < 9) later.Add(100 + i, refs[i]);
    units.push_back(100 + i);
  }
  all.ShrinkToFit();
  const auto mapped_path = dir / "mapped.index", appended_path = dir / "appended.index";
  ASSERT_TRUE(first.Save(mapped_path).ok());
  std::filesystem::copy_file(mapped_path, appended_path);
  ASSERT_TRUE(later.AppendTo(appended_path, 406).ok());
  auto mapped = InvertedFile::Load(mapped_path);
  auto appended = InvertedFile::Load(appended_path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ((*mapped)->mapped_pages(), 406);
  EXPECT_GT((*mapped)->MappedBytes(), 406u * 8 * 400);
  EXPECT_EQ((*appended)->mapped_pages(), 406);
  EXPECT_EQ((*appended)->pages(), 409);
  // Nothing of the mapped pages is on the heap (only the empty list heads).
  EXPECT_LE((*mapped)->MemoryBytes(), InvertedFile(vocab).MemoryBytes());
  for (int i = 6; i < kPages; ++i) (*mapped)->Add(100 + i, refs[i]);
  for (int i = 9; i < kPages; ++i) (*appended)->Add(100 + i, refs[i]);
  (*mapped)->Add(100, refs[0]);  // already mapped: ignored
  EXPECT_EQ((*mapped)->pages(), all.pages());
  EXPECT_EQ((*appended)->keypoints(), all.keypoints());
  for (int radius : {-1, 0, 1, 2}) {
    for (int i : {3, 9}) {
      const auto query = CropQuery(i);
      const auto reference = ReferenceScores(all, units, query, radius);
      ASSERT_FALSE(reference.empty());
      for (const InvertedFile* index : {&all, mapped->get(), appended->get()}) {
        for (const auto& options : ScanPaths(radius)) {
          ExpectReferenceScores(*index, query, reference, static_cast<int>(units.size()), options);
        }
      }
      // The default gate ranks the crop's own page first from every index.
      for (const InvertedFile* index : {mapped->get(), appended->get()}) {
        const auto best = index->Score(query, 1, 0.0f);
        ASSERT_EQ(best.size(), 1u);
        EXPECT_EQ(best[0].unit_id, 100 + i);
      }
    }
  }
  for (int64_t u : {int64_t{103}, int64_t{107}, int64_t{111}, int64_t{10005}}) {
    for (const InvertedFile* index : {mapped->get(), appended->get()}) {
      auto a = all.Features(u), b = index->Features(u);
      ASSERT_NE(b, nullptr) << u;
      EXPECT_EQ(a->words, b->words);
      EXPECT_EQ(a->signatures, b->signatures);
      EXPECT_EQ(a->points, b->points);
    }
  }
  EXPECT_EQ((*mapped)->Features(99), nullptr);
  const auto a = dir / "a.index", b = dir / "b.index", c = dir / "c.index";
  ASSERT_TRUE(all.Save(a).ok());
  ASSERT_TRUE((*mapped)->Save(b).ok());
  ASSERT_TRUE((*appended)->Save(c).ok());
  EXPECT_TRUE(FileBytes(a) == FileBytes(b));
  EXPECT_TRUE(FileBytes(a) == FileBytes(c));
}

// Appends stay cheap until the unordered tail outgrows the mapped section;
// then the file is rewritten with one section. A version 1 file (records
// only) loads by rebuilding its lists and is rewritten as version 2 by the
// next append.
TEST_F(InvertedFileTest, AppendingCompactsALongTailAndUpgradesVersionOneFiles) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  testing::TempDir dir;
  const auto path = dir / "local.index";
  QuantisedFeatures small = Ref(0);
  small.words.resize(16);
  small.signatures.resize(16);
  small.points.resize(16);
  InvertedFile all(vocab), batch(vocab, false), more(vocab, false);
  const int64_t n = InvertedFile::kCompactTailPages;
  for (int64_t u = 1; u <= n + 20; ++u) {
    const QuantisedFeatures& f = u == 500 ? Ref(5) : small;
    all.Add(u, f);
    (u <= n ? batch : more).Add(u, f);
  }
  ASSERT_TRUE(InvertedFile(vocab).Save(path).ok());
  ASSERT_TRUE(batch.AppendTo(path, 0).ok());
  auto header = InvertedFile::ReadHeader(path);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->pages, n);
  EXPECT_EQ(header->mapped_pages, 0);  // appended: all tail
  ASSERT_TRUE(more.AppendTo(path, n).ok());
  header = InvertedFile::ReadHeader(path);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->pages, n + 20);
  EXPECT_EQ(header->mapped_pages, n + 20);  // compacted
  auto loaded = InvertedFile::Load(path);
  ASSERT_TRUE(loaded.ok());
  ExpectSameRanking((*loaded)->Score(CropQuery(5), 5, 0.0f), all.Score(CropQuery(5), 5, 0.0f));
  EXPECT_EQ((*loaded)->Score(CropQuery(5), 1, 0.0f)[0].unit_id, 500);

  // Version 1: records only (what a non-searchable object saves), version 1.
  const auto old = dir / "old.index";
  ASSERT_TRUE(batch.Save(old).ok());
  Overwrite(old, 4, std::string("\x01\x00\x00\x00", 4));
  header = InvertedFile::ReadHeader(old);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->version, 1u);
  auto v1 = InvertedFile::Load(old);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ((*v1)->mapped_pages(), 0);
  EXPECT_EQ((*v1)->pages(), n);
  ASSERT_TRUE(more.AppendTo(old, n).ok());
  header = InvertedFile::ReadHeader(old);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->version, 2u);
  EXPECT_EQ(header->mapped_pages, n + 20);
  EXPECT_TRUE(FileBytes(old) == FileBytes(path));
}

// A damaged or truncated section is reported (kCorrupt) where Load can see
// it cheaply (header, sizes, word table); damage inside the posting lists,
// bucket tables or page table changes results but stays inside the mapping.
TEST_F(InvertedFileTest, ADamagedPostingsSectionIsReportedOrContained) {
  const uint32_t vocab = VisualVocabulary::BuiltIn().id();
  std::vector<QuantisedFeatures> refs;
  for (int i = 0; i < kPages; ++i) refs.push_back(Ref(i));
  testing::TempDir dir;
  const auto good = dir / "good.index", bad = dir / "bad.index";
  InvertedFile index(vocab);
  AddFillers(index, refs, 400, 10000);
  for (int i = 0; i < kPages; ++i) index.Add(100 + i, refs[i]);
  ASSERT_TRUE(index.Save(good).ok());
  const SectionOffsets o = OffsetsOf(good);
  const uint64_t size = std::filesystem::file_size(good);
  auto damaged = [&](uint64_t at, const std::string& bytes) {
    std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
    Overwrite(bad, at, bytes);
    return InvertedFile::Load(bad);
  };
  const std::string ones(4096, '\xff');
  EXPECT_EQ(damaged(o.section, "XXXX").status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(damaged(o.section + 32, std::string(8, '\xff')).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(damaged(o.words + 16 * 77 + 8, "\xff\xff\xff\x7f").status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(damaged(48, std::string("\x01\x10", 2)).status().code(), StatusCode::kCorrupt);
  std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(bad, o.section + (size - o.section) / 2);
  EXPECT_EQ(InvertedFile::Load(bad).status().code(), StatusCode::kCorrupt);
  // Postings and bucket tables overwritten: page numbers and offsets out of
  // range are skipped.
  for (uint64_t at : {o.section + 64, o.words - 4096}) {
    auto loaded = damaged(at, ones);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    for (int radius : {-1, 1}) {
      InvertedFile::GateOptions gate;
      gate.probe_radius = radius;
      for (const auto& c : (*loaded)->Score(CropQuery(4), 500, 0.0f, gate)) {
        EXPECT_TRUE(c.unit_id >= 100 && c.unit_id < 10400) << c.unit_id;
      }
    }
    EXPECT_EQ((*loaded)->Features(104)->words, refs[4].words);
  }
  // The page table overwritten: its pages' keypoints are not read.
  auto loaded = damaged(o.pages, ones);
  ASSERT_TRUE(loaded.ok());
  (void)(*loaded)->Score(CropQuery(4), 500, 0.0f);
  EXPECT_EQ((*loaded)->Features(10000), nullptr);
  EXPECT_FALSE((*loaded)->Save(dir / "again.index").ok());
}

// The store keeps local.index beside pdq.index: appended on register, rebuilt
// when missing or stale, and built from raw descriptor blobs of older stores.
TEST_F(InvertedFileTest, StoreMaintainsTheDerivedLocalIndex) {
  testing::TempDir dir;
  Work work;
  work.id = "w1";
  work.title = "Work";
  auto make_asset = [](int n) {
    AssetRecord a;
    a.work_id = "w1";
    a.path = "/vol" + std::to_string(n) + ".cbz";
    a.sha256_hex = std::string(63, 'a') + static_cast<char>('0' + n);
    a.size_bytes = 1;
    a.media_type = "application/zip";
    return a;
  };
  auto make_units = [](int first, int count, bool raw) {
    std::vector<UnitRecord> units(count);
    for (int i = 0; i < count; ++i) {
      units[i].page_index = i;
      units[i].member = std::to_string(i) + ".png";
      units[i].pdq.bytes[0] = static_cast<uint8_t>(first + i);
      units[i].quality = 80;
      units[i].local_features = raw ? (*refs_)[first + i].Serialize() : Ref(first + i).Serialize();
    }
    return units;
  };
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->catalog().UpsertWork(work).ok());
    ASSERT_TRUE((*store)->AddAsset(make_asset(1), make_units(0, 4, false)).ok());
    // An older store's raw descriptor blobs, converted by the index.
    ASSERT_TRUE((*store)->AddAsset(make_asset(2), make_units(4, 2, true)).ok());
    ASSERT_TRUE((*store)->SaveIndex().ok());
  }
  ASSERT_TRUE(std::filesystem::exists(dir / Store::kLocalIndexFileName));
  auto check = [&](int expect_pages) {
    auto store = Store::Open(dir.path(), nullptr, {.access = StoreAccess::kRead});
    ASSERT_TRUE(store.ok());
    Result<const InvertedFile*> index = (*store)->LocalIndex();
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ((*index)->pages(), expect_pages);
    for (int i : {1, 5}) {
      const auto ranked = (*index)->Score(CropQuery(i), 1, 0.0f);
      ASSERT_EQ(ranked.size(), 1u);
      EXPECT_EQ(ranked[0].unit_id, i + 1);  // unit ids start at 1
    }
  };
  check(6);
  {
    // Appended without loading the index.
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddAsset(make_asset(3), make_units(6, 3, false)).ok());
    ASSERT_TRUE((*store)->SaveIndex().ok());
  }
  check(9);
  // A damaged postings section: reported by Load, rebuilt from the catalog.
  {
    const auto path = dir / Store::kLocalIndexFileName;
    Overwrite(path, OffsetsOf(path).words + 3, "\x55\xaa");
    EXPECT_EQ(InvertedFile::Load(path).status().code(), StatusCode::kCorrupt);
  }
  check(9);
  EXPECT_TRUE(InvertedFile::Load(dir / Store::kLocalIndexFileName).ok());
  // Missing: rebuilt from the catalog.
  std::filesystem::remove(dir / Store::kLocalIndexFileName);
  check(9);
  EXPECT_TRUE(std::filesystem::exists(dir / Store::kLocalIndexFileName));
  // Stale (a register that died before saving): rebuilt.
  {
    auto store = Store::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddAsset(make_asset(4), make_units(9, 2, false)).ok());
  }
  check(11);
}

}  // namespace
}  // namespace kagami::index
