#include "reconcile.h"

#include <linux/sock_vs.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>
#include <variant>

namespace agent {

namespace {

std::vector<sockvs::SkipRule> skip_of(const sockvs::Service& s) {
  std::vector<sockvs::SkipRule> out = s.skip.value_or(std::vector<sockvs::SkipRule>{});
  // The kernel reports a cgroup's id; the store names only its path.
  for (auto& rule : out) {
    if (auto* cg = std::get_if<sockvs::SkipCgroup>(&rule)) {
      cg->id = 0;
    }
  }
  return out;
}

std::string sched_of(const sockvs::Service& s) {
  return s.sched_name.empty() ? std::string(SOCK_VS_SCHED_DEFAULT) : s.sched_name;
}

const sockvs::RealServer* find_dest(const std::vector<sockvs::RealServer>& dests,
                                    const sockvs::RealServer& d) {
  const auto it = std::find_if(dests.begin(), dests.end(), [&d](const sockvs::RealServer& o) {
    return o.addr == d.addr && o.port == d.port;
  });
  return it == dests.end() ? nullptr : &*it;
}

Op dest_op(Op::Kind kind, const sockvs::Service& svc, const sockvs::RealServer& d) {
  Op op;
  op.kind = kind;
  op.service = sockvs::Service::from_key(svc.key());
  op.dest = kind == Op::Kind::kDelDest ? d : explicit_dest(d);
  return op;
}

}  // namespace

std::string label_of(const sockvs::ServiceKey& key) { return sockvsadm::service_label(key); }

ByLabel by_label(const Table& table) {
  ByLabel out;
  for (const auto& [name, entry] : table) {
    out.emplace(label_of(entry.service.key()), entry);
  }
  return out;
}

std::string dest_name(const sockvs::ServiceKey& svc, const sockvs::RealServer& dest) {
  return sockvs::protocol_name(svc.protocol) + " " + sockvs::format_endpoint(svc.addr, svc.port) +
         " -> " + sockvs::format_endpoint(dest.addr, dest.port);
}

namespace {

bool same_eject(const sockvs::Service& have, const sockvs::Service& want) {
  const std::uint32_t on = want.eject.value_or(0);
  if (have.eject.value_or(0) != on) {
    return false;
  }
  return on == 0 ||
         (have.eject_time.value_or(sockvs::kEjectTimeDefault) ==
              want.eject_time.value_or(sockvs::kEjectTimeDefault) &&
          have.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault) ==
              want.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault) &&
          have.eject_max_percent.value_or(sockvs::kEjectPercentDefault) ==
              want.eject_max_percent.value_or(sockvs::kEjectPercentDefault));
}

}  // namespace

bool same_service_settings(const sockvs::Service& have, const sockvs::Service& want) {
  return same_eject(have, want) && sched_of(have) == sched_of(want) &&
         (have.flags & SOCK_VS_SVC_F_ALL) == (want.flags & SOCK_VS_SVC_F_ALL) &&
         have.hash_key.value_or(sockvs::kDefaultHashKey) ==
             want.hash_key.value_or(sockvs::kDefaultHashKey) &&
         have.shard_policy.value_or(sockvs::kDefaultShardPolicy) ==
             want.shard_policy.value_or(sockvs::kDefaultShardPolicy) &&
         have.terminate.value_or(sockvs::kDefaultTerminate) ==
             want.terminate.value_or(sockvs::kDefaultTerminate) &&
         have.persist.value_or(0) == want.persist.value_or(0) && skip_of(have) == skip_of(want);
}

bool same_dest_settings(const sockvs::RealServer& have, const sockvs::RealServer& want) {
  return have.weight == want.weight &&
         have.u_threshold.value_or(0) == want.u_threshold.value_or(0) &&
         have.l_threshold.value_or(0) == want.l_threshold.value_or(0) &&
         have.shards.value_or(1) == want.shards.value_or(1);
}

sockvs::Service explicit_service(const sockvs::Service& want, const sockvs::Service* have) {
  sockvs::Service s = sockvs::Service::from_key(want.key(), sched_of(want));
  if (want.eject.value_or(0) != 0 || (have != nullptr && have->eject.value_or(0) != 0)) {
    s.eject = want.eject.value_or(0);
    s.eject_time = want.eject_time.value_or(sockvs::kEjectTimeDefault);
    s.eject_time_max = want.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault);
    s.eject_max_percent = want.eject_max_percent.value_or(sockvs::kEjectPercentDefault);
  }
  s.flags = want.flags;
  s.hash_key = want.hash_key.value_or(sockvs::kDefaultHashKey);
  s.shard_policy = want.shard_policy.value_or(sockvs::kDefaultShardPolicy);
  s.terminate = want.terminate.value_or(sockvs::kDefaultTerminate);
  s.skip = skip_of(want);
  s.persist = want.persist.value_or(0);
  return s;
}

