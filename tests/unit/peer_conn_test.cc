// getpeername flag (--real-peername) and the connection listing (-L -c):
// GET_CONN request and reply, the output format, the command line, and
// sockvsadm end to end against the in-memory module.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "cli.h"
#include "fake_api.h"
#include "format.h"
#include "nl_test_util.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;
using sockvs::testing::ReplyBuilder;

const std::uint8_t kLocal4[4] = {127, 0, 0, 1};
const std::uint8_t kVip4[4] = {10, 255, 0, 1};
const std::uint8_t kReal4[4] = {127, 0, 0, 2};
const std::uint8_t kVip6[16] = {0xfd, 0, 2, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

int error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const sockvs::Error& e) {
    return e.code();
  }
  return 0;
}

sockvs::Address addr(const char* text) { return *sockvs::Address::parse(text); }

sockvs::Connection conn(std::uint16_t proto, const char* local, std::uint16_t lport,
                        const char* vaddr, std::uint16_t vport, const char* daddr,
                        std::uint16_t dport, std::uint8_t state, std::uint32_t pid,
                        const char* comm) {
  sockvs::Connection c;
  c.protocol = proto;
  c.local = addr(local);
  c.lport = lport;
  c.vaddr = addr(vaddr);
  c.vport = vport;
  c.daddr = addr(daddr);
  c.dport = dport;
  c.state = state;
  c.pid = pid;
  c.comm = comm;
  return c;
}

// --- GET_CONN request and reply ------------------------------------------------

TEST(ConnMessages, ListConnsIsADumpWithoutAttributes) {
  const auto msg = sockvs::build_list_conns(sockvs::testing::kFamily);
  const auto p = sockvs::testing::parse_request(msg);
  EXPECT_EQ(p.genl->cmd, SOCK_VS_CMD_GET_CONN);
  EXPECT_EQ(p.nlh->nlmsg_flags & NLM_F_DUMP, NLM_F_DUMP);
  EXPECT_EQ(p.top_count, 0);
}

TEST(ConnMessages, ParseFullIPv4Connection) {
  ReplyBuilder b(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_CONN)
      .u16(SOCK_VS_CONN_ATTR_AF, AF_INET)
      .u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_CONN_ATTR_LADDR, kLocal4, 4)
      .u16(SOCK_VS_CONN_ATTR_LPORT, 40000)
      .raw(SOCK_VS_CONN_ATTR_VADDR, kVip4, 4)
      .u16(SOCK_VS_CONN_ATTR_VPORT, 6379)
      .raw(SOCK_VS_CONN_ATTR_DADDR, kReal4, 4)
      .u16(SOCK_VS_CONN_ATTR_DPORT, 7001)
      .u32(SOCK_VS_CONN_ATTR_SHARD, 3)
      .u8(SOCK_VS_CONN_ATTR_STATE, 1)
      .u32(SOCK_VS_CONN_ATTR_PID, 4242)
      .str(SOCK_VS_CONN_ATTR_COMM, "redis-cli")
      .end();
  const sockvs::Connection c = sockvs::parse_conn_reply(b.hdr());
  auto want = conn(IPPROTO_TCP, "127.0.0.1", 40000, "10.255.0.1", 6379, "127.0.0.2", 7001, 1, 4242,
                   "redis-cli");
  want.shard = 3;
  EXPECT_EQ(c, want);
  EXPECT_EQ(c.af(), AF_INET);
  EXPECT_EQ(c.local.to_string(), "127.0.0.1");
  EXPECT_EQ(c.lport, 40000);
  EXPECT_EQ(c.vaddr.to_string(), "10.255.0.1");
  EXPECT_EQ(c.vport, 6379);
  EXPECT_EQ(c.daddr.to_string(), "127.0.0.2");
  EXPECT_EQ(c.dport, 7001);
  EXPECT_EQ(c.shard, 3U);
  EXPECT_EQ(c.state, 1);
  EXPECT_EQ(c.pid, 4242U);
  EXPECT_EQ(c.comm, "redis-cli");
}

