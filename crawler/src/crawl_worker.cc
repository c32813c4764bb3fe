#include "kagami/crawler/crawl_worker.h"

#include "kagami/crawler/pg_frontier.h"
#include "kagami/crawler/url.h"
#include "kagami/index/store.h"

namespace kagami::crawler {

Result<std::unique_ptr<PgLedgerFindingsSink>> PgLedgerFindingsSink::Open(
    reports::PgFindingsLedger& ledger) {
  std::unique_ptr<PgLedgerFindingsSink> sink(new PgLedgerFindingsSink(ledger));
  KAGAMI_RETURN_IF_ERROR(sink->pages_.Load(ledger));
  return sink;
}

Result<bool> PgLedgerFindingsSink::Record(const reports::Finding& finding) {
  KAGAMI_ASSIGN_OR_RETURN(std::optional<int64_t> seq,
                          ledger_.AppendUnique(finding, FindingKey(finding)));
  pages_.Add(finding);
  return seq.has_value();
}

Result<CrawlSummary> RunCrawlWorker(const CrawlJob& job, const std::filesystem::path& data_dir,
                                    const RunJobOptions& options) {
  // The catalog shared in PostgreSQL, the index cached in the data directory
  // and refreshed by high-water mark between batches (pipeline::Scanner).
  // Read access: workers on one machine share the data directory without
  // queuing on its writer lock. Until `kagami store migrate` has copied an
  // embedded catalog, a PostgreSQL catalog without pages falls back to the
  // data directory's catalog.sqlite.
  index::StoreOpenOptions store_options;
  store_options.access = index::Store::Access::kRead;
  store_options.catalog_conninfo = options.pg_conninfo;
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<index::Store> store,
                          index::Store::Open(data_dir, nullptr, store_options));
  if (store->catalog().UnitCount() == 0 &&
      std::filesystem::exists(data_dir / index::Store::kCatalogFileName)) {
    KAGAMI_ASSIGN_OR_RETURN(store,
                            index::Store::Open(data_dir, nullptr, {index::Store::Access::kRead}));
  }
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<reports::PgFindingsLedger> ledger,
                          reports::PgFindingsLedger::Open(options.pg_conninfo));
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgLedgerFindingsSink> sink,
                          PgLedgerFindingsSink::Open(*ledger));

  PgFrontierOptions fo;
  fo.conninfo = options.pg_conninfo;
  fo.job = job.name;
  fo.run_label = options.run_label;
  fo.lease_s = options.lease_s;
  fo.min_delay_s = job.politeness.min_delay_s;
  fo.per_host_connections = job.politeness.per_host_connections;
  fo.max_backoff_s = job.politeness.max_backoff_s;
  fo.robots_token = job.RobotsToken();
  for (const std::string& seed : job.seeds) {
    KAGAMI_ASSIGN_OR_RETURN(Url u, ParseUrl(seed));
    FrontierEntry e;
    e.url = u.canonical;
    e.authority = u.authority();
    e.priority = 25;  // as the crawler's seeds
    e.kind = KindFromExtension(u.canonical);
    fo.seeds.push_back(std::move(e));
  }
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<Frontier> frontier, OpenPgFrontier(fo));

  pipeline::Scanner scanner(*store, options.scan);
  Crawler crawler(job, data_dir, scanner, *sink, options.on_finding);
  crawler.UseFrontier(std::move(frontier));
  return crawler.Run(options.resume, options.stop, options.progress);
}

}  // namespace kagami::crawler
