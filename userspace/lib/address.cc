#include "sockvs/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

namespace sockvs {

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

}  // namespace

Address Address::from_bytes(int family, std::span<const std::uint8_t> bytes) {
  Address addr;
  if ((family == AF_INET && bytes.size() == 4) || (family == AF_INET6 && bytes.size() == 16)) {
    addr.family_ = family;
    std::copy(bytes.begin(), bytes.end(), addr.bytes_.begin());
    return addr;
  }
  throw std::invalid_argument("address of family " + std::to_string(family) + " cannot have " +
                              std::to_string(bytes.size()) + " bytes");
}

std::optional<Address> Address::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; INET6_ADDRSTRLEN bounds both.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  const std::string str(text);
  Address addr;
  if (inet_pton(AF_INET, str.c_str(), addr.bytes_.data()) == 1) {
    addr.family_ = AF_INET;
    return addr;
  }
  if (inet_pton(AF_INET6, str.c_str(), addr.bytes_.data()) == 1) {
    addr.family_ = AF_INET6;
    return addr;
  }
  return std::nullopt;
}

std::span<const std::uint8_t> Address::bytes() const noexcept {
  switch (family_) {
    case AF_INET:
      return {bytes_.data(), 4};
    case AF_INET6:
      return {bytes_.data(), 16};
    default:
      return {};
  }
}

std::string Address::to_string() const {
  if (empty()) {
    return {};
  }
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_ntop(family_, bytes_.data(), buf.data(), buf.size()) == nullptr) {
    return {};
  }
  return {buf.data()};
}

std::string_view family_name(int family) noexcept {
  switch (family) {
    case AF_INET:
      return "IPv4";
    case AF_INET6:
      return "IPv6";
    default:
      return "unspecified";
  }
}

std::uint16_t parse_port(std::string_view text) {
  if (text.empty()) {
    throw std::invalid_argument("missing port");
  }
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument("invalid port " + quoted(text) +
                                ": expected a number 1-65535 (service names are not resolved)");
  }
  unsigned long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1 || value > 65535) {
    throw std::invalid_argument("port " + quoted(text) + " out of range 1-65535");
  }
  return static_cast<std::uint16_t>(value);
}

Endpoint parse_endpoint(std::string_view text) {
  if (text.empty()) {
    throw std::invalid_argument("empty address");
  }
  Endpoint ep;
  std::string_view host;
  std::optional<std::string_view> port;

  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("invalid address " + quoted(text) + ": missing ']'");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        throw std::invalid_argument("invalid address " + quoted(text) +
                                    ": expected ':PORT' after ']'");
      }
      port = rest.substr(1);
    }
    const auto addr = Address::parse(host);
    if (!addr || !addr->is_v6()) {
      throw std::invalid_argument("invalid IPv6 address " + quoted(host) + " in " + quoted(text));
    }
    ep.addr = *addr;
  } else {
    const auto colons = std::count(text.begin(), text.end(), ':');
    if (colons == 1) {
      const auto colon = text.find(':');
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    } else {
      host = text;  // IPv4 without port, or a bare IPv6 address (no port)
    }
    const auto addr = Address::parse(host);
    if (!addr) {
      throw std::invalid_argument("invalid address " + quoted(host) +
                                  " (use a numeric IPv4 address or a bracketed IPv6 address; "
                                  "host names are not resolved)");
    }
    if (colons == 1 && !addr->is_v4()) {
      throw std::invalid_argument("invalid address " + quoted(text));
    }
    ep.addr = *addr;
  }

  if (port) {
    try {
      ep.port = parse_port(*port);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " in " + quoted(text));
    }
  }
  return ep;
}

std::string format_endpoint(const Address& addr, std::uint16_t port) {
  std::string out;
  if (addr.is_v6()) {
    out = "[" + addr.to_string() + "]";
  } else {
    out = addr.to_string();
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

}  // namespace sockvs
