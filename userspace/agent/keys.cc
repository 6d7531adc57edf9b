#include "keys.h"

#include <stdexcept>

namespace agent {

namespace {

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::optional<KeyKind> parse_kind(std::string_view s) noexcept {
  if (s == "svc") {
    return KeyKind::kService;
  }
  if (s == "rs") {
    return KeyKind::kStatic;
  }
  if (s == "ep") {
    return KeyKind::kEndpoint;
  }
  return std::nullopt;
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kNameMax || name.front() == '.' || name.front() == '-') {
    return false;
  }
  for (const char c : name) {
    if (!name_char(c)) {
      return false;
    }
  }
  return true;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  // Every byte was 0xff (or no prefix): etcd's "to the end of the keyspace".
  end.push_back('\0');
  return end;
}

std::string_view kind_name(KeyKind kind) noexcept {
  switch (kind) {
    case KeyKind::kMarker:
      return "marker";
    case KeyKind::kService:
      return "svc";
    case KeyKind::kStatic:
      return "rs";
    case KeyKind::kEndpoint:
      return "ep";
  }
  return "?";
}

sockvs::Endpoint parse_key_endpoint(std::string_view text) {
  sockvs::Endpoint ep = sockvs::parse_endpoint(text);
  // A bare IPv6 address parses without a port: a key must name both.
  if (!ep.port) {
    throw std::invalid_argument("'" + std::string(text) + "' has no port (ADDR:PORT, [IPV6]:PORT)");
  }
  // One spelling per real server: "[fd00::1]:80", not "[fd00:0::1]:80",
  // so that two keys cannot name the same one.
  if (sockvs::format_endpoint(ep.addr, *ep.port) != text) {
    throw std::invalid_argument("'" + std::string(text) + "' is not in canonical form '" +
                                sockvs::format_endpoint(ep.addr, *ep.port) + "'");
  }
  return ep;
}

Layout::Layout(std::string_view cell) : cell_(cell) {
  if (!valid_name(cell)) {
    throw std::invalid_argument("invalid cell name '" + std::string(cell) + "': 1-" +
                                std::to_string(kNameMax) +
                                " letters, digits, '_', '.' or '-', not starting with '.' or '-'");
  }
  prefix_ = std::string(kRoot) + cell_ + "/";
}

std::string Layout::marker_key() const { return prefix_ + "marker"; }

std::string Layout::service_key(std::string_view service) const {
  return prefix_ + "svc/" + std::string(service);
}

std::string Layout::static_key(std::string_view service, const sockvs::Address& addr,
                               std::uint16_t port) const {
  return prefix_ + "rs/" + std::string(service) + "/" + sockvs::format_endpoint(addr, port);
}

std::string Layout::endpoint_key(std::string_view service, const sockvs::Address& addr,
                                 std::uint16_t port) const {
  return prefix_ + "ep/" + std::string(service) + "/" + sockvs::format_endpoint(addr, port);
}

std::optional<ParsedKey> Layout::parse(std::string_view key, std::string& why) const {
  if (!key.starts_with(prefix_)) {
    why = "not under " + prefix_;
    return std::nullopt;
  }
  std::string_view rest = key.substr(prefix_.size());
  if (rest == "marker") {
    return ParsedKey{};
  }
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    why = "unknown key (expected marker, svc/NAME, rs/NAME/ADDR:PORT or ep/NAME/ADDR:PORT)";
    return std::nullopt;
  }
  const auto kind = parse_kind(rest.substr(0, slash));
  if (!kind) {
    why = "unknown kind '" + std::string(rest.substr(0, slash)) +
          "' (expected marker, svc, rs or ep)";
    return std::nullopt;
  }
  rest.remove_prefix(slash + 1);
  ParsedKey out;
  out.kind = *kind;
  const auto name_end = rest.find('/');
  out.service = std::string(rest.substr(0, name_end));
  if (!valid_name(out.service)) {
    why = "invalid service name '" + out.service + "'";
    return std::nullopt;
  }
  if (*kind == KeyKind::kService) {
    if (name_end != std::string_view::npos) {
      why = "a service key is svc/NAME, with nothing after the name";
      return std::nullopt;
    }
    return out;
  }
  if (name_end == std::string_view::npos) {
    why = std::string("a real server key is ") + std::string(kind_name(*kind)) + "/NAME/ADDR:PORT";
    return std::nullopt;
  }
  const std::string_view ep_text = rest.substr(name_end + 1);
  try {
    const sockvs::Endpoint ep = parse_key_endpoint(ep_text);
    out.addr = ep.addr;
    out.port = *ep.port;
  } catch (const std::invalid_argument& e) {
    why = std::string("bad real server: ") + e.what();
    return std::nullopt;
  }
  return out;
}

}  // namespace agent