TEST(ConnMessages, ParseIPv6UdpConnectionWithoutShardOrAf) {
  ReplyBuilder b(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_CONN)
      .u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_UDP)
      .raw(SOCK_VS_CONN_ATTR_LADDR, kLoop6, 16)
      .u16(SOCK_VS_CONN_ATTR_LPORT, 5000)
      .raw(SOCK_VS_CONN_ATTR_VADDR, kVip6, 16)
      .u16(SOCK_VS_CONN_ATTR_VPORT, 53)
      .raw(SOCK_VS_CONN_ATTR_DADDR, kLoop6, 16)
      .u16(SOCK_VS_CONN_ATTR_DPORT, 5353)
      .u32(99, 1)  // an attribute of a newer module: ignored
      .end();
  const sockvs::Connection c = sockvs::parse_conn_reply(b.hdr());
  EXPECT_EQ(c.af(), AF_INET6);
  EXPECT_EQ(c.protocol, IPPROTO_UDP);
  EXPECT_EQ(c.vaddr.to_string(), "fd00:255::1");
  EXPECT_EQ(c.daddr.to_string(), "::1");
  EXPECT_FALSE(c.shard.has_value());
  EXPECT_EQ(c.pid, 0U);
  EXPECT_EQ(c.comm, "");
}

TEST(ConnMessages, MalformedConnectionsAreEPROTO) {
  // No CONN nest at all.
  ReplyBuilder none(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  none.u32(SOCK_VS_ATTR_DEST, 1);
  EXPECT_EQ(error_code([&] { sockvs::parse_conn_reply(none.hdr()); }), EPROTO);
  // Missing the real server.
  ReplyBuilder missing(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  missing.nest(SOCK_VS_ATTR_CONN)
      .u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_CONN_ATTR_LADDR, kLocal4, 4)
      .u16(SOCK_VS_CONN_ATTR_LPORT, 1)
      .raw(SOCK_VS_CONN_ATTR_VADDR, kVip4, 4)
      .u16(SOCK_VS_CONN_ATTR_VPORT, 2)
      .end();
  EXPECT_EQ(error_code([&] { sockvs::parse_conn_reply(missing.hdr()); }), EPROTO);
  // Addresses of two families.
  ReplyBuilder mixed(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  mixed.nest(SOCK_VS_ATTR_CONN)
      .u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_CONN_ATTR_LADDR, kLocal4, 4)
      .u16(SOCK_VS_CONN_ATTR_LPORT, 1)
      .raw(SOCK_VS_CONN_ATTR_VADDR, kVip6, 16)
      .u16(SOCK_VS_CONN_ATTR_VPORT, 2)
      .raw(SOCK_VS_CONN_ATTR_DADDR, kReal4, 4)
      .u16(SOCK_VS_CONN_ATTR_DPORT, 3)
      .end();
  EXPECT_EQ(error_code([&] { sockvs::parse_conn_reply(mixed.hdr()); }), EPROTO);
  // AF says IPv6 but the addresses are 4 bytes.
  ReplyBuilder bad_af(SOCK_VS_CMD_GET_CONN, NLM_F_MULTI);
  bad_af.nest(SOCK_VS_ATTR_CONN)
      .u16(SOCK_VS_CONN_ATTR_AF, AF_INET6)
      .u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_CONN_ATTR_LADDR, kLocal4, 4)
      .u16(SOCK_VS_CONN_ATTR_LPORT, 1)
      .raw(SOCK_VS_CONN_ATTR_VADDR, kVip4, 4)
      .u16(SOCK_VS_CONN_ATTR_VPORT, 2)
      .raw(SOCK_VS_CONN_ATTR_DADDR, kReal4, 4)
      .u16(SOCK_VS_CONN_ATTR_DPORT, 3)
      .end();
  EXPECT_EQ(error_code([&] { sockvs::parse_conn_reply(bad_af.hdr()); }), EPROTO);
}

TEST(ConnMessages, ServiceFlagsAreSentAndParsed) {
  sockvs::Service svc =
      sockvs::Service::from_key(sockvs::ServiceKey{IPPROTO_TCP, addr("10.0.0.1"), 80}, "rr");
  svc.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  const auto msg = sockvs::build_new_service(sockvs::testing::kFamily, svc);
  const auto p = sockvs::testing::parse_request(msg);
  ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_FLAGS], nullptr);
  EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_FLAGS]), SOCK_VS_SVC_F_REAL_PEERNAME);

  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kVip4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .u32(SOCK_VS_SVC_ATTR_FLAGS, SOCK_VS_SVC_F_REAL_PEERNAME)
      .end();
  EXPECT_EQ(sockvs::parse_service_reply(b.hdr()).flags, SOCK_VS_SVC_F_REAL_PEERNAME);
}

// --- output ------------------------------------------------------------------------

