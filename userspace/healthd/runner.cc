#include "runner.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace healthd {

Runner::~Runner() {
  for (auto& [id, r] : running_) {
    if (r.registered.fd >= 0) {
      loop_.remove(r.registered.fd);
    }
  }
}

void Runner::start(const Job& job, const CheckSpec& check, Millis timeout) {
  const auto now = Clock::now();
  const std::uint64_t id = next_id_++;
  ProbeTarget target{job.addr, job.port, {}, {}};
  if (check.type == CheckType::kExec) {  // names only for its environment
    target.service = service_name(job.id.svc);
    target.real = sockvs::format_endpoint(job.id.addr, job.id.port);
  }
  Running r{job, make_probe(check, target), now, deadlines_.emplace(now + timeout, id), {}};
  running_.emplace(id, std::move(r));
  advance(id, 0);
}

void Runner::advance(std::uint64_t id, std::uint32_t events) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    return;
  }
  std::optional<CheckResult> result;
  try {
    result = it->second.probe->step(events);
  } catch (const std::exception& e) {
    result = CheckResult{false, e.what()};
  }
  if (result) {
    finish(id, std::move(*result));
    return;
  }
  try {
    rewait(id, it->second);
  } catch (const std::exception& e) {
    finish(id, CheckResult{false, e.what()});
  }
}

void Runner::rewait(std::uint64_t id, Running& r) {
  const Wait w = r.probe->wait();
  if (w == r.registered) {
    return;
  }
  if (w.fd == r.registered.fd && w.fd >= 0) {
    loop_.modify(w.fd, w.events);
  } else {
    if (r.registered.fd >= 0) {
      loop_.remove(r.registered.fd);
    }
    r.registered = {};
    if (w.fd >= 0) {
      loop_.add(w.fd, w.events, [this, id](std::uint32_t ev) { advance(id, ev); });
    }
  }
  r.registered = w;
}

void Runner::finish(std::uint64_t id, CheckResult result) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    return;
  }
  Running r = std::move(it->second);
  running_.erase(it);
  deadlines_.erase(r.deadline);
  if (r.registered.fd >= 0) {
    loop_.forget(r.registered.fd);  // the probe closes it just below
  }
  result.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - r.started);
  r.probe.reset();  // closes its socket before the result is acted on
  done_(r.job, result);
}

void Runner::expire(Clock::time_point now) {
  std::vector<std::uint64_t> late;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) {
    late.push_back(it->second);
  }
  for (const auto id : late) {
    auto it = running_.find(id);
    if (it != running_.end()) {
      finish(id, it->second.probe->expire());
    }
  }
}

std::optional<Clock::time_point> Runner::next_deadline() const {
  if (deadlines_.empty()) {
    return std::nullopt;
  }
  return deadlines_.begin()->first;
}

}  // namespace healthd
