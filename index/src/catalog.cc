#include "kagami/index/catalog.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "catalog_internal.h"
#include "kagami/base/sha256.h"
#include "kagami/fingerprint/quantised_features.h"
#include "kagami/ingest/memory_source.h"
#include "sqlite_handles.h"

namespace kagami::index {

namespace {

using internal::Bind;
using internal::BlobArg;
using internal::ColumnBlob;
using internal::ColumnText;
using internal::Exec;
using internal::Prepare;
using internal::ScopedReset;
using internal::ScopedTransaction;
using internal::SqliteDb;
using internal::SqliteStatus;
using internal::SqliteStmt;
using internal::Step;

// PRAGMA application_id of a Kagami catalog ("KGMI"); a database without it is
// not ours, whatever tables it has.
constexpr int32_t kApplicationId = 0x4B474D49;
// PRAGMA user_version. Bump with a migration in Catalog::Open.
constexpr int kSchemaVersion = 2;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE works (
  id TEXT PRIMARY KEY NOT NULL,
  title TEXT NOT NULL,
  rights_holder TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('manga', 'anime', 'film', 'other')),
  identifiers_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE TABLE assets (
  id INTEGER PRIMARY KEY,
  work_id TEXT NOT NULL REFERENCES works (id),
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  media_type TEXT NOT NULL,
  unit_count INTEGER NOT NULL CHECK (unit_count >= 0),
  created_at TEXT NOT NULL
);
CREATE TABLE units (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id INTEGER NOT NULL REFERENCES assets (id),
  page_index INTEGER NOT NULL CHECK (page_index >= 0),
  member TEXT NOT NULL,
  time_s REAL NOT NULL,
  pdq BLOB NOT NULL CHECK (length(pdq) = 32),
  quality INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
  local_features BLOB,
  pdq_trimmed BLOB CHECK (pdq_trimmed IS NULL OR length(pdq_trimmed) = 32),
  trimmed_quality INTEGER NOT NULL DEFAULT 0 CHECK (trimmed_quality BETWEEN 0 AND 100),
  pdq_blurred BLOB CHECK (pdq_blurred IS NULL OR length(pdq_blurred) = 32),
  blurred_quality INTEGER NOT NULL DEFAULT 0 CHECK (blurred_quality BETWEEN 0 AND 100)
);
CREATE INDEX units_by_asset ON units (asset_id);
CREATE INDEX assets_by_work ON assets (work_id);
)sql";

constexpr const char* kMigrationTo2Sql = R"sql(
ALTER TABLE units ADD COLUMN pdq_blurred BLOB
  CHECK (pdq_blurred IS NULL OR length(pdq_blurred) = 32);
ALTER TABLE units ADD COLUMN blurred_quality INTEGER NOT NULL DEFAULT 0
  CHECK (blurred_quality BETWEEN 0 AND 100);
PRAGMA user_version = 2;
)sql";

fingerprint::Hash256 HashFromBlob(const std::vector<uint8_t>& blob) {
  fingerprint::Hash256 hash;
  std::copy(blob.begin(), blob.end(), hash.bytes.begin());
  return hash;
}

// The hash in nullable BLOB `column` of the current row: nullopt when NULL,
// kCorrupt ("<what>[: unit <id>]: malformed <name> hash") when not 32 bytes.
Result<std::optional<fingerprint::Hash256>> OptionalHash(sqlite3_stmt* stmt, int column,
                                                         const std::string& what,
                                                         std::string_view name,
                                                         int64_t unit_id = -1) {
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
    return std::optional<fingerprint::Hash256>();
  std::vector<uint8_t> blob = ColumnBlob(stmt, column);
  if (blob.size() != fingerprint::Hash256{}.bytes.size()) {
    return Status::Corrupt(what + (unit_id >= 0 ? ": unit " + std::to_string(unit_id) : "") +
                           ": malformed " + std::string(name) + " hash");
  }
  return std::optional<fingerprint::Hash256>(HashFromBlob(blob));
}

// The PDQ hash in BLOB `column` of the current row, nullopt when it is not
// 32 bytes (a backfill then leaves the unit alone).
std::optional<fingerprint::Hash256> StoredPdq(sqlite3_stmt* stmt, int column) {
  std::vector<uint8_t> blob = ColumnBlob(stmt, column);
  if (blob.size() != fingerprint::Hash256{}.bytes.size()) return std::nullopt;
  return HashFromBlob(blob);
}

}  // namespace

namespace internal {

std::string NowIso8601Utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::optional<std::string> NormalizeSha256Impl(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string out(hex);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!digit) return std::nullopt;
  }
  return out;
}

Status CheckText(std::string_view value, std::string_view field) {
  if (value.size() > Catalog::kMaxTextBytes) {
    return Status::ResourceExhausted(std::string(field) + " is " + std::to_string(value.size()) +
                                     " bytes; the limit is " +
                                     std::to_string(Catalog::kMaxTextBytes));
  }
  return Status::Ok();
}

Status CheckUnit(const UnitRecord& unit, size_t i) {
  std::string where = "unit " + std::to_string(i);
  if (unit.page_index < 0) {
    return Status::InvalidArgument(where + ": page_index " + std::to_string(unit.page_index) +
                                   " is negative");
  }
  if (unit.quality < 0 || unit.quality > 100) {
    return Status::InvalidArgument(where + ": quality " + std::to_string(unit.quality) +
                                   " is outside 0..100");
  }
  if (unit.trimmed_quality < 0 || unit.trimmed_quality > 100 || unit.blurred_quality < 0 ||
      unit.blurred_quality > 100) {
    return Status::InvalidArgument(where + ": trimmed or blurred quality is outside 0..100");
  }
  if (!std::isfinite(unit.time_s) || (unit.time_s < 0 && unit.time_s != -1.0)) {
    return Status::InvalidArgument(where + ": time_s must be -1 (a page) or >= 0 seconds");
  }
  KAGAMI_RETURN_IF_ERROR(CheckText(unit.member, where + " member"));
  if (unit.local_features.size() > Catalog::kMaxLocalFeaturesBytes) {
    return Status::ResourceExhausted(
        where + ": local features blob of " + std::to_string(unit.local_features.size()) +
        " bytes exceeds the limit of " + std::to_string(Catalog::kMaxLocalFeaturesBytes));
  }
  return Status::Ok();
}

