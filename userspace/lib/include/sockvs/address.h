// IPv4/IPv6 addresses and "address:port" text, as sockvsadm and the
// generic netlink protocol use them.  Only numeric forms are understood:
// host and service names are never resolved.
#ifndef SOCKVS_ADDRESS_H_
#define SOCKVS_ADDRESS_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sockvs {

// An IPv4 or IPv6 address: the family plus 4 or 16 bytes in network order.
// A default-constructed Address is AF_UNSPEC with no bytes.
class Address {
 public:
  Address() = default;

  // Builds an address from raw network-order bytes.  Throws
  // std::invalid_argument unless (family, size) is (AF_INET, 4) or
  // (AF_INET6, 16).
  static Address from_bytes(int family, std::span<const std::uint8_t> bytes);

  // Parses a numeric IPv4 (dotted quad) or IPv6 address, without brackets
  // or port.  Returns nullopt for anything else (including host names).
  static std::optional<Address> parse(std::string_view text);

  [[nodiscard]] int family() const noexcept { return family_; }
  [[nodiscard]] bool is_v4() const noexcept { return family_ == AF_INET; }
  [[nodiscard]] bool is_v6() const noexcept { return family_ == AF_INET6; }
  [[nodiscard]] bool empty() const noexcept { return family_ == AF_UNSPEC; }

  // The address bytes in network order: 4, 16, or 0 (AF_UNSPEC).
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept;

  // "10.0.0.1", "fd00::1" (no brackets); "" for AF_UNSPEC.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;

 private:
  int family_ = AF_UNSPEC;
  std::array<std::uint8_t, 16> bytes_{};
};

// "IPv4" / "IPv6" / "unspecified".
std::string_view family_name(int family) noexcept;

// An address with an optional port, as typed by a user.
struct Endpoint {
  Address addr;
  std::optional<std::uint16_t> port;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses "10.0.0.1:80", "10.0.0.1", "[fd00::1]:80", "[fd00::1]" or a bare
// IPv6 address "fd00::1" (no port).  Throws std::invalid_argument with a
// message meant for the user on anything else, including ports outside
// 1..65535 and names (which are not resolved).
Endpoint parse_endpoint(std::string_view text);

// Parses a decimal port 1..65535.  Throws std::invalid_argument.
std::uint16_t parse_port(std::string_view text);

// "10.0.0.1:80" or "[fd00::1]:80".
std::string format_endpoint(const Address& addr, std::uint16_t port);

}  // namespace sockvs

#endif  // SOCKVS_ADDRESS_H_
