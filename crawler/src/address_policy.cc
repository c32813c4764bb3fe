#include "kagami/crawler/address_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace kagami::crawler {
namespace {

using Addr = std::array<uint8_t, 16>;

Addr FromV4(const uint8_t* v4) {
  Addr a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, v4, 4);
  return a;
}

bool ParseIp(const std::string& text, Addr& out) {
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out = FromV4(reinterpret_cast<const uint8_t*>(&v4));
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return true;
  }
  return false;
}

bool InPrefix(const Addr& a, const Addr& net, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    int byte = bit / 8, shift = 7 - bit % 8;
    if (((a[byte] >> shift) & 1) != ((net[byte] >> shift) & 1)) return false;
  }
  return true;
}

std::string Format(const Addr& a) {
  char buf[INET6_ADDRSTRLEN];
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.data(), kMapped, 12) == 0) {
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  }
  return buf;
}

struct Range {
  const char* net;
  int prefix;  // on the native family
  const char* what;
};

// IPv4 special-purpose ranges (RFC 6890 and successors) not reachable as the
// public internet.
constexpr Range kV4[] = {
    {"0.0.0.0", 8, "unspecified ('this network')"},
    {"10.0.0.0", 8, "private (RFC 1918)"},
    {"100.64.0.0", 10, "shared address space (RFC 6598)"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local (cloud metadata lives here)"},
    {"172.16.0.0", 12, "private (RFC 1918)"},
    {"192.0.0.0", 24, "IETF protocol assignments"},
    {"192.0.2.0", 24, "documentation"},
    {"192.88.99.0", 24, "6to4 relay anycast"},
    {"192.168.0.0", 16, "private (RFC 1918)"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation"},
    {"203.0.113.0", 24, "documentation"},
    {"224.0.0.0", 4, "multicast"},
    {"240.0.0.0", 4, "reserved"},
};
constexpr Range kV6[] = {
    {"::", 128, "unspecified"},    {"::1", 128, "loopback"},
    {"fe80::", 10, "link-local"},  {"fc00::", 7, "unique local (private)"},
    {"ff00::", 8, "multicast"},    {"2001:db8::", 32, "documentation"},
    {"100::", 64, "discard-only"}, {"2001::", 23, "IETF protocol assignments"},
};

}  // namespace

Result<AddressPolicy> AddressPolicy::Make(const std::vector<std::string>& allow) {
  AddressPolicy policy;
  for (const std::string& item : allow) {
    std::string ip = item;
    int prefix = -1;
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      ip = item.substr(0, slash);
      prefix = std::atoi(item.c_str() + slash + 1);
    }
    Block block;
    if (!ParseIp(ip, block.bytes)) {
      return Status::InvalidArgument("allow-address: '" + item + "' is not an IP address or CIDR");
    }
    bool v4 = ip.find(':') == std::string::npos;
    int max = v4 ? 32 : 128;
    if (prefix < 0) prefix = max;
    if (prefix > max) return Status::InvalidArgument("allow-address: bad prefix in " + item);
    block.prefix = v4 ? prefix + 96 : prefix;
    policy.allow_.push_back(block);
  }
  return policy;
}

std::string AddressPolicy::CheckMapped(const Addr& a) const {
  for (const Block& b : allow_) {
    if (InPrefix(a, b.bytes, b.prefix)) return "";
  }
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  const bool mapped = std::memcmp(a.data(), kMapped, 12) == 0;
  if (mapped || std::memcmp(a.data(), kNat64, 12) == 0) {
    Addr v4 = FromV4(a.data() + 12);
    if (!mapped) {
      std::string inner = CheckMapped(v4);
      return inner;
    }
    for (const Range& r : kV4) {
      Addr net;
      ParseIp(r.net, net);
      if (InPrefix(v4, net, r.prefix + 96)) {
        return Format(v4) + " is " + r.what + "; allow it explicitly with --allow-address";
      }
    }
    if (a[12] == 255 && a[13] == 255 && a[14] == 255 && a[15] == 255) return "broadcast";
    return "";
  }
  for (const Range& r : kV6) {
    Addr net;
    ParseIp(r.net, net);
    if (InPrefix(a, net, r.prefix)) {
      return Format(a) + " is " + r.what + "; allow it explicitly with --allow-address";
    }
  }
  return "";
}

std::string AddressPolicy::Check(const sockaddr* addr) const {
  if (addr == nullptr) return "no address";
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    return CheckMapped(FromV4(reinterpret_cast<const uint8_t*>(&in->sin_addr)));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    Addr a;
    std::memcpy(a.data(), &in6->sin6_addr, 16);
    return CheckMapped(a);
  }
  return "address family " + std::to_string(addr->sa_family) + " is not IP";
}

std::string AddressPolicy::CheckText(const std::string& ip) const {
  Addr a;
  if (!ParseIp(ip, a)) return "'" + ip + "' is not an IP address";
  return CheckMapped(a);
}

}  // namespace kagami::crawler
