#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "command.h"
#include "kagami/crawler/job_runner.h"
#include "kagami/crawler/url.h"
#include "kagami/index/store.h"
#include "kagami/reports/findings_ledger.h"
#include "kagami/store/store_location.h"

namespace kagami::app {
namespace {

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM; the only signal-safe channel
void OnCrawlStopSignal(int) { g_stop.store(true); }

class CrawlCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* c = app.add_subcommand(
        "crawl", "crawl sites for registered works (a job file, or a quick look from --seed)");
    c->add_option("job", job_file_, "job file (TOML); see README 'Crawl jobs'");
    c->add_option("--seed", seeds_, "start URL (repeatable); its host is followed");
    c->add_option("--max-pages", max_pages_, "HTML pages to fetch at most")
        ->check(CLI::Range(1, 100000000));
    c->add_option("--max-depth", max_depth_, "link hops from a seed")->check(CLI::Range(0, 100));
    c->add_option("--live-seconds", live_seconds_,
                  "live HLS playlists: follow for at most this many seconds of media "
                  "(default 600; limits.live_max_media_s)")
        ->check(CLI::Range(1.0, 86400.0));
    c->add_option("--live-segments", live_segments_,
                  "live HLS playlists: take at most this many media segments "
                  "(default 600; limits.live_max_segments)")
        ->check(CLI::Range(1, 100000));
    c->add_option("--follow-host", follow_hosts_, "also follow pages on HOST (repeatable)");
    c->add_option("--resolve", resolve_, "pin HOST:PORT:ADDR, as curl --resolve (repeatable)");
    c->add_option("--allow-address", allow_addresses_,
                  "allow connecting to ADDR or CIDR although private/loopback (repeatable)");
    c->add_option("--user-agent", user_agent_, "User-Agent (default names Kagami and --operator)");
    c->add_option("--operator", operator_, "operator contact for the User-Agent and WARC info");
    c->add_option("--min-delay", min_delay_, "seconds between requests to one host")
        ->check(CLI::Range(0.0, 3600.0));
    c->add_option("--per-host", per_host_, "connections per host")->check(CLI::Range(1, 64));
    c->add_option("--ignore-robots-host", ignore_robots_,
                  "do not obey robots.txt on HOST (recorded in findings; repeatable)");
    c->add_option("--local", local_,
                  "local-feature stage: auto (media without a strong PDQ match), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    c->add_option("--local-sample", local_sample_,
                  "auto: among the images of one page, and in a fetched archive or document, "
                  "until one has matched describe those at 0, N, 3N, 7N, ... without a PDQ "
                  "candidate; the others wait and are described once one matches (default 12; "
                  "1: every image)")
        ->check(CLI::Range(1, 1000000));
    c->add_flag("--no-colour-check", no_colour_check_,
                "also report matches whose colours disagree with their registered page's "
                "(as job key colour_check = false)");
    c->add_flag("--fetch-only", fetch_only_,
                "fetch and archive only; no fingerprinting or matching (for measuring)");
    c->add_flag("--restart", restart_, "discard an interrupted run of this job and start afresh");
    c->add_flag("--worker", worker_,
                "one of many workers sharing the job through the PostgreSQL --store "
                "(README 'Deployment')");
    c->add_option("--run", run_label_,
                  "worker: the run to join or start (e.g. a date); a finished run is not redone");
    c->add_option("--lease", lease_s_, "worker: seconds a claimed URL stays leased (renewed)")
        ->check(CLI::Range(1.0, 86400.0));
    c->add_option("--format", format_, "text|jsonl (findings on stdout)")
        ->check(CLI::IsMember({"text", "jsonl"}));
    return c;
  }

