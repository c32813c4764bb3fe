#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "command.h"
#include "kagami/crawler/cron.h"
#include "kagami/crawler/job_runner.h"
#include "kagami/crawler/pg_schedule.h"
#include "kagami/crawler/warc_writer.h"
#include "kagami/index/store.h"
#include "kagami/store/store_location.h"

namespace kagami::app {
namespace {

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM
void OnScheduleStopSignal(int) { g_stop.store(true); }

std::string Iso(std::time_t t) { return crawler::WarcDate(static_cast<int64_t>(t) * 1000); }

// <job dir>/schedule.json: {"last_start", "last_end", "last_status", "next_run"} (UTC seconds).
nlohmann::json LoadState(const std::filesystem::path& path) {
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

void SaveState(const std::filesystem::path& path, const nlohmann::json& state) {
  std::filesystem::create_directories(path.parent_path());
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << state.dump(2) << '\n';
  }
  std::filesystem::rename(tmp, path);  // atomic: a kill leaves the old or the new state
}

class ScheduleCommand : public Command {
 public:
  CLI::App* Setup(CLI::App& app) override {
    CLI::App* c = app.add_subcommand(
        "schedule", "run the crawl jobs of a folder on their cron schedules (a daemon)");
    c->add_option("jobdir", job_dir_, "folder of *.toml job files")->required();
    c->add_flag("--once", once_, "run the jobs that are due now, then exit (for systemd timers)");
    return c;
  }

  // Schedule on PostgreSQL (--store postgresql://...): each due job is run by
  // one of any number of daemons, as a crawl worker on the shared frontier.
  // Returns false when the daemon must stop with an error.
  bool RunSharedJob(const GlobalFlags& flags, const std::filesystem::path& data_dir,
                    const std::string& conninfo, crawler::PgSchedule& schedule,
                    const crawler::CrawlJob& job, const crawler::CronSchedule& cron,
                    std::time_t now, std::time_t& soonest) {
    Result<crawler::PgSchedule::Claim> claim = schedule.TryClaim(job.name, cron.Next(now));
    if (!claim.ok()) {
      std::cerr << "kagami schedule: " << job.name << ": " << claim.status().ToString() << '\n';
      return true;  // the store may be back next round
    }
    if (!claim->claimed) {
      // Running on another daemon: look again soon, to take over quickly if
      // that daemon stops or dies.
      soonest = std::min(soonest, claim->next_run > now ? claim->next_run : now + 2);
      return true;
    }
    std::cerr << "kagami schedule: running " << job.name << " (run " << claim->run_label
              << (claim->resumed ? ", resuming an interrupted run" : "") << ")\n";
    crawler::RunJobOptions options;
    options.scan.extract = MakeExtractOptions(flags, ingest::DecodeMode::kFast);
    options.stop = &g_stop;
    options.pg_conninfo = conninfo;
    options.run_label = claim->run_label;
    Result<crawler::CrawlSummary> summary = crawler::RunCrawlJob(job, data_dir, options);
    std::time_t end = std::time(nullptr);
    std::time_t next = cron.Next(end);
    Status finished;
    bool done_elsewhere = !summary.ok() && summary.status().code() == StatusCode::kNotFound &&
                          summary.status().message().find("already finished") != std::string::npos;
    if (summary.ok()) {
      std::cerr << "kagami schedule: " << job.name << ": " << summary->totals.pages << " pages, "
                << summary->totals.media << " media, " << summary->totals.findings
                << " new findings"
                << (summary->stopped ? " (stopped; another daemon or a restart resumes it)" : "")
                << '\n';
      finished = schedule.Finish(job.name, summary->stopped ? "stopped" : "ok",
                                 summary->totals.findings, summary->stopped, next);
    } else if (done_elsewhere) {
      finished = schedule.Finish(job.name, "ok", 0, false, next);
    } else {
      std::cerr << "kagami schedule: " << job.name << ": " << summary.status().ToString() << '\n';
      finished = schedule.Finish(job.name, summary.status().ToString(), 0, false, next);
    }
    if (!finished.ok()) {
      std::cerr << "kagami schedule: " << job.name << ": " << finished.ToString() << '\n';
    }
    if (!summary.ok() || !summary->stopped) soonest = std::min(soonest, next);
    return true;
  }

