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
  Fd() noexcept : fd_(-1) {}
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset(other.fd_);
      other.fd_ = -1;
    }
    return *this;
  }

  // Closes the one it has (if any) and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

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
