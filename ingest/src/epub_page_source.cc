#include "epub_page_source.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string_view>
#include <unordered_map>

#include "kagami/ingest/volume.h"
#include "member_names.h"

namespace kagami::ingest::internal {
namespace {

constexpr uint64_t kMaxMarkupBytes = 16 << 20;
constexpr size_t kMaxVisitedNodes = 1 << 20;
constexpr std::string_view kContainerPath = "META-INF/container.xml";

struct XmlDocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;
struct XmlParserCtxtFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};
struct HtmlParserCtxtFree {
  void operator()(htmlParserCtxt* ctxt) const { htmlFreeParserCtxt(ctxt); }
};
struct XmlCharFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};

bool IsMarkupName(const std::string& name) {
  if (name == kContainerPath) return true;
  std::string ext = LowerExtension(name);
  return ext == "opf" || ext == "xhtml" || ext == "html" || ext == "htm" || ext == "xml" ||
         ext == "svg";
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), AsciiLower);
  return out;
}

bool NameIs(const xmlNode* node, std::string_view name) {
  return node->name != nullptr && Lower(reinterpret_cast<const char*>(node->name)) == name;
}

std::string Attribute(xmlNode* node, const char* name) {
  // xmlGetProp matches the local name in any namespace: "href" finds xlink:href.
  std::unique_ptr<xmlChar, XmlCharFree> value(xmlGetProp(node, BAD_CAST name));
  return value ? std::string(reinterpret_cast<const char*>(value.get())) : std::string();
}

