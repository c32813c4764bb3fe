#pragma once

// Where Kagami keeps its shared state (catalog, crawl frontier, findings ledger):
// the embedded SQLite files in the data directory (the default), or one
// PostgreSQL database shared by many machines.

#include <filesystem>
#include <string>

#include "kagami/base/status.h"

namespace kagami::store {

struct StoreLocation {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::filesystem::path data_dir;  // always set: WARC files and evidence stay here
  std::string conninfo;            // kPostgres: as given (URI or key=value)

  bool postgres() const { return kind == Kind::kPostgres; }
  // "sqlite:DIR" or the redacted PostgreSQL conninfo.
  std::string Display() const;
};

// `flag` (--store), else $KAGAMI_STORE, else SQLite in `data_dir`. Accepted:
// "postgresql://..." / "postgres://..." URIs, libpq key=value strings
// ("host=/run/postgresql dbname=kagami"), "sqlite" (the data directory) or
// "sqlite:DIR". Anything else is kInvalidArgument with the accepted forms.
Result<StoreLocation> ResolveStoreLocation(const std::string& flag,
                                           const std::filesystem::path& data_dir);

}  // namespace kagami::store
