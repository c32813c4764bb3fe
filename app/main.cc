// The `kagami` command line: parses arguments and calls the libraries.
// Exit codes: 0 success, 1 usage error, 2 runtime failure (store unusable, or
// every input failed). Per-file errors are reported and do not fail the run.

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kagami/pipeline/batch_extractor.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/index/store.h"
#include "kagami/ingest/volume.h"
#include "kagami/reports/scan_report_writer.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitFailure = 2;

using kagami::Status;

struct CommonFlags {
  std::string data_dir;
  int threads = 0;
  std::string decode;  // "", "exact" or "fast"
};

int Fail(const Status& status) {
  std::cerr << "kagami: " << status.ToString() << '\n';
  return kExitFailure;
}

kagami::ingest::DecodeMode DecodeModeFor(const CommonFlags& flags,
                                         kagami::ingest::DecodeMode dflt) {
  if (flags.decode == "exact") return kagami::ingest::DecodeMode::kExact;
  if (flags.decode == "fast") return kagami::ingest::DecodeMode::kFast;
  return dflt;
}

kagami::pipeline::ExtractOptions MakeExtractOptions(const CommonFlags& flags,
                                                       kagami::ingest::DecodeMode dflt) {
  kagami::pipeline::ExtractOptions options;
  options.decode.mode = DecodeModeFor(flags, dflt);
  options.threads = flags.threads;
  return options;
}

// Progress on stderr, only when stderr is a terminal.
kagami::pipeline::ProgressFn MakeProgress() {
  if (!isatty(STDERR_FILENO)) return {};
  return [](const kagami::pipeline::Progress& p) {
    std::fprintf(stderr, "\r%zu/%zu inputs, %zu pages", p.volumes_done, p.volumes_total,
                 p.pages_done);
    if (p.volumes_done == p.volumes_total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

std::string JsonDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `kagami hash`: one JSON line per page.
class HashPrinter : public kagami::pipeline::ExtractSink {
 public:
  explicit HashPrinter(const std::vector<kagami::ingest::Volume>& volumes) : volumes_(volumes) {}

  void BeginAsset(size_t, size_t, const std::string&, bool) override {}
  void OnPage(kagami::fingerprint::PageFingerprint page) override {
    nlohmann::json j;
    j["file"] = volumes_[page.volume].assets[page.asset].path.string();
    j["member"] = page.member;
    j["unit"] = "page";
    j["index"] = page.page_index;
    if (!page.status.ok()) {
      j["error"] = page.status.ToString();
      ++errors_;
    } else {
      j["pdq"] = page.pdq.hash.ToHex();
      j["quality"] = page.pdq.quality;
      if (page.dihedral) {
        nlohmann::json d = nlohmann::json::array();
        for (const auto& h : page.dihedral->hashes) d.push_back(h.ToHex());
        j["dihedral"] = d;
      }
      ++hashed_;
    }
    std::cout << JsonDump(j) << '\n';
  }
  void EndAsset(size_t volume, size_t asset, const Status& status) override {
    if (status.ok()) return;
    ++errors_;
    nlohmann::json j;
    j["file"] = volumes_[volume].assets[asset].path.string();
    j["error"] = status.ToString();
    std::cout << JsonDump(j) << '\n';
  }
  void EndVolume(size_t volume) override {
    const auto& v = volumes_[volume];
    if (v.status.ok()) return;
    ++errors_;
    nlohmann::json j;
    j["file"] = v.source;
    j["error"] = v.status.ToString();
    std::cout << JsonDump(j) << '\n';
  }

  int hashed() const { return hashed_; }
  int errors() const { return errors_; }

 private:
  const std::vector<kagami::ingest::Volume>& volumes_;
  int hashed_ = 0;
  int errors_ = 0;
};

int RunHash(const CommonFlags& flags, const std::vector<std::string>& paths, bool dihedral) {
  auto options = MakeExtractOptions(flags, kagami::ingest::DecodeMode::kExact);
  options.dihedral = dihedral;
  std::vector<kagami::ingest::Volume> volumes = kagami::ingest::ExpandInputs(paths, options.limits);
  HashPrinter printer(volumes);
  kagami::pipeline::ExtractVolumes(volumes, options, printer);
  std::cout.flush();
  if (printer.hashed() == 0 && printer.errors() > 0) return kExitFailure;
  return kExitOk;
}

int RunRegister(const CommonFlags& flags, const kagami::index::Work& work,
                const std::vector<std::string>& paths, bool json, bool no_local) {
  bool rebuilt = false;
  auto store = kagami::index::Store::Open(kagami::index::ResolveDataDir(flags.data_dir), &rebuilt);
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
                        {"units_added", s.units_added},
                        {"units_low_quality", s.units_low_quality}};
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : s.errors) {
      errors.push_back({{"file", e.source}, {"member", e.member}, {"error", e.status.ToString()}});
    }
    j["errors"] = errors;
    std::cout << JsonDump(j) << '\n';
  } else {
    std::cout << "registered " << work.id << " \"" << work.title << "\": " << s.units_added
              << " pages added from " << s.assets_added << " files";
    if (s.units_low_quality > 0) std::cout << " (" << s.units_low_quality << " too plain to index)";
    std::cout << ", " << s.assets_skipped << " files already registered, " << s.errors.size()
              << " errors\n";
    for (const auto& e : s.errors) {
      std::cout << "  error: " << e.source << (e.member.empty() ? "" : " :: " + e.member) << ": "
                << e.status.ToString() << '\n';
    }
  }
  if (s.assets_added == 0 && s.assets_skipped == 0 && !s.errors.empty()) return kExitFailure;
  return kExitOk;
}