TEST(ConnFormat, TcpStateNames) {
  EXPECT_EQ(sockvs::tcp_state_name(1), "ESTABLISHED");
  EXPECT_EQ(sockvs::tcp_state_name(2), "SYN_SENT");
  EXPECT_EQ(sockvs::tcp_state_name(4), "FIN_WAIT1");
  EXPECT_EQ(sockvs::tcp_state_name(7), "CLOSE");
  EXPECT_EQ(sockvs::tcp_state_name(8), "CLOSE_WAIT");
  EXPECT_EQ(sockvs::tcp_state_name(12), "NEW_SYN_RECV");
  EXPECT_EQ(sockvs::tcp_state_name(0), "0");
  EXPECT_EQ(sockvs::tcp_state_name(13), "13");
}

TEST(ConnFormat, IpvsadmColumnsWithoutExpire) {
  const std::vector<sockvs::Connection> conns = {
      conn(IPPROTO_TCP, "127.0.0.1", 40000, "10.255.0.1", 6379, "127.0.0.1", 7001, 1, 4242,
           "redis-cli"),
      conn(IPPROTO_TCP, "127.0.0.1", 40002, "10.255.0.1", 6379, "127.0.0.1", 7002, 2, 4243,
           "python3"),
      conn(IPPROTO_UDP, "::1", 5000, "fd00:255::1", 53, "::1", 5353, 1, 7, "dig"),
  };
  EXPECT_EQ(format_conns(conns),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        pid/comm\n"
            "TCP ESTABLISHED 127.0.0.1:40000    10.255.0.1:6379    127.0.0.1:7001     "
            "4242/redis-cli\n"
            "TCP SYN_SENT    127.0.0.1:40002    10.255.0.1:6379    127.0.0.1:7002     "
            "4243/python3\n"
            "UDP UDP         [::1]:5000         [fd00:255::1]:53   [::1]:5353         7/dig\n");
}

