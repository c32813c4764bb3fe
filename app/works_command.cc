#include "command.h"

#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <cstdio>

#include "kagami/index/store.h"
#include "kagami/reports/scan_report_writer.h"

namespace kagami::app {
namespace {

class WorksCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* works = app.add_subcommand("works", "list registered works");
    works->add_option("--format", format_, "text|jsonl")->check(CLI::IsMember({"text", "jsonl"}));
    return works;
  }
  int Run(const GlobalFlags& flags) override { return RunWorks(flags, format_); }

 private:
  static int RunWorks(const GlobalFlags& flags, const std::string& format_name) {
    auto format = kagami::reports::ParseReportFormat(format_name);
    if (!format.ok()) {
      std::cerr << "kagami: " << format.status().message() << '\n';
      return kExitUsage;
    }
    auto store = OpenCatalogStore(flags, kagami::index::StoreAccess::kRead);
    if (!store.ok()) return Fail(store.status());
    auto works = (*store)->catalog().ListWorks();
    if (!works.ok()) return Fail(works.status());
    if (*format == kagami::reports::ReportFormat::kJsonl) {
      for (const auto& w : *works) {
        nlohmann::json j = {{"work", w.work.id},
                            {"title", w.work.title},
                            {"rights_holder", w.work.rights_holder},
                            {"kind", std::string(kagami::index::WorkKindName(w.work.kind))},
                            {"identifiers", w.work.identifiers},
                            {"assets", w.assets},
                            {"units", w.units}};
        std::cout << JsonDump(j) << '\n';
      }
      return kExitOk;
    }
    std::printf("%-24s  %-32s  %-20s  %-6s  %6s  %6s\n", "work", "title", "rights holder", "kind",
                "files", "pages");
    for (const auto& w : *works) {
      std::printf("%-24s  %-32s  %-20s  %-6s  %6lld  %6lld\n", w.work.id.c_str(),
                  w.work.title.c_str(), w.work.rights_holder.c_str(),
                  std::string(kagami::index::WorkKindName(w.work.kind)).c_str(),
                  static_cast<long long>(w.assets), static_cast<long long>(w.units));
    }
    return kExitOk;
  }

  std::string format_ = "text";
};

}  // namespace

std::unique_ptr<Command> MakeWorksCommand() { return std::make_unique<WorksCommand>(); }

}  // namespace kagami::app
