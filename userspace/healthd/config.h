// sockvs-healthd's configuration file: which services to check, how, and
// how often.  See sockvs-healthd.conf.example for the format.
#ifndef SOCKVS_HEALTHD_CONFIG_H_
#define SOCKVS_HEALTHD_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sockvs/address.h"
#include "sockvs/types.h"

namespace healthd {

using Millis = std::chrono::milliseconds;

inline constexpr std::string_view kDefaultStateFile = "/var/lib/sockvs-healthd/state";
inline constexpr Millis kDefaultInterval{2000};
inline constexpr Millis kDefaultTimeout{1000};
inline constexpr Millis kMaxDuration{3600 * 1000};
inline constexpr unsigned kDefaultRise = 2;
inline constexpr unsigned kDefaultFall = 3;
inline constexpr unsigned kMaxCount = 1000;
inline constexpr unsigned kDefaultMinUp = 1;

enum class CheckType : std::uint8_t {
  kTcp,    // the TCP handshake completes
  kRedis,  // PING answered with +PONG
  kHttp,   // GET <path> answered with the expected status (over TLS with `tls`)
  kTls,    // the TLS handshake completes (and the certificate verifies, if asked)
  kExec,   // a command exits 0 (keepalived's MISC_CHECK)
};

struct CheckSpec {
  CheckType type = CheckType::kTcp;
  std::string http_path = "/";  // kHttp only
  unsigned http_status = 200;   // kHttp only
  // Port to check instead of the real server's own (keepalived's
  // connect_port); needed for UDP services, since every check is TCP.
  std::optional<std::uint16_t> port;
  // kRedis: `auth [USER] PASSWORD`, sent as AUTH before the PING (for a
  // server with requirepass or ACL users).  Empty password: no AUTH.
  std::string redis_user;
  std::string redis_password;
  // kHttp: over TLS (`check https`).  kTls and https: the name sent as SNI
  // (`tls-sni NAME`; empty: none), whether the certificate must verify
  // (`tls-verify yes`: against `tls-ca FILE` or the system's CAs, and for
  // the SNI name, or the real server's address without one).
  bool tls = false;
  std::string tls_sni;
  bool tls_verify = false;
  std::string tls_ca;
  // kExec: run with /bin/sh -c; up when it exits 0 within the timeout
  // (killed, its process group with it, when it does not).
  std::string command;

  friend bool operator==(const CheckSpec&, const CheckSpec&) = default;
};

// "tcp", "redis", "http GET /health -> 200"
std::string describe(const CheckSpec& check);

// A real server named with `real` in the configuration.
struct RealSpec {
  sockvs::Address addr;
  std::uint16_t port = 0;

  friend bool operator==(const RealSpec&, const RealSpec&) = default;
};

struct ServiceConfig {
  sockvs::ServiceKey key;
  CheckSpec check;
  Millis interval = kDefaultInterval;
  Millis timeout = kDefaultTimeout;
  unsigned rise = kDefaultRise;
  unsigned fall = kDefaultFall;
  // `terminate-on-down`: after quiescing a real server, terminate its open
  // balanced sockets (SOCK_VS_CMD_KILL) by the service's terminate policy.
  bool terminate_on_down = true;
  // `min-up N`: never quiesce a real server when that would leave fewer
  // than N usable real servers (weight > 0, not known to be down) in the
  // service; the failing server keeps its weight until another is back.
  unsigned min_up = kDefaultMinUp;
  // `delay-before-retry DURATION`: after a failed check of a server that is
  // up, the next one starts this much later instead of `interval` later.
  std::optional<Millis> delay_before_retry;
  // `jitter DURATION` (0: none): each real server's checks are offset by a
  // fixed amount below this (from a hash of its name), so that a service's
  // servers are not all checked in the same millisecond; nullopt: the
  // interval.
  std::optional<Millis> jitter;
  // The real servers to check; empty: every real server the kernel lists
  // for the service, rediscovered each round.
  std::vector<RealSpec> reals;
  int line = 0;  // where the `service` line is
};

struct Config {
  std::string state_file{kDefaultStateFile};
  // `metrics-listen ADDR:PORT`: serve /metrics (Prometheus text format)
  // there; none by default.
  std::optional<RealSpec> metrics_listen;
  std::vector<ServiceConfig> services;
};

// what() is "FILE:LINE: message" (or "FILE: message").
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a configuration; `name` is used in error messages.  Throws
// ConfigError at the first error.
Config parse_config(std::istream& in, const std::string& name);

// Reads and parses the file at `path`.
Config load_config(const std::string& path);

// "1s", "500ms", "1.5s".
std::string format_duration(Millis d);

// Parses "1", "1s", "1.5", "1.5s", "200ms" (seconds unless "ms"): > 0 and
// at most an hour.  nullopt otherwise.
std::optional<Millis> parse_duration(std::string_view text) noexcept;

// "TCP 10.255.0.1:6379" (the protocol name and the endpoint).
std::string service_name(const sockvs::ServiceKey& key);

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_CONFIG_H_
