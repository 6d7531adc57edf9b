// The one place sockvs-agent changes the kernel: "make these services what
// this table says".  ApiKernelTable does it in one kernel transaction
// (sockvs/txn.h: every service that changes is staged whole, or staged for
// deletion, and committed at once: connects see the old services or the
// new ones, never a mix, and counters and balanced sockets of what stays
// survive).  A service the module refuses is left as the kernel has it and
// the rest is committed without it.  A module older than transactions gets
// the existing commands one by one (add / edit in place / delete).
#ifndef SOCKVS_AGENT_KERNEL_TABLE_H_
#define SOCKVS_AGENT_KERNEL_TABLE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reconcile.h"
#include "sockvs/client.h"

namespace agent {

struct ApplyResult {
  std::size_t ops = 0;  // changes made
  // Changes the kernel refused, by service label: that service is left
  // as the kernel has it; the others are applied.
  std::map<std::string, std::string> errors;
  std::vector<std::string> done;  // Op::describe() of each change made
};

class KernelTable {
 public:
  KernelTable() = default;
  virtual ~KernelTable() = default;
  KernelTable(const KernelTable&) = delete;
  KernelTable& operator=(const KernelTable&) = delete;
  KernelTable(KernelTable&&) = delete;
  KernelTable& operator=(KernelTable&&) = delete;

  // The kernel's services (with their real servers) whose labels are in
  // `only`, or all of them.  Throws sockvs::Error.
  virtual ByLabel read(const std::optional<std::set<std::string>>& only) = 0;

  // Makes the services of `scope` and of `target` what `target` says
  // (see diff()); `current` is what read() returned for them.  A change
  // the kernel refuses is recorded in the result and the rest goes on.
  // Throws sockvs::Error only when the module cannot be reached at all.
  virtual ApplyResult apply(const ByLabel& current, const ByLabel& target,
                            const std::set<std::string>& scope) = 0;
};

// Over libsockvs's Api (netlink).
class ApiKernelTable final : public KernelTable {
 public:
  explicit ApiKernelTable(sockvs::Api& api) : api_(api) {}

  ByLabel read(const std::optional<std::set<std::string>>& only) override;
  ApplyResult apply(const ByLabel& current, const ByLabel& target,
                    const std::set<std::string>& scope) override;

  // Whether the last apply() committed a transaction (false after the
  // module said it has none: the ops go one by one from then on).
  [[nodiscard]] bool transactions() const noexcept { return txn_; }

 private:
  ApplyResult apply_ops(const std::vector<Op>& ops);
  std::optional<ApplyResult> apply_txn(const ByLabel& current, const ByLabel& target,
                                       const std::vector<Op>& ops);

  sockvs::Api& api_;
  bool txn_ = true;
};

}  // namespace agent

#endif  // SOCKVS_AGENT_KERNEL_TABLE_H_
