// sockvs-agent: diff and apply (reconcile.h, kernel_table.h) against the
// in-memory module (fake_api.h): edits in place keep counters, foreign
// services are left alone, a refused service does not stop the others,
// local health wins.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "desired.h"
#include "fake_api.h"
#include "kernel_table.h"
#include "reconcile.h"

namespace agent {
namespace {

using sockvs::testing::FakeApi;

sockvs::Address A(const char* s) { return *sockvs::Address::parse(s); }

sockvsadm::ServiceEntry entry(const std::string& json) { return parse_service_value(json); }

sockvs::RealServer dest(const char* addr, std::uint16_t port, std::uint32_t weight = 1) {
  sockvs::RealServer d;
  d.addr = A(addr);
  d.port = port;
  d.weight = weight;
  return d;
}

constexpr const char* kRedis =
    R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"rr",
        "dests":[{"address":"127.0.0.1","port":7001},{"address":"127.0.0.1","port":7002}]})";
constexpr const char* kDns =
    R"({"protocol":"udp","address":"10.255.0.1","port":53,"dests":[{"address":"127.0.0.1","port":5353}]})";

// Applies `target` (all of it in scope, plus `managed`) and returns the ops made.
class ReconcileTest : public ::testing::Test {
 protected:
  FakeApi api;
  ApiKernelTable kernel{api};

  ApplyResult apply(const Table& want, const std::set<std::string>& managed = {}) {
    const ByLabel target = by_label(want);
    std::set<std::string> scope = managed;
    for (const auto& [l, e] : target) {
      scope.insert(l);
    }
    return kernel.apply(kernel.read(std::nullopt), target, scope);
  }
  // kRedis applied, its service at 42 connections and its first real
  // server at 21: what an edit in place must keep.
  Table redis_with_counters() {
    Table t;
    t["redis"] = entry(kRedis);
    (void)apply(t);
    api.table[0].svc.stats.conns = 42;
    api.table[0].dests[0].stats.conns = 21;
    return t;
  }
  std::string table() {
    std::vector<sockvsadm::ServiceEntry> entries;
    for (const auto& e : api.table) {
      entries.push_back({e.svc, e.dests});
    }
    return sockvsadm::format_save(entries);
  }
};

TEST_F(ReconcileTest, FromEmpty) {
  Table t;
  t["redis"] = entry(kRedis);
  t["dns"] = entry(kDns);
  const ApplyResult r = apply(t);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.ops, 5U);
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s rr\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 1\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7002 -w 1\n"
            "-A -u 10.255.0.1:53 -s wrr\n"
            "-a -u 10.255.0.1:53 -r 127.0.0.1:5353 -w 1\n");
  // Nothing to do the second time.
  api.calls.clear();
  EXPECT_EQ(apply(t).ops, 0U);
  for (const auto& c : api.calls) {
    EXPECT_TRUE(c.starts_with("list_")) << c;
  }
}

TEST_F(ReconcileTest, EditsInPlaceKeepCounters) {
  Table t = redis_with_counters();
  t["redis"] = entry(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"wrr","persistent":60,
          "dests":[{"address":"127.0.0.1","port":7001,"weight":3,"upper":100},
                   {"address":"127.0.0.1","port":7003}]})");
  api.calls.clear();
  const ApplyResult r = apply(t);
  EXPECT_TRUE(r.errors.empty());
  // One transaction: the service staged whole and committed at once; what
  // stays is the same object (nothing is deleted and re-added).
  EXPECT_EQ(api.calls, (std::vector<std::string>{"list_services", "list_dests", "commit"}));
  EXPECT_EQ(r.ops, 4U);
  ASSERT_EQ(api.commits.size(), 2U);
  EXPECT_FALSE(api.commits[1].replace);
  ASSERT_EQ(api.commits[1].services.size(), 1U);
  EXPECT_EQ(api.commits[1].services[0].dests.size(), 2U);
  EXPECT_EQ(api.table[0].svc.stats.conns, 42U);
  EXPECT_EQ(api.table[0].dests[0].stats.conns, 21U);
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s wrr -p 60\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 3 -x 100\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7003 -w 1\n");
  // Settings removed from the store go back to the defaults.
  t["redis"] = entry(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,
          "dests":[{"address":"127.0.0.1","port":7001},{"address":"127.0.0.1","port":7003}]})");
  (void)apply(t);
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s wrr\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 1\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7003 -w 1\n");
}

