#include "command.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/crawler/address_policy.h"
#include "kagami/crawler/crawl_job.h"
#include "kagami/crawler/safe_fetcher.h"
#include "kagami/crawler/warc_writer.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/reports/finding_records.h"
#include "kagami/reports/findings_ledger.h"
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
    scan->add_option("--local-sample", local_sample_,
                     "auto: in a volume (archive, folder, document) where no page has matched "
                     "yet, describe pages 0, N, 3N, 7N, ... (gaps doubling) without a PDQ "
                     "candidate; the rest only once a page of the volume matches (default 12; "
                     "1: every page)")
        ->check(CLI::Range(1, 1000000));
    scan->add_option("--allow-address", allow_,
                     "URL inputs: IP or CIDR the fetcher may connect to despite the address "
                     "policy (loopback, private, ...)");
    scan->add_option("--resolve", resolve_, "URL inputs: HOST:PORT:ADDR pin, as curl --resolve");
    scan->add_option("--live-seconds", live_seconds_,
                     "URL inputs: follow a live HLS playlist (no #EXT-X-ENDLIST) for at most "
                     "this many seconds of media (default 600; wall time bound: 1.1x + 60 s)")
        ->check(CLI::Range(1.0, 86400.0));
    scan->add_flag("--no-colour-check", no_colour_check_,
                   "also report matches whose colours disagree with their registered page's "
                   "(the check drops them by default: a recoloured drawing is another work)");
    scan->add_flag("--record", record_,
                   "add matches to the findings ledger, keeping a copy of each matched file "
                   "in the data directory");
    return scan;
  }

  int Run(const GlobalFlags& flags) override {
    return RunScan(flags, paths_, format_, no_dihedral_, radius_, local_, local_sample_, record_,
                   allow_, resolve_, live_seconds_, !no_colour_check_);
  }

 private:
  double live_seconds_ = 600;
  std::vector<std::string> allow_;
  std::vector<std::string> resolve_;
  static int RunScan(const GlobalFlags& flags, const std::vector<std::string>& paths,
                     const std::string& format_name, bool no_dihedral, int radius,
                     const std::string& local, int local_sample, bool record,
                     const std::vector<std::string>& allow_addresses,
                     const std::vector<std::string>& resolve, double live_seconds,
                     bool colour_check) {
    auto format = kagami::reports::ParseReportFormat(format_name);
    if (!format.ok()) {
      std::cerr << "kagami: " << format.status().message() << '\n';
      return kExitUsage;
    }
    bool rebuilt = false;
    auto store = OpenCatalogStore(flags, kagami::index::StoreAccess::kRead, &rebuilt);
    if (!store.ok()) return Fail(store.status());
    if (rebuilt) std::cerr << "kagami: index rebuilt from the catalog\n";
    std::unique_ptr<kagami::reports::FindingsLedger> ledger;
    if (record) {
      auto opened = OpenLedger(flags, (*store)->data_dir());
      if (!opened.ok()) return Fail(opened.status());
      ledger = std::move(*opened);
    }
    kagami::reports::EvidenceStore evidence((*store)->data_dir());
    int recorded = 0;
    int record_errors = 0;
    kagami::pipeline::ScanOptions options;
    options.extract = MakeExtractOptions(flags, kagami::ingest::DecodeMode::kFast);
    options.match.dihedral = !no_dihedral;
    options.match.radius = radius;
    options.live_seconds = live_seconds;
    options.local_sample = local_sample;
    options.robust.local = local == "never"    ? kagami::index::LocalStage::kNever
                           : local == "always" ? kagami::index::LocalStage::kAlways
                                               : kagami::index::LocalStage::kAuto;
    options.robust.colour_check = colour_check;
    // http(s) inputs (HLS playlists, videos) are fetched by the crawler's safe
    // fetcher, every exchange archived in <data>/fetch/scan-*.warc.gz.
    std::unique_ptr<kagami::crawler::WarcWriter> warc;
    std::unique_ptr<kagami::crawler::SafeFetcher> fetcher;
    if (std::any_of(paths.begin(), paths.end(), [](const std::string& p) {
          return p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0;
        })) {
      auto policy = kagami::crawler::AddressPolicy::Make(allow_addresses);
      if (!policy.ok()) return Fail(policy.status());
      kagami::crawler::SafeFetcher::Options fo;
      fo.http.user_agent = kagami::crawler::CrawlJob().EffectiveUserAgent();
      fo.http.policy = *policy;
      fo.http.resolve = resolve;
      std::filesystem::path dir = (*store)->data_dir() / "fetch";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      std::string name =
          "scan-" +
          kagami::crawler::WarcDate(static_cast<int64_t>(std::time(nullptr)) * 1000).substr(0, 19) +
          "-" + std::to_string(getpid()) + ".warc.gz";
      std::replace(name.begin(), name.end(), ':', '-');
      auto created = kagami::crawler::WarcWriter::Create(
          dir / name, "software: Kagami/0.1\r\ncommand: kagami scan\r\nhttp-header-user-agent: " +
                          fo.http.user_agent + "\r\n");
      if (!created.ok()) return Fail(created.status());
      warc = std::move(*created);
      auto made = kagami::crawler::SafeFetcher::Create(fo, warc.get());
      if (!made.ok()) return Fail(made.status());
      fetcher = std::move(*made);
      options.fetcher = fetcher.get();
      std::cerr << "kagami: fetched bytes archived in " << (dir / name).string() << '\n';
    }
    kagami::reports::ScanReportWriter writer(*format, std::cout);
    int volumes = 0;
    Status status = kagami::pipeline::Scan(
        **store, paths, options,
        [&](const kagami::pipeline::VolumeReport& report) {
          ++volumes;
          writer.Write(report);
          if (ledger) {
            RecordFindings(report, *ledger, evidence, &recorded, &record_errors);
          }
        },
        MakeProgress());
    writer.Finish();
    std::cout.flush();
    if (record) {
      std::cerr << "kagami: " << recorded << " finding(s) recorded in the ledger";
      if (record_errors > 0) std::cerr << ", " << record_errors << " could not be recorded";
      std::cerr << '\n';
    }
    if (!status.ok()) return Fail(status);
    if (record_errors > 0) return kExitFailure;
    if (volumes > 0 && writer.volumes_errored() == volumes) return kExitFailure;
    return kExitOk;
  }

  // One finding per (matched file, work): the file is copied into the data
  // directory's evidence store under its SHA-256, then the finding appended.
  static void RecordFindings(const kagami::pipeline::VolumeReport& report,
                             kagami::reports::FindingsLedger& ledger,
                             kagami::reports::EvidenceStore& evidence, int* recorded, int* errors) {
    std::string now = kagami::reports::UtcNow();
    for (auto& draft : kagami::reports::FindingsFromScan(report, now, "kagami scan --record")) {
      if (draft.finding.source_is_url) {
        // A stream read over http(s): its bytes are in the scan's WARC; each
        // segment's query frame is kept instead.
        kagami::Status kept = kagami::Status::Ok();
        for (auto& u : draft.finding.units) {
          if (u.index >= 0 && static_cast<size_t>(u.index) < report.segments.size() && kept.ok()) {
            kept = kagami::reports::KeepQueryFrame(report.segments[u.index], evidence, u);
          }
        }
        if (!kept.ok()) {
          std::cerr << "kagami: not recorded: " << kept.ToString() << '\n';
          ++*errors;
          continue;
        }
      } else {
        auto kept = evidence.KeepFile(draft.source_path);
        if (!kept.ok()) {
          std::cerr << "kagami: not recorded: " << kept.status().ToString() << '\n';
          ++*errors;
          continue;
        }
        draft.finding.content_sha256 = kept->first;
        draft.finding.evidence_file = kept->second;
      }
      // The same bytes at the same path for the same work are one finding, however
      // often they are scanned.
      kagami::reports::FindingFilter same;
      same.work = draft.finding.work;
      auto existing = ledger.List(same);
      int64_t duplicate = 0;
      if (existing.ok()) {
        for (const auto& r : *existing) {
          if (r.finding.source == draft.finding.source &&
              r.finding.content_sha256 == draft.finding.content_sha256) {
            duplicate = r.id;
          }
        }
      }
      if (duplicate > 0) {
        std::cerr << "kagami: " << draft.source_path << " (" << draft.finding.work
                  << ") is already finding " << duplicate << '\n';
        continue;
      }
      auto id = ledger.Append(draft.finding);
      if (!id.ok()) {
        std::cerr << "kagami: not recorded: " << id.status().ToString() << '\n';
        ++*errors;
        continue;
      }
      ++*recorded;
    }
  }

  std::vector<std::string> paths_;
  std::string format_ = "text";
  bool no_dihedral_ = false;
  int radius_ = 31;
  std::string local_ = "auto";
  int local_sample_ = kagami::pipeline::ScanOptions{}.local_sample;
  bool record_ = false;
  bool no_colour_check_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeScanCommand() { return std::make_unique<ScanCommand>(); }

}  // namespace kagami::app