ReadAgainPages::ReadAgainPages(const std::vector<UnitRecord>& units) {
  for (const UnitRecord& u : units) by_page_.emplace(std::make_pair(u.page_index, u.member), &u);
}

const UnitRecord* ReadAgainPages::Find(int page_index, const std::string& member,
                                       const std::optional<fingerprint::Hash256>& stored_pdq) {
  auto it = by_page_.find({page_index, member});
  if (it == by_page_.end() || !stored_pdq || it->second->pdq != *stored_pdq) {
    ++mismatched_;
    return nullptr;
  }
  return it->second;
}

Result<std::string> LookupSha256(const std::string& sha256_hex) {
  std::optional<std::string> sha = NormalizeSha256Impl(sha256_hex);
  if (!sha) return Status::InvalidArgument("'" + sha256_hex + "' is not a SHA-256 (64 hex digits)");
  return *sha;
}

Result<std::string> CheckAsset(const AssetRecord& asset, size_t unit_count) {
  std::optional<std::string> sha = NormalizeSha256Impl(asset.sha256_hex);
  if (!sha) {
    return Status::InvalidArgument("asset " + asset.path + ": '" + asset.sha256_hex +
                                   "' is not a SHA-256 (64 hex digits)");
  }
  KAGAMI_RETURN_IF_ERROR(CheckText(asset.path, "asset path"));
  KAGAMI_RETURN_IF_ERROR(CheckText(asset.media_type, "asset media type"));
  KAGAMI_RETURN_IF_ERROR(CheckText(asset.work_id, "asset work id"));
  if (unit_count > Catalog::kMaxUnitsPerAsset) {
    return Status::ResourceExhausted("asset " + asset.path + " has " + std::to_string(unit_count) +
                                     " units; the limit is " +
                                     std::to_string(Catalog::kMaxUnitsPerAsset));
  }
  if (asset.size_bytes > static_cast<uint64_t>(INT64_MAX)) {
    return Status::InvalidArgument("asset " + asset.path + ": size out of range");
  }
  return *std::move(sha);
}

Result<std::string> IdentifiersToJson(const std::map<std::string, std::string>& identifiers) {
  try {
    nlohmann::json json = nlohmann::json::object();
    for (const auto& [key, value] : identifiers) json[key] = value;
    return json.dump();
  } catch (const std::exception& e) {
    // nlohmann::json rejects invalid UTF-8 when serialising.
    return Status::InvalidArgument(std::string("identifiers are not valid UTF-8: ") + e.what());
  }
}

Result<std::map<std::string, std::string>> IdentifiersFromJson(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Status::Corrupt("identifiers_json is not a JSON object");
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_string()) {
      return Status::Corrupt("identifier '" + key + "' is not a string");
    }
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

}  // namespace internal

using internal::CheckText;
using internal::CheckUnit;
using internal::IdentifiersFromJson;
using internal::IdentifiersToJson;
using internal::NowIso8601Utc;

std::optional<std::string> NormalizeSha256(std::string_view hex) {
  return internal::NormalizeSha256Impl(hex);
}

std::string_view WorkKindName(WorkKind kind) {
  switch (kind) {
    case WorkKind::kManga:
      return "manga";
    case WorkKind::kAnime:
      return "anime";
    case WorkKind::kFilm:
      return "film";
    case WorkKind::kOther:
      return "other";
  }
  return "other";
}

Result<WorkKind> ParseWorkKind(std::string_view name) {
  for (WorkKind kind : {WorkKind::kManga, WorkKind::kAnime, WorkKind::kFilm, WorkKind::kOther}) {
    if (name == WorkKindName(kind)) return kind;
  }
  return Status::InvalidArgument("unknown work kind '" + std::string(name) +
                                 "' (expected manga, anime, film or other)");
}

class SqliteCatalog final : public Catalog {
 public:
  struct Impl;
  explicit SqliteCatalog(std::unique_ptr<Impl> impl);
  ~SqliteCatalog() override;

  std::string_view backend() const override { return "sqlite"; }
  Result<std::string> Identity() override;
  Status UpsertWork(const Work& work) override;
  Result<std::optional<Work>> GetWork(const std::string& work_id) override;
  Result<std::vector<WorkSummary>> ListWorks() override;
  Result<std::optional<int64_t>> FindAssetBySha256(const std::string& sha256_hex) override;
  Result<std::optional<std::string>> FindAssetWork(const std::string& sha256_hex) override;
  Result<int64_t> AddAsset(const AssetRecord& asset, const std::vector<UnitRecord>& units,
                           std::vector<int64_t>* unit_ids) override;
  Result<LackingUnits> CountUnitsLacking(const std::string& sha256_hex) override;
  Result<BlurredBackfill> AddMissingBlurredHashes(const std::string& sha256_hex,
                                                  const std::vector<UnitRecord>& units) override;
  Result<ColourBackfill> AddMissingColour(const std::string& sha256_hex,
                                          const std::vector<UnitRecord>& units) override;
  Status ForEachUnitHashAfter(
      int64_t after_unit_id,
      const std::function<void(int64_t, const fingerprint::Hash256&, int)>& fn) override;
  Result<UnitStats> GetUnitStats(int min_quality) override;
  Result<UnitStats> GetIndexStats(int min_quality, int64_t max_unit_id) override;
  Result<UnitStats> GetLocalFeatureStats(int64_t max_unit_id) override;
  Status CheckIntegrity() override;
  Result<UnitRef> GetUnitRef(int64_t unit_id) override;
  Result<std::vector<uint8_t>> GetLocalFeatures(int64_t unit_id) override;
  Status ForEachLocalFeatures(const std::function<void(int64_t, const std::vector<uint8_t>&)>& fn,
                              int64_t after_unit_id) override;
  Result<std::vector<std::string>> ListPageAssetSha256s() override;
  Result<std::optional<AssetContent>> GetAssetContent(const std::string& sha256_hex) override;

