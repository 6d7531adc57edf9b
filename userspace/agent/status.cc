#include "status.h"

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace agent {

namespace {

using Json = nlohmann::json;

std::string seconds(double s) {
  std::array<char, 32> buf{};
  (void)std::snprintf(buf.data(), buf.size(), "%.1fs", s);
  return buf.data();
}

std::string quote(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string format_status_json(const Status& st) {
  Json j;
  j["pid"] = st.pid;
  j["cell"] = st.cell;
  j["state"] = st.state;
  j["endpoints"] = st.endpoints;
  j["member"] = st.member;
  j["applied_revision"] = st.applied_revision;
  j["store_revision"] = st.store_revision;
  j["lag"] = st.lag();
  j["synced"] = st.synced;
  j["stale"] = st.stale;
  j["contact_age"] = st.contact_age;
  j["updated"] = st.updated;
  j["last_error"] = st.last_error;
  j["last_error_time"] = st.last_error_time;
  j["table_hash"] = st.table_hash;
  j["services"] = st.services;
  j["dests"] = st.dests;
  j["held"] = st.held;
  j["problems"] = st.problems;
  j["kernel_errors"] = st.kernel_errors;
  j["lists"] = st.lists;
  j["watches"] = st.watches;
  j["applies"] = st.applies;
  j["changes"] = st.changes;
  j["last_apply_seconds"] = st.last_apply_seconds;
  return j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Status parse_status_json(std::string_view text) {
  try {
    const Json j = Json::parse(text.begin(), text.end());
    Status st;
    st.pid = j.value("pid", 0);
    st.cell = j.value("cell", std::string());
    st.state = j.value("state", std::string());
    st.endpoints = j.value("endpoints", std::vector<std::string>{});
    st.member = j.value("member", std::string());
    st.applied_revision = j.value("applied_revision", std::int64_t{0});
    st.store_revision = j.value("store_revision", std::int64_t{0});
    st.synced = j.value("synced", false);
    st.stale = j.value("stale", false);
    st.contact_age = j.value("contact_age", -1.0);
    st.updated = j.value("updated", 0.0);
    st.last_error = j.value("last_error", std::string());
    st.last_error_time = j.value("last_error_time", 0.0);
    st.table_hash = j.value("table_hash", std::string());
    st.services = j.value("services", std::uint64_t{0});
    st.dests = j.value("dests", std::uint64_t{0});
    st.held = j.value("held", std::uint64_t{0});
    st.problems = j.value("problems", std::uint64_t{0});
    st.kernel_errors = j.value("kernel_errors", std::uint64_t{0});
    st.lists = j.value("lists", std::uint64_t{0});
    st.watches = j.value("watches", std::uint64_t{0});
    st.applies = j.value("applies", std::uint64_t{0});
    st.changes = j.value("changes", std::uint64_t{0});
    st.last_apply_seconds = j.value("last_apply_seconds", 0.0);
    return st;
  } catch (const Json::exception& e) {
    throw std::runtime_error(std::string("unreadable status: ") + e.what());
  }
}

std::string format_status_text(const Status& st, double now) {
  std::string out;
  const auto line = [&out](std::string_view k, const std::string& v) {
    out += k;
    out += ": ";
    out += v;
    out += '\n';
  };
  line("cell", st.cell);
  line("state", st.state + (st.stale ? " (STALE)" : ""));
  line("pid", std::to_string(st.pid));
  std::string eps;
  for (const auto& e : st.endpoints) {
    eps += (eps.empty() ? "" : ",") + e;
  }
  line("endpoints", eps);
  line("member", st.member.empty() ? "-" : st.member);
  line("applied revision", std::to_string(st.applied_revision));
  line("store revision", std::to_string(st.store_revision));
  line("lag", std::to_string(st.lag()) + " revisions");
  line("last contact", st.contact_age < 0 ? "never" : seconds(st.contact_age) + " ago");
  line("synced", st.synced ? "yes" : "no (no full listing applied since start)");
  line("table hash", st.table_hash.empty() ? "-" : st.table_hash);
  line("services", std::to_string(st.services) + " (" + std::to_string(st.dests) +
                       " real servers, " + std::to_string(st.held) +
                       " held at weight 0 by local health)");
  line("problems", std::to_string(st.problems) + " keys skipped");
  line("kernel errors", std::to_string(st.kernel_errors));
  line("last error", st.last_error.empty()
                         ? std::string("-")
                         : st.last_error + " (" + seconds(now - st.last_error_time) + " ago)");
  line("counters", "lists " + std::to_string(st.lists) + ", watches " + std::to_string(st.watches) +
                       ", applies " + std::to_string(st.applies) + ", changes " +
                       std::to_string(st.changes));
  line("status written", seconds(now - st.updated) + " ago");
  return out;
}

std::string format_status_metrics(const Status& st) {
  std::string out;
  const auto metric = [&out](const char* name, const char* type, const char* help,
                             const std::string& value) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
    out += std::string(name) + " " + value + "\n";
  };
  const auto num = [](auto v) { return std::to_string(v); };
  out += "# HELP sockvs_agent_info The agent's cell and applied table hash.\n";
  out += "# TYPE sockvs_agent_info gauge\n";
  out += "sockvs_agent_info{cell=\"" + quote(st.cell) + "\",table_hash=\"" + quote(st.table_hash) +
         "\"} 1\n";
  metric("sockvs_agent_applied_revision", "gauge", "Store revision the kernel table has.",
         num(st.applied_revision));
  metric("sockvs_agent_store_revision", "gauge", "Newest store revision seen.",
         num(st.store_revision));
  metric("sockvs_agent_lag_revisions", "gauge", "Store revision minus applied revision.",
         num(st.lag()));
  metric("sockvs_agent_stale", "gauge", "1 while the store has not answered for a while.",
         st.stale ? "1" : "0");
  metric("sockvs_agent_contact_age_seconds", "gauge", "Seconds since the store last answered.",
         num(st.contact_age));
  metric("sockvs_agent_services", "gauge", "Managed services.", num(st.services));
  metric("sockvs_agent_real_servers", "gauge", "Real servers of the managed services.",
         num(st.dests));
  metric("sockvs_agent_held_real_servers", "gauge",
         "Real servers kept at weight 0 by local health.", num(st.held));
  metric("sockvs_agent_problem_keys", "gauge", "Store keys skipped as malformed.",
         num(st.problems));
  metric("sockvs_agent_kernel_errors", "gauge", "Services the kernel refused in the last apply.",
         num(st.kernel_errors));
  metric("sockvs_agent_lists_total", "counter", "Full listings of the prefix.", num(st.lists));
  metric("sockvs_agent_watches_total", "counter", "Watch streams started.", num(st.watches));
  metric("sockvs_agent_applies_total", "counter", "Applies to the kernel.", num(st.applies));
  metric("sockvs_agent_changes_total", "counter", "Kernel changes made.", num(st.changes));
  return out;
}

}  // namespace agent
