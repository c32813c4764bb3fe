#include "kagami/index/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>

namespace kagami::index {
namespace {

namespace fs = std::filesystem;
using fingerprint::Hash256;

std::string Sha(uint32_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string sha(64, 'a');
  for (int i = 0; i < 8; ++i) sha[63 - i] = kHex[(n >> (4 * i)) & 15];
  return sha;
}

AssetRecord MakeAsset(uint32_t n) {
  AssetRecord asset;
  asset.work_id = "w1";
  asset.path = "/library/vol" + std::to_string(n) + ".cbz";
  asset.sha256_hex = Sha(n);
  asset.size_bytes = 4096;
  asset.media_type = "application/zip";
  return asset;
}

// `qualities.size()` units with random hashes.
std::vector<UnitRecord> MakeUnits(const std::vector<int>& qualities, std::mt19937_64& rng) {
  std::vector<UnitRecord> units(qualities.size());
  for (size_t i = 0; i < units.size(); ++i) {
    units[i].page_index = static_cast<int>(i);
    units[i].member = std::to_string(i) + ".png";
    for (auto& b : units[i].pdq.bytes) b = static_cast<uint8_t>(rng());
    units[i].quality = qualities[i];
  }
  return units;
}

Status AddWork(Catalog& catalog) {
  Work work;
  work.id = "w1";
  work.title = "Work One";
  work.rights_holder = "Holder";
  return catalog.UpsertWork(work);
}

bool Finds(const PdqIndex& index, int64_t unit_id, const Hash256& hash) {
  auto results = index.RangeSearch({hash}, 0).value();
  for (const IndexHit& hit : results[0]) {
    if (hit.unit_id == unit_id) return true;
  }
  return false;
}

// Every unit with quality >= kMinIndexQuality is found at distance 0, and the
// index holds nothing else.
void ExpectIndexMatchesCatalog(Store& store) {
  int64_t qualifying = 0;
  int64_t max_id = 0;
  Status status =
      store.catalog().ForEachUnitHash([&](int64_t unit_id, const Hash256& hash, int quality) {
        bool found = Finds(store.pdq_index(), unit_id, hash);
        if (quality >= Store::kMinIndexQuality) {
          ++qualifying;
          max_id = unit_id;
          EXPECT_TRUE(found) << "unit " << unit_id << " is missing from the index";
        } else {
          EXPECT_FALSE(found) << "unit " << unit_id << " has quality " << quality;
        }
      });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(store.pdq_index().size(), qualifying);
  EXPECT_EQ(store.pdq_index().max_unit_id(), max_id);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_store_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens the store, creating the work, and registers `assets` assets.
  std::unique_ptr<Store> OpenWithAssets(int assets, bool* rebuilt = nullptr) {
    auto store = Store::Open(dir_, rebuilt);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    EXPECT_TRUE(AddWork((*store)->catalog()).ok());
    for (int i = 0; i < assets; ++i) {
      auto id = (*store)->AddAsset(MakeAsset(next_asset_++), MakeUnits({90, 40, 50, 70}, rng_));
      EXPECT_TRUE(id.ok()) << id.status().ToString();
    }
    return std::move(*store);
  }

  fs::path dir_;
  std::mt19937_64 rng_{5};
  uint32_t next_asset_ = 1;
};

TEST_F(StoreTest, OpenCreatesDirectoryCatalogAndIndex) {
  bool rebuilt = false;
  auto store = Store::Open(dir_ / "nested" / "data", &rebuilt);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE(rebuilt);  // a new, empty store is not a rebuild
  EXPECT_TRUE(fs::exists(dir_ / "nested" / "data" / "catalog.sqlite"));
  EXPECT_TRUE(fs::exists(dir_ / "nested" / "data" / "pdq.index"));
  EXPECT_EQ((*store)->data_dir(), dir_ / "nested" / "data");
}

TEST_F(StoreTest, SavedIndexIsReusedOnReopen) {
  {
    auto store = OpenWithAssets(3);
    ASSERT_NE(store, nullptr);
    ExpectIndexMatchesCatalog(*store);
    ASSERT_TRUE(store->SaveIndex().ok());
  }
  bool rebuilt = true;
  auto store = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE(rebuilt);
  EXPECT_EQ((*store)->pdq_index().size(), 9);  // 3 assets x 3 units with quality >= 50
  ExpectIndexMatchesCatalog(**store);
}

TEST_F(StoreTest, LowQualityUnitsAreNotIndexed) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(AddWork((*store)->catalog()).ok());
  std::vector<UnitRecord> units = MakeUnits({49, 50, 0, 100}, rng_);
  std::vector<int64_t> ids;
  ASSERT_TRUE((*store)->AddAsset(MakeAsset(1), units).ok());
  auto& index = (*store)->pdq_index();
  EXPECT_EQ(index.size(), 2);
  ASSERT_TRUE((*store)
                  ->catalog()
                  .ForEachUnitHash([&](int64_t id, const Hash256&, int) { ids.push_back(id); })
                  .ok());
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_FALSE(Finds(index, ids[0], units[0].pdq));
  EXPECT_TRUE(Finds(index, ids[1], units[1].pdq));
  EXPECT_FALSE(Finds(index, ids[2], units[2].pdq));
  EXPECT_TRUE(Finds(index, ids[3], units[3].pdq));
}

TEST_F(StoreTest, TrailingLowQualityUnitDoesNotMakeTheIndexLookStale) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(AddWork((*store)->catalog()).ok());
    ASSERT_TRUE((*store)->AddAsset(MakeAsset(1), MakeUnits({90, 10}, rng_)).ok());
    ASSERT_TRUE((*store)->SaveIndex().ok());
  }
  bool rebuilt = true;
  auto store = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(rebuilt);
}

