#pragma once

#include <climits>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/colour_signature.h"
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
  // Kagami's blurred hash of the trimmed view (of the page when nothing was
  // trimmed): fingerprint/blurred_pdq.h. Indexed beside the others; absent in
  // units registered before it existed.
  std::optional<fingerprint::Hash256> pdq_blurred;
  int blurred_quality = 0;
  // The page's colour signature (fingerprint/colour_signature.h) when a
  // registered page is read again for it (Catalog::AddMissingColour); not
  // stored from here otherwise: registration writes it inside local_features.
  std::optional<fingerprint::ColourSignature> colour;
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
  // The unit's other indexed hashes (UnitRecord), when it has them: a hit's
  // distance is recomputed against the kind of hash the scanned view's was.
  std::optional<fingerprint::Hash256> pdq_trimmed;
  std::optional<fingerprint::Hash256> pdq_blurred;
  int trimmed_quality = 0;  // 0 when pdq_trimmed is absent
  int blurred_quality = 0;  // 0 when pdq_blurred is absent
};

// A registered asset with its units, as stored (for copying and verifying a
// catalog between backends: `kagami store migrate`).
struct AssetContent {
  AssetRecord asset;
  std::vector<UnitRecord> units;  // unit id order
};

// SHA-256 (hex) over an asset's stored content: its record and every unit's
// fields, blobs included, in unit order. Ids and timestamps are not part of it,
// so a copy in another backend has the same digest.
std::string AssetDigest(const AssetContent& content);

// The catalog of registered works, assets and units. Two backends with the
// same semantics: SQLite (Catalog::Open, a file in the data directory, the
// default) and PostgreSQL (pg_catalog.h, shared by many machines). Each
// AddAsset is one transaction, so a killed process leaves either the whole
// asset or none of it. Thread-compatible: one Catalog per thread, or external
// locking.
class Catalog {
 public:
  // The SQLite catalog (WAL mode, foreign keys on). Creates the file and schema
  // if missing; kCorrupt if the file is not a Kagami catalog (or SQLite reports
  // corruption).
  static Result<std::unique_ptr<Catalog>> Open(const std::filesystem::path& db_path);
  virtual ~Catalog();

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;
  // Whether other processes on other machines may add units to this catalog
  // at any time (PostgreSQL): derived indexes then refresh by high-water mark.
  bool shared() const { return backend() != "sqlite"; }
  // A value that identifies this catalog (its file, or the database's instance
  // id), recorded beside a cached index so that a cache is never reused for
  // another catalog.
  virtual Result<std::string> Identity() = 0;

  virtual Status UpsertWork(const Work& work) = 0;
  virtual Result<std::optional<Work>> GetWork(const std::string& work_id) = 0;
  virtual Result<std::vector<WorkSummary>> ListWorks() = 0;

