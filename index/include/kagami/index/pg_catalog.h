#pragma once

// The catalog in PostgreSQL (libpq through kagami::store): the same works,
// assets and units as the SQLite catalog (catalog.h), with the same limits,
// idempotency (by asset sha256) and one transaction per asset, so that many
// machines register and scan against one catalog.
//
// Schema: component "catalog" of the versioned migrations (store/migrations.h),
// applied at open. Tables catalog_meta (the database's instance id),
// works, assets, units (hashes and local-feature blobs as bytea), and the
// video tables.
//
// Unit ids and visibility: AddAsset takes a transaction-scoped advisory lock
// before the asset's rows are inserted and holds it to COMMIT, so unit ids are
// allocated in commit order; a reader that sees unit N sees every smaller id
// that will ever exist. That makes "the largest unit id indexed" a sound
// high-water mark for incremental index refreshes (index/store.h). Writers of
// different assets serialise only for their inserts (fingerprinting, which is
// most of registration, runs outside the transaction).
//
// Video assets are stored beside the pages (migration 2: video_assets,
// video_frames, audio_fingerprints; OpenPgVideoCatalog in video_store.h),
// each also an `assets` row, so works, idempotency and integrity checks
// cover them; ListPageAssetSha256s leaves them out.
//
// Not thread-safe (one libpq connection): one PgCatalog per thread, or locking.

#include <memory>
#include <string>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"

namespace kagami::index {

// Connects (`conninfo`: postgresql://... or a libpq key=value string) and
// applies the catalog schema migrations.
Result<std::unique_ptr<Catalog>> OpenPgCatalog(const std::string& conninfo);

// Applies the catalog schema migrations only (kagami store init); returns the version.
Result<int> MigratePgCatalogSchema(const std::string& conninfo);

}  // namespace kagami::index