TEST_F(ReconcileTest, OlderModuleGetsTheCommandsOneByOne) {
  api.knows_txn = false;
  Table t = redis_with_counters();
  t["redis"] = entry(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"wrr",
          "dests":[{"address":"127.0.0.1","port":7001,"weight":3},
                   {"address":"127.0.0.1","port":7003}]})");
  api.calls.clear();
  const ApplyResult r = apply(t);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_FALSE(kernel.transactions());
  // The new server is added before the old one goes; nothing is deleted and re-added.
  EXPECT_EQ(api.calls, (std::vector<std::string>{"list_services", "list_dests", "edit_service",
                                                 "add_dest", "edit_dest", "del_dest"}));
  EXPECT_EQ(api.table[0].svc.stats.conns, 42U);
  EXPECT_EQ(api.table[0].dests[0].stats.conns, 21U);
  EXPECT_TRUE(api.commits.empty());
}

TEST_F(ReconcileTest, ManyServicesOneCommit) {
  Table t;
  t["redis"] = entry(kRedis);
  t["dns"] = entry(kDns);
  (void)apply(t);
  ASSERT_EQ(api.commits.size(), 1U);
  EXPECT_EQ(api.commits[0].services.size(), 2U);
  EXPECT_TRUE(kernel.transactions());
  // A deletion and an edit: staged together, the deletion as such.
  t.erase("dns");
  t["redis"] = entry(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"rr",
          "dests":[{"address":"127.0.0.1","port":7001}]})");
  const ApplyResult r = apply(t, {label_of(entry(kDns).service.key())});
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(api.commits.size(), 2U);
  ASSERT_EQ(api.commits[1].services.size(), 2U);
  EXPECT_EQ(std::count_if(api.commits[1].services.begin(), api.commits[1].services.end(),
                          [](const sockvs::TxnService& s) { return s.remove; }),
            1);
  EXPECT_EQ(table(),
            "-A -t 10.255.0.1:6379 -s rr\n"
            "-a -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 1\n");
}

TEST_F(ReconcileTest, Ejection) {
  Table t;
  t["redis"] = entry(kRedis);
  t["dns"] = entry(kDns);
  (void)apply(t);
  api.calls.clear();
  EXPECT_EQ(apply(t).ops, 0U);  // no ejection asked, none sent, none differs
  t["redis"] = entry(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"rr",
          "eject":{"after":3,"time":10},
          "dests":[{"address":"127.0.0.1","port":7001},{"address":"127.0.0.1","port":7002}]})");
  EXPECT_EQ(apply(t).ops, 1U);
  EXPECT_EQ(api.table[0].svc.eject, 3U);
  EXPECT_EQ(api.table[0].svc.eject_time, 10U);
  EXPECT_EQ(apply(t).ops, 0U);
  t["redis"] = entry(kRedis);  // off again
  EXPECT_EQ(apply(t).ops, 1U);
  EXPECT_EQ(api.table[0].svc.eject.value_or(0), 0U);
  EXPECT_EQ(apply(t).ops, 0U);
}

TEST_F(ReconcileTest, ForeignServicesAreLeftAlone) {
  sockvs::Service foreign = sockvs::Service::from_key({IPPROTO_TCP, A("10.9.9.9"), 80}, "rr");
  api.add_service(foreign);
  Table t;
  t["redis"] = entry(kRedis);
  (void)apply(t);
  ASSERT_EQ(api.table.size(), 2U);
  // Deleting the managed service leaves the foreign one.
  const ApplyResult r = apply({}, {label_of(entry(kRedis).service.key())});
  EXPECT_EQ(r.ops, 1U);
  ASSERT_EQ(api.table.size(), 1U);
  EXPECT_EQ(api.table[0].svc.key(), foreign.key());
}

