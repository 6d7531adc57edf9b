// sockvsadm end to end against an in-memory module.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "fake_api.h"
#include "sockvs/error.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;

// Forwards to a FakeApi that outlives each run.
class Proxy : public sockvs::Api {
 public:
  explicit Proxy(FakeApi& f) : f_(f) {}
  void add_service(const sockvs::Service& s) override { f_.add_service(s); }
  void edit_service(const sockvs::Service& s) override { f_.edit_service(s); }
  void del_service(const sockvs::ServiceKey& k) override { f_.del_service(k); }
  sockvs::Service get_service(const sockvs::ServiceKey& k) override { return f_.get_service(k); }
  std::vector<sockvs::Service> list_services() override { return f_.list_services(); }
  void add_dest(const sockvs::ServiceKey& k, const sockvs::RealServer& d) override {
    f_.add_dest(k, d);
  }
  void edit_dest(const sockvs::ServiceKey& k, const sockvs::RealServer& d) override {
    f_.edit_dest(k, d);
  }
  void del_dest(const sockvs::ServiceKey& k, const sockvs::RealServer& d) override {
    f_.del_dest(k, d);
  }
  std::vector<sockvs::RealServer> list_dests(const sockvs::ServiceKey& k) override {
    return f_.list_dests(k);
  }
  void flush() override { f_.flush(); }
  void zero(const std::optional<sockvs::ServiceKey>& k) override { f_.zero(k); }
  sockvs::Info info() override { return f_.info(); }

 private:
  FakeApi& f_;
};

struct Result {
  int status;
  std::string out;
  std::string err;
};

class AppTest : public ::testing::Test {
 protected:
  Result run_args(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(args, in, out, err, [this]() -> std::unique_ptr<sockvs::Api> {
      ++connects;
      if (!module_loaded) {
        throw sockvs::ModuleNotLoadedError();
      }
      return std::make_unique<Proxy>(fake);
    });
    return {status, out.str(), err.str()};
  }

