#include "format.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <tuple>
#include <variant>
#include <vector>

#include "sockvs/address.h"

namespace sockvsadm {

namespace {

// snprintf into a std::string; the formats are ipvsadm's.
template <typename... Args>
std::string sformat(const char* fmt, Args... args) {
  const int n = std::snprintf(nullptr, 0, fmt, args...);
  if (n <= 0) {
    return {};
  }
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), fmt, args...);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// A name that reads back as itself where sockvsadm takes an address or a
// port: no blanks (-R splits at them), no ':', '[' or ']' (the endpoint
// syntax), not empty, not only digits and dots (that is a number).
bool typeable_name(std::string_view name) {
  return !name.empty() && name.find_first_of(" \t\r\n:[]") == std::string_view::npos &&
         !std::all_of(name.begin(), name.end(),
                      [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

}  // namespace

std::string EndpointNames::host(const sockvs::Address& addr) const {
  if (names_ == nullptr) {
    return addr.to_string();
  }
  const auto name = names_->host_name(addr);
  if (!name || !typeable_name(*name) || sockvs::Address::parse(*name)) {
    return addr.to_string();
  }
  // The name must give back this address (the first one of its family,
  // which is what -t, -u and -r take).
  for (const auto& back : names_->host_addresses(*name).addrs) {
    if (back.family() == addr.family()) {
      return back == addr ? *name : addr.to_string();
    }
  }
  return addr.to_string();
}

std::string EndpointNames::port(std::uint16_t port, std::uint16_t protocol) const {
  if (names_ != nullptr) {
    const auto name = names_->service_name(port, protocol);
    if (name && typeable_name(*name) && names_->service_port(*name, protocol) == port) {
      return *name;
    }
  }
  return std::to_string(port);
}

std::string EndpointNames::endpoint(const sockvs::Address& addr, std::uint16_t port,
                                    std::uint16_t protocol) const {
  const std::string h = host(addr);
  return (addr.is_v6() ? "[" + h + "]" : h) + ":" + this->port(port, protocol);
}

std::string fmt_number(std::uint64_t n, bool exact) {
  constexpr std::uint64_t kHundredMillion = 100000000ULL;
  constexpr std::uint64_t kBillion = 1000000000ULL;
  constexpr std::uint64_t kHundredBillion = 100000000000ULL;
  constexpr std::uint64_t kHundredTrillion = 100000000000000ULL;
  if (exact || n < kHundredMillion) {
    return std::to_string(n);
  }
  if (n < kBillion) {
    return std::to_string(n / 1000) + "K";
  }
  if (n < kHundredBillion) {
    return std::to_string(n / 1000000) + "M";
  }
  if (n < kHundredTrillion) {
    return std::to_string(n / kBillion) + "G";
  }
  return std::to_string(n / 1000000000000ULL) + "T";
}

void sort_entries(std::vector<ServiceEntry>& entries) {
  const auto rank = [](const ServiceEntry& e) {
    const auto& s = e.service;
    const auto bytes = s.addr.bytes();
    return std::tuple(s.protocol, s.addr.family(),
                      std::vector<std::uint8_t>(bytes.begin(), bytes.end()), s.port);
  };
  std::stable_sort(
      entries.begin(), entries.end(),
      [&rank](const ServiceEntry& a, const ServiceEntry& b) { return rank(a) < rank(b); });
}

std::string service_endpoint(const sockvs::ServiceKey& key) {
  return sockvs::format_endpoint(key.addr, key.port);
}

std::string service_label(const sockvs::ServiceKey& key) {
  return sockvs::protocol_name(key.protocol) + " " + service_endpoint(key);
}

std::string protocol_option(std::uint16_t protocol) {
  return protocol == IPPROTO_UDP ? "-u" : "-t";
}

std::string sockets_text(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " socket" : " sockets");
}

std::string skip_value(const sockvs::SkipRule& rule) {
  if (const auto* uid = std::get_if<sockvs::SkipUid>(&rule)) {
    return uid->min == uid->max ? std::to_string(uid->min)
                                : std::to_string(uid->min) + "-" + std::to_string(uid->max);
  }
  if (const auto* mark = std::get_if<sockvs::SkipMark>(&rule)) {
    return mark->mask == sockvs::kSkipMarkMaskAll ? sformat("0x%x", mark->mark)
                                                  : sformat("0x%x/0x%x", mark->mark, mark->mask);
  }
  return std::get<sockvs::SkipCgroup>(rule).path;
}

std::string skip_words(const sockvs::Service& svc, std::string_view prefix) {
  std::string out;
  for (const auto& rule : svc.skip.value_or(std::vector<sockvs::SkipRule>{})) {
    out += ' ';
    out += prefix;
    out += "skip-";
    out += sockvs::skip_kind(rule);
    out += ' ';
    out += skip_value(rule);
  }
  return out;
}

// The passive-health options of a service with ejection on, as -L shows
// them ("eject 3 eject-time 10") or -S writes them (prefix "--"): the times
// and the bound only when they differ from their defaults.
std::string eject_words(const sockvs::Service& svc, std::string_view prefix) {
  if (svc.eject.value_or(0) == 0) {
    return {};
  }
  std::string out;
  const auto word = [&out, prefix](std::string_view name, std::uint32_t value) {
    out += ' ';
    out += prefix;
    out += name;
    out += ' ';
    out += std::to_string(value);
  };
  word("eject", *svc.eject);
  if (svc.eject_time.value_or(sockvs::kEjectTimeDefault) != sockvs::kEjectTimeDefault) {
    word("eject-time", *svc.eject_time);
  }
  if (svc.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault) != sockvs::kEjectTimeMaxDefault) {
    word("eject-time-max", *svc.eject_time_max);
  }
  if (svc.eject_max_percent.value_or(sockvs::kEjectPercentDefault) !=
      sockvs::kEjectPercentDefault) {
    word("eject-max-percent", *svc.eject_max_percent);
  }
  return out;
}

// After a real server's line: " ejected" / " probing" while passive health
// holds it out.
std::string eject_state_word(const sockvs::RealServer& dest) {
  if (dest.ejected == sockvs::EjectState::kNone) {
    return {};
  }
  return " " + sockvs::eject_state_name(dest.ejected);
}

std::string service_flags(const sockvs::Service& svc) {
  std::string out;
  if (svc.persist.value_or(0) != 0) {
    out += " persistent " + std::to_string(*svc.persist);  // where ipvsadm prints it
  }
  if (svc.hash_key && *svc.hash_key != sockvs::kDefaultHashKey) {
    out += " hash-key " + sockvs::hash_key_name(*svc.hash_key);
  }
  if (svc.shard_policy && *svc.shard_policy != sockvs::kDefaultShardPolicy) {
    out += " shard-policy " + sockvs::shard_policy_name(*svc.shard_policy);
  }
  if (svc.terminate && *svc.terminate != sockvs::kDefaultTerminate) {
    out += " terminate " + sockvs::terminate_name(*svc.terminate);
  }
  if ((svc.flags & SOCK_VS_SVC_F_REAL_PEERNAME) != 0) {
    out += " real-peername";
  }
  if ((svc.flags & SOCK_VS_SVC_F_UNCONNECTED) != 0) {
    out += " unconnected";
  }
  out += eject_words(svc, "");
  out += skip_words(svc, "");
  return out;
}

std::string per_shard_text(const sockvs::RealServer& dest) {
  if (dest.shard_conns.empty()) {
    if (dest.shards.value_or(1) == 1) {
      return std::to_string(static_cast<std::uint64_t>(dest.active_conns) + dest.inact_conns);
    }
    return "-";
  }
  std::string out;
  for (const auto n : dest.shard_conns) {
    if (!out.empty()) {
      out += ' ';
    }
    out += std::to_string(n);
  }
  return out;
}

std::string format_list(const sockvs::Info& info, const std::vector<ServiceEntry>& entries,
                        const ListOptions& opts, const EndpointNames& names) {
  std::string out = sformat("Sock VS version %s (services=%u, hook=%s)\n", info.version.c_str(),
                            info.num_services, info.hook.c_str());
  if (opts.stats) {
    out += sformat("%-33s %8s %8s %9s %8s %8s %8s\n", "Prot LocalAddress:Port", "Conns", "Refused",
                   "Untracked", "Killed", "Ejected", "Failed");
    out += "  -> RemoteAddress:Port\n";
  } else if (opts.thresholds) {
    // ipvsadm's print_title for FMT_THRESHOLDS.
    out += sformat("%-33s %-10s %-10s %-10s %-10s\n", "Prot LocalAddress:Port", "Uthreshold",
                   "Lthreshold", "ActiveConn", "InActConn");
    out += "  -> RemoteAddress:Port\n";
  } else if (opts.shards) {
    out += "Prot LocalAddress:Port Scheduler Flags\n";
    out += sformat("%-33s %-6s %-10s %-10s %s\n", "  -> RemoteAddress:Port", "Shards", "ActiveConn",
                   "InActConn", "PerShard");
  } else {
    out += "Prot LocalAddress:Port Scheduler Flags\n";
    out += "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
  }
  for (const auto& entry : entries) {
    const auto& svc = entry.service;
    const std::string proto = sockvs::protocol_name(svc.protocol);
    const std::string vname = names.endpoint(svc.addr, svc.port, svc.protocol);
    if (opts.stats) {
      std::string name = proto;
      name += "  ";
      name += vname;
      out += sformat("%-33s %8s %8s %9s %8s %8s %8s\n", name.c_str(),
                     fmt_number(svc.stats.conns, opts.exact).c_str(),
                     fmt_number(svc.stats.refused, opts.exact).c_str(),
                     fmt_number(svc.stats.untracked, opts.exact).c_str(),
                     fmt_number(svc.stats.killed, opts.exact).c_str(),
                     fmt_number(svc.stats.ejected, opts.exact).c_str(),
                     fmt_number(svc.stats.failed, opts.exact).c_str());
    } else {
      out += sformat("%s  %s %s%s\n", proto.c_str(), vname.c_str(), svc.sched_name.c_str(),
                     service_flags(svc).c_str());
    }
    for (const auto& dest : entry.dests) {
      const std::string dname = names.endpoint(dest.addr, dest.port, svc.protocol);
      if (opts.stats) {
        // Refused and Untracked are the service's: blank for its servers.
        out += sformat("  -> %-28s %8s %8s %9s %8s %8s %8s\n", dname.c_str(),
                       fmt_number(dest.stats.conns, opts.exact).c_str(), "", "",
                       fmt_number(dest.stats.killed, opts.exact).c_str(),
                       fmt_number(dest.stats.ejected, opts.exact).c_str(),
                       fmt_number(dest.stats.failed, opts.exact).c_str());
      } else if (opts.thresholds) {
        out += sformat("  -> %-28s %-10u %-10u %-10u %-10u", dname.c_str(),
                       dest.u_threshold.value_or(0), dest.l_threshold.value_or(0),
                       dest.active_conns, dest.inact_conns);
        out += dest.overloaded ? " overloaded" : "";
        out += eject_state_word(dest) + "\n";
      } else if (opts.shards) {
        out += sformat("  -> %-28s %-6u %-10u %-10u %s\n", dname.c_str(),
                       static_cast<unsigned>(dest.shards.value_or(1)), dest.active_conns,
                       dest.inact_conns, per_shard_text(dest).c_str());
      } else {
        out += sformat("  -> %-28s %-7s %-6d %-10u %-10u", dname.c_str(), "Sock",
                       static_cast<int>(dest.weight), dest.active_conns, dest.inact_conns);
        out += eject_state_word(dest) + "\n";
      }
    }
  }
  return out;
}

std::string template_client(const sockvs::Template& t) {
  switch (t.client_kind) {
    case sockvs::HashKey::kTgid:
    case sockvs::HashKey::kCgroup:
      return sockvs::hash_key_name(t.client_kind) + ":" + std::to_string(t.client);
    case sockvs::HashKey::kNetns:
      return "netns";
    case sockvs::HashKey::kLocal:
      return sformat("local:0x%" PRIx64, t.client);
  }
  // A kind this version does not know: its number.
  return sockvs::hash_key_name(t.client_kind) + ":" + std::to_string(t.client);
}

std::string format_conns(const std::vector<sockvs::Connection>& conns,
                         const std::vector<sockvs::Template>& templates) {
  bool sharded = false;
  for (const auto& c : conns) {
    sharded = sharded || c.shard.has_value();
  }
  // ipvsadm: "pro expire %-11s %-18s %-18s %s"; no expire column here.
  std::string out = "Sock VS connection entries\n";
  out += sformat("pro %-11s %-18s %-18s %-18s ", "state", "source", "virtual", "destination");
  out += sharded ? "shard pid/comm\n" : "pid/comm\n";
  for (const auto& c : conns) {
    const std::string state =
        c.protocol == IPPROTO_UDP ? std::string("UDP") : sockvs::tcp_state_name(c.state);
    const std::string src = sockvs::format_endpoint(c.local, c.lport);
    const std::string virt = sockvs::format_endpoint(c.vaddr, c.vport);
    const std::string dst = sockvs::format_endpoint(c.daddr, c.dport);
    out += sformat("%-3s %-11s %-18s %-18s %-18s ", sockvs::protocol_name(c.protocol).c_str(),
                   state.c_str(), src.c_str(), virt.c_str(), dst.c_str());
    if (sharded) {
      out += sformat("%-5s ", c.shard ? std::to_string(*c.shard).c_str() : "-");
    }
    out += std::to_string(c.pid) + "/" + c.comm + "\n";
  }
  for (const auto& t : templates) {
    const std::string client = template_client(t);
    const std::string virt = sockvs::format_endpoint(t.vaddr, t.vport);
    const std::string dst = sockvs::format_endpoint(t.daddr, t.dport);
    out += sformat("%-3s %-11s %-18s %-18s %-18s ", sockvs::protocol_name(t.protocol).c_str(),
                   "TEMPLATE", client.c_str(), virt.c_str(), dst.c_str());
    if (sharded) {
      out += sformat("%-5s ", "-");
    }
    out += "expire " + std::to_string(t.expires) + "s conns " + std::to_string(t.conns) + "\n";
  }
  return out;
}

std::string format_save(const std::vector<ServiceEntry>& entries, const EndpointNames& names) {
  std::string out;
  for (const auto& entry : entries) {
    const auto& svc = entry.service;
    const std::string vopt =
        protocol_option(svc.protocol) + " " + names.endpoint(svc.addr, svc.port, svc.protocol);
    out += "-A " + vopt;
    if (!svc.sched_name.empty()) {
      out += " -s " + svc.sched_name;
    }
    if (svc.persist.value_or(0) != 0) {
      out += " -p " + std::to_string(*svc.persist);
    }
    if (svc.hash_key && *svc.hash_key != sockvs::kDefaultHashKey) {
      out += " --hash-key " + sockvs::hash_key_name(*svc.hash_key);
    }
    if (svc.shard_policy && *svc.shard_policy != sockvs::kDefaultShardPolicy) {
      out += " --shard-policy " + sockvs::shard_policy_name(*svc.shard_policy);
    }
    if (svc.terminate && *svc.terminate != sockvs::kDefaultTerminate) {
      out += " --terminate " + sockvs::terminate_name(*svc.terminate);
    }
    if ((svc.flags & SOCK_VS_SVC_F_REAL_PEERNAME) != 0) {
      out += " --real-peername";
    }
    if ((svc.flags & SOCK_VS_SVC_F_UNCONNECTED) != 0) {
      out += " --unconnected";
    }
    out += eject_words(svc, "--");
    out += skip_words(svc, "--");
    out += '\n';
    for (const auto& dest : entry.dests) {
      out += "-a " + vopt + " -r " + names.endpoint(dest.addr, dest.port, svc.protocol) + " -w " +
             std::to_string(dest.weight);
      if (dest.u_threshold.value_or(0) != 0) {
        out += " -x " + std::to_string(*dest.u_threshold);
      }
      if (dest.l_threshold.value_or(0) != 0) {
        out += " -y " + std::to_string(*dest.l_threshold);
      }
      if (dest.shards.value_or(1) > 1) {
        out += " --shards " + std::to_string(*dest.shards);
      }
      out += '\n';
    }
  }
  return out;
}

std::string version_line(const std::string& userspace_version) {
  return "sockvsadm v" + userspace_version + " (sock_vs generic netlink protocol " +
         std::to_string(SOCK_VS_GENL_VERSION) + ", built for module " + SOCK_VS_VERSION + ")\n";
}

std::string format_version(const std::string& userspace_version,
                           const std::optional<sockvs::Info>& info,
                           const std::string& module_error) {
  std::string out = version_line(userspace_version);
  if (info) {
    out += sformat(
        "Sock VS module version %s (hook=%s, kernel=%s, services=%u, max_services=%u, "
        "max_dests=%u, untracked=%llu, templates=%u, max_templates=%u)\n",
        info->version.c_str(), info->hook.c_str(), info->kernel.c_str(), info->num_services,
        info->max_services, info->max_dests, static_cast<unsigned long long>(info->untracked),
        info->templates, info->max_templates);
  } else {
    out += "Sock VS module: " + module_error + "\n";
  }
  return out;
}

}  // namespace sockvsadm
