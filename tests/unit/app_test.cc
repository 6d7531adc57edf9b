// sockvsadm end to end against an in-memory module.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "fake_api.h"
#include "sockvs/error.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;

using Proxy = sockvs::testing::FakeProxy;

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
    std::uint32_t flush() override { throw sockvs::kernel_error(SOCK_VS_CMD_FLUSH, EPERM, ""); }
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

// --replace: as if the input began with -C, in the same one transaction
// (what sock_vs.service's start and reload run): services the input keeps
// keep their counters, the rest go, and messages keep the file's lines.
TEST_F(AppTest, RestoreReplaceReplacesTheWholeTableInOneCommit) {
  build_config();
  fake.table[0].svc.stats.conns = 5;
  const std::string keep =
      "-A -t 10.0.0.1:6379 -s rr\n"
      "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n";
  fake.commits.clear();
  ok({"-R", "--replace"}, keep);
  EXPECT_EQ(save(), keep);
  ASSERT_EQ(fake.commits.size(), 1U);
  EXPECT_TRUE(fake.commits[0].replace);
  ASSERT_EQ(fake.table.size(), 1U);
  EXPECT_EQ(fake.table[0].svc.stats.conns, 5U);  // the same service, not made again

  const std::string before = save();
  const Result r = run_args({"-R", "--replace"}, "-A -t 10.0.0.9:80 -s nosuchsched\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: line 1: unknown scheduler 'nosuchsched' (nothing was applied)\n");
  EXPECT_EQ(save(), before);

  // An input with no lines empties the table (plain -R leaves it alone).
  ok({"-R"}, "# nothing\n");
  EXPECT_EQ(save(), before);
  ok({"-R", "--replace"}, "# nothing\n");
  EXPECT_EQ(save(), "");
}

TEST_F(AppTest, RestoreJsonReplace) {
  build_config();
  ok({"-R", "--json", "--replace"},
     R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.7", "port": 80,
         "scheduler": "rr"}]})");
  EXPECT_EQ(save(), "-A -t 10.0.0.7:80 -s rr\n");
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
  // One transaction: the module refused line 7's service when it was
  // staged, so nothing was ever applied.
  EXPECT_EQ(r.err, "sockvsadm: line 7: unknown scheduler 'nosuchsched' (nothing was applied)\n");
  EXPECT_EQ(save(), before);
  EXPECT_TRUE(fake.commits.empty());
}

// A module that predates transactions: a warning, then line by line, the
// earlier lines undone when one fails (a deleted real server comes back
// at the end).
TEST_F(AppTest, RestoreOnAnOlderModuleGoesLineByLine) {
  build_config();
  fake.knows_txn = false;
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
            "sockvsadm: warning: the sock_vs module predates transactions: applying the rules "
            "line by line (not atomic: connects and other programs may see them half applied)\n"
            "sockvsadm: line 7: unknown scheduler 'nosuchsched' (nothing was applied: the "
            "earlier lines were rolled back)\n");
  EXPECT_EQ(save(),
            "-A -t 10.0.0.1:6379 -s rr\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 1\n"
            "-A -u [fd00::1]:53 -s wrr\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:5353 -w 0\n");
  // Success too: the same warning, the lines applied.
  const Result ok2 = run_args({"-R"}, "-A -t 10.0.0.9:80 -s rr\n");
  EXPECT_EQ(ok2.status, 0);
  EXPECT_EQ(ok2.err.rfind("sockvsadm: warning: the sock_vs module predates transactions", 0), 0U);
  EXPECT_NE(save().find("-A -t 10.0.0.9:80 -s rr\n"), std::string::npos);
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
  // Line by line (a module without transactions): call 1 reads the table
  // (list_services), 2: add_service, 3: add_service (fails: the module
  // does not know the scheduler), then the rollback's del_service is call
  // 4: make it fail.
  fake.knows_txn = false;
  fake.fail_call = {4, EIO};
  const Result r = run_args({"-R"}, "-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80 -s nosuch\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 2: unknown scheduler 'nosuch'"), std::string::npos) << r.err;
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

const char* const kOptionsSave =
    "-A -t 10.0.0.1:9042 -s mh --hash-key local --shard-policy lc\n"
    "-a -t 10.0.0.1:9042 -r 127.0.0.1:9042 -w 2 -x 100 -y 50 --shards 4\n"
    "-a -t 10.0.0.1:9042 -r 127.0.0.2:9042 -w 1\n"
    "-A -u [fd00::1]:53 -s sh --hash-key cgroup\n"
    "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 1 -x 10\n"
    "-A -t 10.0.0.2:80 -s fo\n";

