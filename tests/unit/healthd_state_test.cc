// sockvs-healthd: the state file (remembered weights) round trip.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "state_file.h"

namespace healthd {
namespace {

Remembered entry(std::uint16_t proto, const char* vip, std::uint16_t vport, const char* rip,
                 std::uint16_t rport, std::uint32_t weight) {
  Remembered r;
  r.id.svc = sockvs::ServiceKey{proto, *sockvs::Address::parse(vip), vport};
  r.id.addr = *sockvs::Address::parse(rip);
  r.id.port = rport;
  r.weight = weight;
  return r;
}

StateMap sample() {
  StateMap m;
  for (const auto& r : {entry(IPPROTO_TCP, "10.255.0.1", 6379, "127.0.0.1", 7001, 3),
                        entry(IPPROTO_TCP, "fd00::1", 80, "fd00::2", 8080, 65535),
                        entry(IPPROTO_UDP, "10.255.0.2", 53, "10.0.0.5", 53, 1)}) {
    m[r.id.name()] = r;
  }
  return m;
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "healthd-test-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(HealthdState, Format) {
  EXPECT_EQ(format_state(sample()),
            "# sockvs-healthd: real servers it quiesced and the weight each had\n"
            "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 3\n"
            "quiesced -t [fd00::1]:80 -r [fd00::2]:8080 -w 65535\n"
            "quiesced -u 10.255.0.2:53 -r 10.0.0.5:53 -w 1\n");
}

TEST(HealthdState, TextRoundTrip) {
  std::istringstream in(format_state(sample()));
  std::vector<std::string> warnings;
  EXPECT_EQ(parse_state(in, "s", warnings), sample());
  EXPECT_TRUE(warnings.empty());
}

TEST(HealthdState, FileRoundTripCreatesDirectory) {
  const TempDir dir;
  const std::string path = dir.path() + "/sub/state";
  std::vector<std::string> warnings;
  EXPECT_TRUE(load_state(path, warnings).empty());  // missing file: nothing remembered
  save_state(path, sample());
  EXPECT_EQ(load_state(path, warnings), sample());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  save_state(path, {});
  EXPECT_TRUE(load_state(path, warnings).empty());
  EXPECT_TRUE(warnings.empty());
}

TEST(HealthdState, BadLinesAreSkippedWithWarnings) {
  std::istringstream in(
      "# comment\n"
      "\n"
      "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 3\n"
      "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7002 -w 0\n"
      "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7003 -w 70000\n"
      "quiesced -t 10.255.0.1:6379 -r [fd00::1]:7004 -w 1\n"
      "quiesced -t 10.255.0.1:6379 -r 127.0.0.1 -w 1\n"
      "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7005 -w 1 extra\n"
      "restore everything\n");
  std::vector<std::string> warnings;
  const StateMap m = parse_state(in, "st", warnings);
  ASSERT_EQ(m.size(), 1U);
  EXPECT_EQ(m.begin()->second.weight, 3U);
  ASSERT_EQ(warnings.size(), 6U);
  EXPECT_TRUE(warnings[0].starts_with("st:4: ignoring line")) << warnings[0];
  EXPECT_TRUE(warnings[5].starts_with("st:9: ignoring unreadable line")) << warnings[5];
}

TEST(HealthdState, UnwritableDirectory) {
  EXPECT_THROW(save_state("/proc/no-such-dir/state", sample()), std::runtime_error);
}

}  // namespace
}  // namespace healthd
