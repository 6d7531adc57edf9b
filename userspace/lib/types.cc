#include "sockvs/types.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <utility>

namespace sockvs {

Service Service::from_key(const ServiceKey& key, std::string sched_name) {
  Service svc;
  svc.protocol = key.protocol;
  svc.addr = key.addr;
  svc.port = key.port;
  svc.sched_name = std::move(sched_name);
  return svc;
}

std::string protocol_name(std::uint16_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    default:
      return std::to_string(protocol);
  }
}

bool valid_sched_name(std::string_view name) noexcept {
  if (name.empty() || name.size() >= SOCK_VS_SCHED_NAME_MAX) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace sockvs
