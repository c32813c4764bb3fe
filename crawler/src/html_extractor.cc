#include "kagami/crawler/html_extractor.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "kagami/crawler/url.h"

namespace kagami::crawler {
namespace {

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Attr(xmlNode* node, const char* name) {
  xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

bool HasAttr(xmlNode* node, const std::string& name) {
  return xmlHasProp(node, reinterpret_cast<const xmlChar*>(name.c_str())) != nullptr;
}

std::string Name(xmlNode* node) {
  return node->name ? Lower(reinterpret_cast<const char*>(node->name)) : std::string();
}

bool MatchesCompound(xmlNode* node, const Selector::Compound& c) {
  if (node == nullptr || node->type != XML_ELEMENT_NODE) return false;
  if (!c.tag.empty() && c.tag != "*" && Name(node) != c.tag) return false;
  if (!c.id.empty() && Attr(node, "id") != c.id) return false;
  if (!c.classes.empty()) {
    std::string cls = " " + Attr(node, "class") + " ";
    for (char& ch : cls)
      if (std::isspace(static_cast<unsigned char>(ch))) ch = ' ';
    for (const std::string& want : c.classes) {
      if (cls.find(" " + want + " ") == std::string::npos) return false;
    }
  }
  for (size_t i = 0; i < c.attrs.size(); ++i) {
    if (!HasAttr(node, c.attrs[i].first)) return false;
    if (c.attr_has_value[i] && Attr(node, c.attrs[i].first.c_str()) != c.attrs[i].second)
      return false;
  }
  return true;
}

bool MatchesSelector(xmlNode* node, const Selector& sel) {
  const auto& parts = sel.parts();
  if (parts.empty() || !MatchesCompound(node, parts.back())) return false;
  int i = static_cast<int>(parts.size()) - 2;
  for (xmlNode* a = node->parent; a != nullptr && i >= 0; a = a->parent) {
    if (MatchesCompound(a, parts[i])) --i;
  }
  return i < 0;
}

bool EndsWithAny(std::string_view path, std::initializer_list<const char*> exts) {
  for (const char* e : exts) {
    size_t n = std::strlen(e);
    if (path.size() >= n && Lower(path.substr(path.size() - n)) == e) return true;
  }
  return false;
}

class Collector {
 public:
  Collector(std::string base, size_t max_links) : base_(std::move(base)), max_(max_links) {}

  void Add(const std::string& raw, LinkKind kind) {
    if (links_.size() >= max_ || raw.empty()) return;
    std::string lowered = Lower(raw.substr(0, 11));
    if (lowered.rfind("javascript:", 0) == 0 || lowered.rfind("data:", 0) == 0 ||
        lowered.rfind("mailto:", 0) == 0 || raw[0] == '#')
      return;
    Result<Url> url = ParseUrl(raw, base_);
    if (!url.ok()) return;
    if (kind == LinkKind::kPage) {
      LinkKind by_ext = KindFromExtension(url->canonical);
      if (by_ext != LinkKind::kPage) kind = by_ext;
    }
    if (!seen_.insert(url->canonical).second) return;
    links_.push_back({url->canonical, kind});
  }
  void AddSrcset(const std::string& srcset, LinkKind kind) {
    // "a.jpg 1x, b.jpg 2x": URLs are the first token of each comma-separated item.
    size_t pos = 0;
    while (pos < srcset.size()) {
      while (pos < srcset.size() &&
             (std::isspace(static_cast<unsigned char>(srcset[pos])) || srcset[pos] == ','))
        ++pos;
      size_t end = pos;
      while (end < srcset.size() && !std::isspace(static_cast<unsigned char>(srcset[end]))) ++end;
      std::string url = srcset.substr(pos, end - pos);
      if (!url.empty() && url.back() == ',') url.pop_back();
      if (!url.empty()) Add(url, kind);
      size_t comma = srcset.find(',', end);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  void SetBase(const std::string& href) {
    Result<Url> url = ParseUrl(href, base_);
    if (url.ok()) base_ = url->canonical;
  }
  std::vector<Link> Take() { return std::move(links_); }

 private:
  std::string base_;
  size_t max_;
  std::unordered_set<std::string> seen_;
  std::vector<Link> links_;
};

void AddScriptMatches(const std::string& text, const std::regex& re, Collector& out) {
  auto begin = std::sregex_iterator(text.begin(), text.end(), re);
  int count = 0;
  for (auto it = begin; it != std::sregex_iterator() && count < 2000; ++it, ++count) {
    std::string found = it->size() > 1 && (*it)[1].matched ? (*it)[1].str() : it->str();
    std::string trimmed = found;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
      trimmed.erase(trimmed.begin());
    if (!trimmed.empty() && trimmed.front() == '[') {
      nlohmann::json j = nlohmann::json::parse(trimmed, nullptr, false);
      if (j.is_array()) {
        for (const auto& item : j) {
          if (item.is_string())
            out.Add(item.get<std::string>(), LinkKind::kMedia);
          else if (item.is_object())
            for (const char* key : {"url", "src", "image"})
              if (item.contains(key) && item[key].is_string())
                out.Add(item[key].get<std::string>(), LinkKind::kMedia);
        }
        continue;
      }
    }
    std::string unescaped;
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i] == '\\' && i + 1 < found.size() && found[i + 1] == '/') continue;
      unescaped.push_back(found[i]);
    }
    out.Add(unescaped, LinkKind::kMedia);
  }
}

void Walk(xmlNode* node, const std::vector<const SiteRule*>& rules, Collector& out, int depth) {
  for (xmlNode* n = node; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && depth < 512) {
      std::string tag = Name(n);
      if (tag == "base") {
        out.SetBase(Attr(n, "href"));
      } else if (tag == "a" || tag == "area") {
        out.Add(Attr(n, "href"), LinkKind::kPage);
      } else if (tag == "link") {
        std::string rel = Lower(Attr(n, "rel"));
        if (rel == "next" || rel == "prev") out.Add(Attr(n, "href"), LinkKind::kPage);
      } else if (tag == "img") {
        for (const char* a : {"data-src", "data-original", "data-lazy-src", "src"}) {
          out.Add(Attr(n, a), LinkKind::kMedia);
        }
        out.AddSrcset(Attr(n, "srcset"), LinkKind::kMedia);
        out.AddSrcset(Attr(n, "data-srcset"), LinkKind::kMedia);
      } else if (tag == "source") {
        std::string src = Attr(n, "src");
        LinkKind k = KindFromExtension(src);
        out.Add(src, k == LinkKind::kPage ? LinkKind::kMedia : k);
        out.AddSrcset(Attr(n, "srcset"), LinkKind::kMedia);
      } else if (tag == "video") {
        std::string src = Attr(n, "src");
        LinkKind k = KindFromExtension(src);
        if (!src.empty()) out.Add(src, k == LinkKind::kPage ? LinkKind::kArchive : k);
        out.Add(Attr(n, "poster"), LinkKind::kMedia);
      } else if (tag == "iframe" || tag == "frame") {
        out.Add(Attr(n, "src"), LinkKind::kPage);
      } else if (tag == "meta") {
        if (Lower(Attr(n, "http-equiv")) == "refresh") {
          std::string content = Attr(n, "content");
          std::string lc = Lower(content);
          size_t at = lc.find("url=");
          if (at != std::string::npos) {
            std::string target = content.substr(at + 4);
            if (!target.empty() && (target.front() == '\'' || target.front() == '"'))
              target = target.substr(1);
            if (!target.empty() && (target.back() == '\'' || target.back() == '"'))
              target.pop_back();
            out.Add(target, LinkKind::kPage);
          }
        }
      } else if (tag == "script") {
        std::string text;
        for (xmlNode* c = n->children; c != nullptr; c = c->next) {
          if (c->content) text += reinterpret_cast<const char*>(c->content);
        }
        for (const SiteRule* rule : rules)
          for (const std::regex& re : rule->script_media) AddScriptMatches(text, re, out);
        for (const SiteRule* rule : rules)
          for (const JsonPath& path : rule->script_json)
            for (const std::string& url : path.Select(text)) out.Add(url, LinkKind::kMedia);
        // Playlists named in scripts are common on streaming pages.
        static const std::regex kM3u8(R"re(["'](https?:[^"'\s]+?\.m3u8[^"'\s]*)["'])re");
        if (text.size() < (1 << 20)) {
          for (auto it = std::sregex_iterator(text.begin(), text.end(), kM3u8);
               it != std::sregex_iterator(); ++it)
            out.Add((*it)[1].str(), LinkKind::kStream);
        }
      }
      for (const SiteRule* rule : rules) {
        for (const auto& [sel, attr] : rule->media)
          if (MatchesSelector(n, sel)) out.Add(Attr(n, attr.c_str()), LinkKind::kMedia);
        for (const auto& [sel, attr] : rule->pages)
          if (MatchesSelector(n, sel)) out.Add(Attr(n, attr.c_str()), LinkKind::kPage);
      }
      Walk(n->children, rules, out, depth + 1);
    }
  }
}

}  // namespace

std::string_view LinkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kPage:
      return "page";
    case LinkKind::kMedia:
      return "media";
    case LinkKind::kArchive:
      return "archive";
    case LinkKind::kStream:
      return "stream";
  }
  return "page";
}

