#pragma once

#include <string>
#include <string_view>

namespace kagami::ingest::internal {

// Member path as stored in an archive, made uniform: backslashes become '/',
// leading "/" and "./" are dropped. The result is only ever used as a label and
// a sort key, never as a filesystem path.
std::string NormaliseMemberName(std::string_view raw);

// True for paths that hold no pages by convention: any component that starts
// with '.' (.DS_Store, ._p1.jpg, .git) or is "__MACOSX" (resource forks).
bool IsHiddenPath(std::string_view path);

// Extension of the last path component, lower case ASCII, without the dot; "" if none.
std::string LowerExtension(std::string_view path);

// jpg jpeg jpe jfif png webp bmp dib tif tiff gif.
bool HasImageExtension(std::string_view path);

// zip cbz rar cbr 7z cb7 tar cbt (archives a comic may nest).
bool HasArchiveExtension(std::string_view path);

}  // namespace kagami::ingest::internal
