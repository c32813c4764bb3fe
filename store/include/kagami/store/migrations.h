#pragma once

// Versioned schema migrations, one mechanism for both backends. Each store
// component ("frontier", "ledger", "catalog", ...) has an ordered list of
// migrations numbered 1, 2, 3, ...; the versions applied are recorded in the
// table kagami_schema(component, version, description, applied_at). At start
// a component applies, in order, every migration newer than its recorded
// version, each in one transaction together with its record, so a killed
// process leaves each migration wholly applied or not at all. Concurrent
// starters are serialised (PostgreSQL: an advisory transaction lock; SQLite:
// BEGIN IMMEDIATE), so N workers starting at once apply each migration once.
// A store recorded at a newer version than this build knows is refused
// (kUnsupported) rather than misread.

#include <sqlite3.h>

#include <span>
#include <string_view>

#include "kagami/base/status.h"
#include "kagami/store/pg_connection.h"

namespace kagami::store {

struct Migration {
  int version = 0;               // 1, 2, ... without gaps
  std::string_view description;  // one line, recorded
  std::string_view sql;          // a script in the backend's dialect
};

// The version now recorded for `component` (0 when none).
Result<int> SchemaVersion(PgConnection& conn, std::string_view component);
Result<int> SchemaVersion(sqlite3* db, std::string_view component);

// Applies the missing migrations; returns the resulting version.
Result<int> Migrate(PgConnection& conn, std::string_view component,
                    std::span<const Migration> migrations);
Result<int> Migrate(sqlite3* db, std::string_view component, std::span<const Migration> migrations);

}  // namespace kagami::store
