// sockvs-agent's logic (agent.h) end to end against an in-memory etcd
// (agent_fakes.h) and module (fake_api.h), with a fake clock: start
// without a flush, listing and watching, batching, compaction, failover,
// no marker, local health, an unreachable store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "agent.h"
#include "agent_fakes.h"
#include "fake_api.h"
#include "kernel_table.h"
#include "snapshot.h"

namespace agent {
namespace {

using sockvs::testing::FakeApi;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CaptureLogger;
using testing::FakeStore;

constexpr const char* kRedis =
    R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"rr"})";
const std::string kP = "/sockvs/v1/c1/";

class AgentTest : public ::testing::Test {
 protected:
  FakeStore store;
  FakeApi api;
  CaptureLogger log;
  std::string dir;
  bool module_loaded = true;
  std::optional<std::set<std::string>> health_next;  // what the health source says next
  std::unique_ptr<Agent> agent;
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1);

  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "agentd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf '" + dir + "'").c_str()); }

  AgentOptions options() {
    AgentOptions o;
    o.cell = "c1";
    o.snapshot_path = dir + "/snapshot.json";
    o.status_path = dir + "/status.json";
    o.probe_interval = seconds(1);
    o.stale_after = seconds(5);
    o.initial_wait = seconds(3);
    o.resync_interval = seconds(30);
    o.page_size = 2;  // pagination on every listing
    return o;
  }

  void make(AgentOptions o) {
    agent = std::make_unique<Agent>(
        std::move(o), store,
        [this]() -> std::unique_ptr<KernelTable> {
          if (!module_loaded) {
            throw sockvs::ModuleNotLoadedError();
          }
          return std::make_unique<ApiKernelTable>(api);
        },
        [this]() { return std::exchange(health_next, std::nullopt); }, log);
    agent->start(now);
  }
  void make() { make(options()); }

  // Runs the loop for `d` in steps of 10 ms.
  void run(Clock::duration d) {
    const auto until = now + d;
    while (now < until) {
      (void)agent->step(now);
      agent->on_poll(store.poll(milliseconds(0), -1), now);
      now += milliseconds(10);
    }
  }

  std::string table() {
    std::vector<sockvsadm::ServiceEntry> entries;
    for (const auto& e : api.table) {
      entries.push_back({e.svc, e.dests});
    }
    sockvsadm::sort_entries(entries);
    return sockvsadm::format_save(entries);
  }

  void populate() {
    store.put(kP + "marker", "{}");
    store.put(kP + "svc/redis", kRedis);
    store.put(kP + "rs/redis/127.0.0.1:7001", R"({"weight":2})");
    store.put(kP + "ep/redis/127.0.0.1:7002", "{}");
  }
};

TEST_F(AgentTest, ListsAppliesWatchesBatches) {
  populate();
  make();
  run(milliseconds(20));
  EXPECT_TRUE(agent->ready());
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s rr\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 2\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7002 -w 1\n");
  EXPECT_EQ(agent->applied_revision(), store.revision);
  EXPECT_TRUE(store.watching());
  EXPECT_TRUE(log.has("listed /sockvs/v1/c1/ at revision 5")) << log.all();
  // A change: applied after the batch delay, not before.
  store.put(kP + "ep/redis/127.0.0.1:7003", R"({"weight":5})");
  (void)agent->step(now);
  agent->on_poll(store.poll(milliseconds(0), -1), now);
  (void)agent->step(now + milliseconds(50));
  EXPECT_EQ(api.table[0].dests.size(), 2U);
  (void)agent->step(now + milliseconds(100));
  now += milliseconds(100);
  ASSERT_EQ(api.table[0].dests.size(), 3U);
  EXPECT_EQ(api.table[0].dests[2].weight, 5U);
  // Draining, then gone.
  store.put(kP + "ep/redis/127.0.0.1:7003", R"({"weight":0})");
  run(milliseconds(200));
  EXPECT_EQ(api.table[0].dests[2].weight, 0U);
  store.del(kP + "ep/redis/127.0.0.1:7003");
  run(milliseconds(200));
  EXPECT_EQ(api.table[0].dests.size(), 2U);
  EXPECT_EQ(agent->applied_revision(), store.revision);
  // The snapshot has what was applied.
  run(seconds(2));
  const auto snap = load_snapshot(dir + "/snapshot.json");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->revision, store.revision);
  EXPECT_EQ(format_table(snap->services), table());
  const Status st = agent->status(now);
  EXPECT_EQ(st.state, "watching");
  EXPECT_EQ(st.services, 1U);
  EXPECT_EQ(st.dests, 2U);
  EXPECT_FALSE(st.stale);
}

