#include "kagami/crawler/json_path.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace kagami::crawler {
namespace {

constexpr size_t kMaxScriptBytes = 8u << 20;
constexpr int kMaxLiterals = 256;

// End (one past) of the JSON object or array literal opening at `begin`, by
// bracket depth outside strings; npos when unbalanced.
size_t LiteralEnd(std::string_view s, size_t begin) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = begin; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 512) return std::string_view::npos;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

void Collect(const nlohmann::json& v, std::vector<std::string>& out, size_t max) {
  if (out.size() >= max) return;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& e : v)
      if (e.is_string() && out.size() < max) out.push_back(e.get<std::string>());
  }
}

}  // namespace

Result<JsonPath> JsonPath::Parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("JSON path '" + std::string(text) + "': " + why);
  };
  JsonPath path;
  path.text_ = std::string(text);
  if (text.empty() || text[0] != '$') return bad("must start with '$'");
  size_t i = 1;
  while (i < text.size()) {
    Step step;
    if (text[i] == '.') {
      ++i;
      if (i < text.size() && text[i] == '.')
        return bad("descendant segments ('..') are not supported");
      if (i < text.size() && text[i] == '*') {
        step.kind = Step::kWildcard;
        ++i;
      } else {
        size_t b = i;
        while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) ||
                                   text[i] == '_' || text[i] == '$' || text[i] == '-'))
          ++i;
        if (i == b) return bad("expected a member name after '.' at offset " + std::to_string(b));
        step.name = std::string(text.substr(b, i - b));
      }
    } else if (text[i] == '[') {
      size_t close = text.find(']', i);
      if (close == std::string_view::npos) return bad("unclosed '['");
      std::string_view inner = text.substr(i + 1, close - i - 1);
      if (inner == "*") {
        step.kind = Step::kWildcard;
      } else if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"') &&
                 inner.back() == inner.front()) {
        step.name = std::string(inner.substr(1, inner.size() - 2));
      } else {
        size_t k = inner.size() > 0 && inner[0] == '-' ? 1 : 0;
        if (k == inner.size()) return bad("expected an index, a quoted name or '*' in []");
        for (size_t j = k; j < inner.size(); ++j)
          if (!std::isdigit(static_cast<unsigned char>(inner[j])))
            return bad(
                "only indexes, quoted names and '*' are supported in [] (no filters, "
                "slices or unions)");
        if (inner.size() > 9) return bad("index out of range");
        step.kind = Step::kIndex;
        step.index = std::stol(std::string(inner));
      }
      i = close + 1;
    } else {
      return bad("unexpected '" + std::string(1, text[i]) + "' at offset " + std::to_string(i));
    }
    path.steps_.push_back(std::move(step));
  }
  return path;
}

std::vector<std::string> JsonPath::Select(std::string_view script, size_t max_results) const {
  std::vector<std::string> out;
  if (script.size() > kMaxScriptBytes) script = script.substr(0, kMaxScriptBytes);
  auto evaluate = [&](const nlohmann::json& root) {
    std::vector<const nlohmann::json*> current = {&root};
    for (const Step& step : steps_) {
      std::vector<const nlohmann::json*> next;
      for (const nlohmann::json* v : current) {
        switch (step.kind) {
          case Step::kName:
            if (v->is_object()) {
              auto it = v->find(step.name);
              if (it != v->end()) next.push_back(&*it);
            }
            break;
          case Step::kIndex:
            if (v->is_array()) {
              long n = static_cast<long>(v->size());
              long k = step.index < 0 ? n + step.index : step.index;
              if (k >= 0 && k < n) next.push_back(&(*v)[static_cast<size_t>(k)]);
            }
            break;
          case Step::kWildcard:
            if (v->is_array() || v->is_object())
              for (const auto& e : *v) next.push_back(&e);
            break;
        }
      }
      current = std::move(next);
      if (current.empty()) return;
    }
    for (const nlohmann::json* v : current) Collect(*v, out, max_results);
  };

  nlohmann::json whole = nlohmann::json::parse(script.begin(), script.end(), nullptr, false);
  if (!whole.is_discarded()) {
    evaluate(whole);
    return out;
  }
  int literals = 0;
  size_t i = 0;
  while (i < script.size() && literals < kMaxLiterals && out.size() < max_results) {
    size_t open = script.find_first_of("{[", i);
    if (open == std::string_view::npos) break;
    size_t p = open;
    while (p > 0 && std::isspace(static_cast<unsigned char>(script[p - 1]))) --p;
    char before = p > 0 ? script[p - 1] : '=';
    if (before != '=' && before != '(' && before != ':' && before != ',') {
      i = open + 1;
      continue;
    }
    size_t end = LiteralEnd(script, open);
    if (end == std::string_view::npos) break;
    ++literals;
    nlohmann::json j =
        nlohmann::json::parse(script.begin() + open, script.begin() + end, nullptr, false);
    if (j.is_discarded()) {
      i = open + 1;  // not JSON (e.g. a JavaScript object literal): look inside it
      continue;
    }
    evaluate(j);
    i = end;
  }
  return out;
}

}  // namespace kagami::crawler