 private:
  // Runs a "SELECT count, max id" query with ?1 = min_quality, ?2 = max id.
  Result<UnitStats> QueryStats(std::string_view sql, int min_quality, int64_t max_unit_id,
                               const std::string& what);
  std::unique_ptr<Impl> impl_;
};

struct SqliteCatalog::Impl {
  SqliteDb db;
  std::string path;
  // Prepared statements for point queries, keyed by their SQL text.
  std::unordered_map<std::string_view, SqliteStmt> statements;

  std::string What(std::string_view operation) const {
    return "catalog " + path + ": " + std::string(operation);
  }

  // The cached statement for `sql` (a string literal), prepared on first use.
  Result<sqlite3_stmt*> Statement(std::string_view sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) return it->second.get();
    KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt, Prepare(db.get(), sql, What("preparing statement")));
    sqlite3_stmt* raw = stmt.get();
    statements.emplace(sql, std::move(stmt));
    return raw;
  }

  Result<int64_t> QueryInt(std::string_view sql, std::string_view operation) {
    KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt, Prepare(db.get(), sql, What(operation)));
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), What(operation)));
    if (!row) return Status::Internal(What(operation) + ": no result row");
    return static_cast<int64_t>(sqlite3_column_int64(stmt.get(), 0));
  }

  Status InsertUnits(int64_t asset_id, const std::vector<UnitRecord>& units,
                     std::vector<int64_t>* unit_ids);
};

Catalog::~Catalog() = default;
SqliteCatalog::SqliteCatalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteCatalog::~SqliteCatalog() = default;

Result<std::string> SqliteCatalog::Identity() { return "sqlite:" + impl_->path; }

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::filesystem::path& db_path) {
  auto impl = std::make_unique<SqliteCatalog::Impl>();
  impl->path = db_path.string();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(impl->path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return SqliteStatus(impl->db.get(), rc, impl->What("opening"));
  sqlite3* db = impl->db.get();
  sqlite3_extended_result_codes(db, 1);
  KAGAMI_RETURN_IF_ERROR(
      Exec(db, "PRAGMA busy_timeout = 5000", impl->What("setting busy_timeout")));

  // Identify the file before writing anything to it.
  auto not_ours = [&](std::string_view why) {
    return Status::Corrupt(impl->path + ": not a Kagami catalog (" + std::string(why) + ")");
  };
  auto app_id = impl->QueryInt("PRAGMA application_id", "reading application_id");
  if (!app_id.ok()) {
    if (app_id.status().code() == StatusCode::kCorrupt) return not_ours(app_id.status().message());
    return app_id.status();
  }
  KAGAMI_ASSIGN_OR_RETURN(int64_t object_count,
                          impl->QueryInt("SELECT count(*) FROM sqlite_schema", "reading schema"));
  if (*app_id == 0 && object_count != 0) {
    // Two reads, two snapshots: another process may have created the schema
    // in between. Its application_id is visible now if so.
    app_id = impl->QueryInt("PRAGMA application_id", "reading application_id");
    if (!app_id.ok()) return app_id.status();
  }
  if (*app_id != kApplicationId && !(*app_id == 0 && object_count == 0)) {
    return not_ours("an SQLite database of another application");
  }

  // journal_mode answers with the mode in effect; anything but "wal" means the
  // file system or a concurrent reader refused it. Switching a new file needs
  // an exclusive lock, and SQLite answers SQLITE_BUSY at once (without its
  // busy handler) while another process opens the same file: retried for up
  // to the busy timeout.
  {
    KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt,
                            Prepare(db, "PRAGMA journal_mode = WAL", impl->What("enabling WAL")));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto pause = std::chrono::milliseconds(1);
    int rc = SQLITE_OK;
    while (true) {
      rc = sqlite3_step(stmt.get());
      const int primary = rc & 0xff;
      if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      sqlite3_reset(stmt.get());
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteStatus(db, rc, impl->What("enabling WAL"));
    }
    if (rc != SQLITE_ROW || ColumnText(stmt.get(), 0) != "wal") {
      return Status::IoError(impl->What("could not enable WAL journal mode"));
    }
  }
  KAGAMI_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                              impl->What("setting pragmas")));

  if (*app_id == 0) {
    // A new, empty database. Another process may be creating it right now:
    // re-check inside the write transaction.
    KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, impl->What("creating schema")));
    KAGAMI_ASSIGN_OR_RETURN(app_id,
                            impl->QueryInt("PRAGMA application_id", "reading application_id"));
    KAGAMI_ASSIGN_OR_RETURN(object_count,
                            impl->QueryInt("SELECT count(*) FROM sqlite_schema", "reading schema"));
    if (*app_id == 0) {
      if (object_count != 0) return not_ours("an SQLite database of another application");
      KAGAMI_RETURN_IF_ERROR(Exec(db, kSchemaSql, impl->What("creating schema")));
      std::string pragmas = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                            "; PRAGMA user_version = " + std::to_string(kSchemaVersion);
      KAGAMI_RETURN_IF_ERROR(Exec(db, pragmas.c_str(), impl->What("creating schema")));
    } else if (*app_id != kApplicationId) {
      return not_ours("an SQLite database of another application");
    }
    KAGAMI_RETURN_IF_ERROR(txn->Commit());
  }

  KAGAMI_ASSIGN_OR_RETURN(int64_t version,
                          impl->QueryInt("PRAGMA user_version", "reading schema version"));
  if (version == 1) {
    // Version 2 added the blurred hash (units registered before keep none).
    KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, impl->What("migrating schema")));
    KAGAMI_ASSIGN_OR_RETURN(version,
                            impl->QueryInt("PRAGMA user_version", "reading schema version"));
    if (version == 1) {
      KAGAMI_RETURN_IF_ERROR(
          Exec(db, kMigrationTo2Sql, impl->What("migrating schema to version 2")));
      version = 2;
    }
    KAGAMI_RETURN_IF_ERROR(txn->Commit());
  }
  if (version > kSchemaVersion) {
    return Status::Unsupported(impl->path + ": catalog schema version " + std::to_string(version) +
                               " is newer than this Kagami supports (" +
                               std::to_string(kSchemaVersion) + "); upgrade Kagami");
  }
  if (version != kSchemaVersion) {
    return not_ours("unknown schema version " + std::to_string(version));
  }
  return std::unique_ptr<Catalog>(new SqliteCatalog(std::move(impl)));
}