int RunScan(const CommonFlags& flags, const std::vector<std::string>& paths,
            const std::string& format_name, bool no_dihedral, int radius,
            const std::string& local) {
  auto format = kagami::reports::ParseReportFormat(format_name);
  if (!format.ok()) {
    std::cerr << "kagami: " << format.status().message() << '\n';
    return kExitUsage;
  }
  bool rebuilt = false;
  auto store = kagami::index::Store::Open(kagami::index::ResolveDataDir(flags.data_dir), &rebuilt);
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

int RunWorks(const CommonFlags& flags, const std::string& format_name) {
  auto format = kagami::reports::ParseReportFormat(format_name);
  if (!format.ok()) {
    std::cerr << "kagami: " << format.status().message() << '\n';
    return kExitUsage;
  }
  auto store = kagami::index::Store::Open(kagami::index::ResolveDataDir(flags.data_dir));
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kagami: content fingerprinting and piracy detection for manga, anime and film"};
  app.set_version_flag("--version", "kagami 0.1.0");
  app.require_subcommand(1);
  CommonFlags flags;
  app.add_option("--data", flags.data_dir,
                 "data directory (default: $KAGAMI_DATA, else ./kagami-data)");
  app.add_option("--threads", flags.threads, "worker threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--decode", flags.decode,
                 "exact: full-size decode, PDQ-reference hashes (default for hash); fast: "
                 "reduced-scale JPEG decode (default for register and scan)")
      ->check(CLI::IsMember({"exact", "fast"}));

  std::vector<std::string> paths;
  bool dihedral = false;
  CLI::App* hash =
      app.add_subcommand("hash", "print the PDQ hash of every page, one JSON line each");
  hash->add_option("paths", paths, "image files, folders, archives, PDFs, EPUBs")->required();
  hash->add_flag("--dihedral", dihedral, "add the 8 rotation/mirror variants");

  kagami::index::Work work;
  std::string kind = "manga";
  std::vector<std::string> identifiers;
  bool register_json = false;
  CLI::App* reg = app.add_subcommand("register", "register files, folders and archives as a work");
  reg->add_option("--work", work.id, "stable work id, e.g. onepiece-v001")->required();
  reg->add_option("--title", work.title, "title")->required();
  reg->add_option("--rights-holder", work.rights_holder, "rights holder");
  reg->add_option("--kind", kind, "manga|anime|film|other")
      ->check(CLI::IsMember({"manga", "anime", "film", "other"}));
  reg->add_option("--id", identifiers,
                  "identifier as scheme=value, e.g. isbn=9784088725093 (repeatable)");
  reg->add_flag("--json", register_json, "print the summary as one JSON object");
  bool no_local = false;
  reg->add_flag("--no-local", no_local,
                "skip trimmed-view hashes and local features (faster; scan then finds "
                "cropped, padded or rotated copies of these pages only by PDQ)");
  reg->add_option("paths", paths, "files, folders, archives")->required();

  std::string format = "text";
  bool no_dihedral = false;
  int radius = 31;
  CLI::App* scan = app.add_subcommand("scan", "fingerprint suspect files and report matches");
  scan->add_option("paths", paths, "files, folders, archives")->required();
  scan->add_option("--format", format, "text|jsonl")->check(CLI::IsMember({"text", "jsonl"}));
  scan->add_flag("--no-dihedral", no_dihedral, "do not search mirrored/rotated variants");
  scan->add_option("--radius", radius, "PDQ match radius in bits (default 31)")
      ->check(CLI::Range(0, 128));
  std::string local = "auto";
  scan->add_option("--local", local,
                   "local-feature stage: auto (pages without a strong PDQ match), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  CLI::App* works = app.add_subcommand("works", "list registered works");
  works->add_option("--format", format, "text|jsonl")->check(CLI::IsMember({"text", "jsonl"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (*hash) return RunHash(flags, paths, dihedral);
  if (*reg) {
    work.kind = *kagami::index::ParseWorkKind(kind);
    for (const std::string& id : identifiers) {
      size_t eq = id.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "kagami: --id takes scheme=value, got '" << id << "'\n";
        return kExitUsage;
      }
      work.identifiers[id.substr(0, eq)] = id.substr(eq + 1);
    }
    return RunRegister(flags, work, paths, register_json, no_local);
  }
  if (*scan) return RunScan(flags, paths, format, no_dihedral, radius, local);
  if (*works) return RunWorks(flags, format);
  return kExitUsage;
}
