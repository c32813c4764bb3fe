#include "kagami/crawler/crawl_job.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "kagami/crawler/url.h"

namespace kagami::crawler {
namespace {

Status Bad(const std::string& source, const std::string& key, const std::string& what) {
  return Status::InvalidArgument(source + ": " + key + ": " + what);
}

Status StringList(const toml::node_view<const toml::node>& node, const std::string& source,
                  const std::string& key, std::vector<std::string>& out) {
  if (!node) return Status::Ok();
  if (auto s = node.value<std::string>()) {
    out.push_back(*s);
    return Status::Ok();
  }
  const toml::array* arr = node.as_array();
  if (arr == nullptr) return Bad(source, key, "expected a string or an array of strings");
  for (const toml::node& item : *arr) {
    auto s = item.value<std::string>();
    if (!s) return Bad(source, key, "expected strings only");
    out.push_back(*s);
  }
  return Status::Ok();
}

template <typename T>
Status Number(const toml::node_view<const toml::node>& node, const std::string& source,
              const std::string& key, T& out, double min, double max) {
  if (!node) return Status::Ok();
  std::optional<double> v = node.value<double>();
  if (!v) return Bad(source, key, "expected a number");
  if (*v < min || *v > max)
    return Bad(source, key,
               "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  out = static_cast<T>(*v);
  return Status::Ok();
}

Result<std::regex> Regex(const std::string& text, const std::string& source,
                         const std::string& key) {
  try {
    return std::regex(text, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Bad(source, key, "bad regex '" + text + "': " + e.what());
  }
}

Status ParseSelectors(const toml::node_view<const toml::node>& node, const std::string& source,
                      const std::string& key, std::vector<std::pair<Selector, std::string>>& out) {
  if (!node) return Status::Ok();
  const toml::array* arr = node.as_array();
  if (arr == nullptr) return Bad(source, key, "expected an array");
  for (const toml::node& item : *arr) {
    std::string sel_text, attr;
    if (auto s = item.value<std::string>()) {
      // "selector@attr"
      size_t at = s->rfind('@');
      sel_text = s->substr(0, at);
      attr = at == std::string::npos ? "src" : s->substr(at + 1);
    } else if (const toml::table* t = item.as_table()) {
      sel_text = (*t)["selector"].value_or(std::string());
      attr = (*t)["attr"].value_or(std::string("src"));
    } else {
      return Bad(source, key, "expected \"selector@attr\" strings or {selector, attr} tables");
    }
    Result<Selector> sel = Selector::Parse(sel_text);
    if (!sel.ok()) return Bad(source, key, sel.status().message());
    out.emplace_back(std::move(sel).value(), attr);
  }
  return Status::Ok();
}

}  // namespace

std::string CrawlJob::EffectiveUserAgent() const {
  if (!user_agent.empty()) return user_agent;
  std::string ua = "Kagami/0.1 (copyright enforcement crawler";
  if (!operator_contact.empty()) ua += "; operator: " + operator_contact;
  return ua + ")";
}

Result<CrawlJob> ParseCrawlJob(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status::InvalidArgument(msg.str());
  }
  const toml::node_view<const toml::node> r{static_cast<const toml::node*>(&root)};
  CrawlJob job;
  job.name = r["name"].value_or(std::string());
  if (job.name.empty()) {
    job.name = std::filesystem::path(source).stem().string();
  }
  for (char c : job.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return Bad(source, "name", "use letters, digits, '-', '_' and '.' only");
  }
  KAGAMI_RETURN_IF_ERROR(StringList(r["seeds"], source, "seeds", job.seeds));
  if (job.seeds.empty()) return Bad(source, "seeds", "at least one seed URL is required");
  for (const std::string& seed : job.seeds) {
    Result<Url> url = ParseUrl(seed);
    if (!url.ok()) return Bad(source, "seeds", url.status().message());
  }
  KAGAMI_RETURN_IF_ERROR(StringList(r["follow_hosts"], source, "follow_hosts", job.follow_hosts));
  KAGAMI_RETURN_IF_ERROR(StringList(r["media_hosts"], source, "media_hosts", job.media_hosts));
  KAGAMI_RETURN_IF_ERROR(StringList(r["works"], source, "works", job.works));
  KAGAMI_RETURN_IF_ERROR(StringList(r["resolve"], source, "resolve", job.resolve));
  KAGAMI_RETURN_IF_ERROR(
      StringList(r["allow_addresses"], source, "allow_addresses", job.allow_addresses));
  job.user_agent = r["user_agent"].value_or(std::string());
  job.operator_contact = r["operator"].value_or(std::string());
  job.schedule = r["schedule"].value_or(std::string());
  if (r["colour_check"]) {
    auto b = r["colour_check"].value<bool>();
    if (!b) return Bad(source, "colour_check", "expected true or false");
    job.colour_check = *b;
  }

  auto l = r["limits"];
  CrawlLimits& lim = job.limits;
  KAGAMI_RETURN_IF_ERROR(Number(l["max_pages"], source, "limits.max_pages", lim.max_pages, 1, 1e9));
  KAGAMI_RETURN_IF_ERROR(Number(l["max_media"], source, "limits.max_media", lim.max_media, 0, 1e9));
  KAGAMI_RETURN_IF_ERROR(Number(l["max_depth"], source, "limits.max_depth", lim.max_depth, 0, 100));
  KAGAMI_RETURN_IF_ERROR(
      Number(l["max_redirects"], source, "limits.max_redirects", lim.max_redirects, 0, 20));
  KAGAMI_RETURN_IF_ERROR(
      Number(l["max_page_bytes"], source, "limits.max_page_bytes", lim.max_page_bytes, 1024, 1e9));
  KAGAMI_RETURN_IF_ERROR(Number(l["max_media_bytes"], source, "limits.max_media_bytes",
                                lim.max_media_bytes, 1024, 16e9));
  KAGAMI_RETURN_IF_ERROR(Number(l["max_decompression_ratio"], source,
                                "limits.max_decompression_ratio", lim.max_decompression_ratio, 1,
                                1e5));
  double connect_s = lim.connect_timeout_ms / 1000.0, total_s = lim.total_timeout_ms / 1000.0;
  KAGAMI_RETURN_IF_ERROR(
      Number(l["connect_timeout_s"], source, "limits.connect_timeout_s", connect_s, 0.1, 600));
  KAGAMI_RETURN_IF_ERROR(
      Number(l["total_timeout_s"], source, "limits.total_timeout_s", total_s, 0.1, 86400));
  lim.connect_timeout_ms = static_cast<int>(connect_s * 1000);
  lim.total_timeout_ms = static_cast<int>(total_s * 1000);
  KAGAMI_RETURN_IF_ERROR(Number(l["low_speed_bytes_per_s"], source, "limits.low_speed_bytes_per_s",
                                lim.low_speed_bytes_per_s, 0, 1e9));
  KAGAMI_RETURN_IF_ERROR(Number(l["low_speed_time_s"], source, "limits.low_speed_time_s",
                                lim.low_speed_time_s, 1, 3600));
  KAGAMI_RETURN_IF_ERROR(
      Number(l["max_connections"], source, "limits.max_connections", lim.max_connections, 1, 1024));
  KAGAMI_RETURN_IF_ERROR(Number(l["live_max_media_s"], source, "limits.live_max_media_s",
                                lim.live_max_media_s, 1, 86400));
  KAGAMI_RETURN_IF_ERROR(Number(l["live_max_segments"], source, "limits.live_max_segments",
                                lim.live_max_segments, 1, 100000));
  KAGAMI_RETURN_IF_ERROR(Number(l["live_max_wall_s"], source, "limits.live_max_wall_s",
                                lim.live_max_wall_s, 0, 2 * 86400));
  KAGAMI_RETURN_IF_ERROR(Number(l["live_max_stall_s"], source, "limits.live_max_stall_s",
                                lim.live_max_stall_s, 0, 3600));

  auto p = r["politeness"];
  Politeness& pol = job.politeness;
  KAGAMI_RETURN_IF_ERROR(Number(p["per_host_connections"], source,
                                "politeness.per_host_connections", pol.per_host_connections, 1,
                                64));
  KAGAMI_RETURN_IF_ERROR(
      Number(p["min_delay_s"], source, "politeness.min_delay_s", pol.min_delay_s, 0, 3600));
  KAGAMI_RETURN_IF_ERROR(
      Number(p["max_retries"], source, "politeness.max_retries", pol.max_retries, 0, 20));
  KAGAMI_RETURN_IF_ERROR(
      Number(p["max_backoff_s"], source, "politeness.max_backoff_s", pol.max_backoff_s, 0, 86400));
  KAGAMI_RETURN_IF_ERROR(Number(p["robots_retry_s"], source, "politeness.robots_retry_s",
                                pol.robots_retry_s, 0.1, 86400));
  KAGAMI_RETURN_IF_ERROR(
      Number(p["robots_retries"], source, "politeness.robots_retries", pol.robots_retries, 0, 20));
  if (p["obey_robots"]) {
    auto b = p["obey_robots"].value<bool>();
    if (!b) return Bad(source, "politeness.obey_robots", "expected true or false");
    pol.obey_robots = *b;
  }
  KAGAMI_RETURN_IF_ERROR(StringList(p["ignore_robots_hosts"], source,
                                    "politeness.ignore_robots_hosts", pol.ignore_robots_hosts));

  if (auto sites = r["site"]) {
    const toml::array* arr = sites.as_array();
    if (arr == nullptr) return Bad(source, "site", "use [[site]] tables");
    for (const toml::node& item : *arr) {
      const toml::table* t = item.as_table();
      if (t == nullptr) return Bad(source, "site", "use [[site]] tables");
      const toml::node_view<const toml::node> s{static_cast<const toml::node*>(t)};
      SiteRule rule;
      rule.host = s["host"].value_or(std::string());
      KAGAMI_RETURN_IF_ERROR(ParseSelectors(s["media"], source, "site.media", rule.media));
      KAGAMI_RETURN_IF_ERROR(ParseSelectors(s["pages"], source, "site.pages", rule.pages));
      std::vector<std::string> texts;
      KAGAMI_RETURN_IF_ERROR(StringList(s["script_media"], source, "site.script_media", texts));
      for (const std::string& x : texts) {
        KAGAMI_ASSIGN_OR_RETURN(std::regex re, Regex(x, source, "site.script_media"));
        rule.script_media.push_back(std::move(re));
      }
      texts.clear();
      KAGAMI_RETURN_IF_ERROR(StringList(s["script_json"], source, "site.script_json", texts));
      for (const std::string& x : texts) {
        Result<JsonPath> path = JsonPath::Parse(x);
        if (!path.ok()) return Bad(source, "site.script_json", path.status().message());
        rule.script_json.push_back(std::move(path).value());
      }
      texts.clear();
      KAGAMI_RETURN_IF_ERROR(StringList(s["follow"], source, "site.follow", texts));
      for (const std::string& x : texts) {
        KAGAMI_ASSIGN_OR_RETURN(std::regex re, Regex(x, source, "site.follow"));
        rule.follow.push_back(std::move(re));
      }
      texts.clear();
      KAGAMI_RETURN_IF_ERROR(StringList(s["ignore"], source, "site.ignore", texts));
      for (const std::string& x : texts) {
        KAGAMI_ASSIGN_OR_RETURN(std::regex re, Regex(x, source, "site.ignore"));
        rule.ignore.push_back(std::move(re));
      }
      job.sites.push_back(std::move(rule));
    }
  }
  return job;
}

Result<CrawlJob> LoadCrawlJob(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read job file " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > (1 << 20)) return Status::InvalidArgument(path.string() + ": over 1 MiB");
  return ParseCrawlJob(text, path.string());
}

}  // namespace kagami::crawler