Status SqliteCatalog::UpsertWork(const Work& work) {
  if (work.id.empty()) return Status::InvalidArgument("work id is empty");
  KAGAMI_RETURN_IF_ERROR(CheckText(work.id, "work id"));
  KAGAMI_RETURN_IF_ERROR(CheckText(work.title, "work title"));
  KAGAMI_RETURN_IF_ERROR(CheckText(work.rights_holder, "work rights holder"));
  auto identifiers = IdentifiersToJson(work.identifiers);
  if (!identifiers.ok()) return identifiers.status().WithContext("work " + work.id);
  KAGAMI_RETURN_IF_ERROR(CheckText(*identifiers, "work identifiers"));

  static constexpr std::string_view kSql =
      "INSERT INTO works (id, title, rights_holder, kind, identifiers_json, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
      "rights_holder = excluded.rights_holder, kind = excluded.kind, "
      "identifiers_json = excluded.identifiers_json";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, std::string_view(work.id), std::string_view(work.title),
                              std::string_view(work.rights_holder), WorkKindName(work.kind),
                              std::string_view(*identifiers), std::string_view(NowIso8601Utc())));
  KAGAMI_RETURN_IF_ERROR(Step(stmt, impl_->What("saving work " + work.id)).status());
  return Status::Ok();
}

namespace {

// Columns: id, title, rights_holder, kind, identifiers_json.
Result<Work> ReadWork(sqlite3_stmt* stmt) {
  Work work;
  work.id = ColumnText(stmt, 0);
  work.title = ColumnText(stmt, 1);
  work.rights_holder = ColumnText(stmt, 2);
  auto kind = ParseWorkKind(ColumnText(stmt, 3));
  if (!kind.ok()) return Status::Corrupt("work " + work.id + ": " + kind.status().message());
  work.kind = *kind;
  auto identifiers = IdentifiersFromJson(ColumnText(stmt, 4));
  if (!identifiers.ok()) return identifiers.status().WithContext("work " + work.id);
  work.identifiers = std::move(*identifiers);
  return work;
}

}  // namespace

Result<std::optional<Work>> SqliteCatalog::GetWork(const std::string& work_id) {
  static constexpr std::string_view kSql =
      "SELECT id, title, rights_holder, kind, identifiers_json FROM works WHERE id = ?1";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, std::string_view(work_id)));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What("reading work " + work_id)));
  if (!row) return std::optional<Work>();
  auto work = ReadWork(stmt);
  if (!work.ok()) return work.status().WithContext("catalog " + impl_->path);
  return std::optional<Work>(std::move(*work));
}

Result<std::vector<WorkSummary>> SqliteCatalog::ListWorks() {
  static constexpr std::string_view kSql =
      "SELECT w.id, w.title, w.rights_holder, w.kind, w.identifiers_json, "
      "count(a.id), coalesce(sum(a.unit_count), 0) "
      "FROM works w LEFT JOIN assets a ON a.work_id = w.id GROUP BY w.id ORDER BY w.id";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  std::vector<WorkSummary> out;
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What("listing works")));
    if (!row) break;
    auto work = ReadWork(stmt);
    if (!work.ok()) return work.status().WithContext("catalog " + impl_->path);
    WorkSummary summary;
    summary.work = std::move(*work);
    summary.assets = sqlite3_column_int64(stmt, 5);
    summary.units = sqlite3_column_int64(stmt, 6);
    out.push_back(std::move(summary));
  }
  return out;
}

Result<std::optional<int64_t>> SqliteCatalog::FindAssetBySha256(const std::string& sha256_hex) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  static constexpr std::string_view kSql = "SELECT id FROM assets WHERE sha256 = ?1";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, std::string_view(sha)));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What("looking up asset " + sha)));
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(sqlite3_column_int64(stmt, 0));
}

Result<std::optional<std::string>> SqliteCatalog::FindAssetWork(const std::string& sha256_hex) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  static constexpr std::string_view kSql = "SELECT work_id FROM assets WHERE sha256 = ?1";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, std::string_view(sha)));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What("looking up asset " + sha)));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(ColumnText(stmt, 0));
}

