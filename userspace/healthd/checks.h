// One health check of one real server, as a non-blocking state machine (a
// Probe) that the event loop drives: TCP connect, redis PING, HTTP GET,
// each optionally over TLS, a TLS handshake alone, or a command.
#ifndef SOCKVS_HEALTHD_CHECKS_H_
#define SOCKVS_HEALTHD_CHECKS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config.h"
#include "sockvs/address.h"

namespace healthd {

struct CheckResult {
  bool ok = false;
  std::string detail;  // "connected", "+PONG", "HTTP 200", or what went wrong
  // From the start of the check to its result (filled in by whoever ran it).
  std::chrono::microseconds duration{0};
};

// What a running probe waits for: `fd` ready for `events` (EPOLLIN,
// EPOLLOUT), or none (fd -1).
struct Wait {
  int fd = -1;
  std::uint32_t events = 0;

  friend bool operator==(const Wait&, const Wait&) = default;
};

class Probe {
 public:
  Probe() = default;
  virtual ~Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  Probe(Probe&&) = delete;
  Probe& operator=(Probe&&) = delete;

  // The first call (events 0) starts the check; later ones report that
  // wait() is ready (spurious calls are harmless).  The result once the
  // check is decided; then the probe is done.
  virtual std::optional<CheckResult> step(std::uint32_t events) = 0;
  [[nodiscard]] virtual Wait wait() const = 0;
  // The timeout passed: why it failed ("timed out connecting").  Stops
  // whatever is still running.
  virtual CheckResult expire() = 0;
};

// Where a probe goes: the address and port it checks, and the real server
// and service it checks them for (the environment of `check exec`).
struct ProbeTarget {
  sockvs::Address addr;
  std::uint16_t port = 0;
  std::string service;  // "TCP 10.255.0.1:6379"
  std::string real;     // "127.0.0.1:7001"
};

std::unique_ptr<Probe> make_probe(const CheckSpec& check, const ProbeTarget& target);

// Runs one check to its end (poll(2) on the probe), bounded by `timeout`.
// Never throws for network errors.  For tests and --once.
CheckResult run_check(const CheckSpec& check, const sockvs::Address& addr, std::uint16_t port,
                      Millis timeout);
CheckResult run_check(const CheckSpec& check, const ProbeTarget& target, Millis timeout);

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_CHECKS_H_
