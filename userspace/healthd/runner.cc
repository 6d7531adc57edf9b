#include "runner.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace healthd {

Results::Results() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_ < 0) {
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
}

Results::~Results() { ::close(wake_); }

void Results::push(Done done) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    done_.push_back(std::move(done));
  }
  const std::uint64_t one = 1;
  // Cannot fail short of a bug: the counter cannot overflow here.
  [[maybe_unused]] const ssize_t n = ::write(wake_, &one, sizeof(one));
}

std::vector<Results::Done> Results::take() {
  std::uint64_t count = 0;
  // EAGAIN when nothing was pushed since the last take(): fine.
  [[maybe_unused]] const ssize_t n = ::read(wake_, &count, sizeof(count));
  const std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(done_, {});
}

void Runner::start(const Job& job) {
  const ServiceConfig& sc = engine_.config().services.at(job.service);
  const std::uint64_t id = next_id_++;
  try {
    workers_.emplace(id, std::jthread([this, id, job, check = sc.check, timeout = sc.timeout] {
                       CheckResult r = run_check(check, job.addr, job.port, timeout);
                       results_.push({id, job, std::move(r)});
                     }));
  } catch (const std::system_error& e) {
    log_.log(Level::kError, job.id.name() + ": cannot start a check thread: " + e.what());
    engine_.cancel(job);
  }
}

std::vector<Results::Done> Runner::collect() {
  auto done = results_.take();
  for (const auto& d : done) {
    workers_.erase(d.worker);  // joins: the thread has pushed its result
    engine_.apply(d.job, d.result);
  }
  return done;
}

}  // namespace healthd