  int Run(const GlobalFlags& flags) override {
    std::signal(SIGINT, OnScheduleStopSignal);
    std::signal(SIGTERM, OnScheduleStopSignal);
    std::filesystem::path data_dir = index::ResolveDataDir(flags.data_dir);
    Result<store::StoreLocation> location = store::ResolveStoreLocation(flags.store, data_dir);
    if (!location.ok()) {
      std::cerr << "kagami: " << location.status().message() << '\n';
      return kExitUsage;
    }
    std::unique_ptr<crawler::PgSchedule> shared;
    if (location->postgres()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      Result<std::unique_ptr<crawler::PgSchedule>> opened = crawler::PgSchedule::Open(
          location->conninfo, std::string(host) + ":" + std::to_string(getpid()));
      if (!opened.ok()) return Fail(opened.status());
      shared = std::move(opened).value();
    }
    std::cerr << "kagami schedule: watching " << job_dir_
              << (shared ? " (schedule shared on PostgreSQL)" : "") << '\n';
    while (!g_stop.load()) {
      std::time_t now = std::time(nullptr);
      std::time_t soonest = now + 60;
      std::error_code ec;
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(job_dir_, ec)) {
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
      }
      if (ec) {
        std::cerr << "kagami schedule: cannot read " << job_dir_ << ": " << ec.message() << '\n';
        return kExitFailure;
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        if (g_stop.load()) break;
        Result<crawler::CrawlJob> job = crawler::LoadCrawlJob(file);
        if (!job.ok()) {
          std::cerr << "kagami schedule: skipping " << job.status().message() << '\n';
          continue;
        }
        if (job->schedule.empty()) continue;
        Result<crawler::CronSchedule> cron = crawler::CronSchedule::Parse(job->schedule);
        if (!cron.ok()) {
          std::cerr << "kagami schedule: skipping " << file << ": " << cron.status().message()
                    << '\n';
          continue;
        }
        if (shared) {
          RunSharedJob(flags, data_dir, location->conninfo, *shared, *job, *cron, now, soonest);
          continue;
        }
        std::filesystem::path state_path = crawler::JobDir(data_dir, *job) / "schedule.json";
        nlohmann::json state = LoadState(state_path);
        std::time_t next = state.value("next_run", static_cast<std::time_t>(0));
        // An interrupted run (daemon killed or stopped mid-crawl) is due at once.
        bool interrupted = state.value("running", false);
        if (next == 0) {
          next = cron->Next(now);
          state["next_run"] = next;
          state["next_run_utc"] = Iso(next);
          SaveState(state_path, state);
        }
        if (!interrupted && next > now) {
          soonest = std::min(soonest, next);
          continue;
        }
        std::cerr << "kagami schedule: running " << job->name << " (due " << Iso(next) << ")\n";
        state["running"] = true;
        state["last_start"] = now;
        state["last_start_utc"] = Iso(now);
        SaveState(state_path, state);
        crawler::RunJobOptions options;
        options.scan.extract = MakeExtractOptions(flags, ingest::DecodeMode::kFast);
        options.stop = &g_stop;
        Result<crawler::CrawlSummary> summary = crawler::RunCrawlJob(*job, data_dir, options);
        std::time_t end = std::time(nullptr);
        state["last_end"] = end;
        state["last_end_utc"] = Iso(end);
        if (summary.ok()) {
          state["last_status"] = summary->stopped ? "stopped" : "ok";
          state["last_findings"] = summary->totals.findings;
          state["running"] = summary->stopped;
          std::cerr << "kagami schedule: " << job->name << ": " << summary->totals.pages
                    << " pages, " << summary->totals.media << " media, " << summary->totals.findings
                    << " new findings" << (summary->stopped ? " (stopped; resumes on restart)" : "")
                    << '\n';
        } else {
          state["last_status"] = summary.status().ToString();
          state["running"] = false;
          std::cerr << "kagami schedule: " << job->name << ": " << summary.status().ToString()
                    << '\n';
        }
        if (!summary.ok() || !summary->stopped) {
          std::time_t n = cron->Next(end);
          state["next_run"] = n;
          state["next_run_utc"] = Iso(n);
          soonest = std::min(soonest, n);
        }
        SaveState(state_path, state);
      }
      if (once_) break;
      while (!g_stop.load() && std::time(nullptr) < soonest) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    std::cerr << "kagami schedule: stopped\n";
    return kExitOk;
  }

 private:
  std::string job_dir_;
  bool once_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeScheduleCommand() { return std::make_unique<ScheduleCommand>(); }

}  // namespace kagami::app