LinkKind KindFromExtension(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  std::string_view path = url.substr(0, cut);
  if (EndsWithAny(path,
                  {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"}))
    return LinkKind::kMedia;
  if (EndsWithAny(path,
                  {".zip", ".cbz", ".rar", ".cbr", ".7z", ".cb7", ".tar", ".cbt", ".pdf", ".epub"}))
    return LinkKind::kArchive;
  if (EndsWithAny(path, {".m3u8"})) return LinkKind::kStream;
  return LinkKind::kPage;
}

Result<Selector> Selector::Parse(std::string_view text) {
  Selector sel;
  size_t pos = 0;
  auto ident = [&](size_t& p) {
    size_t b = p;
    while (p < text.size() && (std::isalnum(static_cast<unsigned char>(text[p])) ||
                               text[p] == '-' || text[p] == '_' || text[p] == '*'))
      ++p;
    return std::string(text.substr(b, p - b));
  };
  while (pos < text.size()) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos >= text.size()) break;
    Compound c;
    c.tag = Lower(ident(pos));
    while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos]))) {
      char ch = text[pos++];
      if (ch == '.') {
        c.classes.push_back(ident(pos));
      } else if (ch == '#') {
        c.id = ident(pos);
      } else if (ch == '[') {
        size_t close = text.find(']', pos);
        if (close == std::string_view::npos)
          return Status::InvalidArgument("selector: unclosed [ in " + std::string(text));
        std::string_view inner = text.substr(pos, close - pos);
        pos = close + 1;
        size_t eq = inner.find('=');
        std::string name = Lower(inner.substr(0, eq));
        std::string value;
        if (eq != std::string_view::npos) {
          value = std::string(inner.substr(eq + 1));
          if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
            value = value.substr(1, value.size() - 2);
        }
        c.attrs.emplace_back(name, value);
        c.attr_has_value.push_back(eq != std::string_view::npos);
      } else {
        return Status::InvalidArgument("selector: unsupported syntax in " + std::string(text) +
                                       " (tag, .class, #id, [attr], [attr=v] and spaces only)");
      }
    }
    sel.parts_.push_back(std::move(c));
  }
  if (sel.parts_.empty()) return Status::InvalidArgument("empty selector");
  return sel;
}

