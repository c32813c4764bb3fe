#include "kagami/index/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "kagami/fingerprint/quantised_features.h"
#include "kagami/fingerprint/visual_vocabulary.h"
#include "kagami/index/pg_catalog.h"
#include "kagami/store/pg_connection.h"
#include "store_internal.h"

namespace kagami::index {

namespace internal {

Status LockWriter(const std::filesystem::path& lock_path, std::chrono::milliseconds wait,
                  int* fd_out) {
  *fd_out = -1;
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "opening lock file " + lock_path.string());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto sleep = std::chrono::milliseconds(5);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Status status = ErrnoStatus(errno, "locking " + lock_path.string());
      ::close(fd);
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return Status::Ok();  // busy
    }
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::milliseconds(200));
  }
  // Record the holder for the "busy" message (best effort; the lock is the flock).
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  *fd_out = fd;
  return Status::Ok();
}

}  // namespace internal

namespace {

using internal::LockWriter;

constexpr int64_t kLocalAppendPages = 4096;

// A unit's local-features blob as the local index stores it (empty features
// for blobs that cannot be used: damaged, another detector).
fingerprint::QuantisedFeatures ToQuantised(std::span<const uint8_t> blob) {
  const fingerprint::VisualVocabulary& vocabulary = fingerprint::VisualVocabulary::BuiltIn();
  if (fingerprint::QuantisedFeatures::IsQuantisedBlob(blob)) {
    Result<fingerprint::QuantisedFeatures> q = fingerprint::QuantisedFeatures::Deserialize(blob);
    if (q.ok()) return std::move(q).value();
  } else {
    Result<fingerprint::LocalFeatures> raw = fingerprint::LocalFeatures::Deserialize(blob);
    if (raw.ok() && raw->kind == fingerprint::FeatureKind::kOrb) {
      return fingerprint::Quantise(*raw, vocabulary);
    }
  }
  fingerprint::QuantisedFeatures empty;
  empty.vocabulary_id = vocabulary.id();
  return empty;
}

Result<std::unique_ptr<PdqIndex>> BuildIndex(Catalog& catalog) {
  auto index = std::make_unique<PdqIndex>();
  Status added;
  KAGAMI_RETURN_IF_ERROR(
      catalog.ForEachUnitHash([&](int64_t unit_id, const fingerprint::Hash256& hash, int quality) {
        if (added.ok() && quality >= Store::kMinIndexQuality) added = index->Add(unit_id, hash);
      }));
  KAGAMI_RETURN_IF_ERROR(added);
  return index;
}

std::string LockHolder(const std::filesystem::path& lock_path) {
  std::ifstream in(lock_path);
  std::string pid;
  in >> pid;
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

Store::~Store() {
  listen_.reset();
  // Closing the descriptor releases the flock.
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& data_dir, bool* rebuilt,
                                           const OpenOptions& options) {
  if (rebuilt != nullptr) *rebuilt = false;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return ErrnoStatus(ec.value(), "creating data directory " + data_dir.string());

  std::unique_ptr<Store> store(new Store());
  store->data_dir_ = data_dir;
  store->access_ = options.access;
  if (!options.catalog_conninfo.empty()) {
    store->catalog_conninfo_ = options.catalog_conninfo;
    KAGAMI_ASSIGN_OR_RETURN(store->catalog_, OpenPgCatalog(options.catalog_conninfo));
    return OpenShared(std::move(store), rebuilt);
  }
  const std::filesystem::path lock_path = data_dir / kLockFileName;
  if (options.access == Access::kWrite) {
    KAGAMI_RETURN_IF_ERROR(LockWriter(lock_path, options.lock_wait, &store->lock_fd_));
    if (store->lock_fd_ < 0) {
      return Status::Aborted("data directory " + data_dir.string() +
                             " is in use by another writer (pid " + LockHolder(lock_path) +
                             "); try again when it has finished");
    }
  }
  KAGAMI_ASSIGN_OR_RETURN(store->catalog_, Catalog::Open(store->catalog_path()));
  KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats stats,
                          store->catalog_->GetIndexStats(kMinIndexQuality));

  store->pending_local_ =
      std::make_unique<InvertedFile>(fingerprint::VisualVocabulary::BuiltIn().id(), false);
  if (options.access == Access::kWrite) {
    // Only the header: registration appends to a fresh file without loading it.
    auto header = InvertedFile::ReadHeader(store->local_index_path());
    if (header.ok() && header->vocabulary_id == fingerprint::VisualVocabulary::BuiltIn().id()) {
      KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats local, store->catalog_->GetLocalFeatureStats());
      if (header->pages == local.count && header->max_unit_id == local.max_unit_id) {
        store->local_file_pages_ = header->pages;
      }
    }
  }

