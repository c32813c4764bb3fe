// `kagami store`: the shared PostgreSQL store.
//   kagami store init --store URL        apply every schema migration, print versions
//   kagami store migrate --from DIR --to URL
//                                        copy an embedded store's catalog (works, assets,
//                                        pages, videos) and findings ledger into PostgreSQL, then
//                                        verify both copies; idempotent on rerun

#include <iostream>
#include <string>

#include "command.h"
#include "kagami/base/sha256.h"
#include "kagami/crawler/pg_frontier.h"
#include "kagami/index/pg_catalog.h"
#include "kagami/index/store.h"
#include "kagami/index/video_store.h"
#include "kagami/ingest/memory_source.h"
#include "kagami/reports/pg_findings_ledger.h"
#include "kagami/store/migrations.h"
#include "kagami/store/pg_connection.h"
#include "kagami/store/store_location.h"

namespace kagami::app {
namespace {

class StoreCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* c = app.add_subcommand("store", "the shared PostgreSQL store (README 'Deployment')");
    c->require_subcommand(1);
    init_ = c->add_subcommand("init", "create or upgrade the schema in --store (migrations)");
    migrate_ = c->add_subcommand(
        "migrate",
        "copy the catalog and findings ledger of an embedded store into PostgreSQL, verified");
    init_->fallthrough();  // --store, --data given after `init` belong to `store`
    migrate_->fallthrough();
    migrate_->add_option("--from", from_, "data directory of the embedded (SQLite) store")
        ->required();
    migrate_->add_option("--to", to_, "postgresql://... or a libpq key=value string")->required();
    return c;
  }

  int Run(const GlobalFlags& flags) override {
    if (*init_) return RunInit(flags);
    return RunMigrate();
  }

 private:
  static int PrintVersions(const std::string& conninfo) {
    auto db = store::PgConnection::Connect(conninfo);
    if (!db.ok()) return Fail(db.status());
    for (const char* component : {"catalog", "frontier", "ledger"}) {
      auto v = store::SchemaVersion(**db, component);
      if (!v.ok()) return Fail(v.status());
      std::cout << component << " schema version " << *v << '\n';
    }
    return kExitOk;
  }

  int RunInit(const GlobalFlags& flags) {
    auto location = store::ResolveStoreLocation(flags.store, index::ResolveDataDir(flags.data_dir));
    if (!location.ok()) return Fail(location.status());
    if (!location->postgres()) {
      std::cerr << "kagami store init: give --store postgresql://... (or $KAGAMI_STORE)\n";
      return kExitUsage;
    }
    Status st = crawler::MigratePgFrontierSchema(location->conninfo);
    if (!st.ok()) return Fail(st);
    auto catalog = index::MigratePgCatalogSchema(location->conninfo);
    if (!catalog.ok()) return Fail(catalog.status());
    auto ledger = reports::PgFindingsLedger::Open(location->conninfo);
    if (!ledger.ok()) return Fail(ledger.status());
    std::cout << "store " << location->Display() << " ready\n";
    return PrintVersions(location->conninfo);
  }

  int RunMigrate() {
    auto to = store::ResolveStoreLocation(to_, from_);
    if (!to.ok()) return Fail(to.status());
    if (!to->postgres()) {
      std::cerr << "kagami store migrate: --to must be a PostgreSQL store\n";
      return kExitUsage;
    }
    const bool has_catalog =
        std::filesystem::exists(std::filesystem::path(from_) / index::Store::kCatalogFileName);
    const bool has_ledger =
        std::filesystem::exists(std::filesystem::path(from_) / reports::FindingsLedger::kFileName);
    if (!has_catalog && !has_ledger) {
      std::cerr << "kagami store migrate: " << from_ << " has neither "
                << index::Store::kCatalogFileName << " nor " << reports::FindingsLedger::kFileName
                << '\n';
      return kExitUsage;
    }
    if (has_catalog) {
      int rc = MigrateCatalog(to->conninfo);
      if (rc != kExitOk) return rc;
    }
    if (!has_ledger) {
      std::cout << "ledger: none in " << from_ << '\n';
      return kExitOk;
    }
    auto source = reports::FindingsLedger::Open(from_);
    if (!source.ok()) return Fail(source.status());
    auto entries = (*source)->Entries();
    if (!entries.ok()) return Fail(entries.status());
    auto dest = reports::PgFindingsLedger::Open(to->conninfo);
    if (!dest.ok()) return Fail(dest.status());
    auto added = (*dest)->Import(*entries);
    if (!added.ok()) return Fail(added.status());
    // Verify: the copy re-read from PostgreSQL verifies and has the same head.
    auto check = (*dest)->VerifyChain();
    if (!check.ok()) return Fail(check.status());
    auto src_head = (*source)->Head();
    if (!src_head.ok()) return Fail(src_head.status());
    if (!check->ok || check->entries != static_cast<int64_t>(entries->size()) ||
        check->head.hash != src_head->hash) {
      std::cerr << "kagami store migrate: the copy does not match: " << check->entries
                << " entries, head " << check->head.hash << " (source " << entries->size()
                << " entries, head " << src_head->hash << ")"
                << (check->problem.empty() ? "" : "; " + check->problem) << '\n';
      return kExitFailure;
    }
    std::cout << "ledger: " << *added << " entries copied, " << check->entries
              << " in PostgreSQL; head " << check->head.seq << ' ' << check->head.hash
              << " matches the source\n";
    return kExitOk;
  }

