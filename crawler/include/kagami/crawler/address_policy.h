#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::crawler {

// Decides which peer addresses the crawler may connect to, checked on the
// address actually connected to (after DNS resolution and --resolve pinning).
// Refused unless allow-listed: loopback, private (RFC 1918, fc00::/7),
// shared (100.64/10), link-local (169.254/16 including the cloud metadata
// address 169.254.169.254, fe80::/10), unspecified, multicast, broadcast,
// reserved and documentation ranges, and IPv4-mapped/NAT64 forms of them.
// Immutable after construction; thread-safe.
class AddressPolicy {
 public:
  AddressPolicy() = default;
  // `allow`: IP addresses or CIDR blocks ("127.0.0.1", "10.0.0.0/8", "::1").
  static Result<AddressPolicy> Make(const std::vector<std::string>& allow);

  // "" when connecting is allowed, else why not ("169.254.169.254 is link-local").
  std::string Check(const sockaddr* addr) const;
  std::string CheckText(const std::string& ip) const;  // same for a textual address

 private:
  struct Block {
    std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                   // bits, on the 128-bit form
  };
  std::string CheckMapped(const std::array<uint8_t, 16>& a) const;
  std::vector<Block> allow_;
};

}  // namespace kagami::crawler