  auto loaded = PdqIndex::Load(store->index_path());
  if (loaded.ok()) {
    if ((*loaded)->size() == stats.count && (*loaded)->max_unit_id() == stats.max_unit_id) {
      store->pdq_index_ = std::move(*loaded);
      return store;
    }
    // Stale: a registration committed to the catalog but its index was not saved.
  } else {
    // The index is derived data: rebuild it when it is missing or unreadable,
    // but report errors that a rebuild cannot fix (permissions, I/O).
    StatusCode code = loaded.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return loaded.status();
    }
  }

  KAGAMI_ASSIGN_OR_RETURN(store->pdq_index_, BuildIndex(*store->catalog_));
  store->full_rebuilds_ = 1;
  store->last_refresh_.full_rebuild = true;
  store->last_refresh_.hashes_added = store->pdq_index_->size();
  if (options.access == Access::kWrite) {
    KAGAMI_RETURN_IF_ERROR(store->SaveIndex());
  } else {
    // A reader saves the rebuilt index only when no writer is active; a
    // writer will save its own otherwise.
    int fd = -1;
    if (LockWriter(lock_path, std::chrono::milliseconds(0), &fd).ok() && fd >= 0) {
      Status saved = store->pdq_index_->Save(store->index_path());
      ::close(fd);
      KAGAMI_RETURN_IF_ERROR(saved);
    }
  }
  // A new, empty store gets its (empty) index without counting as a rebuild.
  if (rebuilt != nullptr) *rebuilt = stats.count > 0 || loaded.ok();
  return store;
}

Result<int64_t> Store::AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units) {
  if (access_ != Access::kWrite) return Status::Aborted("the store was opened read-only");
  std::vector<int64_t> unit_ids;
  KAGAMI_ASSIGN_OR_RETURN(int64_t asset_id, catalog_->AddAsset(asset, units, &unit_ids));
  // A shared catalog's units reach the index by high-water mark only (other
  // writers' smaller ids may still be uncommitted): SaveIndex refreshes.
  if (shared()) return asset_id;
  assert(unit_ids.size() == units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    // The catalog is committed; an index that cannot take the unit is derived
    // data, rebuilt from the catalog by the next Open.
    if (units[i].quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(pdq_index_->Add(unit_ids[i], units[i].pdq));
    }
    if (units[i].pdq_trimmed && units[i].trimmed_quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(pdq_index_->Add(unit_ids[i], *units[i].pdq_trimmed));
    }
    if (units[i].pdq_blurred && units[i].blurred_quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(pdq_index_->Add(unit_ids[i], *units[i].pdq_blurred));
    }
    if (!units[i].local_features.empty()) {
      const fingerprint::QuantisedFeatures q = ToQuantised(units[i].local_features);
      if (local_index_) local_index_->Add(unit_ids[i], q);
      pending_local_->Add(unit_ids[i], q);
    }
  }
  if (pending_local_->pages() >= kLocalAppendPages) KAGAMI_RETURN_IF_ERROR(FlushLocal());
  return asset_id;
}

Result<Catalog::BlurredBackfill> Store::AddMissingBlurredHashes(
    const std::string& sha256_hex, const std::vector<UnitRecord>& units) {
  if (access_ != Access::kWrite) return Status::Aborted("the store was opened read-only");
  KAGAMI_ASSIGN_OR_RETURN(Catalog::BlurredBackfill backfill,
                          catalog_->AddMissingBlurredHashes(sha256_hex, units));
  if (shared()) return backfill;
  for (const Catalog::BackfilledHash& b : backfill.filled) {
    if (b.quality >= kMinIndexQuality) KAGAMI_RETURN_IF_ERROR(pdq_index_->Add(b.unit_id, b.hash));
  }
  return backfill;
}

Status Store::SaveIndex() {
  if (access_ != Access::kWrite) return Status::Aborted("the store was opened read-only");
  if (shared()) return Status::Ok();  // writers keep no index (store.h)
  KAGAMI_RETURN_IF_ERROR(pdq_index_->Save(index_path()));
  return FlushLocal();
}