Status SqliteCatalog::Impl::InsertUnits(int64_t asset_id, const std::vector<UnitRecord>& units,
                                        std::vector<int64_t>* unit_ids) {
  static constexpr std::string_view kSql =
      "INSERT INTO units (asset_id, page_index, member, time_s, pdq, quality, local_features, "
      "pdq_trimmed, trimmed_quality, pdq_blurred, blurred_quality) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Statement(kSql));
  for (size_t i = 0; i < units.size(); ++i) {
    const UnitRecord& unit = units[i];
    // Checked here, mid-transaction, so that a bad unit also exercises the rollback.
    KAGAMI_RETURN_IF_ERROR(CheckUnit(unit, i));
    ScopedReset reset(stmt);
    std::optional<BlobArg> local;
    if (!unit.local_features.empty()) {
      local = BlobArg{unit.local_features.data(), unit.local_features.size()};
    }
    std::optional<BlobArg> trimmed;
    if (unit.pdq_trimmed)
      trimmed = BlobArg{unit.pdq_trimmed->bytes.data(), unit.pdq_trimmed->bytes.size()};
    std::optional<BlobArg> blurred;
    if (unit.pdq_blurred)
      blurred = BlobArg{unit.pdq_blurred->bytes.data(), unit.pdq_blurred->bytes.size()};
    Status bound = Bind(stmt, asset_id, unit.page_index, std::string_view(unit.member), unit.time_s,
                        BlobArg{unit.pdq.bytes.data(), unit.pdq.bytes.size()}, unit.quality, local,
                        trimmed, unit.pdq_trimmed ? unit.trimmed_quality : 0, blurred,
                        unit.pdq_blurred ? unit.blurred_quality : 0);
    KAGAMI_RETURN_IF_ERROR(bound);
    KAGAMI_RETURN_IF_ERROR(Step(stmt, What("inserting unit " + std::to_string(i))).status());
    if (unit_ids != nullptr) unit_ids->push_back(sqlite3_last_insert_rowid(db.get()));
  }
  return Status::Ok();
}

Result<int64_t> SqliteCatalog::AddAsset(const AssetRecord& asset,
                                        const std::vector<UnitRecord>& units,
                                        std::vector<int64_t>* unit_ids) {
  KAGAMI_ASSIGN_OR_RETURN(std::string sha, internal::CheckAsset(asset, units.size()));
  sqlite3* db = impl_->db.get();
  std::string what = impl_->What("adding asset " + asset.path);
  KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, what));

  KAGAMI_ASSIGN_OR_RETURN(std::optional<Work> work, GetWork(asset.work_id));
  if (!work) {
    return Status::NotFound("asset " + asset.path + ": work '" + asset.work_id +
                            "' is not in the catalog; add the work first");
  }
  KAGAMI_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindAssetBySha256(sha));
  if (existing) {
    return Status::InvalidArgument("asset " + asset.path + ": content " + sha +
                                   " is already registered as asset " + std::to_string(*existing));
  }

  static constexpr std::string_view kSql =
      "INSERT INTO assets (work_id, path, sha256, size_bytes, media_type, unit_count, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  int64_t asset_id = 0;
  {
    ScopedReset reset(stmt);
    KAGAMI_RETURN_IF_ERROR(Bind(
        stmt, std::string_view(asset.work_id), std::string_view(asset.path), std::string_view(sha),
        static_cast<int64_t>(asset.size_bytes), std::string_view(asset.media_type),
        static_cast<int64_t>(units.size()), std::string_view(NowIso8601Utc())));
    KAGAMI_RETURN_IF_ERROR(Step(stmt, what).status());
    asset_id = sqlite3_last_insert_rowid(db);
  }
  std::vector<int64_t> new_ids;
  new_ids.reserve(units.size());
  Status inserted = impl_->InsertUnits(asset_id, units, &new_ids);
  if (!inserted.ok()) return inserted.WithContext("asset " + asset.path);
  KAGAMI_RETURN_IF_ERROR(txn->Commit());
  if (unit_ids != nullptr) *unit_ids = std::move(new_ids);
  return asset_id;
}

Result<Catalog::LackingUnits> SqliteCatalog::CountUnitsLacking(const std::string& sha256_hex) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  static constexpr std::string_view kSql =
      "SELECT coalesce(sum(u.pdq_blurred IS NULL), 0), "
      "coalesce(sum(substr(u.local_features, 1, 4) = ?2), 0) "
      "FROM units u JOIN assets a ON a.id = u.asset_id WHERE a.sha256 = ?1 AND u.time_s < 0";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  const std::array<uint8_t, 4> prefix = fingerprint::ColourlessBlobPrefix();
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, std::string_view(sha), BlobArg{prefix.data(), prefix.size()}));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What("counting units of " + sha)));
  LackingUnits lacking;
  if (row) {
    lacking.blurred = sqlite3_column_int64(stmt, 0);
    lacking.colour = sqlite3_column_int64(stmt, 1);
  }
  return lacking;
}

