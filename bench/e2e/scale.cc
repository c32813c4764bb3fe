// Issue 7's scale benchmark.
//
//   pdq   Kagami's PdqIndex (own multi-index hashing) at growing sizes up to
//         --max-hashes, side by side with FAISS IndexBinaryMultiHash (16 x 16
//         bits, nflip 1: what Kagami used before) up to --faiss-max: build
//         time, heap bytes per hash, radius-31 query time on one thread (random
//         queries, and queries planted 1..31 bits from an indexed hash; every
//         planted neighbour must be found).
//   store A synthetic catalog registered through Store::AddAsset in assets of
//         200 pages (random PDQ hashes, a trimmed hash for half the pages, no
//         local features): registration pages/s, Store::Open time and RSS
//         after open at each size up to --max-pages.
//
// Usage: kagami_bench_scale [--max-hashes N] [--faiss-max N] [--max-pages N]
//                           [--data DIR] [--queries Q]

#include <faiss/IndexBinaryHash.h>
#include <faiss/impl/AuxIndexStructures.h>

#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kagami/index/pdq_index.h"
#include "kagami/index/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kagami::fingerprint::Hash256;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of the calling thread: the machine is shared, so wall time
// overstates a single-threaded query's cost.
double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

Hash256 Random(std::mt19937_64& rng) {
  Hash256 h;
  for (size_t i = 0; i < 32; i += 8) {
    const uint64_t v = rng();
    std::memcpy(h.bytes.data() + i, &v, 8);
  }
  return h;
}

Hash256 Flip(Hash256 h, int bits, std::mt19937_64& rng) {
  std::vector<int> idx(256);
  for (int i = 0; i < 256; ++i) idx[i] = i;
  std::shuffle(idx.begin(), idx.end(), rng);
  for (int i = 0; i < bits; ++i) h.bytes[idx[i] / 8] ^= static_cast<uint8_t>(1u << (idx[i] % 8));
  return h;
}

void PdqBench(int64_t max_hashes, int64_t faiss_max, int queries) {
  std::printf("## PDQ index: radius-31 range queries, one thread\n\n");
  std::printf(
      "| hashes | index | build s | bytes/hash | random query CPU ms | planted query CPU ms | "
      "planted found |\n|---:|---|---:|---:|---:|---:|---:|\n");
  std::mt19937_64 rng(42);
  std::vector<Hash256> codes;
  for (int64_t n = 100'000; n <= max_hashes; n *= 10) {
    while (static_cast<int64_t>(codes.size()) < n) codes.push_back(Random(rng));
    std::vector<Hash256> random_q, planted_q;
    for (int i = 0; i < queries; ++i) {
      random_q.push_back(Random(rng));
      planted_q.push_back(Flip(codes[rng() % codes.size()], 1 + static_cast<int>(rng() % 31), rng));
    }
    {
      auto t = Clock::now();
      kagami::index::PdqIndex index;
      for (int64_t i = 0; i < n; ++i) (void)index.Add(i + 1, codes[i]);
      const double build = Since(t);
      // Save + Load gives the state Store::Open serves (tables fully built).
      const fs::path tmp = fs::temp_directory_path() / "kagami-scale-pdq.index";
      (void)index.Save(tmp);
      auto loaded = kagami::index::PdqIndex::Load(tmp);
      fs::remove(tmp);
      if (!loaded.ok()) {
        std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
        return;
      }
      const kagami::index::PdqIndex& idx = **loaded;
      double ms[2];
      int found = 0;
      for (int k = 0; k < 2; ++k) {
        const std::vector<Hash256>& qs = k == 0 ? random_q : planted_q;
        const double q0 = ThreadCpu();
        for (const Hash256& q : qs) {
          auto r = idx.RangeSearch({q}, 31).value();
          if (k == 1) found += !r[0].empty();
        }
        ms[k] = (ThreadCpu() - q0) * 1e3 / qs.size();
      }
      std::printf("| %lld | Kagami MIH | %.1f | %.1f | %.3f | %.3f | %d/%d |\n",
                  static_cast<long long>(n), build, double(idx.MemoryBytes()) / n, ms[0], ms[1],
                  found, queries);
    }
    if (n <= faiss_max) {
      auto t = Clock::now();
      faiss::IndexBinaryMultiHash mh(256, 16, 16);
      const long rss0 = RssKiB();
      std::vector<uint8_t> buf(static_cast<size_t>(n) * 32 + 8, 0);
      for (int64_t i = 0; i < n; ++i) std::memcpy(buf.data() + i * 32, codes[i].bytes.data(), 32);
      mh.add(n, buf.data());
      const double build = Since(t);
      const double bytes = (RssKiB() - rss0) * 1024.0 / n;
      mh.nflip = 1;
      double ms[2];
      int found = 0;
      for (int k = 0; k < 2; ++k) {
        const std::vector<Hash256>& qs = k == 0 ? random_q : planted_q;
        const double q0 = ThreadCpu();
        for (const Hash256& q : qs) {
          uint8_t qb[40] = {};
          std::memcpy(qb, q.bytes.data(), 32);
          faiss::RangeSearchResult res(1);
          mh.range_search(1, qb, 32, &res);
          if (k == 1) found += res.lims[1] > 0;
        }
        ms[k] = (ThreadCpu() - q0) * 1e3 / qs.size();
      }
      std::printf(
          "| %lld | FAISS IndexBinaryMultiHash (peer) | %.1f | %.0f (RSS growth) | %.3f | "
          "%.3f | %d/%d |\n",
          static_cast<long long>(n), build, bytes, ms[0], ms[1], found, queries);
    }
    std::fflush(stdout);
  }
}

