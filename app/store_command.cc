// `kagami store`: the shared PostgreSQL store.
//   kagami store init --store URL        apply every schema migration, print versions
//   kagami store migrate --from DIR --to URL
//                                        copy an embedded store's findings ledger into
//                                        PostgreSQL verbatim, then verify the copy

#include <iostream>
#include <string>

#include "command.h"
#include "kagami/crawler/pg_frontier.h"
#include "kagami/index/store.h"
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
        "migrate", "copy the findings ledger of an embedded store into PostgreSQL, verified");
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
    for (const char* component : {"frontier", "ledger"}) {
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
    if (!std::filesystem::exists(std::filesystem::path(from_) /
                                 reports::FindingsLedger::kFileName)) {
      std::cerr << "kagami store migrate: " << from_ << " has no "
                << reports::FindingsLedger::kFileName << '\n';
      return kExitUsage;
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
    std::cout << "catalog and indexes stay in " << from_
              << " (each scanning machine keeps its own copy; README 'Deployment')\n";
    return kExitOk;
  }

  CLI::App* init_ = nullptr;
  CLI::App* migrate_ = nullptr;
  std::string from_, to_;
};

}  // namespace

std::unique_ptr<Command> MakeStoreCommand() { return std::make_unique<StoreCommand>(); }

Result<std::unique_ptr<reports::FindingsLedger>> OpenLedger(const GlobalFlags& flags,
                                                            const std::filesystem::path& data_dir) {
  KAGAMI_ASSIGN_OR_RETURN(store::StoreLocation location,
                          store::ResolveStoreLocation(flags.store, data_dir));
  return reports::OpenFindingsLedger(location);
}

}  // namespace kagami::app