TEST_F(AgentTest, ManyChangesInOneBatch) {
  populate();
  make();
  run(milliseconds(20));
  const std::size_t calls = api.calls.size();
  for (int i = 0; i < 50; ++i) {
    store.put(kP + "ep/redis/127.0.1." + std::to_string(i + 1) + ":7000", "{}");
  }
  run(milliseconds(150));
  EXPECT_EQ(api.table[0].dests.size(), 52U);
  // One dump of the changed service and 50 adds, not a dump per revision.
  EXPECT_LT(api.calls.size() - calls, 60U);
}

TEST_F(AgentTest, MalformedValueSkippedRestApplies) {
  populate();
  store.put(kP + "svc/broken", R"({"protocol":"tcp","address":"10.255.0.2"})");
  store.put(kP + "rs/redis/127.0.0.1:7009", R"({"weight":1e9})");
  make();
  run(milliseconds(20));
  EXPECT_EQ(api.table.size(), 1U);
  EXPECT_EQ(api.table[0].dests.size(), 2U);
  EXPECT_TRUE(log.has("W /sockvs/v1/c1/svc/broken: missing \"port\"")) << log.all();
  EXPECT_TRUE(log.has("W /sockvs/v1/c1/rs/redis/127.0.0.1:7009: weight:")) << log.all();
  EXPECT_EQ(agent->status(now).problems, 2U);
  // An edit that breaks the service keeps what it was.
  store.put(kP + "svc/redis",
            R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":7})");
  run(milliseconds(200));
  EXPECT_EQ(api.table.size(), 1U);
  EXPECT_EQ(api.table[0].svc.sched_name, "rr");
}

TEST_F(AgentTest, NoMarkerNoChangeEmptyWithMarkerDeletes) {
  // A table from an earlier run (snapshot) and a foreign service.
  Snapshot s;
  s.cell = "c1";
  s.revision = 1;
  s.services["redis"] = parse_service_value(kRedis);
  save_snapshot(dir + "/snapshot.json", s);
  api.add_service(parse_service_value(kRedis).service);
  api.add_service(
      sockvs::Service::from_key({IPPROTO_TCP, *sockvs::Address::parse("10.9.9.9"), 80}));
  make();
  run(seconds(5));
  EXPECT_EQ(api.table.size(), 2U);  // an empty prefix without a marker deletes nothing
  EXPECT_TRUE(log.has("no marker key /sockvs/v1/c1/marker")) << log.all();
  EXPECT_EQ(agent->status(now).state, "unmanaged");
  store.put(kP + "marker", "{}");
  run(milliseconds(200));
  ASSERT_EQ(api.table.size(), 1U);  // the marker says: nothing is desired
  EXPECT_EQ(api.table[0].svc.addr.to_string(), "10.9.9.9");
}