Status Store::FlushLocal() {
  if (pending_local_->pages() == 0) return Status::Ok();
  const uint32_t vocabulary = fingerprint::VisualVocabulary::BuiltIn().id();
  if (local_file_pages_ >= 0) {
    Status appended = pending_local_->AppendTo(local_index_path(), local_file_pages_);
    if (appended.ok()) {
      local_file_pages_ += pending_local_->pages();
      pending_local_ = std::make_unique<InvertedFile>(vocabulary, false);
      return Status::Ok();
    }
    if (appended.code() != StatusCode::kAborted && appended.code() != StatusCode::kCorrupt &&
        appended.code() != StatusCode::kNotFound) {
      return appended;
    }
  }
  // Missing or stale: write the whole index (the catalog holds every page).
  if (!local_index_) {
    KAGAMI_ASSIGN_OR_RETURN(local_index_, RebuildLocal());
  }
  KAGAMI_RETURN_IF_ERROR(local_index_->Save(local_index_path()));
  local_file_pages_ = local_index_->pages();
  pending_local_ = std::make_unique<InvertedFile>(vocabulary, false);
  return Status::Ok();
}

Result<std::unique_ptr<InvertedFile>> Store::RebuildLocal() {
  auto index = std::make_unique<InvertedFile>(fingerprint::VisualVocabulary::BuiltIn().id());
  KAGAMI_RETURN_IF_ERROR(
      catalog_->ForEachLocalFeatures([&](int64_t unit_id, const std::vector<uint8_t>& blob) {
        index->Add(unit_id, ToQuantised(blob));
      }));
  return index;
}

Result<const InvertedFile*> Store::LocalIndex() {
  if (local_index_) return local_index_.get();
  if (shared()) return LoadSharedLocal();
  const uint32_t vocabulary = fingerprint::VisualVocabulary::BuiltIn().id();
  KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats stats, catalog_->GetLocalFeatureStats());
  auto header = InvertedFile::ReadHeader(local_index_path());
  if (header.ok() && header->vocabulary_id == vocabulary && header->pages == stats.count &&
      header->max_unit_id == stats.max_unit_id) {
    auto loaded = InvertedFile::Load(local_index_path());
    if (loaded.ok()) {
      local_index_ = std::move(loaded).value();
      return local_index_.get();
    }
    const StatusCode code = loaded.status().code();
    if (code != StatusCode::kCorrupt && code != StatusCode::kUnsupported) return loaded.status();
  } else if (!header.ok()) {
    const StatusCode code = header.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return header.status();
    }
  }
  KAGAMI_ASSIGN_OR_RETURN(local_index_, RebuildLocal());
  // Pages registered by this process are in the catalog, hence in the rebuild.
  pending_local_ = std::make_unique<InvertedFile>(vocabulary, false);
  if (access_ == Access::kWrite) {
    KAGAMI_RETURN_IF_ERROR(local_index_->Save(local_index_path()));
    local_file_pages_ = local_index_->pages();
  } else {
    int fd = -1;
    if (LockWriter(data_dir_ / kLockFileName, std::chrono::milliseconds(0), &fd).ok() && fd >= 0) {
      Status saved = local_index_->Save(local_index_path());
      ::close(fd);
      KAGAMI_RETURN_IF_ERROR(saved);
    }
  }
  return local_index_.get();
}

