#include "kagami/crawler/http_client.h"

#include <brotli/decode.h>
#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

namespace kagami::crawler {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Transfer {
  HttpRequest request;
  HttpResponse response;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const AddressPolicy* policy = nullptr;
  std::string refusal;
  bool over_cap = false;
  std::chrono::steady_clock::time_point started;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 1xx): start over
    t->response.response_head.clear();
    t->response.headers.clear();
  }
  // Transfer-Encoding is undone by libcurl; keep the head faithful to the body we store.
  std::string lower = Lower(line);
  if (lower.rfind("transfer-encoding:", 0) == 0) {
    t->response.response_head += "X-Kagami-Original-" + line;
  } else {
    t->response.response_head += line;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos && line.rfind("HTTP/", 0) != 0) {
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string value = Trim(line.substr(colon + 1));
    t->response.headers[name] = value;
    if (name == "content-length") {
      unsigned long long claimed = std::strtoull(value.c_str(), nullptr, 10);
      if (claimed > t->request.max_body_bytes) {
        t->over_cap = true;
        return 0;  // refuse before a single body byte
      }
    }
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->response.raw_body.size() + bytes > t->request.max_body_bytes) {
    size_t room = t->request.max_body_bytes - t->response.raw_body.size();
    t->response.raw_body.append(data, room);
    t->over_cap = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->response.raw_body.append(data, bytes);
  return bytes;
}

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (type == CURLINFO_HEADER_OUT && t->response.request_head.size() < 65536) {
    t->response.request_head.assign(data, size);  // the last request sent
  }
  return 0;
}

curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  std::string why = t->policy->Check(&address->addr);
  if (!why.empty()) {
    t->refusal = why;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

Result<std::string> Inflate(const std::string& raw, int window_bits, uint64_t max_bytes,
                            double max_ratio, const char* what) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::Internal("inflateInit2");
  std::string out;
  uint64_t limit = std::min<uint64_t>(
      max_bytes, static_cast<uint64_t>(max_ratio * std::max<size_t>(raw.size(), 1)));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      if (rc == Z_BUF_ERROR) break;  // truncated stream: keep what decoded
      return Status::Corrupt(std::string(what) + " body does not decode");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      return Status::ResourceExhausted(std::string(what) + " body decodes to over " +
                                       std::to_string(limit) +
                                       " bytes (size or decompression-ratio cap)");
    }
    if (zs.avail_in == 0 && rc != Z_STREAM_END && zs.avail_out != 0) break;
  }
  inflateEnd(&zs);
  return out;
}

Result<std::string> Unbrotli(const std::string& raw, uint64_t max_bytes, double max_ratio) {
  std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> st(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!st) return Status::ResourceExhausted("brotli decoder");
  uint64_t limit = std::min<uint64_t>(
      max_bytes, static_cast<uint64_t>(max_ratio * std::max<size_t>(raw.size(), 1)));
  std::string out;
  size_t avail_in = raw.size();
  const uint8_t* next_in = reinterpret_cast<const uint8_t*>(raw.data());
  uint8_t buf[65536];
  while (true) {
    size_t avail_out = sizeof buf;
    uint8_t* next_out = buf;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(st.get(), &avail_in, &next_in, &avail_out,
                                                          &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    if (out.size() > limit) {
      return Status::ResourceExhausted("br body decodes to over " + std::to_string(limit) +
                                       " bytes (size or decompression-ratio cap)");
    }
    if (r == BROTLI_DECODER_RESULT_SUCCESS) break;
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) continue;
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) break;  // truncated: keep what decoded
    return Status::Corrupt("br body does not decode");
  }
  return out;
}

}  // namespace

Result<std::string> DecodeContent(const std::string& encoding_header, const std::string& raw,
                                  uint64_t max_bytes, double max_ratio) {
  std::string enc = Lower(Trim(encoding_header));
  if (enc.empty() || enc == "identity") {
    if (raw.size() > max_bytes) return Status::ResourceExhausted("body over size cap");
    return raw;
  }
  if (enc == "gzip" || enc == "x-gzip") return Inflate(raw, 15 + 32, max_bytes, max_ratio, "gzip");
  if (enc == "deflate") {
    Result<std::string> z = Inflate(raw, 15, max_bytes, max_ratio, "deflate");
    if (z.ok() || z.status().code() == StatusCode::kResourceExhausted) return z;
    return Inflate(raw, -15, max_bytes, max_ratio, "deflate");  // raw deflate, as some servers send
  }
  if (enc == "br") return Unbrotli(raw, max_bytes, max_ratio);
  return Status::Unsupported("unsupported Content-Encoding: " + enc);
}

