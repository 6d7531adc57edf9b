// sockvs-healthd's event loop: one epoll set for every file descriptor the
// daemon waits on (running checks, signals, the metrics listener) and one
// timerfd for the earliest thing that is due.  Single-threaded.
#ifndef SOCKVS_HEALTHD_LOOP_H_
#define SOCKVS_HEALTHD_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "fd.h"

namespace healthd {

class Loop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;

  // Throws std::runtime_error if epoll or the timerfd cannot be made.
  Loop();

  // Calls `h` with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, ...)
  // while `fd` is ready for `events`.  The caller keeps owning `fd` and
  // removes it before closing it.  Throws std::runtime_error.
  void add(int fd, std::uint32_t events, Handler h);
  void modify(int fd, std::uint32_t events);
  void remove(int fd) noexcept;
  // As remove(), for a descriptor about to be closed (close(2) takes it
  // out of the epoll set: one system call less per check).
  void forget(int fd) noexcept;

  // run_once() returns at `t` at the latest (none: no alarm).
  void wake_at(std::optional<Clock::time_point> t);

  // Waits until a descriptor is ready or the alarm goes off, and runs the
  // handlers of the ready ones.  Returns how many ran.
  int run_once();

  [[nodiscard]] std::size_t size() const noexcept { return handlers_.size(); }

 private:
  struct Entry {
    std::uint32_t gen = 0;
    std::shared_ptr<Handler> handler;
  };

  Fd ep_;
  Fd timer_;
  std::optional<Clock::time_point> armed_;
  // A handler that closes a descriptor and opens another with the same
  // number gets a new generation: events still queued for the old one are
  // dropped, not handed to the new one.
  std::uint32_t next_gen_ = 1;
  std::unordered_map<int, Entry> handlers_;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_LOOP_H_
