#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"

namespace kagami::index {

enum class WorkKind { kManga, kAnime, kFilm, kOther };
std::string_view WorkKindName(WorkKind kind);           // "manga", ...
Result<WorkKind> ParseWorkKind(std::string_view name);  // kInvalidArgument if unknown

struct Work {
  std::string id;  // caller-chosen, stable (e.g. "onepiece-v001")
  std::string title;
  std::string rights_holder;
  WorkKind kind = WorkKind::kManga;
  std::map<std::string, std::string> identifiers;  // e.g. {"isbn": "978-..."}
};

struct WorkSummary {
  Work work;
  int64_t assets = 0;
  int64_t units = 0;
};

// One registered file.
struct AssetRecord {
  std::string work_id;
  std::string path;        // as registered (absolute)
  std::string sha256_hex;  // content hash, the idempotency key
  uint64_t size_bytes = 0;
  std::string media_type;
};

// One fingerprinted unit of an asset (a page; a frame at time_s for video).
struct UnitRecord {
  int page_index = 0;    // 0-based position within the volume
  std::string member;    // path inside the archive/folder ("" for a plain file)
  double time_s = -1.0;  // seconds, video only; -1 for pages
  fingerprint::Hash256 pdq;
  int quality = 0;
  std::vector<uint8_t> local_features;  // opaque blob (fingerprint/local_features), may be empty
  // PDQ of the page with its uniform margins trimmed (page_normalizer.h), when
  // trimming removed anything; indexed beside `pdq` so that copies with other
  // margins or padding match.
  std::optional<fingerprint::Hash256> pdq_trimmed;
  int trimmed_quality = 0;
};

// Everything a match report needs to name a registered unit.
struct UnitRef {
  int64_t unit_id = 0;
  std::string work_id;
  std::string title;
  std::string asset_path;
  std::string asset_sha256;
  std::string member;
  int page_index = 0;
  int quality = 0;
  fingerprint::Hash256 pdq;
};

// The SQLite catalog (WAL mode, foreign keys on). Each AddAsset is one
// transaction, so a killed process leaves either the whole asset or none of it.
// Thread-compatible: one Catalog per thread, or external locking.
class Catalog {
 public:
  // Creates the file and schema if missing; kCorrupt if the file is not a
  // Kagami catalog (or SQLite reports corruption).
  static Result<std::unique_ptr<Catalog>> Open(const std::filesystem::path& db_path);
  ~Catalog();

  Status UpsertWork(const Work& work);
  Result<std::optional<Work>> GetWork(const std::string& work_id);
  Result<std::vector<WorkSummary>> ListWorks();

  // Asset id for this content hash, if registered.
  Result<std::optional<int64_t>> FindAssetBySha256(const std::string& sha256_hex);
  // Inserts the asset and its units atomically; returns the asset id.
  // The work must exist (kNotFound otherwise). kInvalidArgument if the sha256
  // is already registered or is not 64 hex digits, or a unit is out of range
  // (page_index < 0, quality outside 0..100, time_s neither -1 nor >= 0);
  // kResourceExhausted above kMaxUnitsPerAsset units or kMaxLocalFeaturesBytes
  // per blob. On any error nothing is written. If `unit_ids` is given it
  // receives the new unit ids, in the order of `units` (ascending).
  Result<int64_t> AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units,
                           std::vector<int64_t>* unit_ids = nullptr);

  // Calls fn(unit_id, pdq, quality) for every unit's hash, and again with the
  // trimmed view's hash when the unit has one, in unit_id order. fn must
  // not write to this catalog.
  Status ForEachUnitHash(const std::function<void(int64_t, const fingerprint::Hash256&, int)>& fn);
  // Number of units; -1 if the catalog cannot be read.
  int64_t UnitCount();
  // The largest unit id, 0 when empty, -1 if the catalog cannot be read (with
  // UnitCount, detects a stale index).
  int64_t MaxUnitId();

  // Count and largest id of the units with quality >= min_quality (0 when none).
  struct UnitStats {
    int64_t count = 0;
    int64_t max_unit_id = 0;
  };
  Result<UnitStats> GetUnitStats(int min_quality = 0);
  // Count of the PDQ hashes (a unit's own and its trimmed view's) with quality
  // >= min_quality, and the largest unit id among them: what the index must hold.
  Result<UnitStats> GetIndexStats(int min_quality);
  // Count and largest id of the units with a non-empty local-features blob:
  // what the derived local index (inverted_file.h) must hold.
  Result<UnitStats> GetLocalFeatureStats();

  // SQLite's integrity_check and foreign_key_check; kCorrupt naming the first problem.
  Status CheckIntegrity();

  static constexpr size_t kMaxUnitsPerAsset = 1'000'000;
  static constexpr size_t kMaxLocalFeaturesBytes = 64u << 20;
  static constexpr size_t kMaxTextBytes = 16 << 10;  // any id, title, path, member, ...

  Result<UnitRef> GetUnitRef(int64_t unit_id);
  Result<std::vector<uint8_t>> GetLocalFeatures(int64_t unit_id);
  // Calls fn(unit_id, blob) for every unit with a non-empty local-features blob.
  Status ForEachLocalFeatures(const std::function<void(int64_t, const std::vector<uint8_t>&)>& fn);

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  // Runs a "SELECT count, max id" query with ?1 = min_quality.
  Result<UnitStats> QueryStats(std::string_view sql, int min_quality, const std::string& what);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::index
