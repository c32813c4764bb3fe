#include "kagami/index/pdq_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <thread>

namespace kagami::index {
namespace {

namespace fs = std::filesystem;
using fingerprint::Hash256;

int Distance(const Hash256& a, const Hash256& b) {
  int d = 0;
  for (size_t i = 0; i < a.bytes.size(); ++i) d += std::popcount<uint8_t>(a.bytes[i] ^ b.bytes[i]);
  return d;
}

Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
  return h;
}

// Flips `distance` distinct bits. With `spread`, the flips go round-robin over
// the sixteen 16-bit words, the worst case for multi-index hashing (at 31 bits
// only one word is left with a single difference).
Hash256 FlipBits(const Hash256& h, int distance, bool spread, std::mt19937_64& rng) {
  std::vector<int> bits(256);
  std::iota(bits.begin(), bits.end(), 0);
  if (spread) {
    std::vector<std::vector<int>> per_word(16);
    for (int b = 0; b < 256; ++b) per_word[b / 16].push_back(b);
    for (auto& w : per_word) std::shuffle(w.begin(), w.end(), rng);
    bits.clear();
    for (int round = 0; round < 16; ++round) {
      for (int w = 0; w < 16; ++w) bits.push_back(per_word[w][round]);
    }
  } else {
    std::shuffle(bits.begin(), bits.end(), rng);
  }
  Hash256 out = h;
  for (int i = 0; i < distance; ++i)
    out.bytes[bits[i] / 8] ^= static_cast<uint8_t>(1u << (bits[i] % 8));
  return out;
}

struct Corpus {
  std::vector<std::pair<int64_t, Hash256>> entries;
  std::vector<Hash256> queries;
};

// Random hashes plus, for each query, planted neighbours at distances 0..40.
Corpus MakeCorpus(int random_count, int query_count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Corpus corpus;
  int64_t next_id = 1;
  for (int i = 0; i < random_count; ++i) corpus.entries.emplace_back(next_id++, RandomHash(rng));
  for (int q = 0; q < query_count; ++q) {
    Hash256 query = RandomHash(rng);
    corpus.queries.push_back(query);
    for (int d = 0; d <= 40; ++d) {
      corpus.entries.emplace_back(next_id++, FlipBits(query, d, /*spread=*/q % 2 == 0, rng));
    }
  }
  // Ids need not arrive in position order.
  std::shuffle(corpus.entries.begin(), corpus.entries.end(), rng);
  return corpus;
}

std::vector<IndexHit> BruteForce(const Corpus& corpus, const Hash256& query, int radius) {
  std::vector<IndexHit> hits;
  for (const auto& [id, hash] : corpus.entries) {
    int d = Distance(query, hash);
    if (d <= radius) hits.push_back({id, d});
  }
  std::sort(hits.begin(), hits.end(), [](const IndexHit& a, const IndexHit& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.unit_id < b.unit_id;
  });
  return hits;
}

MATCHER_P(HitsEq, expected, "") {
  if (arg.size() != expected.size()) {
    *result_listener << "has " << arg.size() << " hits, expected " << expected.size();
    return false;
  }
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i].unit_id != expected[i].unit_id || arg[i].distance != expected[i].distance) {
      *result_listener << "hit " << i << " is (" << arg[i].unit_id << ", " << arg[i].distance
                       << "), expected (" << expected[i].unit_id << ", " << expected[i].distance
                       << ")";
      return false;
    }
  }
  return true;
}

std::unique_ptr<PdqIndex> BuildIndex(const Corpus& corpus) {
  auto index = std::make_unique<PdqIndex>();
  for (const auto& [id, hash] : corpus.entries) EXPECT_TRUE(index->Add(id, hash).ok());
  return index;
}

void ExpectMatchesBruteForce(const PdqIndex& index, const Corpus& corpus, int radius) {
  auto results = index.RangeSearch(corpus.queries, radius).value();
  ASSERT_EQ(results.size(), corpus.queries.size());
  for (size_t q = 0; q < corpus.queries.size(); ++q) {
    auto expected = BruteForce(corpus, corpus.queries[q], radius);
    EXPECT_THAT(results[q], HitsEq(expected)) << "query " << q << " radius " << radius;
  }
}

class PdqIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_pdq_index_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(PdqIndexSearchTest, EmptyIndexFindsNothing) {
  PdqIndex index;
  EXPECT_EQ(index.size(), 0);
  EXPECT_EQ(index.max_unit_id(), 0);
  std::mt19937_64 rng(1);
  auto results = index.RangeSearch({RandomHash(rng)}, 31).value();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].empty());
  EXPECT_TRUE(index.RangeSearch({}, 31).value().empty());
}

