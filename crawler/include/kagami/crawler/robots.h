#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kagami::crawler {

// robots.txt rules for one product token, per RFC 9309 (Robots Exclusion
// Protocol): the groups whose user-agent matches the token case-insensitively
// (all of them merged), else the "*" groups; the longest matching rule wins,
// allow wins ties; "*" matches any sequence and a final "$" anchors the end.
// /robots.txt itself is always allowed. Only the first 500 KiB are parsed.
// Immutable after construction; thread-safe.
class RobotsRules {
 public:
  static RobotsRules AllowAll();
  static RobotsRules DisallowAll();
  static RobotsRules Parse(std::string_view text, std::string_view product_token);

  // `path_query` starts with '/', as in Url::path_query.
  bool Allowed(std::string_view path_query) const;
  double crawl_delay_s() const { return crawl_delay_s_; }  // 0 when absent (a common extension)

 private:
  struct Rule {
    bool allow = false;
    std::string pattern;
  };
  std::vector<Rule> rules_;
  bool disallow_all_ = false;
  double crawl_delay_s_ = 0;
};

}  // namespace kagami::crawler