TEST(ConnFormat, ShardColumnOnlyWhenSomeConnectionHasAShard) {
  auto a =
      conn(IPPROTO_TCP, "127.0.0.1", 40001, "10.0.0.1", 9042, "127.0.0.1", 19042, 1, 10, "scylla");
  a.shard = 1;
  const auto b =
      conn(IPPROTO_TCP, "127.0.0.1", 40002, "10.0.0.1", 9042, "127.0.0.2", 9042, 1, 10, "scylla");
  EXPECT_EQ(format_conns({a, b}),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        shard "
            "pid/comm\n"
            "TCP ESTABLISHED 127.0.0.1:40001    10.0.0.1:9042      127.0.0.1:19042    1     "
            "10/scylla\n"
            "TCP ESTABLISHED 127.0.0.1:40002    10.0.0.1:9042      127.0.0.2:9042     -     "
            "10/scylla\n");
  EXPECT_EQ(format_conns({}),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        pid/comm\n");
}

TEST(ConnFormat, RealPeernameIsAFlagInListAndSave) {
  ServiceEntry e{
      sockvs::Service::from_key(sockvs::ServiceKey{IPPROTO_TCP, addr("10.0.0.1"), 80}, "rr"), {}};
  EXPECT_EQ(service_flags(e.service), "");
  e.service.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  e.service.shard_policy = sockvs::ShardPolicy::kLc;
  EXPECT_EQ(service_flags(e.service), " shard-policy lc real-peername");
  EXPECT_EQ(format_save({e}), "-A -t 10.0.0.1:80 -s rr --shard-policy lc --real-peername\n");
}

// --- command line ----------------------------------------------------------------

Command parse(std::vector<std::string> args) { return parse_command(args); }

TEST(ConnCli, ListConnections) {
  Command c = parse({"-L", "-c", "-n"});
  EXPECT_EQ(c.op, Op::kList);
  EXPECT_TRUE(c.connections);
  EXPECT_TRUE(c.numeric);
  c = parse({"-Lcn"});
  EXPECT_TRUE(c.connections);
  c = parse({"--list", "--connection", "-t", "10.0.0.1:80"});
  EXPECT_TRUE(c.connections);
  ASSERT_TRUE(c.service.has_value());
  EXPECT_FALSE(parse({"-L", "-n"}).connections);
}

TEST(ConnCli, ConnectionViewExcludesTheOthersAndOtherCommands) {
  EXPECT_THROW(parse({"-L", "-c", "--stats"}), UsageError);
  EXPECT_THROW(parse({"-L", "-c", "--shards"}), UsageError);
  EXPECT_THROW(parse({"-L", "-c", "--thresholds"}), UsageError);
  EXPECT_THROW(parse({"-S", "-c"}), UsageError);
  EXPECT_THROW(parse({"-A", "-t", "10.0.0.1:80", "-c"}), UsageError);
}

TEST(ConnCli, RealPeernameOnAddAndEditOnly) {
  EXPECT_TRUE(parse({"-A", "-t", "10.0.0.1:80", "--real-peername"}).real_peername);
  EXPECT_TRUE(parse({"-E", "-t", "10.0.0.1:80", "-s", "rr", "--real-peername"}).real_peername);
  EXPECT_FALSE(parse({"-A", "-t", "10.0.0.1:80"}).real_peername);
  EXPECT_THROW(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--real-peername"}), UsageError);
  EXPECT_THROW(parse({"-L", "--real-peername"}), UsageError);
  EXPECT_THROW(parse({"-A", "-t", "10.0.0.1:80", "--real-peername=1"}), UsageError);
}

// --- sockvsadm against the in-memory module ---------------------------------------

using Proxy = sockvs::testing::FakeProxy;

// An Api that does not implement list_conns (e.g. another helper's fake).
class NoConns : public Proxy {
 public:
  using Proxy::Proxy;
  std::vector<sockvs::Connection> list_conns() override { return Api::list_conns(); }
};

class PeerAppTest : public ::testing::Test {
 protected:
  struct Result {
    int status;
    std::string out;
    std::string err;
  };

  Result run_args(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(args, in, out, err, [this]() -> std::unique_ptr<sockvs::Api> {
      if (no_conns) {
        return std::make_unique<NoConns>(fake);
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

  FakeApi fake;
  bool no_conns = false;
};

TEST_F(PeerAppTest, AddEditAndSaveTheFlag) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--real-peername"});
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_REAL_PEERNAME);
  EXPECT_EQ(ok({"-S", "-n"}), "-A -t 10.0.0.1:80 -s rr --real-peername\n");
  EXPECT_NE(ok({"-L", "-n"}).find("TCP  10.0.0.1:80 rr real-peername\n"), std::string::npos);
  // -E replaces the flags (ipvsadm -E semantics): without it the flag is cleared.
  ok({"-E", "-t", "10.0.0.1:80", "-s", "wrr"});
  EXPECT_EQ(fake.table[0].svc.flags, 0U);
  ok({"-E", "-t", "10.0.0.1:80", "--real-peername"});
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_REAL_PEERNAME);
  EXPECT_EQ(fake.table[0].svc.sched_name, "wrr");  // -E without -s keeps the scheduler
}

TEST_F(PeerAppTest, SaveClearRestoreRoundTripsTheFlag) {
  ok({"-A", "-t", "10.0.0.1:80", "--real-peername"});
  ok({"-A", "-u", "[fd00::1]:53", "-s", "rr"});
  const std::string saved = ok({"-S", "-n"});
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(ok({"-S", "-n"}), saved);
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_REAL_PEERNAME);
  EXPECT_EQ(fake.table[1].svc.flags, 0U);
}

TEST_F(PeerAppTest, RestoreRollsBackAnEditOfTheFlag) {
  ok({"-A", "-t", "10.0.0.1:80", "--real-peername"});
  const Result r = run_args({"-R"},
                            "-E -t 10.0.0.1:80\n"
                            "-A -t 10.0.0.1:80\n");  // fails: exists
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_REAL_PEERNAME) << "the -E was undone";
}

TEST_F(PeerAppTest, InverseOfEditRestoresTheFlagOnlyWhenItChanges) {
  ok({"-A", "-t", "10.0.0.1:80", "--real-peername"});
  auto inv = inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_TRUE(inv[0].real_peername);
  EXPECT_TRUE(inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80", "--real-peername"})).empty());
}

TEST_F(PeerAppTest, ListConnectionsFilteredByService) {
  fake.conns = {
      conn(IPPROTO_TCP, "127.0.0.1", 40000, "10.255.0.1", 6379, "127.0.0.1", 7001, 1, 1, "a"),
      conn(IPPROTO_TCP, "127.0.0.1", 40001, "10.255.0.1", 80, "127.0.0.1", 8080, 1, 2, "b"),
      conn(IPPROTO_UDP, "127.0.0.1", 40002, "10.255.0.1", 6379, "127.0.0.1", 7001, 1, 3, "c"),
  };
  const std::string all = ok({"-L", "-c", "-n"});
  EXPECT_EQ(all, format_conns(fake.conns));
  const std::string one = ok({"-L", "-c", "-n", "-t", "10.255.0.1:6379"});
  EXPECT_EQ(one, format_conns({fake.conns[0]}));
  EXPECT_EQ(ok({"-L", "-c", "-u", "10.255.0.1:6379"}), format_conns({fake.conns[2]}));
}

TEST_F(PeerAppTest, ListConnectionsUnsupportedIsAnError) {
  no_conns = true;
  const Result r = run_args({"-L", "-c"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("listing connections is not supported"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sockvsadm