class AppOptionsTest : public AppTest {
 protected:
  // Line `n` (0-based) of -S, with its newline.
  std::string save_line(int n) {
    const std::string text = save();
    std::size_t start = 0;
    for (int i = 0; i < n; ++i) {
      start = text.find('\n', start) + 1;
    }
    return text.substr(start, text.find('\n', start) + 1 - start);
  }

  void build_options_config() {
    ok({"-A", "-t", "10.0.0.1:9042", "-s", "mh", "--hash-key", "local", "--shard-policy", "lc"});
    ok({"-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "-w", "2", "-x", "100", "-y", "50",
        "--shards", "4"});
    ok({"-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.2"});
    ok({"-A", "-u", "[fd00::1]:53", "-s", "sh", "--hash-key=cgroup"});
    ok({"-a", "-u", "[fd00::1]:53", "-r", "[fd00::2]", "--u-threshold", "10"});
    ok({"-A", "-t", "10.0.0.2:80", "-s", "fo", "--hash-key", "tgid", "--shard-policy", "rr"});
  }

  // Open connections as the module would count them.
  void set_conns() {
    auto& d = fake.table[0].dests[0];
    d.shard_conns = {2, 2, 2, 2};
    d.active_conns = 8;
    auto& e = fake.table[0].dests[1];
    e.shard_conns = {3};
    e.active_conns = 2;
    e.inact_conns = 1;
    fake.table[1].dests[0].overloaded = true;
    fake.table[1].dests[0].active_conns = 10;
    fake.table[1].dests[0].shard_conns = {10};
  }
};

