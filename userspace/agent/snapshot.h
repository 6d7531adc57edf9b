// The last good state, on disk: the desired table the agent last applied,
// by service name, and the store revision it came from.  Read at start
// (compared with the kernel, never a reason to flush), written after each
// apply.  JSON:
//
//   {"version": 1, "cell": "c1", "revision": 1234,
//    "names": ["redis", ...],
//    "table": {"version": 1, "services": [...]}}   sockvsadm -S --json's schema
//
// "names"[i] is the name of "table".services[i].
#ifndef SOCKVS_AGENT_SNAPSHOT_H_
#define SOCKVS_AGENT_SNAPSHOT_H_

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "desired.h"

namespace agent {

struct Snapshot {
  std::string cell;
  std::int64_t revision = 0;  // 0: not from the store (yet)
  Table services;

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string format_snapshot(const Snapshot& snap);
// Throws SnapshotError.
Snapshot parse_snapshot(std::string_view text);

// Writes `text` to `path` atomically and durably: a temporary file in the
// same directory, fsync, rename over `path`, fsync of the directory.
// Creates the directory (one level) if needed.  Throws std::runtime_error.
void write_file_atomic(const std::string& path, std::string_view text, bool durable = true);

// nullopt if `path` does not exist.  Throws SnapshotError if it cannot be
// read or parsed.
std::optional<Snapshot> load_snapshot(const std::string& path);
// Throws std::runtime_error.
void save_snapshot(const std::string& path, const Snapshot& snap);

}  // namespace agent

#endif  // SOCKVS_AGENT_SNAPSHOT_H_