  std::string ok(std::vector<std::string> args, const std::string& input = "") {
    const Result r = run_args(std::move(args), input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  std::string save() { return ok({"-S", "-n"}); }

  void build_config() {
    ok({"-A", "-t", "10.0.0.1:6379", "-s", "rr"});
    ok({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380", "-w", "2"});
    ok({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.6"});
    ok({"-A", "-u", "[fd00::1]:53"});
    ok({"-a", "-u", "[fd00::1]:53", "-r", "[fd00::2]:5353", "-w", "0"});
  }

  FakeApi fake;
  bool module_loaded = true;
  int connects = 0;
};

const char* const kConfigSave =
    "-A -t 10.0.0.1:6379 -s rr\n"
    "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n"
    "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 1\n"
    "-A -u [fd00::1]:53 -s wrr\n"
    "-a -u [fd00::1]:53 -r [fd00::2]:5353 -w 0\n";

TEST_F(AppTest, HelpNeedsNoModule) {
  module_loaded = false;
  const Result r = run_args({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Usage:"), std::string::npos);
  EXPECT_EQ(connects, 0);
}

TEST_F(AppTest, UsageErrorIsOneLineExit2WithoutConnecting) {
  const Result r = run_args({"-A", "-t", "10.0.0.1:0"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err.rfind("sockvsadm: ", 0), 0U);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);  // one line
  EXPECT_NE(r.err.find("--help"), std::string::npos);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(connects, 0);
}

TEST_F(AppTest, ModuleNotLoaded) {
  module_loaded = false;
  const Result r = run_args({"-L", "-n"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: the sock_vs module is not loaded (try: modprobe sock_vs)\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(AppTest, ListEmpty) {
  EXPECT_EQ(ok({"-L", "-n"}),
            "Sock VS version 0.1.0 (services=0, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
  EXPECT_EQ(save(), "");
}

TEST_F(AppTest, AddThenListAndSave) {
  build_config();
  EXPECT_EQ(ok({"-L", "-n"}),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:6379 rr\n"
            "  -> 192.168.1.5:6380             Sock    2      0          0         \n"
            "  -> 192.168.1.6:6379             Sock    1      0          0         \n"
            "UDP  [fd00::1]:53 wrr\n"
            "  -> [fd00::2]:5353               Sock    0      0          0         \n");
  EXPECT_EQ(save(), kConfigSave);
  EXPECT_EQ(ok({}), ok({"-L"}));  // no command lists
}

TEST_F(AppTest, ListOneService) {
  build_config();
  const std::string out = ok({"-L", "-n", "-u", "[fd00::1]:53"});
  EXPECT_NE(out.find("UDP  [fd00::1]:53 wrr\n"), std::string::npos);
  EXPECT_EQ(out.find("TCP"), std::string::npos);
  const Result r = run_args({"-L", "-t", "10.9.9.9:1"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: no such service\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(AppTest, ErrorsFromTheModule) {
  build_config();
  const std::string before = save();
  const auto fails = [&](std::vector<std::string> args, const std::string& err) {
    const Result r = run_args(std::move(args));
    EXPECT_EQ(r.status, kExitFailure);
    EXPECT_EQ(r.err, "sockvsadm: " + err + "\n");
    EXPECT_EQ(save(), before);
  };
  fails({"-A", "-t", "10.0.0.1:6379"}, "service already exists");
  fails({"-D", "-t", "10.0.0.2:6379"}, "no such service");
  fails({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380"}, "real server already exists");
  fails({"-d", "-t", "10.0.0.1:6379", "-r", "192.168.1.9"}, "no such real server");
  fails({"-e", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6381", "-w", "3"}, "no such real server");
  fails({"-A", "-t", "10.0.0.3:80", "-s", "nosuchsched"}, "unknown scheduler 'nosuchsched'");
  fails({"-E", "-t", "10.0.0.1:6379", "-s", "lblc"}, "unknown scheduler 'lblc'");
  fails({"-Z", "-t", "10.0.0.3:80"}, "no such service");
}

TEST_F(AppTest, PermissionDenied) {
  fake.fail_call = {1, EPERM};
  // Errors that do not come from a kernel reply still print what() as is.
  Result r = run_args({"-C"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: injected failure in flush\n");
  fake.fail_call.reset();
  fake.calls.clear();
  struct Denied : FakeApi {
    void flush() override { throw sockvs::kernel_error(SOCK_VS_CMD_FLUSH, EPERM, ""); }
  };
  Denied denied;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  const int status = run(std::vector<std::string>{"-C"}, in, out, err,
                         [&]() { return std::make_unique<Proxy>(denied); });
  EXPECT_EQ(status, kExitFailure);
  EXPECT_EQ(err.str(), "sockvsadm: permission denied: changing sock_vs needs CAP_NET_ADMIN\n");
}

TEST_F(AppTest, EditAndDelete) {
  build_config();
  ok({"-E", "-t", "10.0.0.1:6379", "-s", "wrr"});
  ok({"-e", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380", "-w", "9"});
  ok({"-d", "-t", "10.0.0.1:6379", "-r", "192.168.1.6"});
  ok({"-D", "-u", "[fd00::1]:53"});
  EXPECT_EQ(save(),
            "-A -t 10.0.0.1:6379 -s wrr\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 9\n");
  ok({"-E", "-t", "10.0.0.1:6379"});  // no -s: scheduler unchanged
  EXPECT_EQ(fake.table[0].svc.sched_name, "wrr");
}

TEST_F(AppTest, ClearAndZero) {
  build_config();
  fake.table[0].svc.stats.conns = 5;
  ok({"-Z", "-u", "[fd00::1]:53"});
  EXPECT_EQ(fake.table[0].svc.stats.conns, 5U);
  ok({"-Z"});
  EXPECT_EQ(fake.table[0].svc.stats.conns, 0U);
  ok({"-C"});
  EXPECT_EQ(save(), "");
}

TEST_F(AppTest, SaveClearRestoreRoundTrip) {
  build_config();
  const std::string saved = save();
  const std::string listed = ok({"-L", "-n"});
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(save(), saved);
  EXPECT_EQ(ok({"-L", "-n"}), listed);
}

TEST_F(AppTest, RestoreEmptyInputDoesNotConnect) {
  module_loaded = false;
  EXPECT_EQ(ok({"-R"}, "# nothing\n\n"), "");
  EXPECT_EQ(connects, 0);
}

TEST_F(AppTest, RestoreParseErrorAppliesNothing) {
  build_config();
  const std::string before = save();
  const int connects_before = connects;
  const Result r = run_args({"-R"},
                            "-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 10.0.0.5\n"
                            "-A -t 10.0.0.10:80 --bogus\n");
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err.rfind("sockvsadm: line 3: unknown option '--bogus'", 0), 0U) << r.err;
  EXPECT_NE(r.err.find("nothing was applied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  EXPECT_EQ(connects, connects_before);
  EXPECT_EQ(save(), before);
}

TEST_F(AppTest, RestoreFailureRollsBackEarlierLines) {
  build_config();
  const std::string before = save();
  const Result r = run_args({"-R"},
                            "-A -t 10.0.0.9:80 -s rr\n"
                            "-a -t 10.0.0.9:80 -r 127.0.0.2:8080 -w 1\n"
                            "-e -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 7\n"
                            "-d -t 10.0.0.1:6379 -r 192.168.1.6\n"
                            "-E -u [fd00::1]:53 -s rr\n"
                            "\n"
                            "-A -t 10.0.0.10:80 -s nosuchsched\n"
                            "-A -t 10.0.0.11:80 -s rr\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err,
            "sockvsadm: line 7: unknown scheduler 'nosuchsched' (nothing was applied: the "
            "earlier lines were rolled back)\n");
  // Same set of lines; a deleted real server comes back at the end.
  EXPECT_EQ(save(),
            "-A -t 10.0.0.1:6379 -s rr\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 1\n"
            "-A -u [fd00::1]:53 -s wrr\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:5353 -w 0\n");
  EXPECT_EQ(save(), before);
}

TEST_F(AppTest, RestoreRollsBackDeleteAndClear) {
  build_config();
  const std::string before = save();
  Result r = run_args({"-R"}, "-D -u [fd00::1]:53\n-A -t 10.0.0.1:6379\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 2: service already exists"), std::string::npos) << r.err;
  EXPECT_EQ(save(), before);

  r = run_args({"-R"}, "-C\n-A -t 10.0.0.5:1\n-a -t 10.0.0.5:1 -r 10.0.0.6\n-D -t 10.0.0.6:1\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 4: no such service"), std::string::npos) << r.err;
  EXPECT_EQ(save(), before);
}

TEST_F(AppTest, RestoreFirstLineFailingSaysNothingApplied) {
  const Result r = run_args({"-R"}, "-D -t 10.0.0.1:80\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: line 1: no such service (nothing was applied)\n");
}

TEST_F(AppTest, RestoreReportsAFailedRollback) {
  // Call 1: add_service, 2: add_service (fails: exists), then the
  // rollback's del_service is call 3: make it fail.
  fake.fail_call = {3, EIO};
  const Result r = run_args({"-R"}, "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 2: service already exists"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rolling back the earlier lines failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("may remain"), std::string::npos) << r.err;
}

TEST_F(AppTest, InverseCommands) {
  build_config();
  const auto parse = [](std::vector<std::string> a) { return parse_command(a); };
  auto inv = inverse_of(fake, parse({"-A", "-t", "10.0.0.2:80"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].op, Op::kDelService);

  inv = inverse_of(fake, parse({"-D", "-t", "10.0.0.1:6379"}));
  ASSERT_EQ(inv.size(), 3U);
  EXPECT_EQ(inv[0].op, Op::kAddService);
  EXPECT_EQ(inv[0].scheduler, "rr");
  EXPECT_EQ(inv[1].op, Op::kAddDest);
  EXPECT_EQ(inv[1].dest->weight, 2U);

  inv = inverse_of(fake, parse({"-e", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380", "-w", "8"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].op, Op::kEditDest);
  EXPECT_EQ(inv[0].dest->weight, 2U);

  inv = inverse_of(fake, parse({"-C"}));
  EXPECT_EQ(inv.size(), 5U);  // 2 services + 3 real servers

  EXPECT_TRUE(inverse_of(fake, parse({"-Z"})).empty());
  EXPECT_TRUE(inverse_of(fake, parse({"-D", "-t", "10.9.9.9:80"})).empty());    // will fail anyway
  EXPECT_TRUE(inverse_of(fake, parse({"-E", "-t", "10.0.0.1:6379"})).empty());  // no change
}

TEST_F(AppTest, VersionWithAndWithoutModule) {
  std::string out = ok({"-V"});
  EXPECT_EQ(out.rfind("sockvsadm v" + userspace_version(), 0), 0U);
  EXPECT_NE(out.find("Sock VS module version 0.1.0 (hook=kprobe"), std::string::npos);
  module_loaded = false;
  out = ok({"--version"});
  EXPECT_NE(out.find("the sock_vs module is not loaded"), std::string::npos);
}

TEST_F(AppTest, ReadOnlyCommandsChangeNothing) {
  build_config();
  fake.calls.clear();
  ok({"-L", "-n", "--stats", "--exact"});
  ok({"-S"});
  for (const auto& c : fake.calls) {
    EXPECT_TRUE(c == "info" || c == "list_services" || c == "list_dests" || c == "get_service")
        << c;
  }
}

}  // namespace
}  // namespace sockvsadm