void StoreBench(const fs::path& data, int64_t max_pages) {
  std::printf("\n## Store: synthetic catalog (random PDQ, no local features)\n\n");
  std::printf(
      "| pages | register pages/s (this step) | Store::Open s | RSS after open MiB | "
      "catalog MiB | pdq.index MiB |\n|---:|---:|---:|---:|---:|---:|\n");
  fs::remove_all(data);
  std::mt19937_64 rng(7);
  int64_t pages = 0;
  int asset = 0;
  for (int64_t target = 10'000; target <= max_pages; target *= 10) {
    double reg_s;
    {
      auto store = kagami::index::Store::Open(data);
      if (!store.ok()) {
        std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
        return;
      }
      (void)(*store)->catalog().UpsertWork({"w", "Work", "", kagami::index::WorkKind::kManga, {}});
      const int64_t before = pages;
      auto t = Clock::now();
      while (pages < target) {
        kagami::index::AssetRecord a;
        a.work_id = "w";
        char sha[65];
        std::snprintf(sha, sizeof sha, "%064x", ++asset);
        a.sha256_hex = sha;
        a.path = "/synthetic/" + std::to_string(asset) + ".cbz";
        a.media_type = "application/vnd.comicbook+zip";
        std::vector<kagami::index::UnitRecord> units(200);
        for (int i = 0; i < 200; ++i) {
          units[i].page_index = i;
          units[i].member = std::to_string(i) + ".jpg";
          units[i].pdq = Random(rng);
          units[i].quality = 100;
          if (i % 2) {
            units[i].pdq_trimmed = Random(rng);
            units[i].trimmed_quality = 100;
          }
        }
        auto r = (*store)->AddAsset(a, units);
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
          return;
        }
        pages += 200;
      }
      (void)(*store)->SaveIndex();
      reg_s = Since(t);
      reg_s = (pages - before) / reg_s;
    }
    const long rss0 = RssKiB();
    auto t = Clock::now();
    bool rebuilt = false;
    auto store = kagami::index::Store::Open(data, &rebuilt);
    const double open_s = Since(t);
    const long rss1 = RssKiB();
    std::printf("| %lld | %.0f | %.3f%s | %.0f (+%.0f) | %.0f | %.0f |\n",
                static_cast<long long>(pages), reg_s, open_s, rebuilt ? " (rebuilt!)" : "",
                rss1 / 1024.0, (rss1 - rss0) / 1024.0,
                fs::file_size(data / "catalog.sqlite") / 1048576.0,
                fs::file_size(data / "pdq.index") / 1048576.0);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t max_hashes = 10'000'000, faiss_max = 1'000'000, max_pages = 1'000'000;
  int queries = 200;
  fs::path data = fs::temp_directory_path() / "kagami-scale-store";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--max-hashes") max_hashes = std::atoll(argv[i + 1]);
    if (flag == "--faiss-max") faiss_max = std::atoll(argv[i + 1]);
    if (flag == "--max-pages") max_pages = std::atoll(argv[i + 1]);
    if (flag == "--queries") queries = std::atoi(argv[i + 1]);
    if (flag == "--data") data = argv[i + 1];
  }
  omp_set_num_threads(1);  // one thread for the peer too
  PdqBench(max_hashes, faiss_max, queries);
  if (max_pages > 0) StoreBench(data, max_pages);
  return 0;
}
