// The file descriptor owner and the clock that sockvs-healthd's files share.
#ifndef SOCKVS_HEALTHD_FD_H_
#define SOCKVS_HEALTHD_FD_H_

#include <unistd.h>

#include <chrono>

namespace healthd {

using Clock = std::chrono::steady_clock;

// Owns one file descriptor (or none: -1) and closes it when it goes.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&&) = delete;
  Fd& operator=(Fd&&) = delete;

  [[nodiscard]] int get() const noexcept { return fd_; }

  // Closes now and returns close(2)'s result, for callers that must know
  // the data reached the file (the state file's write-then-rename).
  int close() noexcept {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_FD_H_
