#include "health.h"

#include <algorithm>

namespace healthd {

Health::Health(unsigned rise, unsigned fall, bool up) noexcept
    : rise_(std::max(rise, 1U)), fall_(std::max(fall, 1U)), up_(up) {}

Transition Health::record(bool ok) noexcept {
  if (ok == up_) {  // agrees with the current state: the streak is broken
    streak_ = 0;
    return Transition::kNone;
  }
  if (++streak_ < (up_ ? fall_ : rise_)) {
    return Transition::kNone;
  }
  up_ = ok;
  streak_ = 0;
  return ok ? Transition::kUp : Transition::kDown;
}

void Health::reset(bool up) noexcept {
  up_ = up;
  streak_ = 0;
}

}  // namespace healthd
