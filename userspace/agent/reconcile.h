// From a desired table and what the kernel has to the changes that make
// them equal, and the local-health rule on top.  Pure functions.
#ifndef SOCKVS_AGENT_RECONCILE_H_
#define SOCKVS_AGENT_RECONCILE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "desired.h"
#include "format.h"
#include "sockvs/types.h"

namespace agent {

using Clock = std::chrono::steady_clock;

// Services by sockvsadm::service_label ("TCP 10.0.0.1:80"): what the
// kernel's table is keyed by.
using ByLabel = std::map<std::string, sockvsadm::ServiceEntry>;

std::string label_of(const sockvs::ServiceKey& key);
ByLabel by_label(const Table& table);

// "TCP 10.0.0.1:80 -> 192.168.1.5:80", as sockvs-healthd's state file
// names a real server (healthd::DestId::name).
std::string dest_name(const sockvs::ServiceKey& svc, const sockvs::RealServer& dest);

// Whether the kernel's service `have` has the settings `want` asks for,
// an unset setting of `want` meaning the module's default (wrr, tgid, rr,
// udp, not persistent, no flags, no exemptions, no ejection; the ejection
// times only count while ejection is on).
bool same_service_settings(const sockvs::Service& have, const sockvs::Service& want);
// The same for a real server: weight, thresholds, shards.
bool same_dest_settings(const sockvs::RealServer& have, const sockvs::RealServer& want);

// `want` with every setting explicit, as an edit sends it (so that a
// setting removed from the store goes back to the default).  The ejection
// settings only when `want` or the kernel's `have` has ejection on: a
// module without passive health knows none of them.
sockvs::Service explicit_service(const sockvs::Service& want,
                                 const sockvs::Service* have = nullptr);
sockvs::RealServer explicit_dest(const sockvs::RealServer& want);

struct Op {
  enum class Kind : std::uint8_t {
    kAddService,
    kEditService,
    kDelService,
    kAddDest,
    kEditDest,
    kDelDest
  };
  Kind kind = Kind::kAddService;
  sockvs::Service service;  // kAddDest..kDelDest: only its key is used
  sockvs::RealServer dest;

  // "add service TCP 10.0.0.1:80", "edit real server TCP 10.0.0.1:80 -> 10.1.0.1:80 (weight 0)".
  [[nodiscard]] std::string describe() const;
};

// The changes that make the kernel's services named in `scope` (labels)
// what `target` says, plus every service of `target`: services of scope
// missing from target are deleted, the others are added or edited in place
// (counters and balanced sockets survive an edit).  Services of `current`
// outside scope and target are not touched.  Per service: new real servers
// are added before old ones are deleted, so a service whose real servers
// are replaced always has some.
std::vector<Op> diff(const ByLabel& current, const ByLabel& target,
                     const std::set<std::string>& scope);

// Real servers whose weight 0 came from someone else, first seen at.
using Suspects = std::map<std::string, Clock::time_point>;

struct HealthResult {
  std::vector<std::string> held;             // kept at 0: sockvs-healthd quiesced them
  std::vector<std::string> waiting;          // kept at 0 for now: see below
  std::optional<Clock::time_point> recheck;  // look again then
};

// Local health wins.  In `target`, a real server that the kernel has at
// weight 0 and sockvs-healthd's state file lists (`quiesced`, by
// dest_name) stays at 0 whatever the store says, until healthd restores
// it.  One at weight 0 that healthd does not list, although the agent
// last gave it a weight (`previous`: the last target applied), is kept at
// 0 for `grace` after it is first seen so (`suspects`): healthd sets the
// weight first and writes its state file up to 200 ms later.  Changes
// `target` and `suspects`.
HealthResult overlay_local_health(ByLabel& target, const ByLabel& current, const ByLabel& previous,
                                  const std::set<std::string>& quiesced, Suspects& suspects,
                                  Clock::time_point now, Clock::duration grace);

// The table as `sockvsadm -S` would write it, services sorted.
std::string format_table(const Table& table);
// SHA-256 of format_table(table), hex: equal on every host with the same
// desired table.
std::string table_hash(const Table& table);

}  // namespace agent

#endif  // SOCKVS_AGENT_RECONCILE_H_
