#include "registrar.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

namespace agent {

namespace {

constexpr auto kRetry = std::chrono::seconds(1);

}  // namespace

std::string endpoint_value(std::uint32_t weight) {
  nlohmann::json j;
  j["weight"] = weight;
  return j.dump();
}

Registrar::Registrar(RegisterOptions opts, EtcdStore& store, Logger& log)
    : opts_(std::move(opts)), store_(store), log_(log) {
  const Layout layout(opts_.cell);
  key_ = layout.endpoint_key(opts_.service, opts_.addr, opts_.port);
}

std::string Registrar::call(const std::string& path, const std::string& body) {
  for (std::size_t tries = 0;; ++tries) {
    try {
      return store_.call(member_, path, body);
    } catch (const etcd::StoreError& e) {
      if (!e.retry_elsewhere() || tries + 1 >= store_.size()) {
        throw;
      }
      member_ = (member_ + 1) % store_.size();
    }
  }
}

bool Registrar::publish(Clock::time_point now) {
  try {
    const etcd::Lease l =
        etcd::parse_lease_grant(call("/v3/lease/grant", etcd::lease_grant_body(opts_.ttl)));
    (void)etcd::parse_put(
        call("/v3/kv/put", etcd::put_body(key_, endpoint_value(opts_.weight), l.id)));
    lease_ = l.id;
    last_renewed_ = now;
    next_keepalive_ = now + std::chrono::milliseconds(opts_.ttl * 1000 / 3);
    logged_failure_ = false;
    log_.log(Level::kInfo, "registered " + key_ + " (weight " + std::to_string(opts_.weight) +
                               ", lease " + std::to_string(lease_) + ", TTL " +
                               std::to_string(l.ttl) + "s) on " + store_.endpoint(member_));
    return true;
  } catch (const etcd::StoreError& e) {
    if (!logged_failure_) {
      log_.log(Level::kWarning, "cannot register " + key_ + ": " + e.what() + "; retrying");
      logged_failure_ = true;
    }
    next_keepalive_ = now + kRetry;
    return false;
  }
}

milliseconds Registrar::step(Clock::time_point now) {
  if (now >= next_keepalive_) {
    if (lease_ == 0) {
      (void)publish(now);
    } else {
      try {
        const etcd::Lease l =
            etcd::parse_keepalive(call("/v3/lease/keepalive", etcd::lease_id_body(lease_)));
        if (l.ttl <= 0) {
          log_.log(Level::kWarning, "lease " + std::to_string(lease_) +
                                        " expired (the store was unreachable for too long): "
                                        "registering again");
          lease_ = 0;
          (void)publish(now);
        } else {
          last_renewed_ = now;
          next_keepalive_ = now + std::chrono::milliseconds(opts_.ttl * 1000 / 3);
          if (logged_failure_) {
            log_.log(Level::kInfo, "lease " + std::to_string(lease_) + " renewed again");
            logged_failure_ = false;
          }
        }
      } catch (const etcd::StoreError& e) {
        if (!logged_failure_) {
          log_.log(Level::kWarning,
                   "cannot renew lease " + std::to_string(lease_) + ": " + e.what() + "; retrying");
          logged_failure_ = true;
        }
        next_keepalive_ = now + kRetry;
        if (now - last_renewed_ > std::chrono::seconds(opts_.ttl)) {
          lease_ = 0;  // surely gone: a new one when the store answers
        }
      }
    }
  }
  return std::max(std::chrono::duration_cast<milliseconds>(next_keepalive_ - now), milliseconds(0));
}

void Registrar::drain() {
  if (lease_ == 0) {
    return;
  }
  try {
    (void)etcd::parse_put(call("/v3/kv/put", etcd::put_body(key_, endpoint_value(0), lease_)));
    log_.log(Level::kInfo, "draining: " + key_ + " has weight 0");
  } catch (const etcd::StoreError& e) {
    log_.log(Level::kWarning, "cannot mark " + key_ + " draining: " + e.what());
  }
}

void Registrar::revoke() {
  if (lease_ == 0) {
    return;
  }
  try {
    etcd::parse_revoke(call("/v3/lease/revoke", etcd::lease_id_body(lease_)));
    log_.log(Level::kInfo, "revoked lease " + std::to_string(lease_) + ": " + key_ + " is gone");
  } catch (const etcd::StoreError& e) {
    log_.log(Level::kWarning, "cannot revoke lease " + std::to_string(lease_) + ": " + e.what() +
                                  " (the key goes when it expires)");
  }
  lease_ = 0;
}

}  // namespace agent
