// Host and service names for sockvsadm, as ipvsadm has them: what -t, -u,
// -r and -R lines may name instead of numbers (getaddrinfo, getservbyname),
// and what -L and -S print without -n (getnameinfo, getservbyport).
// Behind an interface so that parsing and formatting stay testable without
// I/O: the unit tests pass a fake, the program SystemResolver.
#ifndef SOCKVSADM_RESOLVER_H_
#define SOCKVSADM_RESOLVER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sockvs/address.h"

namespace sockvsadm {

// The addresses of a host name, or why there are none.
struct HostLookup {
  // Every address of the name, IPv4 and IPv6, in the resolver's order
  // (getaddrinfo's), each once.
  std::vector<sockvs::Address> addrs;
  // When `addrs` is empty: why ("Name or service not known").
  std::string error;

  friend bool operator==(const HostLookup&, const HostLookup&) = default;
};

class Resolver {
 public:
  Resolver() = default;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;
  Resolver(Resolver&&) = delete;
  Resolver& operator=(Resolver&&) = delete;
  virtual ~Resolver() = default;

  // getaddrinfo: the addresses of host name `host`, of both families.
  [[nodiscard]] virtual HostLookup host_addresses(const std::string& host) const = 0;
  // getservbyname: the port of service `name` for `protocol` (IPPROTO_TCP
  // or IPPROTO_UDP), nullopt if it has none.
  [[nodiscard]] virtual std::optional<std::uint16_t> service_port(const std::string& name,
                                                                  std::uint16_t protocol) const = 0;
  // getnameinfo with NI_NAMEREQD: the host name of `addr`, nullopt if it
  // has none.
  [[nodiscard]] virtual std::optional<std::string> host_name(const sockvs::Address& addr) const = 0;
  // getservbyport: the service name of `port` for `protocol`, nullopt if
  // it has none.
  [[nodiscard]] virtual std::optional<std::string> service_name(std::uint16_t port,
                                                                std::uint16_t protocol) const = 0;
};

// A resolver that knows no names: every lookup finds nothing.  What
// parse_command() without a resolver and run() without one use (the unit
// tests, the fuzz targets): numbers only, output always numeric.
const Resolver& no_names();

// The system's resolver: getaddrinfo, getservbyname_r, getnameinfo,
// getservbyport_r (so /etc/hosts, DNS, /etc/services as nsswitch.conf
// says).  Each answer is kept for the life of the object, so a name or an
// address met on many lines (-R, -S) is looked up once.
class SystemResolver final : public Resolver {
 public:
  SystemResolver() = default;

  [[nodiscard]] HostLookup host_addresses(const std::string& host) const override;
  [[nodiscard]] std::optional<std::uint16_t> service_port(const std::string& name,
                                                          std::uint16_t protocol) const override;
  [[nodiscard]] std::optional<std::string> host_name(const sockvs::Address& addr) const override;
  [[nodiscard]] std::optional<std::string> service_name(std::uint16_t port,
                                                        std::uint16_t protocol) const override;

 private:
  mutable std::map<std::string, HostLookup> hosts_;
  mutable std::map<std::pair<std::string, std::uint16_t>, std::optional<std::uint16_t>> ports_;
  mutable std::map<std::string, std::optional<std::string>> names_;  // by address text
  mutable std::map<std::pair<std::uint16_t, std::uint16_t>, std::optional<std::string>> services_;
};

}  // namespace sockvsadm

#endif  // SOCKVSADM_RESOLVER_H_
