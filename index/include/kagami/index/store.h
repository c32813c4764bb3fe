#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"
#include "kagami/index/pdq_index.h"

namespace kagami::index {

// A data directory: catalog.sqlite plus pdq.index beside it.
//
// Open loads the index and checks it against the catalog (unit count and max
// unit id); when the index is missing, corrupt or stale (e.g. a `register` was
// killed between committing and saving) it is rebuilt from the catalog and
// saved. Units whose quality is below kMinIndexQuality are not indexed.
//
// Used from one thread (writes are serialised by the caller); several
// processes may open the same directory, but only one should register at a
// time, since each saves the whole index.
class Store {
 public:
  static constexpr int kMinIndexQuality = 50;

  // Creates the directory if missing. `rebuilt` (optional) says whether an index
  // had to be rebuilt from a non-empty catalog (false for a brand-new store).
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& data_dir,
                                             bool* rebuilt = nullptr);

  Catalog& catalog() { return *catalog_; }
  const PdqIndex& pdq_index() const { return *pdq_index_; }

  // Registers one asset: catalog transaction first, then the units with
  // quality >= kMinIndexQuality are added to the in-memory index. Call
  // SaveIndex() after a batch; if the process dies before that, the next Open
  // finds the index stale and rebuilds it.
  Result<int64_t> AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units);
  Status SaveIndex();

  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path catalog_path() const { return data_dir_ / kCatalogFileName; }
  std::filesystem::path index_path() const { return data_dir_ / kIndexFileName; }

  static constexpr const char* kCatalogFileName = "catalog.sqlite";
  static constexpr const char* kIndexFileName = "pdq.index";

 private:
  Store() = default;
  std::filesystem::path data_dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<PdqIndex> pdq_index_;
};

// --data DIR, else $KAGAMI_DATA, else ./kagami-data.
std::filesystem::path ResolveDataDir(const std::string& flag_value);

}  // namespace kagami::index
