#include "command.h"

#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/reports/scan_report_writer.h"

namespace kagami::app {
namespace {

class ScanCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* scan = app.add_subcommand("scan", "fingerprint suspect files and report matches");
    scan->add_option("paths", paths_, "files, folders, archives")->required();
    scan->add_option("--format", format_, "text|jsonl")->check(CLI::IsMember({"text", "jsonl"}));
    scan->add_flag("--no-dihedral", no_dihedral_, "do not search mirrored/rotated variants");
    scan->add_option("--radius", radius_, "PDQ match radius in bits (default 31)")
        ->check(CLI::Range(0, 128));
    scan->add_option("--local", local_,
                     "local-feature stage: auto (pages without a strong PDQ match), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    return scan;
  }

  int Run(const GlobalFlags& flags) override {
    return RunScan(flags, paths_, format_, no_dihedral_, radius_, local_);
  }

 private:
  static int RunScan(const GlobalFlags& flags, const std::vector<std::string>& paths,
                     const std::string& format_name, bool no_dihedral, int radius,
                     const std::string& local) {
    auto format = kagami::reports::ParseReportFormat(format_name);
    if (!format.ok()) {
      std::cerr << "kagami: " << format.status().message() << '\n';
      return kExitUsage;
    }
    bool rebuilt = false;
    auto store = kagami::index::Store::Open(kagami::index::ResolveDataDir(flags.data_dir), &rebuilt,
                                            {kagami::index::Store::Access::kRead});
    if (!store.ok()) return Fail(store.status());
    if (rebuilt) std::cerr << "kagami: index rebuilt from the catalog\n";
    kagami::pipeline::ScanOptions options;
    options.extract = MakeExtractOptions(flags, kagami::ingest::DecodeMode::kFast);
    options.match.dihedral = !no_dihedral;
    options.match.radius = radius;
    options.robust.local = local == "never"    ? kagami::index::LocalStage::kNever
                           : local == "always" ? kagami::index::LocalStage::kAlways
                                               : kagami::index::LocalStage::kAuto;
    kagami::reports::ScanReportWriter writer(*format, std::cout);
    int volumes = 0;
    Status status = kagami::pipeline::Scan(
        **store, paths, options,
        [&](const kagami::pipeline::VolumeReport& report) {
          ++volumes;
          writer.Write(report);
        },
        MakeProgress());
    writer.Finish();
    std::cout.flush();
    if (!status.ok()) return Fail(status);
    if (volumes > 0 && writer.volumes_errored() == volumes) return kExitFailure;
    return kExitOk;
  }

  std::vector<std::string> paths_;
  std::string format_ = "text";
  bool no_dihedral_ = false;
  int radius_ = 31;
  std::string local_ = "auto";
};

}  // namespace

std::unique_ptr<Command> MakeScanCommand() { return std::make_unique<ScanCommand>(); }

}  // namespace kagami::app