namespace {

constexpr std::string_view kHighWaterMagic = "kagami-index-hwm 1";

// The high-water mark recorded for `identity`; nullopt when the file is
// missing, malformed or made for another catalog.
std::optional<int64_t> ReadHighWater(const std::filesystem::path& path,
                                     const std::string& identity) {
  std::ifstream in(path);
  std::string magic, id, mark;
  if (!std::getline(in, magic) || !std::getline(in, id) || !std::getline(in, mark)) {
    return std::nullopt;
  }
  if (magic != kHighWaterMagic || id != identity || mark.empty() || mark.size() > 19) {
    return std::nullopt;
  }
  for (char c : mark)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoll(mark);
}

Status WriteHighWater(const std::filesystem::path& path, const std::string& identity,
                      int64_t mark) {
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kHighWaterMagic << '\n' << identity << '\n' << mark << '\n';
    out.flush();
    if (!out) return Status::IoError("writing " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ErrnoStatus(ec.value(), "renaming " + tmp.string() + " to " + path.string());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenShared(std::unique_ptr<Store> store, bool* rebuilt) {
  KAGAMI_ASSIGN_OR_RETURN(store->catalog_identity_, store->catalog_->Identity());
  store->pending_local_ =
      std::make_unique<InvertedFile>(fingerprint::VisualVocabulary::BuiltIn().id(), false);
  if (store->access_ == Access::kWrite) {
    store->pdq_index_ = std::make_unique<PdqIndex>();
    return store;
  }
  // Listen before reading, so that nothing committed after the read below
  // goes unannounced. Best effort: without it the caller's poll still refreshes.
  auto listen = store::PgConnection::Connect(store->catalog_conninfo_);
  if (listen.ok() && (*listen)->Exec("LISTEN kagami_catalog").ok()) {
    store->listen_ = std::move(*listen);
  }
  const std::filesystem::path hwm_path = store->data_dir_ / kHighWaterFileName;
  auto loaded = PdqIndex::Load(store->index_path());
  std::optional<int64_t> mark = ReadHighWater(hwm_path, store->catalog_identity_);
  bool usable = loaded.ok() && mark.has_value();
  // The local index cache has no identity of its own: it is trusted only
  // beside a high-water file naming this catalog.
  store->local_cache_trusted_ = mark.has_value();
  if (!loaded.ok()) {
    StatusCode code = loaded.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return loaded.status();
    }
  }
  if (usable) {
    // The cache must hold exactly the catalog's indexable hashes up to the mark.
    KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats stats,
                            store->catalog_->GetIndexStats(kMinIndexQuality, *mark));
    usable = (*loaded)->size() == stats.count && (*loaded)->max_unit_id() == stats.max_unit_id;
  }
  if (usable) {
    store->pdq_index_ = std::move(*loaded);
    store->last_refresh_.high_water = *mark;
    KAGAMI_RETURN_IF_ERROR(store->Refresh().status());
  } else {
    KAGAMI_RETURN_IF_ERROR(store->RebuildShared());
  }
  if (rebuilt != nullptr) {
    *rebuilt = store->last_refresh_.full_rebuild && store->last_refresh_.units_read > 0;
  }
  // Persist what was read, so that the next Open starts from here. Best
  // effort, as a reader's save of an embedded index: a cache that cannot be
  // written (read-only directory, disk full) costs the next Open a longer
  // read, never this one its scan.
  if (store->last_refresh_.units_read > 0 || !usable) (void)store->SaveSharedCache();
  return store;
}

Status Store::RebuildShared() {
  pdq_index_ = std::make_unique<PdqIndex>();
  last_refresh_ = IndexRefresh{};
  KAGAMI_ASSIGN_OR_RETURN(IndexRefresh refresh, Refresh());
  refresh.full_rebuild = true;
  last_refresh_ = refresh;
  ++full_rebuilds_;
  return Status::Ok();
}

Result<IndexRefresh> Store::Refresh() {
  IndexRefresh refresh;
  refresh.high_water = last_refresh_.high_water;
  if (!shared() || access_ == Access::kWrite) return refresh;
  Status added;
  KAGAMI_RETURN_IF_ERROR(catalog_->ForEachUnitHashAfter(
      refresh.high_water, [&](int64_t unit_id, const fingerprint::Hash256& hash, int quality) {
        if (unit_id > refresh.high_water) {
          refresh.high_water = unit_id;
          ++refresh.units_read;
        }
        if (added.ok() && quality >= kMinIndexQuality) {
          added = pdq_index_->Add(unit_id, hash);
          if (added.ok()) ++refresh.hashes_added;
        }
      }));
  if (!added.ok()) {
    // The in-memory index is now partial: rebuild it whole on the next Open.
    last_refresh_.high_water = 0;
    return added.WithContext("refreshing the index from the catalog");
  }
  // The local index, once loaded, takes the new pages' features too (the
  // pointer LocalIndex() returned stays valid), and its cache file gets them
  // appended (best effort, without waiting for another process's save).
  if (local_index_ && refresh.units_read > 0) {
    InvertedFile fresh(fingerprint::VisualVocabulary::BuiltIn().id(), false);
    KAGAMI_RETURN_IF_ERROR(catalog_->ForEachLocalFeatures(
        [&](int64_t unit_id, const std::vector<uint8_t>& blob) {
          if (unit_id <= local_index_->max_unit_id()) return;  // read when it was loaded
          const fingerprint::QuantisedFeatures q = ToQuantised(blob);
          local_index_->Add(unit_id, q);
          fresh.Add(unit_id, q);
        },
        std::max(last_refresh_.high_water, local_index_->max_unit_id())));
    if (fresh.pages() > 0) (void)SaveSharedLocal(fresh, std::chrono::milliseconds(0));
  }
  last_refresh_ = refresh;
  return refresh;
}

bool Store::CatalogChanged() {
  if (!listen_) return false;
  PGconn* conn = listen_->raw();
  if (PQconsumeInput(conn) == 0) {
    listen_.reset();  // the connection broke: polling only from now on
    return false;
  }
  bool changed = false;
  while (PGnotify* n = PQnotifies(conn)) {
    changed = true;
    PQfreemem(n);
  }
  return changed;
}

Result<const InvertedFile*> Store::LoadSharedLocal() {
  const uint32_t vocabulary = fingerprint::VisualVocabulary::BuiltIn().id();
  const std::filesystem::path path = local_index_path();
  last_local_load_ = IndexRefresh{};
  std::unique_ptr<InvertedFile> index;
  local_file_pages_ = -1;
  if (local_cache_trusted_) {
    auto header = InvertedFile::ReadHeader(path);
    if (header.ok() && header->vocabulary_id == vocabulary) {
      // The cache must hold exactly the catalog's pages with features up to its largest id;
      // then only the pages above that are read (registered elsewhere since it was saved).
      KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats upto,
                              catalog_->GetLocalFeatureStats(header->max_unit_id));
      if (upto.count == header->pages && upto.max_unit_id == header->max_unit_id) {
        auto loaded = InvertedFile::Load(path);
        if (loaded.ok() && (*loaded)->pages() == header->pages) {
          index = std::move(loaded).value();
          local_file_pages_ = header->pages;
        } else if (!loaded.ok()) {
          const StatusCode code = loaded.status().code();
          if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
              code != StatusCode::kUnsupported) {
            return loaded.status();
          }
        }
      }
    } else if (!header.ok()) {
      const StatusCode code = header.status().code();
      if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
          code != StatusCode::kUnsupported) {
        return header.status();
      }
    }
  }
  if (!index) {
    index = std::make_unique<InvertedFile>(vocabulary);
    last_local_load_.full_rebuild = true;
  }
  const int64_t after = index->max_unit_id();
  InvertedFile fresh(vocabulary, false);
  KAGAMI_RETURN_IF_ERROR(catalog_->ForEachLocalFeatures(
      [&](int64_t unit_id, const std::vector<uint8_t>& blob) {
        const fingerprint::QuantisedFeatures q = ToQuantised(blob);
        index->Add(unit_id, q);
        if (local_file_pages_ >= 0) fresh.Add(unit_id, q);
        ++last_local_load_.units_read;
        ++last_local_load_.hashes_added;
        last_local_load_.high_water = unit_id;
      },
      after));
  if (last_local_load_.high_water == 0) last_local_load_.high_water = after;
  local_index_ = std::move(index);
  pending_local_ = std::make_unique<InvertedFile>(vocabulary, false);
  // Best effort, as the PDQ cache: a cache that cannot be written costs the
  // next start a longer read, never this one its scan.
  if (last_local_load_.units_read > 0 || local_file_pages_ < 0) {
    (void)SaveSharedLocal(fresh, std::chrono::seconds(30));
  }
  return local_index_.get();
}

