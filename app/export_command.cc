// `kagami export`: a signed evidence bundle from the findings ledger.

#include <iostream>

#include "command.h"
#include "kagami/index/store.h"
#include "kagami/reports/evidence_bundle.h"
#include "kagami/reports/findings_ledger.h"
#include "kagami/reports/signing_key.h"

namespace kagami::app {
namespace {

class ExportCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* cmd = app.add_subcommand("export", "write a signed evidence bundle");
    cmd->add_option("--out", out_, "bundle directory to create")->required();
    cmd->add_option("--case", case_, "case name printed on the bundle");
    cmd->add_option("--work", work_, "only this work id");
    cmd->add_option("--since", since_, "only findings captured at or after (YYYY-MM-DD, UTC)");
    cmd->add_option("--status", status_,
                    "only findings in this state: new, confirmed, rejected, notice_sent, removed");
    cmd->add_flag("--zip", zip_, "also write OUT.zip");
    cmd->add_option("--rights-holder", rights_holder_,
                    "rights-holder config for notices (default DATA/rights_holder.json)");
    cmd->add_flag("--require-complete", require_complete_,
                  "fail when a notice lacks a required rights-holder field");
    cmd->add_option("--operator", operator_, "who exports (default $KAGAMI_OPERATOR, else $USER)");
    cmd->add_option("--tsa", tsa_url_, "RFC 3161 time-stamping authority URL");
    cmd->add_option("--tsa-ca", tsa_ca_, "CA certificate(s) of the TSA (PEM), copied as tsa.pem");
    return cmd;
  }

  int Run(const GlobalFlags& flags) override {
    auto dir = index::ResolveDataDir(flags.data_dir);
    reports::ExportOptions options;
    options.out_dir = out_;
    options.case_name = case_;
    options.filter.work = work_;
    if (!since_.empty()) {
      auto since = reports::ParseUtcTime(since_);
      if (!since.ok()) {
        std::cerr << "kagami: " << since.status().message() << '\n';
        return kExitUsage;
      }
      options.filter.since = *since;
    }
    if (!status_.empty()) {
      auto s = reports::ParseReviewState(status_);
      if (!s.ok()) {
        std::cerr << "kagami: " << s.status().message() << '\n';
        return kExitUsage;
      }
      options.filter.status = *s;
    }
    options.zip = zip_;
    options.rights_holder_config = rights_holder_;
    options.require_complete = require_complete_;
    options.operator_name = OperatorName(operator_);
    options.tsa_url = tsa_url_;
    options.tsa_ca_file = tsa_ca_;
    auto key = reports::SigningKey::Load(dir);
    if (!key.ok()) return Fail(key.status());
    auto store = index::Store::Open(dir);
    if (!store.ok()) return Fail(store.status());
    auto ledger = OpenLedger(flags, dir);
    if (!ledger.ok()) return Fail(ledger.status());
    auto result = reports::ExportBundle(**ledger, (*store)->catalog(), *key, dir, options);
    if (!result.ok()) return Fail(result.status());
    for (const auto& w : result->warnings) std::cerr << "kagami: warning: " << w << '\n';
    std::cout << "bundle " << result->bundle.string() << ": " << result->findings << " finding(s), "
              << result->exhibits << " exhibit(s), " << result->notices
              << " notice set(s)\nmanifest sha256 " << result->manifest_sha256 << '\n';
    if (result->zip) std::cout << "zip " << result->zip->string() << '\n';
    return kExitOk;
  }

 private:
  std::string out_, case_, work_, since_, status_, rights_holder_, operator_, tsa_url_, tsa_ca_;
  bool zip_ = false;
  bool require_complete_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeExportCommand() { return std::make_unique<ExportCommand>(); }

}  // namespace kagami::app
