#pragma once

// The findings ledger on PostgreSQL, for many machines appending at once.
// Same chain format and entry hash as the embedded ledger (findings_ledger.h),
// so `kagami export` bundles from either verify the same way.
//
// Appends are serialised on the head with pg_advisory_xact_lock: each append
// transaction takes the lock, reads the head, inserts seq = head + 1 chained to
// it, and commits (releasing the lock), so concurrent appenders on separate
// connections and machines extend one gap-free chain. seq is the primary key
// and hash is UNIQUE, so even a writer that bypassed the lock could not fork
// the chain. UPDATE, DELETE and TRUNCATE are refused by triggers. Schema:
// component "ledger" of store/migrations.h.
//
// Thread-safety: one object may be shared by threads (a mutex guards its
// connection).

#include <memory>
#include <optional>
#include <string>

#include "kagami/reports/findings_ledger.h"
#include "kagami/store/store_location.h"

namespace kagami::reports {

class PgFindingsLedger : public FindingsLedger {
 public:
  // Connects to `conninfo` and applies the ledger migrations.
  static Result<std::unique_ptr<PgFindingsLedger>> Open(const std::string& conninfo,
                                                        Clock clock = {});

  // Appends `finding` unless a finding with the same `key` is already in the
  // ledger; the check runs under the head lock, so concurrent workers never
  // record one finding twice. Returns the new seq, or nullopt when present.
  virtual Result<std::optional<int64_t>> AppendUnique(const Finding& finding,
                                                      const std::string& key) = 0;

  // Copies `entries` (another ledger's chain, seq order) verbatim: checks
  // the chain (VerifyEntries), requires this ledger to hold a prefix of it
  // (same hashes) and appends the rest, so an interrupted copy can be rerun.
  // kCorrupt when the source chain is broken, kInvalidArgument when this
  // ledger has diverged. Returns the number of entries appended.
  virtual Result<int64_t> Import(const std::vector<LedgerEntry>& entries) = 0;
};

// The findings ledger of `location`: findings.sqlite in its data directory,
// or the PostgreSQL ledger.
Result<std::unique_ptr<FindingsLedger>> OpenFindingsLedger(const store::StoreLocation& location,
                                                           FindingsLedger::Clock clock = {});

}  // namespace kagami::reports
