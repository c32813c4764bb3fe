#include "kagami/base/status.h"

#include <cstring>

namespace kagami {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kCorrupt:
      return "corrupt";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kResourceExhausted:
      return "limit exceeded";
    case StatusCode::kAborted:
      return "aborted";
    case StatusCode::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status ErrnoStatus(int errno_value, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += std::strerror(errno_value);
  StatusCode code = StatusCode::kIoError;
  if (errno_value == ENOENT || errno_value == ENOTDIR) code = StatusCode::kNotFound;
  if (errno_value == EINVAL) code = StatusCode::kInvalidArgument;
  if (errno_value == ENOSPC || errno_value == EMFILE || errno_value == ENOMEM) {
    code = StatusCode::kResourceExhausted;
  }
  return Status(code, std::move(m));
}

}  // namespace kagami
