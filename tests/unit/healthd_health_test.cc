// sockvs-healthd: the rise/fall state machine.
#include <gtest/gtest.h>

#include <string>

#include "health.h"

namespace healthd {
namespace {

// Feeds "+" (pass) / "-" (fail) results; returns the transitions as
// "." (none), "D" (down), "U" (up).
std::string feed(Health& h, const std::string& results) {
  std::string out;
  for (const char c : results) {
    switch (h.record(c == '+')) {
      case Transition::kNone:
        out += '.';
        break;
      case Transition::kDown:
        out += 'D';
        break;
      case Transition::kUp:
        out += 'U';
        break;
    }
  }
  return out;
}

TEST(HealthdHealth, FallAfterConsecutiveFailures) {
  Health h(2, 3);
  EXPECT_TRUE(h.up());
  EXPECT_EQ(feed(h, "++--+--+"), "........");  // never 3 in a row
  EXPECT_TRUE(h.up());
  EXPECT_EQ(feed(h, "---"), "..D");
  EXPECT_FALSE(h.up());
  EXPECT_EQ(feed(h, "---"), "...");  // stays down, no repeated transition
}

TEST(HealthdHealth, RiseAfterConsecutiveSuccesses) {
  Health h(2, 3, false);
  EXPECT_EQ(feed(h, "+-+-"), "....");
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.streak(), 0U);
  EXPECT_EQ(feed(h, "+"), ".");
  EXPECT_EQ(h.streak(), 1U);
  EXPECT_EQ(feed(h, "+"), "U");
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.streak(), 0U);
}

TEST(HealthdHealth, OneAndOne) {
  Health h(1, 1);
  EXPECT_EQ(feed(h, "-+-++--"), "DUDU.D.");
}

TEST(HealthdHealth, FullCycleAndReset) {
  Health h(3, 2);
  EXPECT_EQ(feed(h, "--+++"), ".D..U");
  EXPECT_EQ(feed(h, "-"), ".");
  EXPECT_EQ(h.streak(), 1U);
  h.reset(true);
  EXPECT_EQ(h.streak(), 0U);
  EXPECT_EQ(feed(h, "-"), ".");  // the streak started over
  h.reset(false);
  EXPECT_FALSE(h.up());
  EXPECT_EQ(feed(h, "+++"), "..U");
}

TEST(HealthdHealth, ZeroCountsMeanOne) {
  Health h(0, 0);
  EXPECT_EQ(h.rise(), 1U);
  EXPECT_EQ(h.fall(), 1U);
  EXPECT_EQ(feed(h, "-+"), "DU");
}

}  // namespace
}  // namespace healthd