  // Copies every page asset of the embedded catalog that PostgreSQL does not
  // hold yet (by content hash, so a rerun copies only what is missing), then
  // verifies: every source asset is in PostgreSQL with the same content digest
  // (AssetDigest: record, units, hashes, blobs), and the digests of all
  // source assets, combined in content-hash order, match.
  int MigrateCatalog(const std::string& conninfo) {
    auto source =
        index::Catalog::Open(std::filesystem::path(from_) / index::Store::kCatalogFileName);
    if (!source.ok()) return Fail(source.status());
    auto dest = index::OpenPgCatalog(conninfo);
    if (!dest.ok()) return Fail(dest.status());
    auto works = (*source)->ListWorks();
    if (!works.ok()) return Fail(works.status());
    for (const index::WorkSummary& w : *works) {
      Status st = (*dest)->UpsertWork(w.work);
      if (!st.ok()) return Fail(st);
    }
    auto shas = (*source)->ListPageAssetSha256s();
    if (!shas.ok()) return Fail(shas.status());
    int64_t copied = 0, present = 0, units = 0;
    std::string combined;
    for (const std::string& sha : *shas) {
      auto content = (*source)->GetAssetContent(sha);
      if (!content.ok()) return Fail(content.status());
      if (!content->has_value()) continue;  // removed meanwhile: nothing to copy
      const index::AssetContent& c = **content;
      auto existing = (*dest)->FindAssetBySha256(sha);
      if (!existing.ok()) return Fail(existing.status());
      if (!existing->has_value()) {
        auto added = (*dest)->AddAsset(c.asset, c.units);
        if (!added.ok()) return Fail(added.status());
        ++copied;
      } else {
        ++present;
      }
      auto copy = (*dest)->GetAssetContent(sha);
      if (!copy.ok()) return Fail(copy.status());
      std::string digest = index::AssetDigest(c);
      if (!copy->has_value() || index::AssetDigest(**copy) != digest) {
        std::cerr << "kagami store migrate: asset " << sha << " (" << c.asset.path
                  << ") differs in PostgreSQL from the embedded catalog"
                  << (copy->has_value() ? "" : " (missing)") << '\n';
        return kExitFailure;
      }
      units += static_cast<int64_t>(c.units.size());
      combined += digest;
    }
    std::string total = kagami::Sha256Hex(combined);
    std::cout << "catalog: " << works->size() << " works, " << shas->size() << " page files ("
              << copied << " copied, " << present << " already there), " << units
              << " pages verified; content digest " << total << '\n';
    return MigrateVideos(conninfo);
  }

  // The same for the video assets: each copied with its frames and audio
  // fingerprint unless PostgreSQL holds it, then verified by VideoAssetDigest.
  int MigrateVideos(const std::string& conninfo) {
    auto source = index::OpenSqliteVideoCatalog(std::filesystem::path(from_) /
                                                index::Store::kCatalogFileName);
    if (!source.ok()) return Fail(source.status());
    auto shas = (*source)->ListVideoAssetSha256s();
    if (!shas.ok()) return Fail(shas.status());
    if (shas->empty()) return kExitOk;
    auto dest = index::OpenPgVideoCatalog(conninfo);
    if (!dest.ok()) return Fail(dest.status());
    int64_t copied = 0, present = 0, frames = 0;
    std::string combined;
    for (const std::string& sha : *shas) {
      auto video = (*source)->GetVideoAsset(sha);
      if (!video.ok()) return Fail(video.status());
      if (!video->has_value()) continue;  // removed meanwhile
      const index::VideoAssetRecord& v = **video;
      auto existing = (*dest)->GetVideoAsset(sha);
      if (!existing.ok()) return Fail(existing.status());
      if (!existing->has_value()) {
        auto added = (*dest)->AddVideoAsset(v, nullptr);
        if (!added.ok()) return Fail(added.status());
        ++copied;
      } else {
        ++present;
      }
      auto copy = (*dest)->GetVideoAsset(sha);
      if (!copy.ok()) return Fail(copy.status());
      std::string digest = index::VideoAssetDigest(v);
      if (!copy->has_value() || index::VideoAssetDigest(**copy) != digest) {
        std::cerr << "kagami store migrate: video " << sha << " (" << v.asset.path
                  << ") differs in PostgreSQL from the embedded catalog"
                  << (copy->has_value() ? "" : " (missing)") << '\n';
        return kExitFailure;
      }
      frames += static_cast<int64_t>(v.frames.size());
      combined += digest;
    }
    std::string total = kagami::Sha256Hex(combined);
    std::cout << "catalog: " << shas->size() << " video files (" << copied << " copied, " << present
              << " already there), " << frames
              << " frames and their audio verified; content digest " << total << '\n';
    return kExitOk;
  }

  CLI::App* init_ = nullptr;
  CLI::App* migrate_ = nullptr;
  std::string from_, to_;
};

}  // namespace

std::unique_ptr<Command> MakeStoreCommand() { return std::make_unique<StoreCommand>(); }

Result<std::unique_ptr<index::Store>> OpenCatalogStore(const GlobalFlags& flags,
                                                       index::StoreAccess access, bool* rebuilt) {
  const std::filesystem::path data_dir = index::ResolveDataDir(flags.data_dir);
  KAGAMI_ASSIGN_OR_RETURN(store::StoreLocation location,
                          store::ResolveStoreLocation(flags.store, data_dir));
  index::StoreOpenOptions options;
  options.access = access;
  if (location.postgres()) options.catalog_conninfo = location.conninfo;
  return index::Store::Open(location.postgres() ? data_dir : location.data_dir, rebuilt, options);
}

Result<std::unique_ptr<reports::FindingsLedger>> OpenLedger(const GlobalFlags& flags,
                                                            const std::filesystem::path& data_dir) {
  KAGAMI_ASSIGN_OR_RETURN(store::StoreLocation location,
                          store::ResolveStoreLocation(flags.store, data_dir));
  return reports::OpenFindingsLedger(location);
}

}  // namespace kagami::app
