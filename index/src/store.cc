#include "kagami/index/store.h"

#include <cstdlib>
#include <system_error>

namespace kagami::index {

namespace {

Result<std::unique_ptr<PdqIndex>> BuildIndex(Catalog& catalog) {
  auto index = std::make_unique<PdqIndex>();
  KAGAMI_RETURN_IF_ERROR(
      catalog.ForEachUnitHash([&](int64_t unit_id, const fingerprint::Hash256& hash, int quality) {
        if (quality >= Store::kMinIndexQuality) index->Add(unit_id, hash);
      }));
  return index;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& data_dir, bool* rebuilt) {
  if (rebuilt != nullptr) *rebuilt = false;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return ErrnoStatus(ec.value(), "creating data directory " + data_dir.string());

  std::unique_ptr<Store> store(new Store());
  store->data_dir_ = data_dir;
  KAGAMI_ASSIGN_OR_RETURN(store->catalog_, Catalog::Open(store->catalog_path()));
  KAGAMI_ASSIGN_OR_RETURN(Catalog::UnitStats stats,
                          store->catalog_->GetIndexStats(kMinIndexQuality));

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
  KAGAMI_RETURN_IF_ERROR(store->SaveIndex());
  // A new, empty store gets its (empty) index without counting as a rebuild.
  if (rebuilt != nullptr) *rebuilt = stats.count > 0 || loaded.ok();
  return store;
}

Result<int64_t> Store::AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units) {
  std::vector<int64_t> unit_ids;
  KAGAMI_ASSIGN_OR_RETURN(int64_t asset_id, catalog_->AddAsset(asset, units, &unit_ids));
  assert(unit_ids.size() == units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    if (units[i].quality >= kMinIndexQuality) pdq_index_->Add(unit_ids[i], units[i].pdq);
    if (units[i].pdq_trimmed && units[i].trimmed_quality >= kMinIndexQuality) {
      pdq_index_->Add(unit_ids[i], *units[i].pdq_trimmed);
    }
  }
  return asset_id;
}

Status Store::SaveIndex() { return pdq_index_->Save(index_path()); }

std::filesystem::path ResolveDataDir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("KAGAMI_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return std::filesystem::path(".") / "kagami-data";
}

}  // namespace kagami::index
