#include "command.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"

namespace kagami::app {
namespace {

class RegisterCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* reg =
        app.add_subcommand("register", "register files, folders and archives as a work");
    reg->add_option("--work", work_.id, "stable work id, e.g. onepiece-v001")->required();
    reg->add_option("--title", work_.title, "title")->required();
    reg->add_option("--rights-holder", work_.rights_holder, "rights holder");
    reg->add_option("--kind", kind_, "manga|anime|film|other")
        ->check(CLI::IsMember({"manga", "anime", "film", "other"}));
    reg->add_option("--id", identifiers_,
                    "identifier as scheme=value, e.g. isbn=9784088725093 (repeatable)");
    reg->add_flag("--json", json_, "print the summary as one JSON object");
    reg->add_flag("--no-local", no_local_,
                  "skip trimmed-view and blurred hashes and local features (faster; scan then "
                  "finds cropped, padded or rotated copies of these pages only by PDQ)");
    reg->add_option("paths", paths_, "files, folders, archives")->required();
    return reg;
  }

  int Run(const GlobalFlags& flags) override {
    work_.kind = *index::ParseWorkKind(kind_);
    for (const std::string& id : identifiers_) {
      size_t eq = id.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "kagami: --id takes scheme=value, got '" << id << "'\n";
        return kExitUsage;
      }
      work_.identifiers[id.substr(0, eq)] = id.substr(eq + 1);
    }
    return RunRegister(flags, work_, paths_, json_, no_local_);
  }

 private:
  static int RunRegister(const GlobalFlags& flags, const kagami::index::Work& work,
                         const std::vector<std::string>& paths, bool json, bool no_local) {
    bool rebuilt = false;
    auto store = OpenCatalogStore(flags, kagami::index::StoreAccess::kWrite, &rebuilt);
    if (!store.ok()) return Fail(store.status());
    if (rebuilt) std::cerr << "kagami: index rebuilt from the catalog\n";
    kagami::pipeline::RegisterOptions options;
    options.extract = MakeExtractOptions(flags, kagami::ingest::DecodeMode::kFast);
    options.robust = !no_local;
    auto summary = kagami::pipeline::RegisterWork(**store, work, paths, options, MakeProgress());
    if (!summary.ok()) return Fail(summary.status());
    const kagami::pipeline::RegisterSummary& s = *summary;
    if (json) {
      nlohmann::json j = {{"work", work.id},
                          {"volumes", s.volumes},
                          {"assets_added", s.assets_added},
                          {"assets_skipped", s.assets_skipped},
                          {"assets_incomplete", s.assets_incomplete},
                          {"units_added", s.units_added},
                          {"units_low_quality", s.units_low_quality},
                          {"assets_backfilled", s.assets_backfilled},
                          {"units_backfilled", s.units_backfilled},
                          {"units_colour_backfilled", s.units_colour_backfilled},
                          {"units_backfill_mismatched", s.units_backfill_mismatched}};
      nlohmann::json errors = nlohmann::json::array();
      for (const auto& e : s.errors) {
        errors.push_back(
            {{"file", e.source}, {"member", e.member}, {"error", e.status.ToString()}});
      }
      j["errors"] = errors;
      nlohmann::json elsewhere = nlohmann::json::array();
      for (const auto& e : s.in_other_works)
        elsewhere.push_back({{"file", e.file}, {"work", e.work_id}});
      j["assets_in_other_works"] = elsewhere;
      j["twin_pages"] = s.twin_pages;
      std::cout << JsonDump(j) << '\n';
    } else {
      std::cout << "registered " << work.id << " \"" << work.title << "\": " << s.units_added
                << " pages added from " << s.assets_added << " files";
      if (s.units_low_quality > 0)
        std::cout << " (" << s.units_low_quality << " too plain to index)";
      std::cout << ", " << s.assets_skipped << " files already registered, " << s.errors.size()
                << " errors\n";
      if (s.assets_backfilled > 0) {
        std::cout << "  " << s.assets_backfilled
                  << " of the files registered before the blurred hash or the colour "
                     "signature were read again: "
                  << s.units_backfilled << " pages given blurred hashes, "
                  << s.units_colour_backfilled << " colour signatures";
        if (s.units_backfill_mismatched > 0)
          std::cout << ", " << s.units_backfill_mismatched << " pages decode differently (listed)";
        std::cout << '\n';
      }
      if (!s.in_other_works.empty()) {
        std::cout << "  " << s.in_other_works.size()
                  << " of them are registered under another work, which keeps them (the "
                     "catalog holds each file once; a scan reports their pages for that work):\n";
        constexpr size_t kListed = 10;
        for (size_t i = 0; i < std::min(kListed, s.in_other_works.size()); ++i) {
          std::cout << "    " << s.in_other_works[i].file << " (work "
                    << s.in_other_works[i].work_id << ")\n";
        }
        if (s.in_other_works.size() > kListed)
          std::cout << "    ... and " << s.in_other_works.size() - kListed << " more\n";
      }
      for (const auto& [other, pages] : s.twin_pages) {
        std::cout << "  " << pages << " of the pages added are the same pictures as pages of work "
                  << other << " (PDQ within " << kagami::index::RobustOptions{}.twin_radius
                  << " bits): a scan reports their copies for both works\n";
      }
      if (s.assets_incomplete > 0) {
        std::cout << "  " << s.assets_incomplete
                  << " files had failed pages and were not registered; run again to retry them\n";
      }
      for (const auto& e : s.errors) {
        std::cout << "  error: " << e.source << (e.member.empty() ? "" : " :: " + e.member) << ": "
                  << e.status.ToString() << '\n';
      }
    }
    if (s.assets_added == 0 && s.assets_skipped == 0 && s.assets_backfilled == 0 &&
        !s.errors.empty())
      return kExitFailure;
    return kExitOk;
  }

  index::Work work_;
  std::string kind_ = "manga";
  std::vector<std::string> identifiers_;
  std::vector<std::string> paths_;
  bool json_ = false;
  bool no_local_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeRegisterCommand() { return std::make_unique<RegisterCommand>(); }

}  // namespace kagami::app
