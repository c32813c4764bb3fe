#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/pdq_index.h"

namespace kagami::index {

enum class StoreAccess { kRead, kWrite };

struct StoreOpenOptions {
  StoreAccess access = StoreAccess::kWrite;
  // How long a writer waits for another writer to finish before giving up
  // with kAborted (the message names the holder's pid).
  std::chrono::milliseconds lock_wait{std::chrono::minutes(10)};
};

// A data directory: catalog.sqlite plus pdq.index beside it.
//
// Open loads the index and checks it against the catalog (unit count and max
// unit id); when the index is missing, corrupt or stale (e.g. a `register` was
// killed between committing and saving) it is rebuilt from the catalog and
// saved. Units whose quality is below kMinIndexQuality are not indexed.
//
// Used from one thread (writes are serialised by the caller). Several
// processes may open the same directory at once: a writer (kWrite) holds an
// exclusive lock (flock on DIR/writer.lock, released when the Store is
// destroyed or the process dies) from before it reads the catalog until it is
// destroyed, so writers run one after another and each sees the previous one's
// work; readers (kRead) take no lock and keep working beside a writer (SQLite
// WAL readers, and the index is replaced by an atomic rename). A reader that
// finds the index stale rebuilds it in memory, and saves it only if it can
// take the writer lock without waiting.
class Store {
 public:
  static constexpr int kMinIndexQuality = 50;

  using Access = StoreAccess;
  using OpenOptions = StoreOpenOptions;

  // Creates the directory if missing. `rebuilt` (optional) says whether an index
  // had to be rebuilt from a non-empty catalog (false for a brand-new store).
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& data_dir,
                                             bool* rebuilt = nullptr,
                                             const OpenOptions& options = {});
  ~Store();

  Catalog& catalog() { return *catalog_; }
  const PdqIndex& pdq_index() const { return *pdq_index_; }

  // Registers one asset: catalog transaction first, then the units with
  // quality >= kMinIndexQuality are added to the in-memory index. Call
  // SaveIndex() after a batch; if the process dies before that, the next Open
  // finds the index stale and rebuilds it. Writers only (kAborted for kRead).
  Result<int64_t> AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units);
  Status SaveIndex();

  // The derived local index (local.index, inverted_file.h) over the units'
  // local features, for the local stage's gate and verification. Loaded on
  // first call (not by Open), after checking its header against the catalog
  // (count and largest id of units with local features) and the built-in
  // vocabulary; when missing, damaged or stale it is rebuilt from the
  // catalog's blobs (quantised "KLQ" blobs are read as they are; raw
  // descriptor "KLF" blobs of older stores are quantised: the catalog keeps
  // them, the index converts) and saved (by a writer, or by a reader that can
  // take the writer lock without waiting). Pages registered through AddAsset
  // are appended to the file by SaveIndex (every 4096 pages, and at the end),
  // without loading it. Not thread-safe (like the rest of Store); the
  // returned index is immutable while no AddAsset runs.
  Result<const InvertedFile*> LocalIndex();

  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path catalog_path() const { return data_dir_ / kCatalogFileName; }
  std::filesystem::path index_path() const { return data_dir_ / kIndexFileName; }

  static constexpr const char* kCatalogFileName = "catalog.sqlite";
  static constexpr const char* kIndexFileName = "pdq.index";
  static constexpr const char* kLockFileName = "writer.lock";
  static constexpr const char* kLocalIndexFileName = "local.index";
  std::filesystem::path local_index_path() const { return data_dir_ / kLocalIndexFileName; }

 private:
  Store() = default;
  std::filesystem::path data_dir_;
  Access access_ = Access::kWrite;
  int lock_fd_ = -1;  // owned; holds the writer lock while open
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<PdqIndex> pdq_index_;
  // Local index: loaded/rebuilt on demand; pages registered since the last
  // append wait in pending_local_ (not searchable); local_file_pages_ is the
  // page count of a fresh local.index on disk, -1 when missing or stale.
  std::unique_ptr<InvertedFile> local_index_;
  std::unique_ptr<InvertedFile> pending_local_;
  int64_t local_file_pages_ = -1;
  Status FlushLocal();
  Result<std::unique_ptr<InvertedFile>> RebuildLocal();
};

// --data DIR, else $KAGAMI_DATA, else ./kagami-data.
std::filesystem::path ResolveDataDir(const std::string& flag_value);

}  // namespace kagami::index
