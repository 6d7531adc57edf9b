#include "kernel_table.h"

#include <cerrno>
#include <utility>

#include "sockvs/error.h"

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
  ApplyResult result;
  std::set<std::string> failed;  // services whose add failed: skip their real servers
  for (const Op& op : diff(current, target, scope)) {
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
