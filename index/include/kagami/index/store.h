#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/pdq_index.h"

namespace kagami::store {
class PgConnection;
}

namespace kagami::index {

enum class StoreAccess { kRead, kWrite };

struct StoreOpenOptions {
  StoreAccess access = StoreAccess::kWrite;
  // How long a writer waits for another writer to finish before giving up
  // with kAborted (the message names the holder's pid).
  std::chrono::milliseconds lock_wait{std::chrono::minutes(10)};
  // Where the catalog lives: "" for catalog.sqlite in the data directory (the
  // default), else a PostgreSQL conninfo (postgresql://... or key=value): the
  // catalog shared by many machines, the data directory then only a local
  // cache of the derived index.
  std::string catalog_conninfo{};
};

// What an index load or refresh did (Store::last_refresh()).
struct IndexRefresh {
  bool full_rebuild = false;  // the index was rebuilt from the whole catalog
  int64_t units_read = 0;     // catalog units read (those above the high-water mark)
  int64_t hashes_added = 0;   // hashes added to the index
  int64_t high_water = 0;     // the largest unit id read into the index so far
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
//
// With a shared catalog (OpenOptions::catalog_conninfo, PostgreSQL) many
// processes on many machines register and scan at once: the catalog
// serialises writers itself, so no writer lock is held, and the data
// directory keeps this node's cache of the index: pdq-shared.index
// plus pdq-shared.index.hwm (the catalog's identity and the high-water mark, the largest
// unit id read into the index). Open loads the cache and reads only the units
// above the mark (an incremental refresh); the cache is rebuilt from the whole
// catalog only when it is missing, damaged, made for another catalog, or does
// not hold exactly the catalog's hashes up to the mark. Refresh() does the
// same for a long-lived process (a crawl worker between batches). A writer's
// AddAsset goes to the catalog only, and a writer loads no index at all (a
// registering machine never reads the whole catalog): its pdq_index() is
// empty, Refresh() and SaveIndex() do nothing.
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
  // Gives the registered asset's pages without a blurred hash the ones of
  // `units` (the same file extracted again; Catalog::AddMissingBlurredHashes
  // says which pages qualify), then adds those of quality >= kMinIndexQuality
  // to the in-memory index (SaveIndex() persists it; an unsaved index is found
  // stale by the next Open, which rebuilds it). A shared catalog's other
  // machines take the hashes when they next open the store (their cached
  // index no longer counts the catalog's hashes, so it is rebuilt). Writers
  // only (kAborted for kRead).
  Result<Catalog::BlurredBackfill> AddMissingBlurredHashes(const std::string& sha256_hex,
                                                           const std::vector<UnitRecord>& units);

  // Whether the catalog is shared with other machines (PostgreSQL).
  bool shared() const { return catalog_->shared(); }
  // The shared catalog's conninfo (OpenOptions::catalog_conninfo); "" for embedded.
  const std::string& catalog_conninfo() const { return catalog_conninfo_; }
  // Whether this Store was opened for writing (registration).
  bool writer() const { return access_ == Access::kWrite; }
  // Shared catalogs: adds the units registered since the high-water mark to
  // the in-memory index (SaveIndex() or the next Open persists it). A no-op
  // for an embedded catalog. Needs exclusive access: no search may run
  // concurrently (PdqIndex::Add).
  Result<IndexRefresh> Refresh();
  // Shared catalogs: whether a registration on another machine was announced
  // (PostgreSQL NOTIFY on channel "kagami_catalog", sent by every page and
  // video insert at commit) since the last call. Never waits: it reads what
  // the server has already sent on a listening connection of its own. False
  // for an embedded catalog, a writer, or when listening failed: the caller's
  // high-water poll (Refresh() every so often) stays the fallback, since a
  // notification can be missed (a dropped connection).
  bool CatalogChanged();
  // What the last Open or Refresh did.
  const IndexRefresh& last_refresh() const { return last_refresh_; }
  // Full index rebuilds since Open (including one done by Open itself).
  int64_t full_rebuilds() const { return full_rebuilds_; }
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
  // What the last LocalIndex() load did (shared catalogs: a cache
  // local-shared.index that holds the catalog's pages up to its largest unit
  // id is loaded and only the pages above it are read from the catalog, then
  // appended to the file; anything else is a full rebuild).
  const IndexRefresh& last_local_load() const { return last_local_load_; }

  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path catalog_path() const { return data_dir_ / kCatalogFileName; }
  // pdq.index, or pdq-shared.index for a shared catalog's cache (so that a
  // data directory may hold both an embedded store and a shared cache).
  std::filesystem::path index_path() const {
    return data_dir_ / (catalog_identity_.empty() ? kIndexFileName : kSharedIndexFileName);
  }

  static constexpr const char* kCatalogFileName = "catalog.sqlite";
  static constexpr const char* kIndexFileName = "pdq.index";
  static constexpr const char* kLockFileName = "writer.lock";
  static constexpr const char* kSharedIndexFileName = "pdq-shared.index";
  static constexpr const char* kHighWaterFileName = "pdq-shared.index.hwm";
  static constexpr const char* kLocalIndexFileName = "local.index";
  // local.index, or local-shared.index for a shared catalog's cache.
  std::filesystem::path local_index_path() const {
    return data_dir_ / (catalog_identity_.empty() ? kLocalIndexFileName : "local-shared.index");
  }

 private:
  Store() = default;
  static Result<std::unique_ptr<Store>> OpenShared(std::unique_ptr<Store> store, bool* rebuilt);
  // Shared catalogs: rebuilds the index from the whole catalog.
  Status RebuildShared();
  // Shared catalogs: saves pdq.index and then pdq.index.hwm, under the data
  // directory's lock (skipped if another process holds it for long).
  Status SaveSharedCache();
  std::filesystem::path data_dir_;
  Access access_ = Access::kWrite;
  int lock_fd_ = -1;  // owned; holds the writer lock while open
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<PdqIndex> pdq_index_;
  std::string catalog_identity_;                 // shared catalogs
  std::string catalog_conninfo_;                 // shared catalogs
  std::unique_ptr<store::PgConnection> listen_;  // shared readers: LISTEN kagami_catalog
  IndexRefresh last_refresh_;
  int64_t full_rebuilds_ = 0;
  // Local index: loaded/rebuilt on demand; pages registered since the last
  // append wait in pending_local_ (not searchable); local_file_pages_ is the
  // page count of a fresh local.index on disk, -1 when missing or stale.
  std::unique_ptr<InvertedFile> local_index_;
  std::unique_ptr<InvertedFile> pending_local_;
  int64_t local_file_pages_ = -1;
  Status FlushLocal();
  Result<std::unique_ptr<InvertedFile>> RebuildLocal();
  // Shared catalogs: LocalIndex() from the cache plus the pages above it.
  Result<const InvertedFile*> LoadSharedLocal();
  // Shared catalogs: appends `fresh` (the pages just added to local_index_)
  // to the cache file, or writes the whole index when the file is not known
  // to hold exactly local_file_pages_ pages; under writer.lock, waiting up to
  // `wait` (skipped when busy).
  Status SaveSharedLocal(const InvertedFile& fresh, std::chrono::milliseconds wait);
  bool local_cache_trusted_ = false;  // shared: the .hwm names this catalog
  IndexRefresh last_local_load_;
};

// --data DIR, else $KAGAMI_DATA, else ./kagami-data.
std::filesystem::path ResolveDataDir(const std::string& flag_value);

}  // namespace kagami::index
