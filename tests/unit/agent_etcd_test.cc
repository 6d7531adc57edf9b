// sockvs-agent: etcd's JSON gateway, request bodies and answers as etcd
// 3.4.23 sends them (captured with curl), snapshot and status files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "desired.h"
#include "etcd.h"
#include "reconcile.h"
#include "snapshot.h"
#include "status.h"
#include "store.h"

namespace agent {
namespace {

using etcd::StoreError;

TEST(AgentEtcd, Base64) {
  for (const std::string& s : std::vector<std::string>{
           "", "a", "ab", "abc", "abcd", "/sockvs/v1/c1/", std::string("\0\xff", 2)}) {
    EXPECT_EQ(etcd::b64decode(etcd::b64encode(s)), s);
  }
  EXPECT_EQ(etcd::b64encode("/a/1"), "L2EvMQ==");
  EXPECT_EQ(etcd::b64decode("aGVsbG8="), "hello");
  EXPECT_THROW(etcd::b64decode("a*=="), StoreError);
  EXPECT_THROW(etcd::b64decode("aGVs=bG8"), StoreError);
}

TEST(AgentEtcd, Bodies) {
  etcd::RangeRequest r;
  r.key = "/a/";
  r.range_end = "/a0";
  r.limit = 500;
  r.revision = 7;
  EXPECT_EQ(
      nlohmann::json::parse(etcd::range_body(r)),
      nlohmann::json::parse(R"({"key":"L2Ev","range_end":"L2Ew","limit":"500","revision":"7"})"));
  EXPECT_EQ(nlohmann::json::parse(etcd::watch_body("/a/", "/a0", 8, true)),
            nlohmann::json::parse(R"({"create_request":{"key":"L2Ev","range_end":"L2Ew",
                                      "start_revision":"8","progress_notify":true}})"));
  EXPECT_EQ(nlohmann::json::parse(etcd::put_body("k", "v", 12)),
            nlohmann::json::parse(R"({"key":"aw==","value":"dg==","lease":"12"})"));
  EXPECT_EQ(etcd::lease_grant_body(15), R"({"TTL":"15"})");
  EXPECT_EQ(etcd::lease_id_body(3), R"({"ID":"3"})");
}

TEST(AgentEtcd, Range) {
  const auto r = etcd::parse_range(
      R"({"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"2","raft_term":"2"},)"
      R"("kvs":[{"key":"L2EvMQ==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}],"more":true,"count":"3"})");
  EXPECT_EQ(r.header.revision, 2);
  EXPECT_EQ(r.header.member_id, 3319814642761637952ULL);
  ASSERT_EQ(r.kvs.size(), 1U);
  EXPECT_EQ(r.kvs[0].key, "/a/1");
  EXPECT_EQ(r.kvs[0].value, "hello");
  EXPECT_EQ(r.kvs[0].mod_revision, 2);
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.count, 3);
  // No keys: no "kvs", no "more", no "count".
  const auto empty = etcd::parse_range(R"({"header":{"revision":"9"}})");
  EXPECT_TRUE(empty.kvs.empty());
  EXPECT_FALSE(empty.more);
}

TEST(AgentEtcd, Errors) {
  try {
    (void)etcd::parse_range(
        R"({"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11})");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::kServer);
    EXPECT_EQ(e.code(), 11);
    EXPECT_TRUE(e.compacted());
    EXPECT_FALSE(e.retry_elsewhere());
  }
  try {
    (void)etcd::parse_range(R"({"error":"etcdserver: no leader","code":14})");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_TRUE(e.retry_elsewhere());
    EXPECT_FALSE(e.compacted());
  }
  try {
    (void)etcd::parse_watch_line(
        R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), 14);
    EXPECT_STREQ(e.what(), "etcdserver: no leader");
  }
  EXPECT_THROW((void)etcd::parse_range("404 page not found"), StoreError);
  EXPECT_THROW((void)etcd::parse_range(R"({"kvs": 3})"), StoreError);
  EXPECT_TRUE(StoreError(StoreError::Kind::kTransport, 0, "timed out").retry_elsewhere());
}

TEST(AgentEtcd, WatchLines) {
  const auto created = etcd::parse_watch_line(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},"created":true}})");
  EXPECT_TRUE(created.created);
  EXPECT_FALSE(created.progress());
  const auto put = etcd::parse_watch_line(
      R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"L2EvMg==","create_revision":"3","mod_revision":"3","version":"1","value":"eA==","lease":"2324035787052511499"}}]}})");
  ASSERT_EQ(put.events.size(), 1U);
  EXPECT_FALSE(put.events[0].is_delete);
  EXPECT_EQ(put.events[0].kv.key, "/a/2");
  EXPECT_EQ(put.events[0].kv.value, "x");
  EXPECT_EQ(put.events[0].kv.lease, 2324035787052511499LL);
  const auto del = etcd::parse_watch_line(
      R"({"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"L2EvMQ==","mod_revision":"4"}}]}})");
  ASSERT_EQ(del.events.size(), 1U);
  EXPECT_TRUE(del.events[0].is_delete);
  EXPECT_EQ(del.events[0].kv.mod_revision, 4);
  const auto progress = etcd::parse_watch_line(R"({"result":{"header":{"revision":"4"}}})");
  EXPECT_TRUE(progress.progress());
  EXPECT_EQ(progress.header.revision, 4);
  const auto compacted = etcd::parse_watch_line(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}})");
  EXPECT_TRUE(compacted.canceled);
  EXPECT_EQ(compacted.compact_revision, 4);
  EXPECT_FALSE(compacted.progress());
}