sockvs::RealServer explicit_dest(const sockvs::RealServer& want) {
  sockvs::RealServer d;
  d.addr = want.addr;
  d.port = want.port;
  d.weight = want.weight;
  d.u_threshold = want.u_threshold.value_or(0);
  d.l_threshold = want.l_threshold.value_or(0);
  d.shards = want.shards.value_or(1);
  return d;
}

std::string Op::describe() const {
  const std::string svc = label_of(service.key());
  const std::string dst = dest_name(service.key(), dest);
  switch (kind) {
    case Kind::kAddService:
      return "add service " + svc + " (" + sched_of(service) + ")";
    case Kind::kEditService:
      return "edit service " + svc + " (" + sched_of(service) + ")";
    case Kind::kDelService:
      return "delete service " + svc;
    case Kind::kAddDest:
      return "add real server " + dst + " (weight " + std::to_string(dest.weight) + ")";
    case Kind::kEditDest:
      return "edit real server " + dst + " (weight " + std::to_string(dest.weight) + ")";
    case Kind::kDelDest:
      return "delete real server " + dst;
  }
  return "?";
}

std::vector<Op> diff(const ByLabel& current, const ByLabel& target,
                     const std::set<std::string>& scope) {
  std::vector<Op> ops;
  for (const auto& [label, want] : target) {
    const auto have = current.find(label);
    if (have == current.end()) {
      Op add;
      add.kind = Op::Kind::kAddService;
      add.service = explicit_service(want.service);
      ops.push_back(std::move(add));
      for (const auto& d : want.dests) {
        ops.push_back(dest_op(Op::Kind::kAddDest, want.service, d));
      }
      continue;
    }
    if (!same_service_settings(have->second.service, want.service)) {
      Op edit;
      edit.kind = Op::Kind::kEditService;
      edit.service = explicit_service(want.service, &have->second.service);
      ops.push_back(std::move(edit));
    }
    const auto& cur = have->second.dests;
    for (const auto& d : want.dests) {
      if (find_dest(cur, d) == nullptr) {
        ops.push_back(dest_op(Op::Kind::kAddDest, want.service, d));
      }
    }
    for (const auto& d : want.dests) {
      const sockvs::RealServer* c = find_dest(cur, d);
      if (c != nullptr && !same_dest_settings(*c, d)) {
        ops.push_back(dest_op(Op::Kind::kEditDest, want.service, d));
      }
    }
    for (const auto& c : cur) {
      if (find_dest(want.dests, c) == nullptr) {
        ops.push_back(dest_op(Op::Kind::kDelDest, want.service, c));
      }
    }
  }
  for (const auto& label : scope) {
    const auto have = current.find(label);
    if (have != current.end() && !target.contains(label)) {
      Op del;
      del.kind = Op::Kind::kDelService;
      del.service = sockvs::Service::from_key(have->second.service.key());
      ops.push_back(std::move(del));
    }
  }
  return ops;
}

HealthResult overlay_local_health(ByLabel& target, const ByLabel& current, const ByLabel& previous,
                                  const std::set<std::string>& quiesced, Suspects& suspects,
                                  Clock::time_point now, Clock::duration grace) {
  HealthResult out;
  std::set<std::string> seen;
  for (auto& [label, want] : target) {
    const auto have = current.find(label);
    if (have == current.end()) {
      continue;
    }
    const auto prev = previous.find(label);
    for (auto& d : want.dests) {
      const sockvs::RealServer* c = find_dest(have->second.dests, d);
      if (c == nullptr || c->weight != 0 || d.weight == 0) {
        continue;
      }
      const std::string name = dest_name(want.service.key(), d);
      if (quiesced.contains(name)) {
        d.weight = 0;
        out.held.push_back(name);
        continue;
      }
      const sockvs::RealServer* p =
          prev == previous.end() ? nullptr : find_dest(prev->second.dests, d);
      if (p == nullptr || p->weight == 0) {
        continue;  // the agent set 0 itself, or never set it: the store's weight
      }
      seen.insert(name);
      const auto [it, fresh] = suspects.emplace(name, now);
      const Clock::time_point until = it->second + grace;
      if (now < until) {
        d.weight = 0;
        out.waiting.push_back(name);
        if (!out.recheck || until < *out.recheck) {
          out.recheck = until;
        }
      }
    }
  }
  std::erase_if(suspects, [&seen](const auto& kv) { return !seen.contains(kv.first); });
  return out;
}

std::string format_table(const Table& table) {
  std::vector<sockvsadm::ServiceEntry> entries;
  entries.reserve(table.size());
  for (const auto& [name, entry] : table) {
    entries.push_back(entry);
  }
  sockvsadm::sort_entries(entries);
  return sockvsadm::format_save(entries);
}

std::string table_hash(const Table& table) {
  const std::string text = format_table(table);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  std::string hex;
  hex.reserve(static_cast<std::size_t>(len) * 2);
  constexpr std::string_view kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4U];
    hex += kHex[md[i] & 0xfU];
  }
  return hex;
}

}  // namespace agent
