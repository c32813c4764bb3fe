#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/crawler/json_path.h"

namespace kagami::crawler {

// What a link points at, which decides its priority and how it is handled.
enum class LinkKind {
  kPage,     // HTML to parse for more links (a[href], iframe, meta refresh)
  kMedia,    // an image to fingerprint
  kArchive,  // ZIP/CBZ/RAR/CB7/7z/PDF/EPUB to open and fingerprint
  kStream,   // an HLS playlist (.m3u8): fetched segment by segment and matched as video
};
std::string_view LinkKindName(LinkKind kind);

struct Link {
  std::string url;  // absolute, as written (canonicalised by the caller)
  LinkKind kind = LinkKind::kPage;
};

// A CSS-like selector: compound parts separated by spaces (descendant
// combinator), each `tag`, `.class`, `#id`, `[attr]` or `[attr=value]` in any
// combination, e.g. "div.reader img[data-src]". No other combinators.
class Selector {
 public:
  static Result<Selector> Parse(std::string_view text);
  struct Compound {
    std::string tag;  // "" = any
    std::vector<std::string> classes;
    std::string id;
    std::vector<std::pair<std::string, std::string>> attrs;  // value "" = present
    std::vector<bool> attr_has_value;
  };
  const std::vector<Compound>& parts() const { return parts_; }

 private:
  std::vector<Compound> parts_;
};

// A per-site extraction rule from a job file.
struct SiteRule {
  std::string host;                                     // applies to pages on this host ("" = all)
  std::vector<std::pair<Selector, std::string>> media;  // selector, attribute holding the URL
  std::vector<std::pair<Selector, std::string>> pages;  // extra page links
  // Regexes run over inline <script> text; capture group 1 (or the whole match)
  // is either one URL or a JSON array of URL strings (JSON escapes undone).
  std::vector<std::regex> script_media;
  // JSON paths evaluated on the JSON literals of inline <script>s (json_path.h),
  // e.g. "$.chapter.images[*].url"; the strings selected are media URLs.
  std::vector<JsonPath> script_json;
  std::vector<std::regex> follow;  // page URLs must match one (when non-empty)
  std::vector<std::regex> ignore;  // URLs matching one are dropped
};

// Extracts links from an HTML document with libxml2's HTML parser (no network,
// recovering from errors): a[href], area[href], img[src|data-src|data-original|
// data-lazy-src|srcset], picture/source[src|srcset], video[src|poster],
// audio/source[src], iframe[src], frame[src], link[rel=next|prev], meta refresh,
// <base href>; hrefs ending in image, archive or .m3u8 extensions take that
// kind. Then the site rules. Input over 8 MiB is cut off there. Links are
// deduplicated, in document order, at most `max_links`.
std::vector<Link> ExtractLinks(std::string_view html, const std::string& base_url,
                               const std::vector<const SiteRule*>& rules, size_t max_links = 5000);

// The kind a URL's path extension suggests (kPage when none does).
LinkKind KindFromExtension(std::string_view url);

}  // namespace kagami::crawler
