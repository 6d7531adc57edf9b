#include "resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace sockvsadm {

namespace {

class NoNames final : public Resolver {
 public:
  [[nodiscard]] HostLookup host_addresses(const std::string& /*host*/) const override {
    return {{}, "host names are not resolved here"};
  }
  [[nodiscard]] std::optional<std::uint16_t> service_port(
      const std::string& /*name*/, std::uint16_t /*protocol*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::string> host_name(
      const sockvs::Address& /*addr*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::string> service_name(std::uint16_t /*port*/,
                                                        std::uint16_t /*protocol*/) const override {
    return std::nullopt;
  }
};

struct AddrinfoDeleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrinfoList = std::unique_ptr<addrinfo, AddrinfoDeleter>;

const char* protocol_text(std::uint16_t protocol) {
  return protocol == IPPROTO_UDP ? "udp" : "tcp";
}

// The address of one getaddrinfo answer (AF_INET, AF_INET6; nullopt for
// anything else).
std::optional<sockvs::Address> address_of(const addrinfo& ai) {
  if (ai.ai_family == AF_INET && ai.ai_addrlen >= sizeof(sockaddr_in)) {
    sockaddr_in sin{};
    std::memcpy(&sin, ai.ai_addr, sizeof(sin));
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &sin.sin_addr, bytes.size());
    return sockvs::Address::from_bytes(AF_INET, bytes);
  }
  if (ai.ai_family == AF_INET6 && ai.ai_addrlen >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, ai.ai_addr, sizeof(sin6));
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &sin6.sin6_addr, bytes.size());
    return sockvs::Address::from_bytes(AF_INET6, bytes);
  }
  return std::nullopt;
}

// getservbyname_r / getservbyport_r with a buffer that grows on ERANGE.
template <typename Lookup>
bool servent_lookup(const Lookup& lookup, servent& entry, std::vector<char>& buf) {
  for (buf.resize(1024); buf.size() <= 65536; buf.resize(buf.size() * 2)) {
    servent* result = nullptr;
    const int rc = lookup(&entry, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      continue;
    }
    return rc == 0 && result != nullptr;
  }
  return false;
}

}  // namespace

const Resolver& no_names() {
  static const NoNames kNoNames;
  return kNoNames;
}

HostLookup SystemResolver::host_addresses(const std::string& host) const {
  if (const auto it = hosts_.find(host); it != hosts_.end()) {
    return it->second;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one answer per address
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  const AddrinfoList owned(list);
  HostLookup out;
  if (rc != 0) {
    out.error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
  } else {
    for (const addrinfo* ai = owned.get(); ai != nullptr; ai = ai->ai_next) {
      const auto addr = address_of(*ai);
      if (addr && std::find(out.addrs.begin(), out.addrs.end(), *addr) == out.addrs.end()) {
        out.addrs.push_back(*addr);
      }
    }
    if (out.addrs.empty()) {
      out.error = "no IPv4 or IPv6 address";
    }
  }
  hosts_.emplace(host, out);
  return out;
}

std::optional<std::uint16_t> SystemResolver::service_port(const std::string& name,
                                                          std::uint16_t protocol) const {
  const auto key = std::pair(name, protocol);
  if (const auto it = ports_.find(key); it != ports_.end()) {
    return it->second;
  }
  servent entry{};
  std::vector<char> buf;
  std::optional<std::uint16_t> port;
  const auto lookup = [&name, protocol](servent* e, char* b, std::size_t n, servent** r) {
    return ::getservbyname_r(name.c_str(), protocol_text(protocol), e, b, n, r);
  };
  if (servent_lookup(lookup, entry, buf)) {
    port = ntohs(static_cast<std::uint16_t>(entry.s_port));
  }
  ports_.emplace(key, port);
  return port;
}

std::optional<std::string> SystemResolver::host_name(const sockvs::Address& addr) const {
  const std::string key = addr.to_string();
  if (const auto it = names_.find(key); it != names_.end()) {
    return it->second;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  const auto bytes = addr.bytes();
  if (addr.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, bytes.data(), bytes.size());
    std::memcpy(&ss, &sin, sizeof(sin));
    len = sizeof(sin);
  } else if (addr.is_v6()) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, bytes.data(), bytes.size());
    std::memcpy(&ss, &sin6, sizeof(sin6));
    len = sizeof(sin6);
  }
  std::optional<std::string> name;
  std::array<char, NI_MAXHOST> host{};
  if (len != 0 && ::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host.data(),
                                host.size(), nullptr, 0, NI_NAMEREQD) == 0) {
    name = std::string(host.data());
  }
  names_.emplace(key, name);
  return name;
}

std::optional<std::string> SystemResolver::service_name(std::uint16_t port,
                                                        std::uint16_t protocol) const {
  const auto key = std::pair(port, protocol);
  if (const auto it = services_.find(key); it != services_.end()) {
    return it->second;
  }
  servent entry{};
  std::vector<char> buf;
  std::optional<std::string> name;
  const auto lookup = [port, protocol](servent* e, char* b, std::size_t n, servent** r) {
    return ::getservbyport_r(static_cast<int>(htons(port)), protocol_text(protocol), e, b, n, r);
  };
  if (servent_lookup(lookup, entry, buf) && entry.s_name != nullptr) {
    name = std::string(entry.s_name);
  }
  services_.emplace(key, name);
  return name;
}

}  // namespace sockvsadm
