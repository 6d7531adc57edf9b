#include "loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace healthd {

namespace {

std::runtime_error sys_error(const char* what) {
  return std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

constexpr std::uint64_t pack(int fd, std::uint32_t gen) {
  return (static_cast<std::uint64_t>(gen) << 32) | static_cast<std::uint32_t>(fd);
}

}  // namespace

Loop::Loop()
    : ep_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (ep_.get() < 0) {
    throw sys_error("epoll_create1");
  }
  if (timer_.get() < 0) {
    throw sys_error("timerfd_create");
  }
  // Edge-triggered: timerfd_settime() resets the expiration count, so each
  // alarm is a new edge and the timerfd need not be read (a system call
  // less per wakeup).
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = pack(timer_.get(), 0);
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, timer_.get(), &ev) != 0) {
    throw sys_error("epoll_ctl");
  }
}

void Loop::add(int fd, std::uint32_t events, Handler h) {
  const std::uint32_t gen = next_gen_++;
  if (next_gen_ == 0) {
    next_gen_ = 1;  // 0 is the timer's
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, gen);
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw sys_error("epoll_ctl(ADD)");
  }
  handlers_[fd] = Entry{gen, std::make_shared<Handler>(std::move(h))};
}

void Loop::modify(int fd, std::uint32_t events) {
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) {
    return;
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, it->second.gen);
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    throw sys_error("epoll_ctl(MOD)");
  }
}

void Loop::remove(int fd) noexcept {
  if (handlers_.erase(fd) > 0) {
    (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
}

void Loop::forget(int fd) noexcept { handlers_.erase(fd); }

void Loop::wake_at(std::optional<Clock::time_point> t) {
  if (t == armed_) {
    return;
  }
  itimerspec its{};
  if (t) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count();
    // 0 would disarm: a time already past is "now".
    const long long at = ns > 0 ? ns : 1;
    its.it_value.tv_sec = static_cast<time_t>(at / 1000000000LL);
    its.it_value.tv_nsec = static_cast<long>(at % 1000000000LL);
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0) {
    throw sys_error("timerfd_settime");
  }
  armed_ = t;
}

int Loop::run_once() {
  std::array<epoll_event, 256> evs{};
  const int n = ::epoll_wait(ep_.get(), evs.data(), static_cast<int>(evs.size()), -1);
  if (n < 0) {
    if (errno == EINTR) {
      return 0;
    }
    throw sys_error("epoll_wait");
  }
  int ran = 0;
  for (int i = 0; i < n; ++i) {
    const int fd = static_cast<int>(evs[i].data.u64 & 0xffffffffU);
    const auto gen = static_cast<std::uint32_t>(evs[i].data.u64 >> 32);
    if (gen == 0 && fd == timer_.get()) {
      armed_.reset();
      continue;
    }
    auto it = handlers_.find(fd);
    if (it == handlers_.end() || it->second.gen != gen) {
      continue;  // removed (or replaced) by an earlier handler of this batch
    }
    // Held here: the handler may remove itself.
    const std::shared_ptr<Handler> h = it->second.handler;
    (*h)(evs[i].events);
    ++ran;
  }
  return ran;
}

}  // namespace healthd