Result<Catalog::BlurredBackfill> SqliteCatalog::AddMissingBlurredHashes(
    const std::string& sha256_hex, const std::vector<UnitRecord>& units) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  sqlite3* db = impl_->db.get();
  const std::string what = impl_->What("adding blurred hashes to asset " + sha);
  KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, what));
  KAGAMI_ASSIGN_OR_RETURN(std::optional<int64_t> asset_id, FindAssetBySha256(sha));
  if (!asset_id) return Status::NotFound("asset " + sha + " is not registered");

  internal::ReadAgainPages pages(units);
  BlurredBackfill backfill;
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt select,
        Prepare(db,
                "SELECT id, page_index, member, pdq FROM units WHERE asset_id = ?1 AND "
                "pdq_blurred IS NULL AND time_s < 0 ORDER BY id",
                what));
    KAGAMI_RETURN_IF_ERROR(Bind(select.get(), *asset_id));
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(select.get(), what));
      if (!row) break;
      const int64_t unit_id = sqlite3_column_int64(select.get(), 0);
      const UnitRecord* page = pages.Find(sqlite3_column_int(select.get(), 1),
                                          ColumnText(select.get(), 2), StoredPdq(select.get(), 3));
      if (page == nullptr || !page->pdq_blurred) continue;
      backfill.filled.push_back({unit_id, *page->pdq_blurred, page->blurred_quality});
    }
  }
  backfill.mismatched = pages.mismatched();
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt update,
      Prepare(db, "UPDATE units SET pdq_blurred = ?1, blurred_quality = ?2 WHERE id = ?3", what));
  for (const BackfilledHash& b : backfill.filled) {
    ScopedReset reset(update.get());
    KAGAMI_RETURN_IF_ERROR(Bind(update.get(), BlobArg{b.hash.bytes.data(), b.hash.bytes.size()},
                                b.quality, b.unit_id));
    KAGAMI_RETURN_IF_ERROR(Step(update.get(), what).status());
  }
  KAGAMI_RETURN_IF_ERROR(txn->Commit());
  return backfill;
}

Result<Catalog::ColourBackfill> SqliteCatalog::AddMissingColour(
    const std::string& sha256_hex, const std::vector<UnitRecord>& units) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  sqlite3* db = impl_->db.get();
  const std::string what = impl_->What("adding colour signatures to asset " + sha);
  KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, what));
  KAGAMI_ASSIGN_OR_RETURN(std::optional<int64_t> asset_id, FindAssetBySha256(sha));
  if (!asset_id) return Status::NotFound("asset " + sha + " is not registered");

  internal::ReadAgainPages pages(units);
  ColourBackfill backfill;
  std::vector<std::pair<int64_t, std::vector<uint8_t>>> rewritten;
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt select,
        Prepare(db,
                "SELECT id, page_index, member, pdq, local_features FROM units WHERE asset_id = "
                "?1 AND time_s < 0 AND substr(local_features, 1, 4) = ?2 ORDER BY id",
                what));
    const std::array<uint8_t, 4> prefix = fingerprint::ColourlessBlobPrefix();
    KAGAMI_RETURN_IF_ERROR(Bind(select.get(), *asset_id, BlobArg{prefix.data(), prefix.size()}));
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(select.get(), what));
      if (!row) break;
      const int64_t unit_id = sqlite3_column_int64(select.get(), 0);
      const UnitRecord* page = pages.Find(sqlite3_column_int(select.get(), 1),
                                          ColumnText(select.get(), 2), StoredPdq(select.get(), 3));
      if (page == nullptr || !page->colour || !page->colour->measured) continue;
      Result<std::vector<uint8_t>> blob =
          fingerprint::WithColourSignature(ColumnBlob(select.get(), 4), *page->colour);
      if (!blob.ok()) {
        ++backfill.damaged;
        continue;
      }
      rewritten.emplace_back(unit_id, std::move(*blob));
      backfill.filled.push_back(unit_id);
    }
  }
  backfill.mismatched = pages.mismatched();
  KAGAMI_ASSIGN_OR_RETURN(SqliteStmt update,
                          Prepare(db, "UPDATE units SET local_features = ?1 WHERE id = ?2", what));
  for (const auto& [unit_id, blob] : rewritten) {
    ScopedReset reset(update.get());
    KAGAMI_RETURN_IF_ERROR(Bind(update.get(), BlobArg{blob.data(), blob.size()}, unit_id));
    KAGAMI_RETURN_IF_ERROR(Step(update.get(), what).status());
  }
  KAGAMI_RETURN_IF_ERROR(txn->Commit());
  return backfill;
}

Status SqliteCatalog::ForEachUnitHashAfter(
    int64_t after_unit_id,
    const std::function<void(int64_t, const fingerprint::Hash256&, int)>& fn) {
  // A fresh statement, so that fn may call the point queries.
  std::string what = impl_->What("reading unit hashes");
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      Prepare(impl_->db.get(),
              "SELECT id, pdq, quality, pdq_trimmed, trimmed_quality, pdq_blurred, "
              "blurred_quality FROM units WHERE id > ?1 ORDER BY id",
              what));
  KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), after_unit_id));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    if (!row) break;
    int64_t unit_id = sqlite3_column_int64(stmt.get(), 0);
    std::vector<uint8_t> blob = ColumnBlob(stmt.get(), 1);
    if (blob.size() != fingerprint::Hash256{}.bytes.size()) {
      return Status::Corrupt(impl_->What("unit " + std::to_string(unit_id) + " has a " +
                                         std::to_string(blob.size()) + "-byte PDQ hash"));
    }
    fn(unit_id, HashFromBlob(blob), sqlite3_column_int(stmt.get(), 2));
    KAGAMI_ASSIGN_OR_RETURN(auto trimmed,
                            OptionalHash(stmt.get(), 3, what, "trimmed PDQ", unit_id));
    if (trimmed) fn(unit_id, *trimmed, sqlite3_column_int(stmt.get(), 4));
    KAGAMI_ASSIGN_OR_RETURN(auto blurred,
                            OptionalHash(stmt.get(), 5, what, "blurred PDQ", unit_id));
    if (blurred) fn(unit_id, *blurred, sqlite3_column_int(stmt.get(), 6));
  }
  return Status::Ok();
}