TEST(AgentEtcd, Leases) {
  const auto g = etcd::parse_lease_grant(
      R"({"header":{"revision":"2"},"ID":"2324035787052511497","TTL":"5"})");
  EXPECT_EQ(g.id, 2324035787052511497LL);
  EXPECT_EQ(g.ttl, 5);
  const auto k = etcd::parse_keepalive(
      R"({"result":{"header":{"revision":"2"},"ID":"2324035787052511499","TTL":"30"}})"
      "\n");
  EXPECT_EQ(k.ttl, 30);
  // An expired lease: TTL left out (0).
  EXPECT_EQ(etcd::parse_keepalive(R"({"result":{"header":{},"ID":"5"}})").ttl, 0);
  EXPECT_THROW(etcd::parse_revoke(R"({"error":"etcdserver: requested lease not found","code":5})"),
               StoreError);
}

TEST(AgentEtcd, Endpoints) {
  EXPECT_EQ(parse_endpoints("10.0.0.1:2379, http://b:2379/,"),
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://b:2379"}));
  EXPECT_THROW(parse_endpoints(" , "), std::invalid_argument);
  EXPECT_THROW(parse_endpoints("https://a:2379"), std::invalid_argument);
}

// --- snapshot and status ----------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "agent-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path_ + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(AgentSnapshot, RoundTrip) {
  Snapshot s;
  s.cell = "c1";
  s.revision = 1234;
  s.services["redis"] = parse_service_value(
      R"({"protocol":"tcp","address":"10.255.0.1","port":6379,"scheduler":"mh","persistent":30,
          "flags":["real-peername"],"skip":[{"uid":[0,10]}],
          "dests":[{"address":"127.0.0.1","port":7001,"weight":0,"upper":9,"lower":3,"shards":2}]})");
  s.services["dns6"] = parse_service_value(
      R"({"protocol":"udp","address":"fd00::53","port":53,"dests":[{"address":"fd00::1","port":53}]})");
  // One JSON document (the table is spliced in as -S --json text).
  EXPECT_TRUE(nlohmann::json::parse(format_snapshot(s)).is_object());
  const Snapshot empty = parse_snapshot(format_snapshot(Snapshot{"c0", 7, {}}));
  EXPECT_EQ(empty.cell, "c0");
  EXPECT_EQ(empty.revision, 7);
  EXPECT_TRUE(empty.services.empty());
  const Snapshot back = parse_snapshot(format_snapshot(s));
  EXPECT_EQ(back.cell, "c1");
  EXPECT_EQ(back.revision, 1234);
  ASSERT_EQ(back.services.size(), 2U);
  EXPECT_EQ(format_table(back.services), format_table(s.services));
  EXPECT_EQ(table_hash(back.services), table_hash(s.services));

  const TempDir dir;
  const std::string path = dir.path() + "/sub/snapshot.json";
  EXPECT_FALSE(load_snapshot(path));
  save_snapshot(path, s);
  const auto loaded = load_snapshot(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(format_table(loaded->services), format_table(s.services));
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // renamed away
  std::ofstream(path) << "{\"version\": 1, \"cell\": \"c1\"";
  EXPECT_THROW(load_snapshot(path), SnapshotError);
  EXPECT_THROW(parse_snapshot(R"({"version":2})"), SnapshotError);
  EXPECT_THROW(
      parse_snapshot(
          R"({"version":1,"cell":"c","revision":1,"names":["a"],"table":{"version":1,"services":[]}})"),
      SnapshotError);
}

TEST(AgentStatus, RoundTripAndText) {
  Status st;
  st.pid = 42;
  st.cell = "c1";
  st.state = "watching";
  st.endpoints = {"http://a:2379", "http://b:2379"};
  st.member = "http://a:2379";
  st.applied_revision = 90;
  st.store_revision = 100;
  st.synced = true;
  st.contact_age = 0.5;
  st.updated = 1000;
  st.table_hash = "abc";
  st.services = 2;
  st.dests = 5;
  st.last_error = "x";
  st.last_error_time = 990;
  const Status back = parse_status_json(format_status_json(st));
  EXPECT_EQ(back.pid, 42);
  EXPECT_EQ(back.endpoints, st.endpoints);
  EXPECT_EQ(back.lag(), 10);
  EXPECT_EQ(back.table_hash, "abc");
  const std::string text = format_status_text(back, 1001);
  EXPECT_NE(text.find("lag: 10 revisions"), std::string::npos) << text;
  EXPECT_NE(text.find("last error: x (11.0s ago)"), std::string::npos) << text;
  EXPECT_NE(text.find("endpoints: http://a:2379,http://b:2379"), std::string::npos) << text;
  const std::string m = format_status_metrics(back);
  EXPECT_NE(m.find("sockvs_agent_lag_revisions 10\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE sockvs_agent_changes_total counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("sockvs_agent_info{cell=\"c1\",table_hash=\"abc\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace agent
