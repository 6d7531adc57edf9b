// The rise/fall state machine of one real server (keepalived's semantics):
// an "up" server goes down after `fall` consecutive failed checks, a "down"
// one comes back after `rise` consecutive successful checks.
#ifndef SOCKVS_HEALTHD_HEALTH_H_
#define SOCKVS_HEALTHD_HEALTH_H_

#include <cstdint>

namespace healthd {

enum class Transition : std::uint8_t { kNone, kDown, kUp };

class Health {
 public:
  // rise and fall are at least 1.
  Health(unsigned rise, unsigned fall, bool up = true) noexcept;

  // Records one check result; says whether the server changed state.
  Transition record(bool ok) noexcept;

  // Sets the state and forgets the streak.
  void reset(bool up) noexcept;

  [[nodiscard]] bool up() const noexcept { return up_; }
  // Consecutive results against the current state so far (failures while
  // up, successes while down): always below fall (up) or rise (down).
  [[nodiscard]] unsigned streak() const noexcept { return streak_; }
  [[nodiscard]] unsigned rise() const noexcept { return rise_; }
  [[nodiscard]] unsigned fall() const noexcept { return fall_; }

 private:
  unsigned rise_;
  unsigned fall_;
  bool up_;
  unsigned streak_ = 0;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_HEALTH_H_
