#include "kernel_table.h"

#include <cerrno>
#include <cstddef>
#include <set>
#include <utility>

#include "sockvs/error.h"
#include "sockvs/txn.h"

namespace agent {

namespace {

// Errors that say the module is gone or unreachable, not that it refused
// one change: the whole apply stops.
bool fatal(const sockvs::Error& e) {
  return dynamic_cast<const sockvs::ModuleNotLoadedError*>(&e) != nullptr || e.code() == EPERM ||
         e.code() == ENOBUFS || e.code() == EBADF;
}

}  // namespace

ByLabel ApiKernelTable::read(const std::optional<std::set<std::string>>& only) {
  ByLabel out;
  for (auto& svc : api_.list_services()) {
    std::string label = label_of(svc.key());
    if (only && !only->contains(label)) {
      continue;
    }
    sockvsadm::ServiceEntry entry;
    entry.dests = api_.list_dests(svc.key());
    entry.service = std::move(svc);
    out.emplace(std::move(label), std::move(entry));
  }
  return out;
}

ApplyResult ApiKernelTable::apply(const ByLabel& current, const ByLabel& target,
                                  const std::set<std::string>& scope) {
  const std::vector<Op> ops = diff(current, target, scope);
  if (ops.empty()) {
    return {};
  }
  if (txn_) {
    if (std::optional<ApplyResult> r = apply_txn(current, target, ops)) {
      return *std::move(r);
    }
  }
  return apply_ops(ops);
}

// Every service an op touches, staged whole (as `target` has it) or for
// deletion, in one transaction.  A refused service (TxnError names its
// entry) is recorded and left out, and the rest is committed again.
// nullopt: commit the ops one by one instead (a module without
// transactions, or a refusal of the commit as a whole, which the single
// commands can narrow down to the changes that cause it).
std::optional<ApplyResult> ApiKernelTable::apply_txn(const ByLabel& current, const ByLabel& target,
                                                     const std::vector<Op>& ops) {
  std::vector<std::string> labels;  // txn.services[i] is labels[i]'s
  std::set<std::string> staged;
  sockvs::Transaction txn;
  for (const Op& op : ops) {
    std::string label = label_of(op.service.key());
    if (!staged.insert(label).second) {
      continue;
    }
    sockvs::TxnService ts;
    if (const auto t = target.find(label); t != target.end()) {
      ts.service = t->second.service;
      ts.dests = t->second.dests;
    } else {
      ts.service = current.at(label).service;
      ts.remove = true;
    }
    txn.services.push_back(std::move(ts));
    labels.push_back(std::move(label));
  }
  ApplyResult result;
  while (!txn.services.empty()) {
    try {
      (void)api_.commit(txn);
      break;
    } catch (const sockvs::TxnError& e) {
      if (e.entry() >= labels.size()) {
        throw;
      }
      result.errors[labels[e.entry()]] = e.what();
      txn.services.erase(txn.services.begin() + static_cast<std::ptrdiff_t>(e.entry()));
      labels.erase(labels.begin() + static_cast<std::ptrdiff_t>(e.entry()));
    } catch (const sockvs::Error& e) {
      if (fatal(e)) {
        throw;
      }
      if (e.code() == EOPNOTSUPP) {
        txn_ = false;
      }
      return std::nullopt;
    }
  }
  for (const Op& op : ops) {
    if (!result.errors.contains(label_of(op.service.key()))) {
      ++result.ops;
      result.done.push_back(op.describe());
    }
  }
  return result;
}

ApplyResult ApiKernelTable::apply_ops(const std::vector<Op>& ops) {
  ApplyResult result;
  std::set<std::string> failed;  // services whose add failed: skip their real servers
  for (const Op& op : ops) {
    const std::string label = label_of(op.service.key());
    if (failed.contains(label)) {
      continue;
    }
    try {
      switch (op.kind) {
        case Op::Kind::kAddService:
          api_.add_service(op.service);
          break;
        case Op::Kind::kEditService:
          api_.edit_service(op.service);
          break;
        case Op::Kind::kDelService:
          (void)api_.del_service(op.service.key());
          break;
        case Op::Kind::kAddDest:
          api_.add_dest(op.service.key(), op.dest);
          break;
        case Op::Kind::kEditDest:
          api_.edit_dest(op.service.key(), op.dest);
          break;
        case Op::Kind::kDelDest:
          (void)api_.del_dest(op.service.key(), op.dest);
          break;
      }
      ++result.ops;
      result.done.push_back(op.describe());
    } catch (const sockvs::Error& e) {
      if (fatal(e)) {
        throw;
      }
      std::string& err = result.errors[label];
      if (!err.empty()) {
        err += "; ";
      }
      err += op.describe() + ": " + e.what();
      if (op.kind == Op::Kind::kAddService) {
        failed.insert(label);
      }
    }
  }
  return result;
}

}  // namespace agent