  int Run(const GlobalFlags& flags) override {
    if (job_file_.empty() == seeds_.empty()) {
      std::cerr << "kagami crawl: give a job file or --seed URL (not both)\n";
      return kExitUsage;
    }
    crawler::CrawlJob job;
    if (!job_file_.empty()) {
      Result<crawler::CrawlJob> loaded = crawler::LoadCrawlJob(job_file_);
      if (!loaded.ok()) {
        std::cerr << "kagami: " << loaded.status().message() << '\n';
        return kExitUsage;
      }
      job = std::move(loaded).value();
    } else {
      Result<crawler::Url> first = crawler::ParseUrl(seeds_.front());
      if (!first.ok()) {
        std::cerr << "kagami crawl: --seed: " << first.status().message() << '\n';
        return kExitUsage;
      }
      job.name = "seed-" + first->host + "-" + std::to_string(first->port);
      job.seeds = seeds_;
    }
    for (const std::string& h : follow_hosts_) job.follow_hosts.push_back(h);
    for (const std::string& r : resolve_) job.resolve.push_back(r);
    for (const std::string& a : allow_addresses_) job.allow_addresses.push_back(a);
    for (const std::string& h : ignore_robots_) job.politeness.ignore_robots_hosts.push_back(h);
    if (max_pages_ > 0) job.limits.max_pages = max_pages_;
    if (max_depth_ >= 0) job.limits.max_depth = max_depth_;
    if (live_seconds_ > 0) job.limits.live_max_media_s = live_seconds_;
    if (live_segments_ > 0) job.limits.live_max_segments = live_segments_;
    if (!user_agent_.empty()) job.user_agent = user_agent_;
    if (!operator_.empty()) job.operator_contact = operator_;
    if (min_delay_ >= 0) job.politeness.min_delay_s = min_delay_;
    if (per_host_ > 0) job.politeness.per_host_connections = per_host_;
    if (fetch_only_) job.fetch_only = true;
    if (no_colour_check_) job.colour_check = false;

    crawler::RunJobOptions options;
    options.scan.extract = MakeExtractOptions(flags, ingest::DecodeMode::kFast);
    options.resume = !restart_;
    options.scan.robust.local = local_ == "never"    ? index::LocalStage::kNever
                                : local_ == "always" ? index::LocalStage::kAlways
                                                     : index::LocalStage::kAuto;
    options.scan.local_sample = local_sample_;
    options.stop = &g_stop;
    std::signal(SIGINT, OnCrawlStopSignal);
    std::signal(SIGTERM, OnCrawlStopSignal);
    const bool tty = isatty(STDERR_FILENO);
    std::mutex out_mutex;
    if (tty) {
      options.progress = [](const crawler::CrawlProgress& p) {
        std::fprintf(
            stderr, "\r%lld pages, %lld media, %.1f MB, %lld findings, %lld queued, %lld refused  ",
            static_cast<long long>(p.pages), static_cast<long long>(p.media), p.bytes / 1e6,
            static_cast<long long>(p.findings), static_cast<long long>(p.queued),
            static_cast<long long>(p.refused));
        std::fflush(stderr);
      };
    }
    const bool jsonl = format_ == "jsonl";
    options.on_finding = [&](const reports::Finding& f) {
      std::lock_guard<std::mutex> lock(out_mutex);
      if (jsonl) {
        std::cout << reports::FindingToJson(f) << '\n';
      } else {
        int best = -1;
        for (const reports::MatchedUnit& u : f.units)
          if (u.distance >= 0 && (best < 0 || u.distance < best)) best = u.distance;
        std::cout << "FOUND " << f.work << ": " << f.units.size() << " page(s) in " << f.media_url
                  << " linked from " << (f.page_url.empty() ? "(seed)" : f.page_url)
                  << (best >= 0 ? ", best PDQ distance " + std::to_string(best) : std::string())
                  << "; WARC " << f.warc_file << ' ' << f.warc_record_id
                  << (f.robots_override.empty() ? "" : "; ROBOTS OVERRIDDEN") << '\n';
      }
      std::cout.flush();
    };
    std::filesystem::path data_dir = index::ResolveDataDir(flags.data_dir);
    Result<store::StoreLocation> location = store::ResolveStoreLocation(flags.store, data_dir);
    if (!location.ok()) {
      std::cerr << "kagami: " << location.status().message() << '\n';
      return kExitUsage;
    }
    if (worker_ && !location->postgres()) {
      std::cerr << "kagami crawl: --worker needs a shared store: --store postgresql://... or "
                   "$KAGAMI_STORE\n";
      return kExitUsage;
    }
    if (location->postgres()) {
      options.pg_conninfo = location->conninfo;
      options.run_label = run_label_;
      options.lease_s = lease_s_;
    }
    Result<crawler::CrawlSummary> summary = crawler::RunCrawlJob(job, data_dir, options);
    if (tty) std::fprintf(stderr, "\n");
    if (!summary.ok() && summary.status().code() == StatusCode::kNotFound && worker_ &&
        summary.status().message().find("already finished") != std::string::npos) {
      std::cerr << "kagami crawl: " << summary.status().message() << '\n';
      return kExitOk;  // nothing left to do for this worker
    }
    if (!summary.ok()) return Fail(summary.status());
    const crawler::CrawlProgress& t = summary->totals;
    std::cerr << "kagami crawl: job " << job.name << (summary->resumed ? " (resumed)" : "") << ": "
              << t.pages << " pages, " << t.media << " media, " << t.bytes << " bytes, "
              << t.findings << " new findings, " << t.refused << " refused, " << t.failed
              << " failed in " << summary->seconds << " s"
              << (summary->stopped ? "; stopped, resumable" : "") << "\n";
    if (t.media_local_skipped > 0) {
      std::cerr << "kagami crawl: " << t.media_local_skipped
                << " images not checked by local features (no PDQ candidate, not sampled, and no "
                   "image of their page matched; --local-sample 1 checks every image)\n";
    }
    for (const std::string& w : summary->warc_files)
      std::cerr << "kagami crawl: WARC " << w << '\n';
    std::cerr
        << "kagami crawl: findings recorded in the ledger; list them with `kagami findings`\n";
    return kExitOk;
  }

 private:
  std::string job_file_;
  std::vector<std::string> seeds_, follow_hosts_, resolve_, allow_addresses_, ignore_robots_;
  int64_t max_pages_ = 0;
  int max_depth_ = -1;
  double live_seconds_ = 0;
  int64_t live_segments_ = 0;
  std::string user_agent_, operator_;
  double min_delay_ = -1;
  int per_host_ = 0;
  bool fetch_only_ = false;
  bool no_colour_check_ = false;
  bool restart_ = false;
  bool worker_ = false;
  std::string run_label_;
  double lease_s_ = 60;
  std::string local_ = "auto";
  int local_sample_ = pipeline::ScanOptions{}.local_sample;
  std::string format_ = "text";
};

}  // namespace

std::unique_ptr<Command> MakeCrawlCommand() { return std::make_unique<CrawlCommand>(); }

}  // namespace kagami::app
