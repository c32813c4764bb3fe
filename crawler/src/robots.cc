#include "kagami/crawler/robots.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace kagami::crawler {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Does `pattern` (with * and a trailing $) match a prefix of `path`?
bool Matches(std::string_view pattern, std::string_view path) {
  bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  // Iterative wildcard match with backtracking to the last '*'.
  size_t p = 0, s = 0, star = std::string_view::npos, mark = 0;
  while (true) {
    if (p == pattern.size()) {
      if (!anchored || s == path.size()) return true;
      if (star == std::string_view::npos) return false;
      p = star + 1;
      s = ++mark;
      if (s > path.size()) return false;
      continue;
    }
    if (pattern[p] == '*') {
      star = p++;
      mark = s;
      continue;
    }
    if (s < path.size() && pattern[p] == path[s]) {
      ++p;
      ++s;
      continue;
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    s = ++mark;
    if (s > path.size()) return false;
  }
}

}  // namespace

RobotsRules RobotsRules::AllowAll() { return RobotsRules(); }

RobotsRules RobotsRules::DisallowAll() {
  RobotsRules r;
  r.disallow_all_ = true;
  return r;
}

RobotsRules RobotsRules::Parse(std::string_view text, std::string_view product_token) {
  constexpr size_t kMaxBytes = 500 * 1024;
  if (text.size() > kMaxBytes) text = text.substr(0, kMaxBytes);
  const std::string token = Lower(product_token);
  RobotsRules specific, star;
  bool have_specific = false, have_star = false;
  bool in_agents = false;  // reading the user-agent lines of a group
  bool group_specific = false, group_star = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key = Lower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (key == "user-agent") {
      if (!in_agents) {
        group_specific = group_star = false;
        in_agents = true;
      }
      std::string agent = Lower(value);
      if (agent == "*") {
        group_star = true;
        have_star = true;
      } else if (!agent.empty() && !token.empty() && agent == token) {
        group_specific = true;
        have_specific = true;
      }
      continue;
    }
    if (key != "allow" && key != "disallow" && key != "crawl-delay") continue;
    in_agents = false;
    if (key == "crawl-delay") {
      double d = std::atof(std::string(value).c_str());
      if (d > 0) {
        if (group_specific) specific.crawl_delay_s_ = d;
        if (group_star) star.crawl_delay_s_ = d;
      }
      continue;
    }
    if (value.empty()) continue;  // "Disallow:" with no path allows everything
    Rule rule{key == "allow", std::string(value)};
    if (group_specific) specific.rules_.push_back(rule);
    if (group_star) star.rules_.push_back(rule);
  }
  if (have_specific) return specific;
  if (have_star) return star;
  return RobotsRules();
}

bool RobotsRules::Allowed(std::string_view path_query) const {
  if (path_query == "/robots.txt") return true;
  if (disallow_all_) return false;
  int best_len = -1;
  bool allowed = true;
  for (const Rule& rule : rules_) {
    if (!Matches(rule.pattern, path_query)) continue;
    int len = static_cast<int>(rule.pattern.size());
    if (len > best_len || (len == best_len && rule.allow)) {
      best_len = len;
      allowed = rule.allow;
    }
  }
  return allowed;
}

}  // namespace kagami::crawler