TEST(PdqIndexSearchTest, TracksSizeAndMaxUnitId) {
  PdqIndex index;
  std::mt19937_64 rng(2);
  ASSERT_TRUE(index.Add(7, RandomHash(rng)).ok());
  ASSERT_TRUE(index.Add(3, RandomHash(rng)).ok());
  EXPECT_EQ(index.size(), 2);
  EXPECT_EQ(index.max_unit_id(), 7);
}

TEST(PdqIndexMemoryTest, GrowthPastTheMemoryLimitIsAStatusAndTheIndexStaysUsable) {
  PdqIndex index;
  std::mt19937_64 rng(21);
  std::vector<Hash256> added;
  for (int64_t id = 1; id <= 100; ++id) {
    added.push_back(RandomHash(rng));
    ASSERT_TRUE(index.Add(id, added.back()).ok());
  }
  index.SetMemoryLimit(index.MemoryBytes());  // whatever is held now, no more
  Status failed = Status::Ok();
  int64_t id = 101;
  for (; id < 400 && failed.ok(); ++id) {
    const int64_t before = index.size();
    failed = index.Add(id, RandomHash(rng));
    if (!failed.ok()) {
      EXPECT_EQ(index.size(), before);  // nothing half-added
    }
  }
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed.ToString();
  EXPECT_THAT(failed.message(), ::testing::HasSubstr("out of memory"));
  auto hits = index.RangeSearch({added[0], added[99]}, 0);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 2u);
  ASSERT_EQ((*hits)[0].size(), 1u);
  EXPECT_EQ((*hits)[0][0].unit_id, 1);
  ASSERT_EQ((*hits)[1].size(), 1u);
  EXPECT_EQ((*hits)[1][0].unit_id, 100);
  index.SetMemoryLimit(std::numeric_limits<size_t>::max());
  EXPECT_TRUE(index.Add(id, RandomHash(rng)).ok());  // room again: growth works
}

TEST(PdqIndexMemoryTest, AFailedTableRebuildKeepsTheCodeSearchable) {
  PdqIndex index;
  index.SetMemoryLimit(1u << 20);  // room for the codes, not for 4 MiB of tables
  std::mt19937_64 rng(22);
  Hash256 last;
  Status status = Status::Ok();
  for (int64_t id = 1; id <= 4097 + 1 && status.ok(); ++id) {
    last = RandomHash(rng);
    status = index.Add(id, last);
  }
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << "the rebuild should have failed";
  EXPECT_LE(index.MemoryBytes(), 1u << 20);
  auto hits = index.RangeSearch({last}, 0);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ((*hits)[0].size(), 1u);
  EXPECT_EQ((*hits)[0][0].unit_id, index.size());
}

TEST(PdqIndexSearchTest, MultiHashRangeIsExactAtEveryRadiusUpTo31) {
  Corpus corpus = MakeCorpus(20000, 40, 11);
  auto index = BuildIndex(corpus);
  for (int radius : {0, 1, 10, 15, 16, 17, 30, 31}) {
    ExpectMatchesBruteForce(*index, corpus, radius);
  }
}

TEST_F(PdqIndexTest, LoadedIndexIsExactAtRadius31) {
  // Loading builds every table at once (no unindexed tail), as Store::Open does.
  Corpus corpus = MakeCorpus(9000, 30, 16);
  ASSERT_TRUE(BuildIndex(corpus)->Save(dir_ / "pdq.index").ok());
  auto loaded = PdqIndex::Load(dir_ / "pdq.index");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (int radius : {0, 16, 31}) ExpectMatchesBruteForce(**loaded, corpus, radius);
}

TEST(PdqIndexSearchTest, UnitIdsAbove32BitsAreKept) {
  PdqIndex index;
  std::mt19937_64 rng(17);
  const Hash256 a = RandomHash(rng), b = RandomHash(rng);
  ASSERT_TRUE(index.Add(5, a).ok());
  ASSERT_TRUE(index.Add(int64_t{1} << 40, b).ok());
  auto hits = index.RangeSearch({a, b}, 0).value();
  ASSERT_EQ(hits[0].size(), 1u);
  EXPECT_EQ(hits[0][0].unit_id, 5);
  ASSERT_EQ(hits[1].size(), 1u);
  EXPECT_EQ(hits[1][0].unit_id, int64_t{1} << 40);
  EXPECT_EQ(index.max_unit_id(), int64_t{1} << 40);
}

