#include "kagami/index/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include "kagami/fingerprint/quantised_features.h"
#include "kagami/fingerprint/visual_vocabulary.h"

namespace kagami::index {

namespace {

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

// Opens (creating) the lock file and takes the exclusive lock, waiting up to
// `wait` (0: try once). Returns the locked fd, or -1 in *fd when busy.
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

std::string LockHolder(const std::filesystem::path& lock_path) {
  std::ifstream in(lock_path);
  std::string pid;
  in >> pid;
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

Store::~Store() {
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
    if (!units[i].local_features.empty()) {
      const fingerprint::QuantisedFeatures q = ToQuantised(units[i].local_features);
      if (local_index_) local_index_->Add(unit_ids[i], q);
      pending_local_->Add(unit_ids[i], q);
    }
  }
  if (pending_local_->pages() >= kLocalAppendPages) KAGAMI_RETURN_IF_ERROR(FlushLocal());
  return asset_id;
}

Status Store::SaveIndex() {
  if (access_ != Access::kWrite) return Status::Aborted("the store was opened read-only");
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

std::filesystem::path ResolveDataDir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("KAGAMI_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return std::filesystem::path(".") / "kagami-data";
}

}  // namespace kagami::index
