// sockvs-agent's key layout in etcd (README "sockvs-agent"):
//
//   /sockvs/v1/<cell>/marker                      the prefix is managed
//   /sockvs/v1/<cell>/svc/<service>               a virtual service (JSON)
//   /sockvs/v1/<cell>/rs/<service>/<addr:port>    a static real server (JSON)
//   /sockvs/v1/<cell>/ep/<service>/<addr:port>    a self-registered real
//                                                 server, bound to a lease
//
// <cell> and <service> are names: 1-64 of [A-Za-z0-9_.-], not starting with
// '.' or '-'.  <addr:port> is "10.0.0.1:80" or "[fd00::1]:80".  Pure
// functions.
#ifndef SOCKVS_AGENT_KEYS_H_
#define SOCKVS_AGENT_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sockvs/address.h"

namespace agent {

inline constexpr std::string_view kRoot = "/sockvs/v1/";
inline constexpr std::size_t kNameMax = 64;

// A cell or service name: 1-kNameMax of [A-Za-z0-9_.-], first character a
// letter, digit or '_'.
bool valid_name(std::string_view name) noexcept;

// The end of the key range of everything under `prefix` (etcd's
// range_end: the prefix with its last byte incremented).
std::string prefix_end(std::string_view prefix);

enum class KeyKind : std::uint8_t { kMarker, kService, kStatic, kEndpoint };

// "marker", "svc", "rs", "ep".
std::string_view kind_name(KeyKind kind) noexcept;

struct ParsedKey {
  KeyKind kind = KeyKind::kMarker;
  std::string service;   // empty for the marker
  sockvs::Address addr;  // kStatic, kEndpoint
  std::uint16_t port = 0;

  friend bool operator==(const ParsedKey&, const ParsedKey&) = default;
};

// The keys of one cell.
class Layout {
 public:
  // Throws std::invalid_argument if `cell` is not a valid name.
  explicit Layout(std::string_view cell);

  [[nodiscard]] const std::string& cell() const noexcept { return cell_; }
  // "/sockvs/v1/<cell>/"
  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }
  [[nodiscard]] std::string range_end() const { return prefix_end(prefix_); }

  [[nodiscard]] std::string marker_key() const;
  [[nodiscard]] std::string service_key(std::string_view service) const;
  [[nodiscard]] std::string static_key(std::string_view service, const sockvs::Address& addr,
                                       std::uint16_t port) const;
  [[nodiscard]] std::string endpoint_key(std::string_view service, const sockvs::Address& addr,
                                         std::uint16_t port) const;

  // What `key` (a key under prefix()) is.  nullopt, with `why` set, for a
  // key that is not one of the layout's: unknown kind, bad name, bad or
  // missing address and port, extra parts.
  std::optional<ParsedKey> parse(std::string_view key, std::string& why) const;

 private:
  std::string cell_;
  std::string prefix_;
};

// "10.0.0.1:80" / "[fd00::1]:80" as a key part: an address and a port
// (both required).  Throws std::invalid_argument.
sockvs::Endpoint parse_key_endpoint(std::string_view text);

}  // namespace agent

#endif  // SOCKVS_AGENT_KEYS_H_