TEST_F(AgentTest, NeverFlushesOnStartAndKeepsTableWhileUnreachable) {
  populate();
  make();
  run(milliseconds(20));
  const std::string before = table();
  agent->stop(now);
  // A new agent, the store unreachable: the table stays, the status says stale.
  store.down = {true, true, true};
  api.calls.clear();
  make();
  run(seconds(12));
  EXPECT_EQ(table(), before);
  for (const auto& c : api.calls) {
    EXPECT_TRUE(c.starts_with("list_")) << c;  // only read
  }
  Status st = agent->status(now);
  EXPECT_TRUE(st.stale);
  EXPECT_EQ(st.state, "starting");
  EXPECT_TRUE(agent->ready());  // the snapshot's table is in place
  EXPECT_TRUE(log.has("no answer from the store")) << log.all();
  // Back: it lists and watches.
  store.down = {false, false, false};
  store.put(kP + "rs/redis/127.0.0.1:7001", R"({"weight":7})");
  run(seconds(6));
  EXPECT_EQ(agent->status(now).state, "watching");
  EXPECT_EQ(api.table[0].dests[0].weight, 7U);
}

TEST_F(AgentTest, RestoresSnapshotWhenStoreUnreachableAndKernelEmpty) {
  populate();
  make();
  run(milliseconds(20));
  agent->stop(now);
  const std::string before = table();
  api.table.clear();  // a reboot
  store.down = {true, true, true};
  make();
  run(seconds(2));
  EXPECT_TRUE(api.table.empty());  // initial_wait: the store may answer yet
  run(seconds(2));
  EXPECT_EQ(table(), before);
  EXPECT_TRUE(log.has("restoring the snapshot's table")) << log.all();
}

TEST_F(AgentTest, CompactedWatchRelistsAndEditsInPlace) {
  populate();
  make();
  run(milliseconds(20));
  api.table[0].svc.stats.conns = 99;
  // The agent misses changes (its stream broke), the store is compacted.
  store.stop_watch();
  for (int i = 0; i < 20; ++i) {
    store.put(kP + "rs/redis/127.0.0.1:7001", "{\"weight\":" + std::to_string(i + 1) + "}");
  }
  store.put(kP + "ep/redis/127.0.0.1:7004", "{}");
  store.del(kP + "ep/redis/127.0.0.1:7002");
  store.compact(store.revision);
  run(seconds(2));
  EXPECT_TRUE(log.has("was compacted")) << log.all();
  EXPECT_EQ(agent->status(now).lists, 2U);
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s rr\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 20\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7004 -w 1\n");
  EXPECT_EQ(api.table[0].svc.stats.conns, 99U);  // never deleted and added again
  EXPECT_EQ(std::count(api.calls.begin(), api.calls.end(), "del_service"), 0);
}

TEST_F(AgentTest, WatchResumesOnAnotherMemberWithoutRelisting) {
  populate();
  make();
  run(milliseconds(20));
  ASSERT_EQ(agent->member(), 0U);
  store.no_leader[0] = true;  // reads fail there; its watch goes silent
  store.put(kP + "ep/redis/127.0.0.1:7005", "{}");
  run(seconds(2));
  EXPECT_EQ(agent->member(), 1U);
  EXPECT_TRUE(log.has("did not answer a linearizable read: etcdserver: no leader")) << log.all();
  EXPECT_EQ(api.table[0].dests.size(), 3U);  // the change came through member 1
  EXPECT_EQ(agent->status(now).lists, 1U);
  // A broken stream: the same.
  store.stream_break = true;
  store.put(kP + "ep/redis/127.0.0.1:7006", "{}");
  run(seconds(1));
  EXPECT_EQ(agent->member(), 2U);
  EXPECT_EQ(api.table[0].dests.size(), 4U);
  EXPECT_EQ(agent->status(now).lists, 1U);
}

TEST_F(AgentTest, NoQuorumIsStaleWhateverTheStreamsSay) {
  populate();
  make();
  run(milliseconds(20));
  const std::string before = table();
  store.no_leader = {true, true, true};
  for (int i = 0; i < 80; ++i) {
    store.watch_progress = true;
    run(milliseconds(100));
  }
  const Status st = agent->status(now);
  EXPECT_TRUE(st.stale);
  EXPECT_EQ(st.state, "unreachable");
  EXPECT_EQ(table(), before);
  EXPECT_TRUE(log.has("no answer from the store for")) << log.all();
  store.no_leader = {false, false, false};
  run(seconds(8));  // the retry backoff is at most 5 s
  EXPECT_FALSE(agent->status(now).stale);
  EXPECT_TRUE(log.has("the store answers again")) << log.all();
}

