// One health check of one real server: TCP connect, redis PING or HTTP GET,
// against the real server's own address, bounded by a timeout.
#ifndef SOCKVS_HEALTHD_CHECKS_H_
#define SOCKVS_HEALTHD_CHECKS_H_

#include <cstdint>
#include <string>

#include "config.h"
#include "sockvs/address.h"

namespace healthd {

struct CheckResult {
  bool ok = false;
  std::string detail;  // "connected", "+PONG", "HTTP 200", or what went wrong
};

// Connects to addr:port and runs `check`; the whole check (connect, request,
// reply) takes at most `timeout`.  Never throws for network errors.
CheckResult run_check(const CheckSpec& check, const sockvs::Address& addr, std::uint16_t port,
                      Millis timeout);

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_CHECKS_H_