// Parses XML (XHTML, OPF, SVG), falling back to the HTML parser for tag soup.
// No network, no DTD loading, no entity substitution, no messages on stderr.
XmlDocPtr ParseMarkup(const std::vector<unsigned char>& bytes) {
  static std::once_flag init_once;
  std::call_once(init_once, xmlInitParser);  // Required once before threaded use.
  if (bytes.empty() || bytes.size() > INT_MAX) return nullptr;
  const char* data = reinterpret_cast<const char*>(bytes.data());
  int size = static_cast<int>(bytes.size());
  std::unique_ptr<xmlParserCtxt, XmlParserCtxtFree> xml_ctxt(xmlNewParserCtxt());
  if (xml_ctxt) {
    XmlDocPtr doc(xmlCtxtReadMemory(xml_ctxt.get(), data, size, nullptr, nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (doc) return doc;
  }
  std::unique_ptr<htmlParserCtxt, HtmlParserCtxtFree> html_ctxt(htmlNewParserCtxt());
  if (!html_ctxt) return nullptr;
  return XmlDocPtr(htmlCtxtReadMemory(
      html_ctxt.get(), data, size, nullptr, nullptr,
      HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER));
}

// Visits elements in document order. Only element children are descended
// into (entity references are not expanded), at most kMaxVisitedNodes.
template <typename Visit>
void ForEachElement(xmlDoc* doc, Visit visit) {
  xmlNode* root = xmlDocGetRootElement(doc);
  if (root == nullptr) return;
  std::vector<xmlNode*> stack = {root};
  std::vector<xmlNode*> children;
  size_t visited = 0;
  while (!stack.empty() && visited++ < kMaxVisitedNodes) {
    xmlNode* node = stack.back();
    stack.pop_back();
    if (node->type != XML_ELEMENT_NODE) continue;
    visit(node);
    children.clear();
    for (xmlNode* child = node->children; child != nullptr; child = child->next) {
      if (child->type == XML_ELEMENT_NODE) children.push_back(child);
    }
    stack.insert(stack.end(), children.rbegin(), children.rend());
  }
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = AsciiLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Resolves an href (relative URL) against the folder of the referring document.
// Returns "" for external or data: URLs and for empty references.
std::string ResolveHref(std::string_view base_dir, std::string_view href) {
  while (!href.empty() && std::isspace(static_cast<unsigned char>(href.front()))) {
    href.remove_prefix(1);
  }
  while (!href.empty() && std::isspace(static_cast<unsigned char>(href.back()))) {
    href.remove_suffix(1);
  }
  href = href.substr(0, href.find_first_of("#?"));
  size_t colon = href.find(':');
  if (href.empty() || (colon != std::string_view::npos && colon < href.find('/'))) return "";
  std::string decoded = PercentDecode(href);
  std::string joined;
  if (decoded.front() == '/') {
    joined = decoded.substr(1);
  } else {
    joined = base_dir.empty() ? decoded : std::string(base_dir) + "/" + decoded;
  }
  std::vector<std::string_view> parts;
  std::string_view rest(joined);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

struct ManifestItem {
  std::string path;
  std::string media_type;
};

// Image paths referenced by one (X)HTML or SVG document, in document order.
std::vector<std::string> ReferencedImages(xmlDoc* doc, const std::string& doc_path) {
  std::vector<std::string> images;
  std::string dir = DirName(doc_path);
  ForEachElement(doc, [&](xmlNode* node) {
    std::string href;
    if (NameIs(node, "img")) {
      href = Attribute(node, "src");
    } else if (NameIs(node, "image")) {
      href = Attribute(node, "href");
    }
    if (href.empty()) return;
    std::string path = ResolveHref(dir, href);
    if (!path.empty()) images.push_back(std::move(path));
  });
  return images;
}

}  // namespace

Result<std::unique_ptr<EpubPageSource>> EpubPageSource::Open(const std::filesystem::path& path,
                                                             const IngestLimits& limits) {
  std::unique_ptr<EpubPageSource> source(new EpubPageSource());
  source->label_ = path.string();
  source->budget_ = std::make_unique<ByteBudget>();
  ArchiveOrigin origin;
  origin.path = path;
  origin.label = source->label_;
  IngestLimits markup_limits = limits;
  markup_limits.max_entry_bytes = std::min<uint64_t>(limits.max_entry_bytes, kMaxMarkupBytes);
  KAGAMI_ASSIGN_OR_RETURN(
      source->listing_,
      ListArchive(origin, markup_limits, source->budget_.get(),
                  [](const std::string& name, bool) { return IsMarkupName(name); }));
  std::vector<ArchiveEntry>& entries = source->listing_.entries;
  std::unordered_map<std::string, size_t> by_name, by_lower_name;
  for (size_t i = 0; i < entries.size(); ++i) {
    by_name.emplace(entries[i].name, i);
    by_lower_name.emplace(Lower(entries[i].name), i);
  }
  auto find_entry = [&](const std::string& name) -> std::optional<size_t> {
    if (auto it = by_name.find(name); it != by_name.end()) return it->second;
    if (auto it = by_lower_name.find(Lower(name)); it != by_lower_name.end()) return it->second;
    return std::nullopt;
  };
  auto parse_entry = [&](const std::string& name) -> XmlDocPtr {
    std::optional<size_t> index = find_entry(name);
    if (!index) return nullptr;
    const auto& captured = entries[*index].captured;
    if (!captured || !captured->ok()) return nullptr;
    return ParseMarkup(captured->value());
  };

  // container.xml -> package document (OPF).
  std::string opf_path;
  if (XmlDocPtr container = parse_entry(std::string(kContainerPath))) {
    ForEachElement(container.get(), [&](xmlNode* node) {
      if (opf_path.empty() && NameIs(node, "rootfile")) {
        opf_path = ResolveHref("", Attribute(node, "full-path"));
      }
    });
  }
  if (opf_path.empty() || !find_entry(opf_path)) {
    for (const ArchiveEntry& entry : entries) {
      if (LowerExtension(entry.name) == "opf") {
        opf_path = entry.name;
        break;
      }
    }
  }

  // Spine -> image paths in reading order.
  std::vector<std::string> page_paths;
  if (XmlDocPtr opf = opf_path.empty() ? nullptr : parse_entry(opf_path)) {
    std::string opf_dir = DirName(opf_path);
    std::map<std::string, ManifestItem> manifest;
    std::vector<std::string> spine;
    ForEachElement(opf.get(), [&](xmlNode* node) {
      if (NameIs(node, "item")) {
        manifest.emplace(Attribute(node, "id"),
                         ManifestItem{ResolveHref(opf_dir, Attribute(node, "href")),
                                      Lower(Attribute(node, "media-type"))});
      } else if (NameIs(node, "itemref")) {
        spine.push_back(Attribute(node, "idref"));
      }
    });
    for (const std::string& idref : spine) {
      auto item = manifest.find(idref);
      if (item == manifest.end() || item->second.path.empty()) continue;
      const ManifestItem& m = item->second;
      bool is_markup = m.media_type.find("html") != std::string::npos ||
                       m.media_type.find("svg") != std::string::npos ||
                       m.media_type.find("xml") != std::string::npos;
      if (!is_markup && (m.media_type.rfind("image/", 0) == 0 || HasImageExtension(m.path))) {
        page_paths.push_back(m.path);
        continue;
      }
      if (XmlDocPtr doc = parse_entry(m.path)) {
        for (std::string& image : ReferencedImages(doc.get(), m.path)) {
          if (HasImageExtension(image)) page_paths.push_back(std::move(image));
        }
      }
    }
  }

  // Duplicates are removed by the archive entry a reference resolves to (the
  // lookup is case-insensitive): reading one entry twice would run its stream
  // past the end and drop the rest of the volume.
  std::set<size_t> seen_entries;
  std::set<std::string> seen_missing;
  for (const std::string& page_path : page_paths) {
    std::optional<size_t> entry = find_entry(page_path);
    bool first =
        entry ? seen_entries.insert(*entry).second : seen_missing.insert(Lower(page_path)).second;
    if (!first) continue;
    if (source->pages_.size() >= limits.max_pages) {
      return Status::ResourceExhausted(source->label_ + ": EPUB has more than " +
                                       std::to_string(limits.max_pages) + " pages (max_pages)");
    }
    source->pages_.push_back(Page{page_path, entry});
  }
  if (source->pages_.empty()) {  // No usable spine: every image, natural order.
    std::vector<size_t> images;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!IsHiddenPath(entries[i].name) && HasImageExtension(entries[i].name)) {
        images.push_back(i);
      }
    }
    std::stable_sort(images.begin(), images.end(), [&](size_t a, size_t b) {
      return NaturalLess(entries[a].name, entries[b].name);
    });
    if (images.size() > limits.max_pages) {
      return Status::ResourceExhausted(source->label_ + ": EPUB has more than " +
                                       std::to_string(limits.max_pages) + " images (max_pages)");
    }
    for (size_t i : images) source->pages_.push_back(Page{entries[i].name, i});
  }
  // Markup is no longer needed.
  for (ArchiveEntry& entry : entries) entry.captured.reset();

  std::set<size_t> wanted;
  for (const Page& page : source->pages_) {
    if (page.entry) wanted.insert(entries[*page.entry].header_index);
  }
  source->stream_ = std::make_unique<MemberStream>(std::move(origin), std::move(wanted), limits,
                                                   source->budget_.get());
  return source;
}

std::optional<EncodedPage> EpubPageSource::Next() {
  try {
    return NextUnguarded();
  } catch (const std::bad_alloc&) {
    done_ = true;
    EncodedPage page;
    page.status = Status::ResourceExhausted(label_ + ": out of memory");
    return page;
  } catch (const std::exception& e) {
    done_ = true;
    EncodedPage page;
    page.status = Status::Internal(label_ + ": " + e.what());
    return page;
  }
}

std::optional<EncodedPage> EpubPageSource::NextUnguarded() {
  if (done_) return std::nullopt;
  EncodedPage page;
  if (next_ >= pages_.size()) {
    done_ = true;
    if (listing_.tail.ok()) return std::nullopt;
    page.status = listing_.tail;
    return page;
  }
  const Page& wanted = pages_[next_++];
  page.member = wanted.member;
  std::string where = label_ + ": " + wanted.member;
  if (!wanted.entry) {
    page.status = Status::Corrupt(where + ": image referenced by the EPUB is not in the archive");
    return page;
  }
  const ArchiveEntry& entry = listing_.entries[*wanted.entry];
  Result<std::vector<unsigned char>> data = stream_->Read(entry.header_index, entry.name);
  if (!data.ok()) {
    if (stream_->broken()) done_ = true;
    page.status = data.status();
    return page;
  }
  if (SniffMediaKind(data->data(), data->size(), nullptr) != MediaKind::kImage) {
    page.status = Status::Corrupt(where + ": not an image (its bytes match no image format)");
    return page;
  }
  page.bytes = std::move(data).value();
  return page;
}

}  // namespace kagami::ingest::internal