Status Store::SaveSharedLocal(const InvertedFile& fresh, std::chrono::milliseconds wait) {
  int fd = -1;
  KAGAMI_RETURN_IF_ERROR(LockWriter(data_dir_ / kLockFileName, wait, &fd));
  if (fd < 0) {
    // Another process is saving: this one's pages are not in the file, so
    // its next save writes the whole index.
    local_file_pages_ = -1;
    return Status::Ok();
  }
  Status saved;
  if (local_file_pages_ >= 0) {
    saved = fresh.AppendTo(local_index_path(), local_file_pages_);
    if (saved.ok()) local_file_pages_ += fresh.pages();
  }
  if (local_file_pages_ < 0 || !saved.ok()) {
    // Missing, stale or changed by another process: write the whole index.
    saved = local_index_->Save(local_index_path());
    local_file_pages_ = saved.ok() ? local_index_->pages() : -1;
  }
  ::close(fd);
  return saved;
}

Status Store::SaveSharedCache() {
  int fd = -1;
  KAGAMI_RETURN_IF_ERROR(LockWriter(data_dir_ / kLockFileName, std::chrono::seconds(30), &fd));
  if (fd < 0) return Status::Ok();  // another process is saving its (equally valid) cache
  // Index first, then the mark: a crash between the two leaves a mark below the
  // index's content, which Open detects (count mismatch) and rebuilds.
  Status saved = pdq_index_->Save(index_path());
  if (saved.ok()) {
    saved =
        WriteHighWater(data_dir_ / kHighWaterFileName, catalog_identity_, last_refresh_.high_water);
  }
  ::close(fd);
  return saved;
}

std::filesystem::path ResolveDataDir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("KAGAMI_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return std::filesystem::path(".") / "kagami-data";
}

}  // namespace kagami::index
