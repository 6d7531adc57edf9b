// libFuzzer target: numeric addresses and "address:port" text
// (userspace/lib/address.cc).  Properties checked beyond "no crash, no
// sanitizer report": only std::invalid_argument is thrown, and whatever
// parses prints back to text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "sockvs/address.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto addr = sockvs::Address::parse(text)) {
    check(addr->is_v4() || addr->is_v6());
    const auto again = sockvs::Address::parse(addr->to_string());
    check(again && *again == *addr);
  }

  try {
    const sockvs::Endpoint ep = sockvs::parse_endpoint(text);
    check(ep.addr.is_v4() || ep.addr.is_v6());
    if (ep.port) {
      check(*ep.port >= 1);
      const sockvs::Endpoint again =
          sockvs::parse_endpoint(sockvs::format_endpoint(ep.addr, *ep.port));
      check(again == ep);
    }
  } catch (const std::invalid_argument&) {
  }

  try {
    const std::uint16_t port = sockvs::parse_port(text);
    check(port >= 1);
  } catch (const std::invalid_argument&) {
  }

  // Raw bytes, as the netlink parsers hand them over.
  for (const int family : {AF_INET, AF_INET6, AF_UNSPEC, AF_UNIX}) {
    try {
      const auto addr = sockvs::Address::from_bytes(family, {data, size});
      check(addr.bytes().size() == size);
      check(sockvs::Address::parse(addr.to_string()) == addr);
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
