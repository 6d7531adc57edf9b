// sockvsadm --json: the JSON form of the table (-L --json, -S --json) and
// reading it back (-R --json).  Pure functions: no I/O.
//
// Schema version 1 (documented with an example in userspace/README.md):
//   {"version": 1,
//    "module": {...},                      -L only
//    "services": [{
//      "protocol": "tcp" | "udp", "address": "10.0.0.1", "port": 6379,
//      "scheduler": "wrr",
//      "persistent": 300,       only on a persistent service (-R: 0 too)
//      "flags": [], "hash_key": "tgid",
//      "shard_policy": "rr", "terminate": "udp",
//      "skip": [{"uid": [MIN, MAX]}, {"cgroup": "/x"}, {"mark": N, "mask": N}],
//                               only with exemptions; -L adds "cgroup_id": N
//      "stats": {"conns": N, "refused": N, "untracked": N,
//                "killed": N},  -L --stats only
//      "dests": [{"address": ..., "port": ..., "weight": 1, "upper": 0,
//                 "lower": 0, "shards": 1,
//                 "active_conns": N, "inact_conns": N,  -L only
//                 "overloaded": false, "shard_conns": [N, ...],  -L only
//                 "stats": {"conns": N, "killed": N}}]}]}  -L --stats only
#ifndef SOCKVSADM_JSON_H_
#define SOCKVSADM_JSON_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "format.h"
#include "restore.h"
#include "sockvs/types.h"

namespace sockvsadm {

inline constexpr int kJsonVersion = 1;

// What the JSON holds besides the configuration.
struct JsonView {
  bool runtime = false;  // -L: module info, connection counts, overloaded
  bool stats = false;    // -L --stats: the counters
};

// The table as JSON (schema version 1, indented, ending in a newline).
// `info` (the "module" object) is printed only with view.runtime.
std::string format_json(const std::vector<ServiceEntry>& entries, const JsonView& view,
                        const std::optional<sockvs::Info>& info = std::nullopt);

// Malformed -R --json input.  what() says where: "JSON parse error at line
// L, column C: ..." for bad syntax, "JSON services[0].dests[1].weight: ..."
// for a bad value.
class JsonError : public UsageError {
 public:
  using UsageError::UsageError;
};

// Parses JSON of schema version 1 into the table it describes (only the
// configuration: what -L adds is checked for type and ignored).  Keys the
// schema does not have are rejected, as are a missing or other "version",
// values out of range (the CLI's limits) and a real server of another
// address family than its service.  Absent optional settings stay unset
// (nullopt / empty scheduler: the module's defaults); an absent weight is
// SOCK_VS_WEIGHT_DEFAULT.  Throws JsonError.
std::vector<ServiceEntry> parse_json(std::string_view text);

// -R --json input as the commands that create it: per service an -A line,
// then an -a line per real server.  line_no is the command's index + 1;
// label() names its place in the JSON.
struct JsonRules {
  std::vector<RestoreLine> lines;
  std::vector<std::string> labels;  // "services[0]", "services[0].dests[1]"

  // `message` of restore() with its "line N: " prefix replaced by the
  // JSON place of command N.
  [[nodiscard]] std::string relabel(const std::string& message) const;
};
JsonRules json_rules(const std::vector<ServiceEntry>& entries);

}  // namespace sockvsadm

#endif  // SOCKVSADM_JSON_H_
