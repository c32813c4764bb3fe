#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kagami {

// What went wrong, coarsely: callers branch on the code, people read the message.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller or user passed something unusable (bad flag, bad hex)
  kNotFound,           // a file, work or record does not exist
  kIoError,            // reading or writing failed (errno, disk full, permissions)
  kCorrupt,            // the bytes are not what their format promises (truncated, bad header)
  kUnsupported,        // a valid format or feature Kagami does not handle
  kResourceExhausted,  // a safety limit was hit (size, count, ratio, pixels, nesting)
  kAborted,            // interrupted or cancelled
  kInternal,           // a library failed in a way the input does not explain
};

// Human-readable name of a code, e.g. "corrupt".
std::string_view StatusCodeName(StatusCode code);

// The outcome of an operation that can fail for reasons outside the program's
// control. Cheap to copy when ok. Not thread-safe to mutate; const use is.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corrupt: page 3: not a JPEG file", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("reading vol1.cbz: ...").
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// The single place where errno values become a Status. `what` names the
// operation and object, e.g. "open /data/x.cbz".
Status ErrnoStatus(int errno_value, std::string_view what);

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok() && "Result constructed from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace kagami

// Propagates a non-ok Status from an expression returning Status.
#define KAGAMI_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::kagami::Status kagami_status_ = (expr);        \
    if (!kagami_status_.ok()) return kagami_status_; \
  } while (0)

#define KAGAMI_CONCAT_INNER_(a, b) a##b
#define KAGAMI_CONCAT_(a, b) KAGAMI_CONCAT_INNER_(a, b)

// `KAGAMI_ASSIGN_OR_RETURN(auto x, F());` declares x from a Result or returns its Status.
#define KAGAMI_ASSIGN_OR_RETURN(lhs, expr) \
  KAGAMI_ASSIGN_OR_RETURN_IMPL_(KAGAMI_CONCAT_(kagami_result_, __LINE__), lhs, expr)
#define KAGAMI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