std::vector<Link> ExtractLinks(std::string_view html, const std::string& base_url,
                               const std::vector<const SiteRule*>& rules, size_t max_links) {
  constexpr size_t kMaxHtml = 8 << 20;
  if (html.size() > kMaxHtml) html = html.substr(0, kMaxHtml);
  Collector out(base_url, max_links);
  std::unique_ptr<xmlDoc, DocDeleter> doc(
      htmlReadMemory(html.data(), static_cast<int>(html.size()), base_url.c_str(), nullptr,
                     HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                         HTML_PARSE_NOWARNING | HTML_PARSE_COMPACT));
  if (doc) Walk(xmlDocGetRootElement(doc.get()), rules, out, 0);
  std::vector<Link> links = out.Take();
  if (rules.empty()) return links;
  std::vector<Link> kept;
  for (Link& link : links) {
    bool drop = false;
    for (const SiteRule* rule : rules) {
      for (const std::regex& re : rule->ignore)
        if (std::regex_search(link.url, re)) drop = true;
      if (link.kind == LinkKind::kPage && !rule->follow.empty()) {
        bool any = false;
        for (const std::regex& re : rule->follow)
          if (std::regex_search(link.url, re)) any = true;
        if (!any) drop = true;
      }
    }
    if (!drop) kept.push_back(std::move(link));
  }
  return kept;
}

}  // namespace kagami::crawler