TEST_F(AgentTest, WatchdogOnSilentStream) {
  populate();
  AgentOptions o = options();
  o.watch_timeout = seconds(2);
  o.probe_interval = seconds(100);
  make(o);
  run(milliseconds(20));
  store.no_leader[0] = true;  // silent, and the probe would notice only much later
  run(seconds(3));
  EXPECT_TRUE(log.has("sent neither a change nor a progress notification")) << log.all();
  EXPECT_EQ(agent->member(), 1U);
}

TEST_F(AgentTest, LocalHealthWins) {
  populate();
  make();
  run(milliseconds(20));
  const std::string name = "TCP 10.255.0.1:6379 -> 127.0.0.1:7001";
  // healthd quiesces 7001 (weight 0 in the kernel) and records it.
  api.table[0].dests[0].weight = 0;
  health_next = std::set<std::string>{name};
  run(seconds(2));
  EXPECT_EQ(api.table[0].dests[0].weight, 0U);
  EXPECT_EQ(agent->status(now).held, 1U);
  // The store changes its weight meanwhile: still 0.
  store.put(kP + "rs/redis/127.0.0.1:7001", R"({"weight":4})");
  run(seconds(1));
  EXPECT_EQ(api.table[0].dests[0].weight, 0U);
  // healthd restores it (its remembered weight 2): the store's weight follows.
  api.table[0].dests[0].weight = 2;
  health_next = std::set<std::string>{};
  run(seconds(2));
  EXPECT_EQ(api.table[0].dests[0].weight, 4U);
  EXPECT_EQ(agent->status(now).held, 0U);
}

TEST_F(AgentTest, HealthdRaceWaitsForItsStateFile) {
  populate();
  make();
  run(milliseconds(20));
  // healthd set weight 0; its state file is written later.  A change to
  // the service meanwhile must not undo the quiesce.
  api.table[0].dests[0].weight = 0;
  store.put(kP + "ep/redis/127.0.0.1:7008", "{}");
  run(milliseconds(300));
  EXPECT_EQ(api.table[0].dests[0].weight, 0U);
  health_next = std::set<std::string>{"TCP 10.255.0.1:6379 -> 127.0.0.1:7001"};
  run(seconds(3));
  EXPECT_EQ(api.table[0].dests[0].weight, 0U);
  // Someone else's 0 (not healthd's) is overridden by the next resync,
  // after the grace period.
  api.table[0].dests[1].weight = 0;
  const std::string waiting = "127.0.0.1:7002: weight 0, set by someone else: waiting";
  for (int i = 0; i < 350 && !log.has(waiting); ++i) {
    run(milliseconds(100));
  }
  ASSERT_TRUE(log.has(waiting)) << log.all();
  EXPECT_EQ(api.table[0].dests[1].weight, 0U);
  run(seconds(3));
  EXPECT_EQ(api.table[0].dests[1].weight, 1U);
}

TEST_F(AgentTest, ModuleMissingThenLoaded) {
  populate();
  module_loaded = false;
  make();
  run(seconds(1));
  EXPECT_TRUE(api.table.empty());
  EXPECT_EQ(agent->status(now).state, "kernel-error");
  EXPECT_TRUE(log.has("the sock_vs module is not loaded")) << log.all();
  module_loaded = true;
  run(seconds(6));
  EXPECT_EQ(api.table.size(), 1U);
  EXPECT_EQ(agent->status(now).state, "watching");
}

TEST_F(AgentTest, ResyncFixesDrift) {
  populate();
  make();
  run(milliseconds(20));
  (void)api.del_dest(api.table[0].svc.key(), api.table[0].dests[1]);  // by hand
  run(seconds(31));
  EXPECT_EQ(api.table[0].dests.size(), 2U);
}

}  // namespace
}  // namespace agent
