#pragma once

// Shared by the PostgreSQL catalog (pg_catalog.cc) and its video tables
// (pg_video_store.cc), private to kagami_index.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/store/pg_connection.h"

namespace kagami::index::internal {

// Applies the "catalog" component's migrations (pages, then videos) on `conn`
// and pins bytea_output to hex for FromBytea.
Status MigratePgCatalog(store::PgConnection& conn);

// Serialises unit- and frame-id allocation with COMMIT (pg_catalog.h): taken
// in every transaction that inserts units or frames.
constexpr std::string_view kPgInsertLockSql =
    "SELECT pg_advisory_xact_lock(hashtext('kagami_catalog_insert'))";

// Announces new units or frames to listening nodes (Store::CatalogChanged);
// run inside the inserting transaction, delivered at its COMMIT.
constexpr std::string_view kPgNotifySql = "SELECT pg_notify('kagami_catalog', '')";

// "catalog <display>: <operation>", the context of every error of a
// PostgreSQL catalog and its video tables.
std::string PgCatalogWhat(const store::PgConnection& conn, std::string_view operation);

// The catalog's identity ("postgresql:" and its instance id from
// catalog_meta), which index caches record; kCorrupt when it has none.
Result<std::string> PgCatalogIdentity(store::PgConnection& conn);

// bytea as a text parameter ("\x0a1b...").
std::string ToBytea(const uint8_t* data, size_t n);
// bytea in PostgreSQL's hex output format; kCorrupt otherwise.
Result<std::vector<uint8_t>> FromBytea(const std::string& text);
// A 32-byte bytea; kCorrupt naming `row_id` otherwise.
Result<fingerprint::Hash256> HashFromBytea(const std::string& text, int64_t row_id);

}  // namespace kagami::index::internal
