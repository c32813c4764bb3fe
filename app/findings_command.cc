// `kagami findings`: list the findings ledger; `kagami findings review ID ...`
// appends a review action.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "command.h"
#include "kagami/index/store.h"
#include "kagami/reports/finding_records.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::app {

// Who is acting: --by, else $KAGAMI_OPERATOR, else $USER, else "unknown".
std::string OperatorName(const std::string& flag) {
  if (!flag.empty()) return flag;
  for (const char* var : {"KAGAMI_OPERATOR", "USER", "LOGNAME"}) {
    const char* v = std::getenv(var);
    if (v && *v) return v;
  }
  return "unknown";
}

namespace {

class FindingsCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* cmd = app.add_subcommand("findings", "list findings and review them");
    cmd->add_option("--format", format_, "text|jsonl")->check(CLI::IsMember({"text", "jsonl"}));
    cmd->add_option("--work", work_, "only this work id");
    cmd->add_option("--since", since_, "only findings captured at or after (YYYY-MM-DD, UTC)");
    cmd->add_option("--status", status_,
                    "only findings in this state: new, confirmed, rejected, notice_sent, removed");
    cmd->add_flag("--verify", verify_, "check the ledger's hash chain and print its head");

    review_ = cmd->add_subcommand("review", "record a review decision for a finding");
    review_->add_option("id", id_, "finding id")->required();
    auto* group = review_->add_option_group("decision");
    group->add_flag_callback(
        "--confirm", [this] { state_ = "confirmed"; }, "it is the work");
    group->add_flag_callback(
        "--reject", [this] { state_ = "rejected"; }, "not an infringement");
    group->add_flag_callback(
        "--notice-sent", [this] { state_ = "notice_sent"; }, "a takedown notice was sent");
    group->add_flag_callback(
        "--removed", [this] { state_ = "removed"; }, "the content is gone from the site");
    group->require_option(1);
    review_->add_option("--note", note_, "why");
    review_->add_option("--by", by_, "reviewer (default $KAGAMI_OPERATOR, else $USER)");
    return cmd;
  }

  int Run(const GlobalFlags& flags) override {
    auto ledger = OpenLedger(flags, index::ResolveDataDir(flags.data_dir));
    if (!ledger.ok()) return Fail(ledger.status());
    if (*review_) return RunReview(**ledger);
    if (verify_) return RunVerify(**ledger);
    return RunList(**ledger);
  }

 private:
  int RunReview(reports::FindingsLedger& ledger) {
    auto state = reports::ParseReviewState(state_);
    if (!state.ok()) return Fail(state.status());
    auto seq = ledger.Review({id_, *state, OperatorName(by_), note_});
    if (!seq.ok()) return Fail(seq.status());
    std::cout << "finding " << id_ << ": " << reports::ReviewStateName(*state) << " (ledger entry "
              << *seq << ")\n";
    return kExitOk;
  }

  int RunVerify(reports::FindingsLedger& ledger) {
    auto check = ledger.VerifyChain();
    if (!check.ok()) return Fail(check.status());
    if (!check->ok) {
      std::cerr << "kagami: ledger broken: " << check->problem << '\n';
      return kExitFailure;
    }
    std::cout << "ledger ok: " << check->entries << " entries, head " << check->head.hash << '\n';
    return kExitOk;
  }

  int RunList(reports::FindingsLedger& ledger) {
    reports::FindingFilter filter;
    filter.work = work_;
    filter.since = since_;
    if (!status_.empty()) {
      auto s = reports::ParseReviewState(status_);
      if (!s.ok()) {
        std::cerr << "kagami: " << s.status().message() << '\n';
        return kExitUsage;
      }
      filter.status = *s;
    }
    auto list = ledger.List(filter);
    if (!list.ok()) {
      if (list.status().code() == StatusCode::kInvalidArgument) {
        std::cerr << "kagami: " << list.status().message() << '\n';
        return kExitUsage;
      }
      return Fail(list.status());
    }
    if (format_ == "jsonl") {
      for (const auto& r : *list) std::cout << JsonDump(reports::FindingListJson(r)) << '\n';
      return kExitOk;
    }
    std::printf("%6s  %-11s  %-20s  %-20s  %5s  %4s  %s\n", "id", "status", "work",
                "captured (UTC)", "units", "sim", "source");
    for (const auto& r : *list) {
      const auto& f = r.finding;
      std::string where = f.source_is_url && !f.page_url.empty() ? f.page_url : f.source;
      const std::vector<std::string> twins = reports::SamePictureWorks(f);
      for (size_t i = 0; i < twins.size(); ++i)
        where += (i == 0 ? "  (same picture as work " : ", ") + twins[i];
      if (!twins.empty()) where += ")";
      std::printf("%6lld  %-11s  %-20s  %-20s  %5zu  %.2f  %s\n", static_cast<long long>(r.id),
                  std::string(reports::ReviewStateName(r.status)).c_str(), f.work.c_str(),
                  f.captured_at.c_str(), f.units.size(), reports::BestSimilarity(f), where.c_str());
    }
    std::printf("%zu finding(s)\n", list->size());
    return kExitOk;
  }

  std::string format_ = "text";
  std::string work_;
  std::string since_;
  std::string status_;
  bool verify_ = false;
  CLI::App* review_ = nullptr;
  int64_t id_ = 0;
  std::string state_;
  std::string note_;
  std::string by_;
};

}  // namespace

std::unique_ptr<Command> MakeFindingsCommand() { return std::make_unique<FindingsCommand>(); }

}  // namespace kagami::app
