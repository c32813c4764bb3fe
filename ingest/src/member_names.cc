#include "member_names.h"

#include <algorithm>
#include <array>

namespace kagami::ingest::internal {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

template <size_t N>
bool Contains(const std::array<std::string_view, N>& set, std::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

}  // namespace

std::string NormaliseMemberName(std::string_view raw) {
  std::string name(raw);
  std::replace(name.begin(), name.end(), '\\', '/');
  size_t start = 0;
  while (start < name.size()) {
    if (name[start] == '/') {
      ++start;
    } else if (name.compare(start, 2, "./") == 0) {
      start += 2;
    } else {
      break;
    }
  }
  return name.substr(start);
}

bool IsHiddenPath(std::string_view path) {
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view component = path.substr(pos, end - pos);
    if (!component.empty() && component.front() == '.') return true;
    if (component == "__MACOSX") return true;
    pos = end + 1;
  }
  return false;
}

std::string LowerExtension(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == base.size()) return "";
  std::string ext(base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), AsciiLower);
  return ext;
}

bool HasImageExtension(std::string_view path) {
  static constexpr std::array<std::string_view, 12> kImageExtensions = {
      "jpg", "jpeg", "jpe", "jfif", "png", "webp", "bmp", "dib", "tif", "tiff", "gif", "avif"};
  return Contains(kImageExtensions, LowerExtension(path));
}

bool HasArchiveExtension(std::string_view path) {
  static constexpr std::array<std::string_view, 8> kArchiveExtensions = {
      "zip", "cbz", "rar", "cbr", "7z", "cb7", "tar", "cbt"};
  return Contains(kArchiveExtensions, LowerExtension(path));
}

}  // namespace kagami::ingest::internal