TEST_F(ReconcileTest, RefusedServiceDoesNotStopTheRest) {
  Table t;
  t["bad"] = entry(R"({"protocol":"tcp","address":"10.255.0.2","port":80,"scheduler":"nosuch",
                       "dests":[{"address":"127.0.0.1","port":80}]})");
  t["redis"] = entry(kRedis);
  const ApplyResult r = apply(t);
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors.at("TCP 10.255.0.2:80").find("unknown scheduler 'nosuch'"), std::string::npos);
  EXPECT_EQ(api.table.size(), 1U);
  EXPECT_EQ(api.table[0].dests.size(), 2U);
  // The module refused the staged message naming the bad service; the rest
  // went in one commit without it.
  ASSERT_EQ(api.commits.size(), 1U);
  EXPECT_EQ(api.commits[0].services.size(), 1U);
}

TEST(AgentDiff, Settings) {
  const auto want = entry(R"({"protocol":"tcp","address":"10.0.0.1","port":80})").service;
  sockvs::Service have = explicit_service(want);
  EXPECT_TRUE(same_service_settings(have, want));  // defaults spelled out
  have.terminate = sockvs::Terminate::kAll;
  EXPECT_FALSE(same_service_settings(have, want));
  EXPECT_TRUE(same_dest_settings(explicit_dest(dest("1.1.1.1", 1)), dest("1.1.1.1", 1)));
  auto d = explicit_dest(dest("1.1.1.1", 1));
  d.shards = 2;
  EXPECT_FALSE(same_dest_settings(d, dest("1.1.1.1", 1)));
}

TEST(AgentHealth, HealthdQuiescedStaysAtZero) {
  const ByLabel previous = by_label({{"redis", entry(kRedis)}});
  ByLabel current = previous;
  current.begin()->second.dests[1].weight = 0;  // healthd quiesced 7002
  const std::string name = "TCP 10.255.0.1:6379 -> 127.0.0.1:7002";
  Suspects suspects;
  const auto t0 = Clock::now();
  {
    ByLabel target = previous;
    const auto h = overlay_local_health(target, current, previous, {name}, suspects, t0,
                                        std::chrono::seconds(2));
    EXPECT_EQ(h.held, std::vector<std::string>{name});
    EXPECT_EQ(target.begin()->second.dests[1].weight, 0U);
    EXPECT_EQ(target.begin()->second.dests[0].weight, 1U);
  }
  {
    // Not (yet) in healthd's file: kept at 0 for the grace period, then the store's weight.
    ByLabel target = previous;
    auto h =
        overlay_local_health(target, current, previous, {}, suspects, t0, std::chrono::seconds(2));
    EXPECT_EQ(h.waiting, std::vector<std::string>{name});
    EXPECT_EQ(target.begin()->second.dests[1].weight, 0U);
    ASSERT_TRUE(h.recheck);
    EXPECT_EQ(*h.recheck, t0 + std::chrono::seconds(2));
    target = previous;
    h = overlay_local_health(target, current, previous, {}, suspects, t0 + std::chrono::seconds(3),
                             std::chrono::seconds(2));
    EXPECT_TRUE(h.waiting.empty());
    EXPECT_EQ(target.begin()->second.dests[1].weight, 1U);
  }
  {
    // The agent set 0 itself last time (a draining endpoint): no wait.
    ByLabel prev0 = current;
    ByLabel target = previous;
    Suspects none;
    const auto h =
        overlay_local_health(target, current, prev0, {}, none, t0, std::chrono::seconds(2));
    EXPECT_TRUE(h.waiting.empty());
    EXPECT_EQ(target.begin()->second.dests[1].weight, 1U);
  }
}

TEST(AgentHash, SameTableSameHash) {
  Table a;
  a["redis"] = entry(kRedis);
  a["dns"] = entry(kDns);
  Table b;
  b["x-dns"] = entry(kDns);  // names do not matter, only the table
  b["y-redis"] = entry(kRedis);
  EXPECT_EQ(table_hash(a), table_hash(b));
  EXPECT_EQ(table_hash(a).size(), 64U);
  b["y-redis"].dests[0].weight = 2;
  EXPECT_NE(table_hash(a), table_hash(b));
  EXPECT_EQ(table_hash({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace agent
