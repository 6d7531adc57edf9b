// sockvsadm output: -L (ipvsadm's layout), -S, -V.  Pure functions, but
// for the host and service names of -L and -S without -n, which come from
// the Resolver given (resolver.h).
#ifndef SOCKVSADM_FORMAT_H_
#define SOCKVSADM_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver.h"
#include "sockvs/types.h"

namespace sockvsadm {

// A service with its real servers, in the module's order.
struct ServiceEntry {
  sockvs::Service service;
  std::vector<sockvs::RealServer> dests;

  friend bool operator==(const ServiceEntry&, const ServiceEntry&) = default;
};

// -L / -S --sort: the services in ipvsadm's order, by protocol (TCP before
// UDP), address family (IPv4 first), address and port.  Each keeps its real
// servers in the module's order (rr, wrr and fixed follow that order, so
// the listing shows it).
void sort_entries(std::vector<ServiceEntry>& entries);

// How -L and -S write an address and port: numeric (-n, and what the
// default EndpointNames does), or as ipvsadm's addrport_to_anyname does
// without -n: the host name of the address (getnameinfo, NI_NAMEREQD) and
// the service name of the port for the protocol (getservbyport), each
// falling back to the number when there is none.  A name is used only when
// it reads back as the same number (the name's first address of the
// family is the address; the service name's port is the port) and cannot
// be mistaken for a number, so that what -S prints restores the same
// table through -R as long as the names resolve as they did.
class EndpointNames {
 public:
  EndpointNames() = default;  // numeric
  explicit EndpointNames(const Resolver& names) : names_(&names) {}

  // "web.example" or "10.0.0.1" / "fd00::1" (no brackets).
  [[nodiscard]] std::string host(const sockvs::Address& addr) const;
  // "http" or "80".
  [[nodiscard]] std::string port(std::uint16_t port, std::uint16_t protocol) const;
  // "web.example:http", "[web6.example]:domain", "10.0.0.1:6379",
  // "[fd00::1]:80": an IPv6 host, name or number, in brackets.
  [[nodiscard]] std::string endpoint(const sockvs::Address& addr, std::uint16_t port,
                                     std::uint16_t protocol) const;

 private:
  const Resolver* names_ = nullptr;
};

// The first line of -v and -h (ipvsadm's "ipvsadm v1.31 2019/12/24
// (compiled with popt and IPVS v1.2.1)"): "sockvsadm v0.1.0 (sock_vs
// generic netlink protocol 1, built for module 0.1.0)\n".
std::string version_line(const std::string& userspace_version);

// Which -L view (at most one of stats, thresholds, shards).
struct ListOptions {
  bool stats = false;       // --stats
  bool exact = false;       // --exact
  bool thresholds = false;  // --thresholds
  bool shards = false;      // --shards
};

// ipvsadm's print_largenum as a string (without its padding): the full
// number below 100 million or with `exact`, else K, M, G or T units.
std::string fmt_number(std::uint64_t n, bool exact);

// "10.0.0.1:6379", "[fd00::1]:80".
std::string service_endpoint(const sockvs::ServiceKey& key);

// "TCP 10.0.0.1:6379", "UDP [fd00::1]:53": the protocol name and the endpoint.
std::string service_label(const sockvs::ServiceKey& key);

// -t or -u.
std::string protocol_option(std::uint16_t protocol);

// "1 socket", "3 sockets": how many sockets the module terminated.
std::string sockets_text(std::uint64_t n);

// An exemption's value as -S writes it and --skip-KIND reads it:
// "4242-4243" ("4242" for a single uid), "/x/y", "0x10/0xf0" ("0x10" when
// the mask is the whole mark, sockvs::kSkipMarkMaskAll).
std::string skip_value(const sockvs::SkipRule& rule);

// The exemptions of `svc` in its order, each as " PREFIXskip-KIND VALUE":
// " skip-uid 4242-4243 skip-mark 0x10" (-L, prefix ""), " --skip-uid
// 4242-4243" (-S, prefix "--"); "" if it has none.
std::string skip_words(const sockvs::Service& svc, std::string_view prefix);

// What -L prints after the scheduler: the service options that differ from
// their defaults, e.g. " persistent 300 hash-key local shard-policy lc
// terminate all" ("" if none; persistence first, where ipvsadm prints it),
// then its exemptions (" skip-uid 4242-4243 skip-cgroup /x
// skip-mark 0x10/0xf0").
std::string service_flags(const sockvs::Service& svc);

// -L --shards: the open connections per shard, "2 2 2 2".  A real server
// whose module sent no per-shard counts: its total if it has 1 shard, else "-".
std::string per_shard_text(const sockvs::RealServer& dest);

// The whole -L output: header (from GET_INFO) and the services, their
// addresses and ports written by `names` (numeric by default).
std::string format_list(const sockvs::Info& info, const std::vector<ServiceEntry>& entries,
                        const ListOptions& opts, const EndpointNames& names = {});

// The client of a persistence template as -L -c shows it in the source
// column: "tgid:1234", "cgroup:5678", "netns", "local:0x1a2b3c4d" (the
// hash in hex); "KIND:CLIENT" with the number of a kind this version does
// not know.
std::string template_client(const sockvs::Template& t);

// The whole -L -c output: a title, a header line, then one line per
// connection, ipvsadm -L -c's columns without "expire":
//   pro state       source             virtual            destination        pid/comm
// plus a "shard" column before pid/comm when some connection has a shard.
// UDP connections show "UDP" as their state, as ipvsadm does.  Then one
// line per persistence template in the same columns: state "TEMPLATE",
// the client (template_client) as source, "-" as shard, and
// "expire 287s conns 2" in place of pid/comm.
std::string format_conns(const std::vector<sockvs::Connection>& conns,
                         const std::vector<sockvs::Template>& templates = {});

// The whole -S output: "-A ..." per service, "-a ..." per real server;
// only options that differ from their defaults (persistence as -p N, hash key, shard policy,
// terminate policy, exemptions last and in order, non-zero thresholds,
// more than one shard).  Addresses and ports as `names` writes them
// (numeric by default; -S without -n: names, which -R resolves back).
std::string format_save(const std::vector<ServiceEntry>& entries, const EndpointNames& names = {});

// -V: the userspace version, then the module's info or `module_error`.
std::string format_version(const std::string& userspace_version,
                           const std::optional<sockvs::Info>& info,
                           const std::string& module_error);

}  // namespace sockvsadm

#endif  // SOCKVSADM_FORMAT_H_