TEST(PdqIndexSearchTest, UnitIdsMoveWithTheirCodesWhenTheTablesAreRebuilt) {
  // The tables are rebuilt several times (every 4,097 codes at first), each
  // time reordering the codes; 32-bit ids become 64-bit part way through.
  PdqIndex index;
  std::mt19937_64 rng(31);
  std::vector<std::pair<int64_t, Hash256>> added;
  for (int64_t i = 1; i <= 12000; ++i) {
    const int64_t id = i == 6000 ? (int64_t{1} << 40) : i * 7;
    added.emplace_back(id, RandomHash(rng));
    ASSERT_TRUE(index.Add(id, added.back().second).ok());
  }
  std::vector<Hash256> queries;
  for (const auto& [id, hash] : added) queries.push_back(hash);
  auto hits = index.RangeSearch(queries, 0).value();
  for (size_t i = 0; i < added.size(); ++i) {
    ASSERT_EQ(hits[i].size(), 1u) << "code " << i;
    EXPECT_EQ(hits[i][0].unit_id, added[i].first) << "code " << i;
  }
}

TEST(PdqIndexSearchTest, FlatRangeIsExactAboveRadius31) {
  Corpus corpus = MakeCorpus(20000, 40, 12);
  auto index = BuildIndex(corpus);
  for (int radius : {32, 40}) ExpectMatchesBruteForce(*index, corpus, radius);
}

TEST(PdqIndexSearchTest, PlantedNeighboursAreFoundAtTheirDistance) {
  Corpus corpus = MakeCorpus(1000, 4, 13);
  auto index = BuildIndex(corpus);
  auto results = index->RangeSearch(corpus.queries, 31).value();
  for (const auto& hits : results) {
    // One planted neighbour per distance 0..31; random hashes are ~128 bits away.
    ASSERT_EQ(hits.size(), 32u);
    for (int d = 0; d <= 31; ++d) EXPECT_EQ(hits[d].distance, d);
  }
}

TEST(PdqIndexSearchTest, NegativeRadiusFindsNothingAndHugeRadiusFindsAll) {
  Corpus corpus = MakeCorpus(100, 1, 14);
  auto index = BuildIndex(corpus);
  auto none = index->RangeSearch(corpus.queries, -1).value();
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].empty());
  auto all = index->RangeSearch(corpus.queries, 1000).value();
  EXPECT_EQ(all[0].size(), corpus.entries.size());
}

TEST(PdqIndexSearchTest, ConcurrentQueriesAgree) {
  Corpus corpus = MakeCorpus(5000, 16, 15);
  auto index = BuildIndex(corpus);
  auto expected31 = index->RangeSearch(corpus.queries, 31).value();
  auto expected40 = index->RangeSearch(corpus.queries, 40).value();
  std::vector<std::vector<std::vector<IndexHit>>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back(
        [&, t] { got[t] = index->RangeSearch(corpus.queries, t % 2 ? 40 : 31).value(); });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    const auto& expected = t % 2 ? expected40 : expected31;
    for (size_t q = 0; q < expected.size(); ++q) EXPECT_THAT(got[t][q], HitsEq(expected[q]));
  }
}

TEST_F(PdqIndexTest, SaveLoadRoundTrip) {
  Corpus corpus = MakeCorpus(3000, 10, 21);
  auto index = BuildIndex(corpus);
  fs::path path = dir_ / "pdq.index";
  ASSERT_TRUE(index->Save(path).ok());
  EXPECT_FALSE(fs::exists(dir_ / "pdq.index.tmp"));

  auto loaded = PdqIndex::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), index->size());
  EXPECT_EQ((*loaded)->max_unit_id(), index->max_unit_id());
  ExpectMatchesBruteForce(**loaded, corpus, 31);
  ExpectMatchesBruteForce(**loaded, corpus, 40);

  // Saving over an existing file replaces it.
  ASSERT_TRUE((*loaded)->Add(index->max_unit_id() + 1, corpus.queries[0]).ok());
  ASSERT_TRUE((*loaded)->Save(path).ok());
  auto reloaded = PdqIndex::Load(path);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ((*reloaded)->size(), index->size() + 1);
}