TEST_F(StoreTest, FailedAddAssetChangesNothing) {
  auto store = OpenWithAssets(1);
  ASSERT_NE(store, nullptr);
  const int64_t size = store->pdq_index().size();
  auto again = store->AddAsset(MakeAsset(1), MakeUnits({90}, rng_));
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->pdq_index().size(), size);
  ExpectIndexMatchesCatalog(*store);
}

TEST_F(StoreTest, MissingIndexIsRebuilt) {
  {
    auto store = OpenWithAssets(3);
    ASSERT_TRUE(store->SaveIndex().ok());
  }
  fs::remove(dir_ / "pdq.index");
  bool rebuilt = false;
  auto store = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(rebuilt);
  EXPECT_TRUE(fs::exists(dir_ / "pdq.index"));
  ExpectIndexMatchesCatalog(**store);
}

TEST_F(StoreTest, CorruptIndexIsRebuilt) {
  {
    auto store = OpenWithAssets(3);
    ASSERT_TRUE(store->SaveIndex().ok());
  }
  {
    std::fstream file(dir_ / "pdq.index", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x5a');
  }
  bool rebuilt = false;
  auto store = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(rebuilt);
  ExpectIndexMatchesCatalog(**store);
  // The rebuilt index was saved: the next open uses it.
  store->reset();
  auto again = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(rebuilt);
}

TEST_F(StoreTest, StaleIndexAfterUnsavedRegistrationIsRebuilt) {
  {
    auto store = OpenWithAssets(2);
    ASSERT_TRUE(store->SaveIndex().ok());
  }
  // A `register` that committed to the catalog and died before saving the index.
  std::vector<UnitRecord> units = MakeUnits({80, 80, 30}, rng_);
  std::vector<int64_t> new_ids;
  {
    auto catalog = Catalog::Open(dir_ / "catalog.sqlite");
    ASSERT_TRUE(catalog.ok());
    ASSERT_TRUE((*catalog)->AddAsset(MakeAsset(99), units, &new_ids).ok());
  }
  bool rebuilt = false;
  auto store = Store::Open(dir_, &rebuilt);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(rebuilt);
  EXPECT_TRUE(Finds((*store)->pdq_index(), new_ids[0], units[0].pdq));
  EXPECT_TRUE(Finds((*store)->pdq_index(), new_ids[1], units[1].pdq));
  EXPECT_FALSE(Finds((*store)->pdq_index(), new_ids[2], units[2].pdq));
  ExpectIndexMatchesCatalog(**store);
}

TEST_F(StoreTest, NonCatalogFileInDataDirIsCorrupt) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "catalog.sqlite") << "this is not a database, just some text padding it out "
                                            "well past the size of an SQLite header............";
  auto store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
}

// A child process registers assets in a loop and is SIGKILLed at an arbitrary
// point (mid-transaction or mid-save); the parent then opens the store.
TEST_F(StoreTest, SurvivesKilledRegistration) {
  {
    auto store = OpenWithAssets(0);
    ASSERT_NE(store, nullptr);
  }
  constexpr int kSignalsBeforeKill = 25;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: only async-signal-safe exits, never back into gtest.
    close(fds[0]);
    auto store = Store::Open(dir_);
    if (!store.ok()) _exit(2);
    std::mt19937_64 rng(77);
    for (uint32_t i = 0; i < 100000; ++i) {
      auto id = (*store)->AddAsset(MakeAsset(1000 + i), MakeUnits({90, 20, 60, 55, 10}, rng));
      if (!id.ok()) _exit(3);
      if (i % 3 == 0 && !(*store)->SaveIndex().ok()) _exit(4);
      char byte = 1;
      if (write(fds[1], &byte, 1) != 1) _exit(5);
    }
    _exit(0);
  }
  close(fds[1]);
  int committed = 0;
  char byte;
  while (committed < kSignalsBeforeKill && read(fds[0], &byte, 1) == 1) ++committed;
  kill(pid, SIGKILL);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  close(fds[0]);
  ASSERT_EQ(committed, kSignalsBeforeKill) << "child exited early, status " << wstatus;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "status " << wstatus;

  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Status integrity = (*store)->catalog().CheckIntegrity();
  EXPECT_TRUE(integrity.ok()) << integrity.ToString();
  auto works = (*store)->catalog().ListWorks();
  ASSERT_TRUE(works.ok());
  ASSERT_EQ(works->size(), 1u);
  EXPECT_GE((*works)[0].assets, kSignalsBeforeKill);
  EXPECT_EQ((*works)[0].units, 5 * (*works)[0].assets);  // whole assets only
  EXPECT_EQ((*store)->catalog().UnitCount(), (*works)[0].units);
  ExpectIndexMatchesCatalog(**store);
}

TEST(ResolveDataDirTest, FlagThenEnvironmentThenDefault) {
  const char* saved = std::getenv("KAGAMI_DATA");
  std::string saved_value = saved ? saved : "";
  setenv("KAGAMI_DATA", "/env/dir", 1);
  EXPECT_EQ(ResolveDataDir("/flag/dir"), fs::path("/flag/dir"));
  EXPECT_EQ(ResolveDataDir(""), fs::path("/env/dir"));
  unsetenv("KAGAMI_DATA");
  EXPECT_EQ(ResolveDataDir(""), fs::path("./kagami-data"));
  if (saved) setenv("KAGAMI_DATA", saved_value.c_str(), 1);
}

}  // namespace
}  // namespace kagami::index
