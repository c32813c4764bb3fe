#include "kagami/crawler/url.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

namespace kagami::crawler {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlFree>;

std::string Get(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || out == nullptr) return {};
  CurlString holder(out);
  return std::string(out);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  std::string out;
  for (size_t i = b; i < e; ++i) {
    if (s[i] != '\n' && s[i] != '\r' && s[i] != '\t') out.push_back(s[i]);  // WHATWG strips these
  }
  return out;
}

}  // namespace

std::string Url::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Url> ParseUrl(std::string_view reference, std::string_view base) {
  std::string ref = Trim(reference);
  if (ref.size() > 4096 || base.size() > 4096) return Status::InvalidArgument("URL too long");
  if (ref.empty() && base.empty()) return Status::InvalidArgument("empty URL");
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) return Status::ResourceExhausted("curl_url");
  if (!base.empty()) {
    if (curl_url_set(u.get(), CURLUPART_URL, std::string(base).c_str(), 0) != CURLUE_OK) {
      return Status::InvalidArgument("bad base URL: " + std::string(base));
    }
  }
  if (!ref.empty()) {
    CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, ref.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) return Status::InvalidArgument("bad URL: " + ref);
  }
  Url url;
  url.scheme = Lower(Get(u.get(), CURLUPART_SCHEME));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::Unsupported("not an http(s) URL: " + ref);
  }
  curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  std::string host = Lower(Get(u.get(), CURLUPART_HOST));
  if (host.empty()) return Status::InvalidArgument("URL without host: " + ref);
  curl_url_set(u.get(), CURLUPART_HOST, host.c_str(), 0);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  url.host = host;
  std::string port = Get(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  url.port = port.empty() ? (url.scheme == "https" ? 443 : 80) : std::atoi(port.c_str());
  int default_port = url.scheme == "https" ? 443 : 80;
  if (url.port == default_port) curl_url_set(u.get(), CURLUPART_PORT, nullptr, 0);
  std::string path = Get(u.get(), CURLUPART_PATH);
  if (path.empty()) path = "/";
  std::string query = Get(u.get(), CURLUPART_QUERY);
  url.path_query = query.empty() ? path : path + "?" + query;
  url.canonical = Get(u.get(), CURLUPART_URL, CURLU_NO_DEFAULT_PORT);
  if (url.canonical.empty()) return Status::InvalidArgument("bad URL: " + ref);
  return url;
}

}  // namespace kagami::crawler