TEST_F(AppOptionsTest, AddSendsOnlyWhatIsGiven) {
  build_options_config();
  const auto& svc = fake.table[0].svc;
  EXPECT_EQ(svc.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(svc.shard_policy, sockvs::ShardPolicy::kLc);
  const auto& d = fake.table[0].dests[0];
  EXPECT_EQ(d.u_threshold, 100U);
  EXPECT_EQ(d.l_threshold, 50U);
  EXPECT_EQ(d.shards, 4);
  const auto& plain = fake.table[0].dests[1];  // module defaults
  EXPECT_EQ(plain.u_threshold, 0U);
  EXPECT_EQ(plain.shards, 1);
  EXPECT_EQ(fake.table[1].svc.shard_policy, sockvs::ShardPolicy::kRr);
}

TEST_F(AppOptionsTest, ListShowsNonDefaultFlags) {
  build_options_config();
  set_conns();
  EXPECT_EQ(ok({"-L", "-n"}),
            "Sock VS version 0.1.0 (services=3, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:9042 mh hash-key local shard-policy lc\n"
            "  -> 127.0.0.1:9042               Sock    2      8          0         \n"
            "  -> 127.0.0.2:9042               Sock    1      2          1         \n"
            "UDP  [fd00::1]:53 sh hash-key cgroup\n"
            "  -> [fd00::2]:53                 Sock    1      10         0         \n"
            "TCP  10.0.0.2:80 fo\n");
}

TEST_F(AppOptionsTest, ListThresholds) {
  build_options_config();
  set_conns();
  EXPECT_EQ(ok({"-L", "-n", "--thresholds"}),
            "Sock VS version 0.1.0 (services=3, hook=kprobe)\n"
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  10.0.0.1:9042 mh hash-key local shard-policy lc\n"
            "  -> 127.0.0.1:9042               100        50         8          0         \n"
            "  -> 127.0.0.2:9042               0          0          2          1         \n"
            "UDP  [fd00::1]:53 sh hash-key cgroup\n"
            "  -> [fd00::2]:53                 10         0          10         0          "
            "overloaded\n"
            "TCP  10.0.0.2:80 fo\n");
}

TEST_F(AppOptionsTest, ListShards) {
  build_options_config();
  set_conns();
  EXPECT_EQ(ok({"-L", "-n", "--shards"}),
            "Sock VS version 0.1.0 (services=3, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Shards ActiveConn InActConn  PerShard\n"
            "TCP  10.0.0.1:9042 mh hash-key local shard-policy lc\n"
            "  -> 127.0.0.1:9042               4      8          0          2 2 2 2\n"
            "  -> 127.0.0.2:9042               1      2          1          3\n"
            "UDP  [fd00::1]:53 sh hash-key cgroup\n"
            "  -> [fd00::2]:53                 1      10         0          10\n"
            "TCP  10.0.0.2:80 fo\n");
  // One service.
  const std::string one = ok({"-L", "--shards", "-t", "10.0.0.1:9042"});
  EXPECT_NE(one.find("  -> 127.0.0.1:9042               4      8          0          2 2 2 2\n"),
            std::string::npos);
  EXPECT_EQ(one.find("UDP"), std::string::npos);
}

TEST_F(AppOptionsTest, SaveClearRestoreRoundTripsExactly) {
  build_options_config();
  set_conns();
  const std::string saved = save();
  EXPECT_EQ(saved, kOptionsSave);
  const std::string thresholds = ok({"-L", "-n", "--thresholds"});
  ok({"-C"});
  EXPECT_EQ(save(), "");
  ok({"-R"}, saved);
  EXPECT_EQ(save(), saved);
  // The same settings (counters start from zero).
  EXPECT_EQ(fake.table[0].svc.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(fake.table[0].dests[0].shards, 4);
  EXPECT_EQ(fake.table[0].dests[0].shard_conns, (std::vector<std::uint32_t>{0, 0, 0, 0}));
  EXPECT_EQ(fake.table[1].dests[0].u_threshold, 10U);
  // A second round trip changes nothing either.
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(save(), saved);
}

TEST_F(AppOptionsTest, EditServiceChangesOnlyWhatIsGiven) {
  build_options_config();
  ok({"-E", "-t", "10.0.0.1:9042", "--shard-policy", "cpu"});
  EXPECT_EQ(fake.table[0].svc.sched_name, "mh");
  EXPECT_EQ(fake.table[0].svc.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(fake.table[0].svc.shard_policy, sockvs::ShardPolicy::kCpu);
  ok({"-E", "-t", "10.0.0.1:9042", "-s", "wlc"});
  EXPECT_EQ(fake.table[0].svc.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(fake.table[0].svc.shard_policy, sockvs::ShardPolicy::kCpu);
  ok({"-E", "-t", "10.0.0.1:9042", "--hash-key", "tgid"});  // back to the default
  EXPECT_EQ(save_line(0), "-A -t 10.0.0.1:9042 -s wlc --shard-policy cpu\n");
}

TEST_F(AppOptionsTest, EditServerChangesOnlyWhatIsGivenButTheWeight) {
  build_options_config();
  ok({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "-w", "3"});
  auto d = fake.table[0].dests[0];
  EXPECT_EQ(d.weight, 3U);
  EXPECT_EQ(d.u_threshold, 100U);
  EXPECT_EQ(d.l_threshold, 50U);
  EXPECT_EQ(d.shards, 4);
  ok({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "--shards", "2"});
  d = fake.table[0].dests[0];
  EXPECT_EQ(d.weight, 1U);  // -e without -w: weight 1, like ipvsadm
  EXPECT_EQ(d.shards, 2);
  EXPECT_EQ(d.u_threshold, 100U);
  ok({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "-x", "0", "-y", "0", "--shards", "1"});
  EXPECT_EQ(save_line(1), "-a -t 10.0.0.1:9042 -r 127.0.0.1:9042 -w 1\n");
}

TEST_F(AppOptionsTest, ThresholdErrors) {
  build_options_config();
  const std::string before = save();
  // Client side: exit 2, nothing sent.
  const int connects_before = connects;
  Result r = run_args({"-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.3", "-x", "5", "-y", "6"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err,
            "sockvsadm: lower threshold 6 (-y) is above the upper threshold 5 (-x) (see "
            "'sockvsadm --help')\n");
  EXPECT_EQ(connects, connects_before);
  // Module side: -e -y above the current upper threshold (100).
  r = run_args({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "-w", "2", "-y", "101"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: lower threshold above upper threshold\n");
  EXPECT_EQ(save(), before);
}

TEST_F(AppOptionsTest, RestoreAppliesTheNewOptionsAllOrNothing) {
  build_options_config();
  const std::string before = save();
  // As the module, a real server's shards cannot change (line 3).
  Result r = run_args({"-R"},
                      "-E -t 10.0.0.1:9042 --hash-key tgid --shard-policy hash\n"
                      "-E -u [fd00::1]:53 -s mh\n"
                      "-e -t 10.0.0.1:9042 -r 127.0.0.1 -w 2 -x 7 -y 0 --shards 16\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err,
            "sockvsadm: line 3: shards of a real server cannot change (delete, add) (nothing was "
            "applied)\n");
  EXPECT_EQ(save(), before);
  r = run_args({"-R"},
               "-E -t 10.0.0.1:9042 --hash-key tgid --shard-policy hash\n"
               "-E -u [fd00::1]:53 -s mh\n"
               "-e -t 10.0.0.1:9042 -r 127.0.0.1 -w 2 -x 7 -y 0\n"
               "-e -t 10.0.0.1:9042 -r 127.0.0.2 -w 1 --shards 3\n"
               "-A -t 10.0.0.9:80 -s nosuchsched\n");
  EXPECT_EQ(r.err,
            "sockvsadm: line 4: shards of a real server cannot change (delete, add) (nothing was "
            "applied)\n");
  r = run_args({"-R"},
               "-E -t 10.0.0.1:9042 --hash-key tgid --shard-policy hash\n"
               "-E -u [fd00::1]:53 -s mh\n"
               "-e -t 10.0.0.1:9042 -r 127.0.0.1 -w 2 -x 7 -y 0\n"
               "-d -t 10.0.0.1:9042 -r 127.0.0.2\n"
               "-A -t 10.0.0.9:80 -s nosuchsched\n");
  EXPECT_EQ(r.err, "sockvsadm: line 5: unknown scheduler 'nosuchsched' (nothing was applied)\n");
  EXPECT_EQ(save(), before);
  // Without the bad line: one commit, what the lines make.
  ok({"-R"},
     "-E -t 10.0.0.1:9042 --hash-key tgid --shard-policy hash\n"
     "-E -u [fd00::1]:53 -s mh\n"
     "-e -t 10.0.0.1:9042 -r 127.0.0.1 -w 2 -x 7 -y 0\n"
     "-d -t 10.0.0.1:9042 -r 127.0.0.2\n");
  ASSERT_EQ(fake.commits.size(), 1U);
  EXPECT_FALSE(fake.commits[0].replace);
  EXPECT_EQ(fake.commits[0].services.size(), 2U);  // the two services the lines touch
  EXPECT_EQ(save(),
            "-A -t 10.0.0.1:9042 -s mh --shard-policy hash\n"
            "-a -t 10.0.0.1:9042 -r 127.0.0.1:9042 -w 2 -x 7 --shards 4\n"
            "-A -u [fd00::1]:53 -s mh --hash-key cgroup\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 1 -x 10\n"
            "-A -t 10.0.0.2:80 -s fo\n");
}

TEST_F(AppOptionsTest, RestoreRollsBackTheNewOptions) {
  build_options_config();
  fake.knows_txn = false;  // line by line: the rollback of each option
  const std::string before = save();
  const Result r = run_args({"-R"},
                            "-E -t 10.0.0.1:9042 --hash-key tgid --shard-policy hash\n"
                            "-E -u [fd00::1]:53 -s mh\n"
                            "-e -t 10.0.0.1:9042 -r 127.0.0.1 -w 2 -x 7 -y 0 --shards 4\n"
                            "-e -t 10.0.0.1:9042 -r 127.0.0.2 -w 1 --shards 1\n"
                            "-d -t 10.0.0.1:9042 -r 127.0.0.1\n"
                            "-D -u [fd00::1]:53\n"
                            "-A -t 10.0.0.9:80 -s nosuchsched\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 7: unknown scheduler 'nosuchsched' (nothing was applied: the "
                       "earlier lines were rolled back)"),
            std::string::npos)
      << r.err;
  // Same settings; the deleted real server comes back at the end.
  EXPECT_EQ(save(),
            "-A -t 10.0.0.1:9042 -s mh --hash-key local --shard-policy lc\n"
            "-a -t 10.0.0.1:9042 -r 127.0.0.2:9042 -w 1\n"
            "-a -t 10.0.0.1:9042 -r 127.0.0.1:9042 -w 2 -x 100 -y 50 --shards 4\n"
            "-A -t 10.0.0.2:80 -s fo\n"
            "-A -u [fd00::1]:53 -s sh --hash-key cgroup\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 1 -x 10\n");
}

TEST_F(AppOptionsTest, InverseCommandsCarryTheNewOptions) {
  build_options_config();
  const auto parse = [](std::vector<std::string> a) { return parse_command(a); };
  auto inv = inverse_of(fake, parse({"-E", "-t", "10.0.0.1:9042", "--hash-key", "cgroup"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].scheduler, "");  // not changed: not touched
  EXPECT_EQ(inv[0].hash_key, sockvs::HashKey::kLocal);
  EXPECT_FALSE(inv[0].shard_policy.has_value());

  inv = inverse_of(fake, parse({"-D", "-t", "10.0.0.1:9042"}));
  ASSERT_EQ(inv.size(), 3U);
  EXPECT_EQ(inv[0].hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(inv[0].shard_policy, sockvs::ShardPolicy::kLc);
  EXPECT_EQ(inv[1].dest->u_threshold, 100U);
  EXPECT_EQ(inv[1].dest->l_threshold, 50U);
  EXPECT_EQ(inv[1].dest->shards, 4);
  EXPECT_TRUE(inv[1].dest->shard_conns.empty());  // outputs are not commands

  inv = inverse_of(fake, parse({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "--shards", "8"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].dest->shards, 4);
  EXPECT_EQ(inv[0].dest->weight, 2U);

  inv = inverse_of(fake, parse({"-d", "-t", "10.0.0.1:9042", "-r", "127.0.0.1"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].op, Op::kAddDest);
  EXPECT_EQ(inv[0].dest->shards, 4);
}

TEST_F(AppOptionsTest, UndoingAnEditOfAnOlderModulesServerSendsDefaults) {
  build_options_config();
  // A module that reports no thresholds or shards.
  auto& d = fake.table[0].dests[1];
  d.u_threshold.reset();
  d.l_threshold.reset();
  d.shards.reset();
  const auto inv = inverse_of(
      fake, parse_command(std::vector<std::string>{"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.2",
                                                   "-x", "9", "--shards", "2"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].dest->u_threshold, 0U);
  EXPECT_FALSE(inv[0].dest->l_threshold.has_value());  // the edit does not change it
  EXPECT_EQ(inv[0].dest->shards, 1);
}

TEST_F(AppTest, KillOneRealServer) {
  build_config();
  const std::string before = save();
  fake.killed_reply = 1;
  const Result r = run_args({"-K", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Terminated 1 socket of 192.168.1.5:6380\n");
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(fake.kills.size(), 1U);
  EXPECT_EQ(fake.kills[0].key, fake.table[0].svc.key());
  ASSERT_TRUE(fake.kills[0].dest.has_value());
  EXPECT_EQ(fake.kills[0].dest->port, 6380);
  EXPECT_FALSE(fake.kills[0].policy.has_value());  // the service's own
  EXPECT_EQ(save(), before);                       // the server stays
  // Killed counters, per server and service.
  const std::string stats = ok({"-L", "-n", "--stats"});
  EXPECT_NE(stats.find("Untracked   Killed  Ejected   Failed\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("  -> 192.168.1.5:6380                    0                           1     "
                       "   0        0\n"),
            std::string::npos)
      << stats;
  fake.killed_reply = 0;
  EXPECT_EQ(ok({"-K", "-t", "10.0.0.1:6379", "-r", "192.168.1.6"}),
            "Terminated 0 sockets of 192.168.1.6:6379\n");
}

TEST_F(AppTest, KillAWholeServiceWithAPolicy) {
  build_config();
  fake.killed_reply = 3;
  EXPECT_EQ(ok({"-K", "-u", "[fd00::1]:53", "--terminate", "all"}),
            "Terminated 3 sockets of service UDP [fd00::1]:53\n");
  ASSERT_EQ(fake.kills.size(), 1U);
  EXPECT_FALSE(fake.kills[0].dest.has_value());
  EXPECT_EQ(fake.kills[0].policy, sockvs::Terminate::kAll);
}

TEST_F(AppTest, KillErrors) {
  build_config();
  Result r = run_args({"-K", "-u", "[fd00::1]:54"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: no such service\n");
  EXPECT_EQ(r.out, "");
  r = run_args({"-K", "-u", "[fd00::1]:53", "-r", "[fd00::9]:5999"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: no such real server\n");
  // Usage errors: nothing is sent.
  const int before = connects;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-K", "-u", "[fd00::1]:53", "--terminate", "none"},
        std::vector<std::string>{"-K", "-u", "[fd00::1]:53", "--terminate", "bogus"},
        std::vector<std::string>{"-K"}, std::vector<std::string>{"-K", "-r", "10.0.0.2"}}) {
    r = run_args(args);
    EXPECT_EQ(r.status, kExitUsage) << args.back();
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(connects, before);
  EXPECT_TRUE(fake.kills.empty());
}

TEST_F(AppTest, DeletingSaysWhatWasTerminated) {
  build_config();
  fake.killed_reply = 2;
  Result r = run_args({"-d", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "Terminated 2 sockets of 192.168.1.5:6380\n");
  fake.killed_reply = 1;
  r = run_args({"-D", "-u", "[fd00::1]:53"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Terminated 1 socket of service UDP [fd00::1]:53\n");
  fake.killed_reply = 5;
  r = run_args({"-C"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Terminated 5 sockets in total\n");
  // Nothing terminated: nothing said.
  build_config();
  fake.killed_reply = 0;
  ok({"-d", "-t", "10.0.0.1:6379", "-r", "192.168.1.6"});
  ok({"-D", "-t", "10.0.0.1:6379"});
  ok({"-C"});
  // -R says nothing either way (the module terminates by each service's policy).
  build_config();
  fake.killed_reply = 4;
  ok({"-R"}, "-d -t 10.0.0.1:6379 -r 192.168.1.6\n-D -u [fd00::1]:53\n");
}

TEST_F(AppTest, TerminatePolicyOnAddEditSaveRestore) {
  ok({"-A", "-u", "10.0.0.1:53", "-s", "rr", "--terminate", "none"});
  ok({"-A", "-t", "10.0.0.1:6379", "--terminate", "all"});
  ok({"-A", "-u", "10.0.0.2:53", "--terminate", "udp"});
  ok({"-A", "-u", "10.0.0.3:53"});
  EXPECT_EQ(fake.table[0].svc.terminate, sockvs::Terminate::kNone);
  EXPECT_EQ(fake.table[3].svc.terminate, sockvs::Terminate::kUdp);  // the module's default
  const std::string saved = save();
  EXPECT_EQ(saved,
            "-A -u 10.0.0.1:53 -s rr --terminate none\n"
            "-A -t 10.0.0.1:6379 -s wrr --terminate all\n"
            "-A -u 10.0.0.2:53 -s wrr\n"
            "-A -u 10.0.0.3:53 -s wrr\n");
  const std::string listed = ok({"-L", "-n"});
  EXPECT_NE(listed.find("UDP  10.0.0.1:53 rr terminate none\n"), std::string::npos) << listed;
  EXPECT_NE(listed.find("TCP  10.0.0.1:6379 wrr terminate all\n"), std::string::npos) << listed;
  EXPECT_NE(listed.find("UDP  10.0.0.2:53 wrr\n"), std::string::npos) << listed;
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(save(), saved);
  EXPECT_EQ(ok({"-L", "-n"}), listed);
  // -E changes it only when given.
  ok({"-E", "-u", "10.0.0.1:53", "-s", "wrr"});
  EXPECT_EQ(fake.table[0].svc.terminate, sockvs::Terminate::kNone);
  ok({"-E", "-u", "10.0.0.1:53", "--terminate", "udp"});
  EXPECT_EQ(fake.table[0].svc.terminate, sockvs::Terminate::kUdp);
  // A bad value: exit 2, nothing sent.
  const int before = connects;
  const Result r = run_args({"-E", "-u", "10.0.0.1:53", "--terminate", "sometimes"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_NE(r.err.find("invalid terminate policy 'sometimes'"), std::string::npos) << r.err;
  EXPECT_EQ(connects, before);
}

TEST_F(AppTest, RestoreRollsBackATerminatePolicy) {
  ok({"-A", "-u", "10.0.0.1:53", "--terminate", "all"});
  ok({"-A", "-u", "10.0.0.2:53"});
  const std::string before = save();
  const Result r = run_args({"-R"},
                            "-E -u 10.0.0.1:53 --terminate none\n"
                            "-D -u 10.0.0.1:53\n"
                            "-E -u 10.0.0.2:53 --terminate all\n"
                            "-A -u 10.0.0.2:53\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 4: service already exists (nothing was applied)"), std::string::npos)
      << r.err;
  // Nothing was applied: the same services, policies and order.
  EXPECT_EQ(save(), before);
  EXPECT_NE(before.find("-A -u 10.0.0.1:53 -s wrr --terminate all\n"), std::string::npos);
  EXPECT_EQ(fake.table[0].svc.terminate, sockvs::Terminate::kAll);
  EXPECT_EQ(fake.table[1].svc.terminate, sockvs::Terminate::kUdp);
  // The inverse of an -E that changes only the policy puts the old one back.
  const auto inv = inverse_of(fake, parse_command(std::vector<std::string>{
                                        "-E", "-u", "10.0.0.2:53", "--terminate", "none"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].terminate, sockvs::Terminate::kUdp);
  EXPECT_FALSE(inv[0].hash_key.has_value());
}

TEST_F(AppTest, SkipRulesOnAddEditListSaveRestore) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--skip-uid", "4242-4243", "--skip-cgroup",
      "/svs-72-skip", "--skip-mark", "0x10/0xf0"});
  ok({"-A", "-u", "10.0.0.1:53"});
  const std::string saved = save();
  EXPECT_EQ(saved,
            "-A -t 10.0.0.1:80 -s rr --skip-uid 4242-4243 --skip-cgroup /svs-72-skip "
            "--skip-mark 0x10/0xf0\n"
            "-A -u 10.0.0.1:53 -s wrr\n");
  const std::string listed = ok({"-L", "-n"});
  EXPECT_NE(listed.find("TCP  10.0.0.1:80 rr skip-uid 4242-4243 skip-cgroup /svs-72-skip "
                        "skip-mark 0x10/0xf0\n"),
            std::string::npos)
      << listed;
  EXPECT_NE(listed.find("UDP  10.0.0.1:53 wrr\n"), std::string::npos) << listed;
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(save(), saved);  // byte for byte
  EXPECT_EQ(ok({"-L", "-n"}), listed);
  // -E without --skip-* keeps them (no nest sent) ...
  ok({"-E", "-t", "10.0.0.1:80", "-s", "wrr"});
  EXPECT_EQ(fake.table[0].svc.skip->size(), 3U);
  // ... with some replaces them ...
  ok({"-E", "-t", "10.0.0.1:80", "--skip-mark", "0x20"});
  EXPECT_EQ(save().substr(0, save().find('\n')), "-A -t 10.0.0.1:80 -s wrr --skip-mark 0x20");
  // ... and --skip-none clears them.
  ok({"-E", "-t", "10.0.0.1:80", "--skip-none"});
  EXPECT_FALSE(fake.table[0].svc.skip.has_value());
  EXPECT_EQ(save().substr(0, save().find('\n')), "-A -t 10.0.0.1:80 -s wrr");
}

TEST_F(AppTest, SkipUsageErrorsSendNothing) {
  ok({"-A", "-t", "10.0.0.1:80"});
  const int before = connects;
  std::vector<std::string> nine = {"-E", "-t", "10.0.0.1:80"};
  for (int i = 0; i < 9; ++i) {
    nine.emplace_back("--skip-uid");
    nine.push_back(std::to_string(1000 + i));
  }
  Result r = run_args(nine);
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err,
            "sockvsadm: too many exemptions: at most 8 per service (--skip-uid, --skip-cgroup, "
            "--skip-mark), 9 given (see 'sockvsadm --help')\n");
  r = run_args({"-E", "-t", "10.0.0.1:80", "--skip-cgroup", "svs-72-skip"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_NE(r.err.find("invalid cgroup path 'svs-72-skip': not an absolute path"),
            std::string::npos)
      << r.err;
  r = run_args({"-E", "-t", "10.0.0.1:80", "--skip-mark", "0x11/0xf0"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_NE(r.err.find("mark has bits outside its mask"), std::string::npos) << r.err;
  EXPECT_EQ(connects, before);
}

TEST_F(AppTest, SkipErrorsFromTheModuleShowItsMessage) {
  // ENOENT on NEW/SET_SERVICE is an unknown scheduler only when the
  // kernel does not say something else.
  Result r = run_args({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--skip-cgroup", "/missing"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: no such cgroup (v2)\n");
  EXPECT_TRUE(fake.table.empty());
  ok({"-A", "-t", "10.0.0.1:80", "--skip-uid", "5"});
  r = run_args({"-E", "-t", "10.0.0.1:80", "-s", "rr", "--skip-cgroup", "/missing/x"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: no such cgroup (v2)\n");
  EXPECT_EQ(fake.table[0].svc.skip->size(), 1U);  // unchanged
  r = run_args({"-E", "-t", "10.0.0.1:80", "-s", "nosuch"});
  EXPECT_EQ(r.err, "sockvsadm: unknown scheduler 'nosuch'\n");
  // -R names the line and undoes the earlier ones.
  r = run_args({"-R"},
               "-E -t 10.0.0.1:80 --skip-mark 1\n"
               "-A -t 10.0.0.2:80 --skip-cgroup /missing\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err, "sockvsadm: line 2: no such cgroup (v2) (nothing was applied)\n");
  EXPECT_EQ(fake.table[0].svc.skip,
            (std::optional<std::vector<sockvs::SkipRule>>{{sockvs::SkipUid{5, 5}}}));
}

TEST_F(AppTest, RestoreRollsBackSkipRules) {
  ok({"-A", "-u", "10.0.0.1:53", "--skip-uid", "7", "--skip-cgroup", "/a"});
  ok({"-A", "-u", "10.0.0.2:53"});
  const std::string before = save();
  const Result r = run_args({"-R"},
                            "-E -u 10.0.0.1:53 --skip-none\n"
                            "-E -u 10.0.0.2:53 --skip-mark 0x3/0xf\n"
                            "-D -u 10.0.0.1:53\n"
                            "-A -u 10.0.0.2:53\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 4: service already exists"), std::string::npos) << r.err;
  // Nothing was applied: the rules are as they were.
  EXPECT_EQ(save(), before);
  EXPECT_NE(before.find("-A -u 10.0.0.1:53 -s wrr --skip-uid 7 --skip-cgroup /a\n"),
            std::string::npos);
  // The inverse of an -E that sets rules: the old ones, or an empty nest
  // (clear) when there were none; an -E without them changes nothing.
  auto inv = inverse_of(
      fake, parse_command(std::vector<std::string>{"-E", "-u", "10.0.0.2:53", "--skip-uid", "1"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].skip,
            (std::optional<std::vector<sockvs::SkipRule>>{std::vector<sockvs::SkipRule>{}}));
  inv = inverse_of(
      fake, parse_command(std::vector<std::string>{"-E", "-u", "10.0.0.1:53", "--skip-none"}));
  ASSERT_EQ(inv.size(), 1U);
  ASSERT_TRUE(inv[0].skip.has_value());
  EXPECT_EQ(inv[0].skip->size(), 2U);
  EXPECT_TRUE(
      inverse_of(fake, parse_command(std::vector<std::string>{"-E", "-u", "10.0.0.1:53"})).empty());
}

TEST_F(AppTest, VersionWithAndWithoutModule) {
  std::string out = ok({"-V"});
  EXPECT_EQ(out.rfind("sockvsadm v" + userspace_version(), 0), 0U);
  EXPECT_NE(out.find("Sock VS module version 0.1.0 (hook=kprobe"), std::string::npos);
  module_loaded = false;
  out = ok({"--version"});
  EXPECT_NE(out.find("the sock_vs module is not loaded"), std::string::npos);
}

TEST_F(AppTest, VersionAsIpvsadmDashV) {
  const std::string out = ok({"-v"});
  EXPECT_EQ(out.rfind("sockvsadm v" + userspace_version(), 0), 0U);
  EXPECT_EQ(out, ok({"-V"}));
}

TEST_F(AppTest, SortListsServicesByProtocolAddressPort) {
  ok({"-A", "-u", "10.0.0.1:53"});
  ok({"-A", "-t", "[fd00::1]:80"});
  ok({"-A", "-t", "10.0.0.2:80"});
  ok({"-A", "-t", "10.0.0.1:443"});
  ok({"-A", "-t", "10.0.0.1:80"});
  // Real servers keep their order (rr and fixed follow it).
  ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.9"});
  ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.2"});
  EXPECT_EQ(ok({"-S", "-n", "--sort"}),
            "-A -t 10.0.0.1:80 -s wrr\n"
            "-a -t 10.0.0.1:80 -r 192.168.1.9:80 -w 1\n"
            "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -w 1\n"
            "-A -t 10.0.0.1:443 -s wrr\n"
            "-A -t 10.0.0.2:80 -s wrr\n"
            "-A -t [fd00::1]:80 -s wrr\n"
            "-A -u 10.0.0.1:53 -s wrr\n");
  // Without --sort (or with --nosort): the module's order.
  EXPECT_EQ(ok({"-S", "-n"}).rfind("-A -u 10.0.0.1:53 -s wrr\n-A -t [fd00::1]:80", 0), 0U);
  EXPECT_EQ(ok({"-S", "-n", "--nosort"}), ok({"-S", "-n"}));
  const std::string listed = ok({"-L", "-n", "--sort"});
  EXPECT_LT(listed.find("TCP  10.0.0.1:80 "), listed.find("TCP  10.0.0.1:443 "));
  EXPECT_LT(listed.find("TCP  [fd00::1]:80 "), listed.find("UDP  10.0.0.1:53 "));
}

TEST_F(AppTest, RefusedIpvsadmOptionExits2AndChangesNothing) {
  build_config();
  fake.calls.clear();
  const int before = connects;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-A", "-t", "10.0.0.9:80", "-M", "255.255.255.0"},
        std::vector<std::string>{"--set", "900", "120", "300"},
        std::vector<std::string>{"--start-daemon", "master"},
        std::vector<std::string>{"-A", "-f", "7"},
        std::vector<std::string>{"-A", "-u", "10.0.0.9:53", "-o"}}) {
    const Result r = run_args(args);
    EXPECT_EQ(r.status, kExitUsage) << args.front();
    EXPECT_EQ(r.err.rfind("sockvsadm: option ", 0), 0U) << r.err;
    EXPECT_NE(r.err.find("is not supported: "), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(connects, before);  // never reached the module
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(save(), kConfigSave);
  // In -R input the whole restore is refused, nothing applied.
  const Result r = run_args({"-R"}, "-A -t 10.0.0.9:80\n-A -t 10.0.0.8:80 --pe sip\n");
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err.rfind("sockvsadm: line 2: option --pe is not supported", 0), 0U) << r.err;
  EXPECT_EQ(save(), kConfigSave);
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
