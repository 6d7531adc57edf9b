// What `sockvs-agent status` shows: the running agent writes it as JSON to
// its status file (default /run/sockvs-agent/status.json) every second and
// on every change; `status` reads and prints it.  Also the Prometheus text
// of the same numbers (--metrics-file, for node_exporter's textfile
// collector).
#ifndef SOCKVS_AGENT_STATUS_H_
#define SOCKVS_AGENT_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agent {

struct Status {
  int pid = 0;
  std::string cell;
  // "starting" (no listing yet), "watching" (in sync), "unreachable" (stale),
  // "unmanaged" (no marker key), "kernel-error" (the module cannot be
  // changed), "stopped".
  std::string state;
  std::vector<std::string> endpoints;
  std::string member;                 // the endpoint the watch is on ("" if none)
  std::int64_t applied_revision = 0;  // the store revision the kernel has
  std::int64_t store_revision = 0;    // the newest revision seen from the store
  bool synced = false;                // a full listing was applied since start
  bool stale = false;                 // no contact with the store for a while (or never)
  double contact_age = -1;            // seconds since the last good answer (-1: none yet)
  double updated = 0;                 // unix time this was written
  std::string last_error;
  double last_error_time = 0;       // unix time (0: none)
  std::string table_hash;           // table_hash() of the applied desired table
  std::uint64_t services = 0;       // managed services (the applied desired table)
  std::uint64_t dests = 0;          // their real servers
  std::uint64_t held = 0;           // real servers kept at weight 0 by local health
  std::uint64_t problems = 0;       // keys skipped (malformed values, ...)
  std::uint64_t kernel_errors = 0;  // services the kernel refused in the last apply
  std::uint64_t lists = 0;          // full listings done
  std::uint64_t watches = 0;        // watch streams started
  std::uint64_t applies = 0;        // applies to the kernel
  std::uint64_t changes = 0;        // kernel changes made
  double last_apply_seconds = 0;    // how long the last apply took

  [[nodiscard]] std::int64_t lag() const noexcept {
    return store_revision > applied_revision ? store_revision - applied_revision : 0;
  }
};

std::string format_status_json(const Status& st);
// Throws std::runtime_error.
Status parse_status_json(std::string_view text);
// For people: one "key: value" per line.  `now` (unix time) gives the
// age of the file.
std::string format_status_text(const Status& st, double now);
// Prometheus text format, sockvs_agent_* (counters _total).
std::string format_status_metrics(const Status& st);

}  // namespace agent

#endif  // SOCKVS_AGENT_STATUS_H_
