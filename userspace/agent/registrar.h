// sockvs-agent register: a real server publishes itself.  It grants a
// lease (TTL 15 s by default), puts its endpoint key
// /sockvs/v1/<cell>/ep/<service>/<addr:port> with the lease, and keeps the
// lease alive (every TTL/3).  On SIGTERM it marks itself draining (the
// value becomes {"weight": 0}: every agent sets its weight to 0, open
// connections stay), waits the drain time, then revokes the lease: the key
// is gone.  If it dies without that, the key goes when the lease expires.
// A lease lost meanwhile (the store unreachable for longer than the TTL)
// is granted again and the key put again.
#ifndef SOCKVS_AGENT_REGISTRAR_H_
#define SOCKVS_AGENT_REGISTRAR_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent.h"
#include "keys.h"
#include "store.h"

namespace agent {

struct RegisterOptions {
  std::string cell;
  std::string service;
  sockvs::Address addr;
  std::uint16_t port = 0;
  std::uint32_t weight = 1;
  std::int64_t ttl = 15;  // seconds
  milliseconds drain{2000};
};

// The key's value: {"weight": N}.
std::string endpoint_value(std::uint32_t weight);

class Registrar {
 public:
  Registrar(RegisterOptions opts, EtcdStore& store, Logger& log);

  // Grants a lease and puts the key.  False (logged) if the store did not
  // answer: call again.
  bool publish(Clock::time_point now);
  // Keeps the lease alive when due (publishes anew if it was lost).
  // Returns how long until the next call is due.
  milliseconds step(Clock::time_point now);
  // The value {"weight": 0}, same lease.
  void drain();
  // Revokes the lease: the key is deleted.
  void revoke();

  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  [[nodiscard]] std::int64_t lease() const noexcept { return lease_; }

 private:
  // A unary call on the current member, then on each of the others.
  std::string call(const std::string& path, const std::string& body);

  RegisterOptions opts_;
  EtcdStore& store_;
  Logger& log_;
  std::string key_;
  std::size_t member_ = 0;
  std::int64_t lease_ = 0;
  Clock::time_point next_keepalive_{};
  Clock::time_point last_renewed_{};
  bool logged_failure_ = false;
};

}  // namespace agent

#endif  // SOCKVS_AGENT_REGISTRAR_H_
