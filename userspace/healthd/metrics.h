// /metrics in the Prometheus text exposition format (version 0.0.4):
// the module's counters and gauges per service and real server, and what
// sockvs-healthd knows of each checked server (health, last check
// duration, checks done).  Served over HTTP/1.0 by a non-blocking listener
// in the daemon's event loop.
#ifndef SOCKVS_HEALTHD_METRICS_H_
#define SOCKVS_HEALTHD_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "engine.h"
#include "fd.h"
#include "loop.h"
#include "sockvs/types.h"

namespace healthd {

// What /metrics shows, from one fresh dump of the module (nullopt: the
// module could not be read; only healthd's own metrics then).
struct MetricsInput {
  std::optional<std::vector<std::pair<sockvs::Service, std::vector<sockvs::RealServer>>>> module;
  std::vector<TargetView> targets;
  std::uint64_t lookup_failures = 0;
};

std::string render_metrics(const MetricsInput& in);

// A label value with \, " and newline escaped.
std::string label_escape(std::string_view v);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on addr:port (SO_REUSEADDR); throws std::runtime_error.
  MetricsServer(Loop& loop, const RealSpec& where, Render render, Logger& log);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  MetricsServer(MetricsServer&&) = delete;
  MetricsServer& operator=(MetricsServer&&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // Closes connections idle (or slow) for more than 10 s.
  void expire(Clock::time_point now);

 private:
  struct Conn {
    Fd fd;
    std::string in;
    std::string out;
    std::size_t sent = 0;
    Clock::time_point since;
  };

  void accept_all();
  void on_conn(int fd, std::uint32_t events);
  void respond(Conn& c);
  void close_conn(int fd);

  Loop& loop_;
  Render render_;
  Logger& log_;
  Fd listener_;
  std::uint16_t port_ = 0;
  std::unordered_map<int, Conn> conns_;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_METRICS_H_