TEST_F(PdqIndexTest, ALoadedIndexHoldsAtMost96BytesPerHashPlusTheBucketOffsets) {
  // 32 bytes of code, 4 of unit id, 15 x 4 of table positions (table 0 is the
  // code order itself), plus 16 tables x 65,537 bucket offsets of 4 bytes.
  Corpus corpus = MakeCorpus(50000, 1, 23);
  ASSERT_TRUE(BuildIndex(corpus)->Save(dir_ / "pdq.index").ok());
  auto loaded = PdqIndex::Load(dir_ / "pdq.index");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const size_t n = static_cast<size_t>((*loaded)->size());
  EXPECT_LE((*loaded)->MemoryBytes(), 96 * n + 16 * 65537 * 4);
  ExpectMatchesBruteForce(**loaded, corpus, 31);
}

TEST_F(PdqIndexTest, EmptyIndexRoundTrips) {
  PdqIndex index;
  ASSERT_TRUE(index.Save(dir_ / "empty.index").ok());
  auto loaded = PdqIndex::Load(dir_ / "empty.index");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 0);
  EXPECT_EQ((*loaded)->max_unit_id(), 0);
}

TEST_F(PdqIndexTest, LoadOfMissingFileIsNotFound) {
  auto loaded = PdqIndex::Load(dir_ / "nope.index");
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_F(PdqIndexTest, TruncatedFileIsCorrupt) {
  Corpus corpus = MakeCorpus(200, 2, 22);
  fs::path path = dir_ / "pdq.index";
  ASSERT_TRUE(BuildIndex(corpus)->Save(path).ok());
  const std::string bytes = ReadFile(path);
  for (size_t keep : {size_t{0}, size_t{7}, size_t{32}, size_t{40}, bytes.size() / 2,
                      bytes.size() - 8, bytes.size() - 1}) {
    WriteFile(path, bytes.substr(0, keep));
    auto loaded = PdqIndex::Load(path);
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupt) << "kept " << keep << " bytes";
  }
  WriteFile(path, bytes + "x");
  EXPECT_EQ(PdqIndex::Load(path).status().code(), StatusCode::kCorrupt);
}

TEST_F(PdqIndexTest, FlippedByteIsCorrupt) {
  Corpus corpus = MakeCorpus(200, 2, 23);
  fs::path path = dir_ / "pdq.index";
  ASSERT_TRUE(BuildIndex(corpus)->Save(path).ok());
  const std::string bytes = ReadFile(path);
  const size_t count = corpus.entries.size();
  // Magic, count, max id, a unit id, a code byte, the checksum.
  for (size_t offset : {size_t{0}, size_t{16}, size_t{24}, size_t{32 + 8 * 5}, 32 + 8 * count + 100,
                        bytes.size() - 3}) {
    std::string damaged = bytes;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0x10);
    WriteFile(path, damaged);
    auto loaded = PdqIndex::Load(path);
    ASSERT_FALSE(loaded.ok()) << "offset " << offset;
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupt) << "offset " << offset;
    EXPECT_THAT(loaded.status().message(), ::testing::HasSubstr(path.string()));
  }
}

TEST_F(PdqIndexTest, SaveIntoMissingDirectoryFails) {
  PdqIndex index;
  Status status = index.Save(dir_ / "no-such-dir" / "pdq.index");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
}

// Throughput numbers for the lead; asserts nothing about time. Disabled by
// default: run with --gtest_also_run_disabled_tests.
long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(PdqIndexBenchmark, DISABLED_RangeSearchThroughput) {
  std::mt19937_64 rng(99);
  const long rss_before = RssKib();
  PdqIndex index;
  constexpr int kCount = 100000;
  std::vector<Hash256> stored;
  auto build_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    stored.push_back(RandomHash(rng));
    ASSERT_TRUE(index.Add(i + 1, stored.back()).ok());
  }
  double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  std::printf("build %d: %.3f s, RSS +%ld KiB\n", kCount, build_s, RssKib() - rss_before);
  std::vector<Hash256> queries;
  for (int i = 0; i < 2000; ++i) {
    queries.push_back(i % 2 ? RandomHash(rng) : FlipBits(stored[i * 37], 20, false, rng));
  }
  for (int radius : {15, 31, 32, 40}) {
    for (size_t batch : {size_t{1}, size_t{64}}) {
      int n = radius > 31 ? 200 : 2000;
      auto start = std::chrono::steady_clock::now();
      size_t hits = 0;
      for (int i = 0; i < n; i += static_cast<int>(batch)) {
        std::vector<Hash256> q(queries.begin() + i,
                               queries.begin() + std::min<size_t>(n, i + batch));
        for (const auto& r : index.RangeSearch(q, radius).value()) hits += r.size();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("radius %d batch %zu: %.0f queries/s (%zu hits)\n", radius, batch, n / s, hits);
    }
  }
}

}  // namespace
}  // namespace kagami::index
