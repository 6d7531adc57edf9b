// The values are checked by sockvsadm's own JSON schema (sockvsadm/json.cc,
// fuzzed): a value is wrapped into a one-service document of schema
// version 1 and read with parse_json, so the store takes exactly what
// `sockvsadm -R --json` takes, with the same limits and messages.
#include "desired.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

#include "json.h"

namespace agent {

namespace {

using Json = nlohmann::json;

// Duplicate keys in one object are an error (nlohmann keeps the last one),
// as sockvsadm -R --json says.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_.empty()) {
          keys_.pop_back();
        }
        break;
      case Json::parse_event_t::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second) {
          throw std::invalid_argument("duplicate key '" + parsed.get<std::string>() + "'");
        }
        break;
      default:
        break;
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> keys_;
};

Json parse_object(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(), DuplicateKeyCheck{});
  } catch (const Json::exception& e) {
    std::string msg = e.what();
    if (const auto close = msg.find("] "); close != std::string::npos) {
      msg.erase(0, close + 2);
    }
    throw std::invalid_argument("JSON " + msg);
  }
  if (!j.is_object()) {
    throw std::invalid_argument(std::string("expected a JSON object, got ") + j.type_name());
  }
  return j;
}

// "JSON services[0].dests[0].weight: 65536 out of range 0-65535" ->
// "weight: 65536 out of range 0-65535" (with `strip` the wrapper's path).
std::string relabel(const std::string& msg, std::string_view strip) {
  const std::string head = "JSON " + std::string(strip);
  if (msg.starts_with(head + ".")) {
    return msg.substr(head.size() + 1);
  }
  if (msg.starts_with(head + ": ")) {
    return msg.substr(head.size() + 2);
  }
  if (msg.starts_with("JSON ")) {
    return msg.substr(5);
  }
  return msg;
}

std::vector<sockvsadm::ServiceEntry> parse_wrapped(const Json& service, std::string_view strip) {
  Json doc;
  doc["version"] = sockvsadm::kJsonVersion;
  doc["services"] = Json::array({service});
  try {
    return sockvsadm::parse_json(doc.dump());
  } catch (const sockvsadm::JsonError& e) {
    throw std::invalid_argument(relabel(e.what(), strip));
  }
}

}  // namespace

sockvsadm::ServiceEntry parse_service_value(std::string_view value) {
  const Json j = parse_object(value);
  auto entries = parse_wrapped(j, "services[0]");
  if (entries.size() != 1) {
    throw std::invalid_argument("expected one service");
  }
  return std::move(entries.front());
}

sockvs::RealServer parse_dest_value(std::string_view value, const sockvs::Address& addr,
                                    std::uint16_t port) {
  Json j = value.find_first_not_of(" \t\r\n") == std::string_view::npos ? Json::object()
                                                                        : parse_object(value);
  for (const char* k : {"address", "port"}) {
    if (j.contains(k)) {
      throw std::invalid_argument(std::string("unknown key '") + k +
                                  "' (the real server's address and port are the key's)");
    }
  }
  j["address"] = addr.to_string();
  j["port"] = port;
  // A service of the real server's own family, only to carry it.
  const Json svc = {{"protocol", "tcp"},
                    {"address", addr.is_v6() ? "::" : "0.0.0.0"},
                    {"port", 1},
                    {"dests", Json::array({j})}};
  auto entries = parse_wrapped(svc, "services[0].dests[0]");
  return std::move(entries.front().dests.front());
}

std::string DesiredBuilder::put(const std::string& key, std::string_view value) {
  Value& v = values_[key];
  std::string why;
  v.key = layout_.parse(key, why);
  if (!v.key) {
    v.service.reset();
    v.dest.reset();
    v.problem = why;
    return v.problem;
  }
  const auto keep = [&v](const std::string& problem) {
    v.problem = problem;
    if (v.service || v.dest) {
      v.problem += " (its last good value stays in force)";
    }
    return v.problem;
  };
  try {
    switch (v.key->kind) {
      case KeyKind::kMarker:
        break;
      case KeyKind::kService:
        v.service = parse_service_value(value);
        break;
      case KeyKind::kStatic:
      case KeyKind::kEndpoint:
        v.dest = parse_dest_value(value, v.key->addr, v.key->port);
        break;
    }
  } catch (const std::invalid_argument& e) {
    return keep(e.what());
  }
  v.problem.clear();
  return {};
}

void DesiredBuilder::erase(const std::string& key) { values_.erase(key); }

Desired DesiredBuilder::build(const Table& fallback) const {
  Desired out;
  // ServiceKey label -> the name that has it.
  std::map<std::string, std::string> owners;
  for (const auto& [key, v] : values_) {
    if (!v.problem.empty()) {
      out.problems[key] = v.problem;
    }
    if (!v.key) {
      continue;
    }
    if (v.key->kind == KeyKind::kMarker) {
      out.marker = true;
      continue;
    }
    if (v.key->kind != KeyKind::kService) {
      continue;
    }
    const sockvsadm::ServiceEntry* entry = v.service ? &*v.service : nullptr;
    if (entry == nullptr) {
      const auto fb = fallback.find(v.key->service);
      if (fb == fallback.end()) {
        continue;
      }
      entry = &fb->second;
      out.problems[key] += " (the service stays as it was applied)";
    }
    const std::string label = sockvsadm::service_label(entry->service.key());
    const auto [owner, fresh] = owners.emplace(label, v.key->service);
    if (!fresh) {
      out.problems[key] = "service " + label + " is already service '" + owner->second + "' (" +
                          layout_.service_key(owner->second) + "): ignored";
      continue;
    }
    out.services.emplace(v.key->service, *entry);
  }
  // Real servers: the service value's own dests, then rs keys, then ep keys.
  for (const KeyKind kind : {KeyKind::kStatic, KeyKind::kEndpoint}) {
    for (const auto& [key, v] : values_) {
      if (!v.key || v.key->kind != kind || !v.dest) {
        continue;
      }
      const auto svc = out.services.find(v.key->service);
      if (svc == out.services.end()) {
        const bool listed = values_.contains(layout_.service_key(v.key->service));
        out.problems[key] = listed ? "its service '" + v.key->service + "' is not usable: ignored"
                                   : "no service '" + v.key->service + "' (no " +
                                         layout_.service_key(v.key->service) + "): ignored";
        continue;
      }
      const sockvs::RealServer& d = *v.dest;
      if (d.af() != svc->second.service.af()) {
        out.problems[key] =
            "real server " + sockvs::format_endpoint(d.addr, d.port) + " is " +
            std::string(sockvs::family_name(d.af())) + " but service '" + v.key->service + "' is " +
            std::string(sockvs::family_name(svc->second.service.af())) + ": ignored";
        continue;
      }
      auto& dests = svc->second.dests;
      const auto same = [&d](const sockvs::RealServer& o) {
        return o.addr == d.addr && o.port == d.port;
      };
      if (auto it = std::find_if(dests.begin(), dests.end(), same); it != dests.end()) {
        *it = d;
      } else {
        dests.push_back(d);
      }
    }
  }
  return out;
}

}  // namespace agent