  // Asset id for this content hash, if registered.
  virtual Result<std::optional<int64_t>> FindAssetBySha256(const std::string& sha256_hex) = 0;
  // The work that registered this content hash, if any (one row read).
  virtual Result<std::optional<std::string>> FindAssetWork(const std::string& sha256_hex) = 0;
  // Inserts the asset and its units atomically; returns the asset id.
  // The work must exist (kNotFound otherwise). kInvalidArgument if the sha256
  // is already registered or is not 64 hex digits, or a unit is out of range
  // (page_index < 0, quality outside 0..100, time_s neither -1 nor >= 0);
  // kResourceExhausted above kMaxUnitsPerAsset units or kMaxLocalFeaturesBytes
  // per blob. On any error nothing is written. If `unit_ids` is given it
  // receives the new unit ids, in the order of `units` (ascending).
  // Unit ids become visible in ascending order: once a reader sees unit id N,
  // every unit with a smaller id that will ever exist is visible too (the
  // high-water mark of an incremental index refresh relies on it).
  virtual Result<int64_t> AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units,
                                   std::vector<int64_t>* unit_ids = nullptr) = 0;

  // Page units (not video frames) of the asset with this content hash that
  // lack what later versions register: a blurred hash, a colour signature in
  // local features that have a thumbnail (fingerprint::LacksColourSignature).
  // Counted in one query; all 0 when there are none or the asset is unknown.
  struct LackingUnits {
    int64_t blurred = 0;
    int64_t colour = 0;
  };
  virtual Result<LackingUnits> CountUnitsLacking(const std::string& sha256_hex) = 0;
  // Gives each of the asset's page units without a blurred hash the one
  // `units` (the same file extracted again) carries for the same page (same
  // page_index and member), provided the unit's stored PDQ hash equals the
  // recomputed one (units[i].pdq): a page that now decodes to another hash
  // than it was registered with keeps none, and is counted in `mismatched`.
  // One transaction; on any error nothing is written. kNotFound when the
  // asset is not registered.
  struct BackfilledHash {
    int64_t unit_id = 0;
    fingerprint::Hash256 hash;
    int quality = 0;
  };
  struct BlurredBackfill {
    std::vector<BackfilledHash> filled;  // in unit id order
    int64_t mismatched = 0;
  };
  virtual Result<BlurredBackfill> AddMissingBlurredHashes(const std::string& sha256_hex,
                                                          const std::vector<UnitRecord>& units) = 0;

  // Gives each of the asset's page units whose local features lack the
  // colour signature (CountUnitsLacking) the colour signature `units` (the same file
  // extracted again) carries for the same page (same page_index and member,
  // UnitRecord::colour measured), provided the unit's stored PDQ hash equals
  // the recomputed one: a page that now decodes to another hash keeps none,
  // and is counted in `mismatched`. The blob is rewritten by
  // fingerprint::WithColourSignature (keypoints and thumbnail unchanged, so
  // local.index stays valid); a stored blob it cannot read is left as it is
  // and counted in `damaged`. One transaction; on any error nothing is
  // written. kNotFound when the asset is not registered.
  struct ColourBackfill {
    std::vector<int64_t> filled;  // unit ids, ascending
    int64_t mismatched = 0;
    int64_t damaged = 0;
  };
  virtual Result<ColourBackfill> AddMissingColour(const std::string& sha256_hex,
                                                  const std::vector<UnitRecord>& units) = 0;

  // Calls fn(unit_id, pdq, quality) for every unit's hash, and again with the
  // trimmed view's hash when the unit has one, in unit_id order. fn must
  // not write to this catalog.
  Status ForEachUnitHash(const std::function<void(int64_t, const fingerprint::Hash256&, int)>& fn) {
    return ForEachUnitHashAfter(0, fn);
  }
  // The same for the units with id > after_unit_id only.
  virtual Status ForEachUnitHashAfter(
      int64_t after_unit_id,
      const std::function<void(int64_t, const fingerprint::Hash256&, int)>& fn) = 0;
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
  virtual Result<UnitStats> GetUnitStats(int min_quality = 0) = 0;
  // Count of the PDQ hashes (a unit's own and its trimmed view's) with quality
  // >= min_quality, and the largest unit id among them: what the index must
  // hold. Only units with id <= max_unit_id count.
  virtual Result<UnitStats> GetIndexStats(int min_quality, int64_t max_unit_id = INT64_MAX) = 0;
  // Count and largest id of the units with a non-empty local-features blob
  // (among those with id <= max_unit_id): what the derived local index
  // (inverted_file.h) must hold.
  virtual Result<UnitStats> GetLocalFeatureStats(int64_t max_unit_id = INT64_MAX) = 0;

  // Integrity checks of the backend; kCorrupt naming the first problem.
  virtual Status CheckIntegrity() = 0;

  static constexpr size_t kMaxUnitsPerAsset = 1'000'000;
  static constexpr size_t kMaxLocalFeaturesBytes = 64u << 20;
  static constexpr size_t kMaxTextBytes = 16 << 10;  // any id, title, path, member, ...

  virtual Result<UnitRef> GetUnitRef(int64_t unit_id) = 0;
  virtual Result<std::vector<uint8_t>> GetLocalFeatures(int64_t unit_id) = 0;
  // Calls fn(unit_id, blob) for every unit with id > after_unit_id and a
  // non-empty local-features blob, in unit id order.
  virtual Status ForEachLocalFeatures(
      const std::function<void(int64_t, const std::vector<uint8_t>&)>& fn,
      int64_t after_unit_id = 0) = 0;

  // The content hashes of the page assets (video assets excluded: they stay
  // in the SQLite video tables), ascending.
  virtual Result<std::vector<std::string>> ListPageAssetSha256s() = 0;
  // An asset and its units by content hash; nullopt if not registered.
  virtual Result<std::optional<AssetContent>> GetAssetContent(const std::string& sha256_hex) = 0;

 protected:
  Catalog() = default;
};

// Lowercase 64-hex-digit form of a SHA-256, or nullopt.
std::optional<std::string> NormalizeSha256(std::string_view hex);

}  // namespace kagami::index