Result<Catalog::UnitStats> SqliteCatalog::QueryStats(std::string_view sql, int min_quality,
                                                     int64_t max_unit_id, const std::string& what) {
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(sql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, min_quality, max_unit_id));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, impl_->What(what)));
  if (!row) return Status::Internal(impl_->What(what + ": no result row"));
  UnitStats stats;
  stats.count = sqlite3_column_int64(stmt, 0);
  stats.max_unit_id = sqlite3_column_int64(stmt, 1);
  return stats;
}

Result<Catalog::UnitStats> SqliteCatalog::GetUnitStats(int min_quality) {
  return QueryStats(
      "SELECT count(*), coalesce(max(id), 0) FROM units WHERE quality >= ?1 AND id <= ?2",
      min_quality, INT64_MAX, "counting units");
}

Result<Catalog::UnitStats> SqliteCatalog::GetIndexStats(int min_quality, int64_t max_unit_id) {
  return QueryStats(
      "SELECT (SELECT count(*) FROM units WHERE quality >= ?1 AND id <= ?2) + "
      "(SELECT count(*) FROM units WHERE pdq_trimmed IS NOT NULL AND trimmed_quality >= ?1 "
      "AND id <= ?2) + "
      "(SELECT count(*) FROM units WHERE pdq_blurred IS NOT NULL AND blurred_quality >= ?1 "
      "AND id <= ?2), "
      "coalesce((SELECT max(id) FROM units WHERE (quality >= ?1 OR "
      "(pdq_trimmed IS NOT NULL AND trimmed_quality >= ?1) OR "
      "(pdq_blurred IS NOT NULL AND blurred_quality >= ?1)) AND id <= ?2), 0)",
      min_quality, max_unit_id, "counting unit hashes");
}

Result<Catalog::UnitStats> SqliteCatalog::GetLocalFeatureStats(int64_t max_unit_id) {
  // ?1 is unused by the WHERE clause's logic but keeps QueryStats' binding valid.
  return QueryStats(
      "SELECT count(*), coalesce(max(id), 0) FROM units "
      "WHERE local_features IS NOT NULL AND length(local_features) > 0 AND ?1 = ?1 AND id <= ?2",
      0, max_unit_id, "counting local features");
}

int64_t Catalog::UnitCount() {
  auto stats = GetUnitStats(0);
  return stats.ok() ? stats->count : -1;
}

int64_t Catalog::MaxUnitId() {
  auto stats = GetUnitStats(0);
  return stats.ok() ? stats->max_unit_id : -1;
}

Result<UnitRef> SqliteCatalog::GetUnitRef(int64_t unit_id) {
  static constexpr std::string_view kSql =
      "SELECT u.id, a.work_id, w.title, a.path, a.sha256, u.member, u.page_index, u.quality, "
      "u.pdq, u.pdq_trimmed, u.pdq_blurred, u.trimmed_quality, u.blurred_quality FROM units u "
      "JOIN assets a ON a.id = u.asset_id JOIN works w ON w.id = a.work_id WHERE u.id = ?1";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, unit_id));
  std::string what = impl_->What("reading unit " + std::to_string(unit_id));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, what));
  if (!row) return Status::NotFound(what + ": no such unit");
  UnitRef ref;
  ref.unit_id = sqlite3_column_int64(stmt, 0);
  ref.work_id = ColumnText(stmt, 1);
  ref.title = ColumnText(stmt, 2);
  ref.asset_path = ColumnText(stmt, 3);
  ref.asset_sha256 = ColumnText(stmt, 4);
  ref.member = ColumnText(stmt, 5);
  ref.page_index = sqlite3_column_int(stmt, 6);
  ref.quality = sqlite3_column_int(stmt, 7);
  std::vector<uint8_t> blob = ColumnBlob(stmt, 8);
  if (blob.size() != ref.pdq.bytes.size()) {
    return Status::Corrupt(what + ": PDQ hash is " + std::to_string(blob.size()) + " bytes");
  }
  ref.pdq = HashFromBlob(blob);
  KAGAMI_ASSIGN_OR_RETURN(ref.pdq_trimmed, OptionalHash(stmt, 9, what, "trimmed PDQ"));
  KAGAMI_ASSIGN_OR_RETURN(ref.pdq_blurred, OptionalHash(stmt, 10, what, "blurred PDQ"));
  if (ref.pdq_trimmed) ref.trimmed_quality = sqlite3_column_int(stmt, 11);
  if (ref.pdq_blurred) ref.blurred_quality = sqlite3_column_int(stmt, 12);
  return ref;
}

Result<std::vector<uint8_t>> SqliteCatalog::GetLocalFeatures(int64_t unit_id) {
  static constexpr std::string_view kSql = "SELECT local_features FROM units WHERE id = ?1";
  KAGAMI_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl_->Statement(kSql));
  ScopedReset reset(stmt);
  KAGAMI_RETURN_IF_ERROR(Bind(stmt, unit_id));
  std::string what = impl_->What("reading local features of unit " + std::to_string(unit_id));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt, what));
  if (!row) return Status::NotFound(what + ": no such unit");
  return ColumnBlob(stmt, 0);
}

Status SqliteCatalog::ForEachLocalFeatures(
    const std::function<void(int64_t, const std::vector<uint8_t>&)>& fn, int64_t after_unit_id) {
  std::string what = impl_->What("reading local features");
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      Prepare(impl_->db.get(),
              "SELECT id, local_features FROM units "
              "WHERE id > ?1 AND local_features IS NOT NULL AND length(local_features) > 0 "
              "ORDER BY id",
              what));
  KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), after_unit_id));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    if (!row) break;
    fn(sqlite3_column_int64(stmt.get(), 0), ColumnBlob(stmt.get(), 1));
  }
  return Status::Ok();
}