struct HttpClient::Impl {
  HttpClientOptions options;
  std::unique_ptr<CURLM, MultiDeleter> multi;
  std::unique_ptr<curl_slist, SlistDeleter> resolve;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers;
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() {
  if (impl_ && impl_->multi) {
    for (auto& [easy, t] : impl_->transfers) curl_multi_remove_handle(impl_->multi.get(), easy);
  }
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const HttpClientOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->multi.reset(curl_multi_init());
  if (!impl->multi) return Status::ResourceExhausted("curl_multi_init failed");
  curl_multi_setopt(impl->multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(impl->multi.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options.max_connections));
  curl_multi_setopt(impl->multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options.max_host_connections));
  for (const std::string& r : options.resolve) {
    if (std::count(r.begin(), r.end(), ':') < 2) {
      return Status::InvalidArgument("resolve: expected HOST:PORT:ADDR, got '" + r + "'");
    }
    curl_slist* next = curl_slist_append(impl->resolve.get(), r.c_str());
    if (next == nullptr) return Status::ResourceExhausted("curl_slist_append");
    impl->resolve.release();
    impl->resolve.reset(next);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

void HttpClient::Wakeup() { curl_multi_wakeup(impl_->multi.get()); }

int HttpClient::in_flight() const { return static_cast<int>(impl_->transfers.size()); }

void HttpClient::Start(const HttpRequest& request) {
  auto t = std::make_unique<Transfer>();
  t->request = request;
  t->response.token = request.token;
  t->response.url = request.url;
  t->policy = &impl_->options.policy;
  t->started = std::chrono::steady_clock::now();
  t->easy.reset(curl_easy_init());
  CURL* e = t->easy.get();
  const HttpClientOptions& o = impl_->options;
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout_ms));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(o.low_speed_bytes_per_s));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.low_speed_time_s));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body_bytes));
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, t.get());
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);  // routes request headers to OnDebug only
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
  if (impl_->resolve) curl_easy_setopt(e, CURLOPT_RESOLVE, impl_->resolve.get());
  t->headers.reset(curl_slist_append(nullptr, "Accept-Encoding: gzip, deflate, br"));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
  curl_multi_add_handle(impl_->multi.get(), e);
  impl_->transfers.emplace(e, std::move(t));
}

std::vector<HttpResponse> HttpClient::Poll(int timeout_ms) {
  std::vector<HttpResponse> done;
  CURLM* m = impl_->multi.get();
  int running = 0;
  curl_multi_perform(m, &running);
  curl_multi_poll(m, nullptr, 0, std::max(0, timeout_ms), nullptr);  // Wakeup() ends it early
  curl_multi_perform(m, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* e = msg->easy_handle;
    CURLcode rc = msg->data.result;
    auto it = impl_->transfers.find(e);
    if (it == impl_->transfers.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    impl_->transfers.erase(it);
    curl_multi_remove_handle(m, e);
    HttpResponse& r = t->response;
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    r.code = code;
    char* ip = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) r.ip = ip;
    r.done_unix_ms = NowMs();
    r.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t->started).count();
    if (!t->refusal.empty()) {
      r.refused_address = true;
      r.status = Status::Unsupported("refused to connect: " + t->refusal);
    } else if (t->over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
      r.truncated = true;
      r.status = Status::ResourceExhausted("response body over the " +
                                           std::to_string(t->request.max_body_bytes) +
                                           "-byte cap (claimed or sent)");
    } else if (rc != CURLE_OK) {
      r.truncated = code != 0;
      r.status = Status::IoError(std::string(curl_easy_strerror(rc)));
    } else {
      auto enc = r.headers.find("content-encoding");
      Result<std::string> body =
          DecodeContent(enc == r.headers.end() ? "" : enc->second, r.raw_body,
                        t->request.max_body_bytes, impl_->options.max_decompression_ratio);
      if (body.ok()) {
        r.body = std::move(body).value();
      } else {
        r.status = body.status();
      }
    }
    done.push_back(std::move(r));
  }
  return done;
}

HttpExchange ToExchange(const HttpResponse& r, std::string payload_sha256_hex) {
  HttpExchange ex;
  ex.payload_sha256_hex = std::move(payload_sha256_hex);
  ex.target_uri = r.url;
  ex.ip_address = r.ip;
  ex.date_unix_ms = r.done_unix_ms;
  ex.request_head = r.request_head;
  ex.response_head = r.response_head;
  ex.response_body = r.raw_body;
  ex.truncated = r.truncated;
  return ex;
}

}  // namespace kagami::crawler