Status SqliteCatalog::CheckIntegrity() {
  std::string what = impl_->What("checking integrity");
  {
    KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt,
                            Prepare(impl_->db.get(), "PRAGMA integrity_check", what));
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    std::string result = row ? ColumnText(stmt.get(), 0) : "no result";
    if (result != "ok") return Status::Corrupt(what + ": " + result);
  }
  KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt,
                          Prepare(impl_->db.get(), "PRAGMA foreign_key_check", what));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
  if (row) {
    return Status::Corrupt(what + ": table " + ColumnText(stmt.get(), 0) + " row " +
                           std::to_string(sqlite3_column_int64(stmt.get(), 1)) +
                           " references a missing " + ColumnText(stmt.get(), 2) + " row");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteCatalog::ListPageAssetSha256s() {
  std::string what = impl_->What("listing assets");
  KAGAMI_ASSIGN_OR_RETURN(
      int64_t has_video,
      impl_->QueryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'video_assets'", what));
  std::string sql = "SELECT sha256 FROM assets a";
  if (has_video > 0)
    sql += " WHERE NOT EXISTS (SELECT 1 FROM video_assets v WHERE v.asset_id = a.id)";
  sql += " ORDER BY sha256";
  return internal::SelectTexts(impl_->db.get(), sql, what);
}

Result<std::optional<AssetContent>> SqliteCatalog::GetAssetContent(const std::string& sha256_hex) {
  KAGAMI_ASSIGN_OR_RETURN(const std::string sha, internal::LookupSha256(sha256_hex));
  std::string what = impl_->What("reading asset " + sha);
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      Prepare(impl_->db.get(),
              "SELECT id, work_id, path, sha256, size_bytes, media_type FROM assets "
              "WHERE sha256 = ?1",
              what));
  KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), std::string_view(sha)));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
  if (!row) return std::optional<AssetContent>();
  AssetContent content;
  int64_t asset_id = sqlite3_column_int64(stmt.get(), 0);
  content.asset.work_id = ColumnText(stmt.get(), 1);
  content.asset.path = ColumnText(stmt.get(), 2);
  content.asset.sha256_hex = ColumnText(stmt.get(), 3);
  content.asset.size_bytes = static_cast<uint64_t>(sqlite3_column_int64(stmt.get(), 4));
  content.asset.media_type = ColumnText(stmt.get(), 5);
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt units,
      Prepare(impl_->db.get(),
              "SELECT page_index, member, time_s, pdq, quality, local_features, pdq_trimmed, "
              "trimmed_quality, pdq_blurred, blurred_quality FROM units WHERE asset_id = ?1 "
              "ORDER BY id",
              what));
  KAGAMI_RETURN_IF_ERROR(Bind(units.get(), asset_id));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool more, Step(units.get(), what));
    if (!more) break;
    UnitRecord u;
    u.page_index = sqlite3_column_int(units.get(), 0);
    u.member = ColumnText(units.get(), 1);
    u.time_s = sqlite3_column_double(units.get(), 2);
    std::vector<uint8_t> pdq = ColumnBlob(units.get(), 3);
    if (pdq.size() != u.pdq.bytes.size()) return Status::Corrupt(what + ": malformed PDQ hash");
    u.pdq = HashFromBlob(pdq);
    u.quality = sqlite3_column_int(units.get(), 4);
    u.local_features = ColumnBlob(units.get(), 5);
    KAGAMI_ASSIGN_OR_RETURN(u.pdq_trimmed, OptionalHash(units.get(), 6, what, "trimmed PDQ"));
    if (u.pdq_trimmed) u.trimmed_quality = sqlite3_column_int(units.get(), 7);
    KAGAMI_ASSIGN_OR_RETURN(u.pdq_blurred, OptionalHash(units.get(), 8, what, "blurred PDQ"));
    if (u.pdq_blurred) u.blurred_quality = sqlite3_column_int(units.get(), 9);
    content.units.push_back(std::move(u));
  }
  return std::optional<AssetContent>(std::move(content));
}

std::string AssetDigest(const AssetContent& content) {
  // Length-prefixed fields, so that no two contents serialise alike.
  std::string buf;
  auto put = [&buf](std::string_view field) {
    buf += std::to_string(field.size());
    buf += ':';
    buf.append(field.data(), field.size());
  };
  auto put_bytes = [&put](const uint8_t* data, size_t n) {
    put(std::string_view(reinterpret_cast<const char*>(data), n));
  };
  const AssetRecord& a = content.asset;
  put(a.work_id);
  put(a.path);
  put(a.sha256_hex);
  put(std::to_string(a.size_bytes));
  put(a.media_type);
  put(std::to_string(content.units.size()));
  for (const UnitRecord& u : content.units) {
    put(std::to_string(u.page_index));
    put(u.member);
    char time[64];
    std::snprintf(time, sizeof time, "%.17g", u.time_s);
    put(time);
    put_bytes(u.pdq.bytes.data(), u.pdq.bytes.size());
    put(std::to_string(u.quality));
    put_bytes(u.local_features.data(), u.local_features.size());
    if (u.pdq_trimmed) {
      put_bytes(u.pdq_trimmed->bytes.data(), u.pdq_trimmed->bytes.size());
      put(std::to_string(u.trimmed_quality));
    } else {
      put("-");
    }
    // Only when present, so that the digests of units without one are as
    // before the blurred hash existed.
    if (u.pdq_blurred) {
      put("blurred");
      put_bytes(u.pdq_blurred->bytes.data(), u.pdq_blurred->bytes.size());
      put(std::to_string(u.blurred_quality));
    }
  }
  return kagami::Sha256Hex(buf.data(), buf.size());
}

}  // namespace kagami::index
