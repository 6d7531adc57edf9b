// Transactions: the TXN_* requests and their answers, the in-memory table
// (TableModel) and sockvsadm -R on top of it (restore_atomic).
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "fake_api.h"
#include "nl_test_util.h"
#include "restore.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"
#include "sockvs/txn.h"

namespace sockvs {
namespace {

using testing::attr_bytes;
using testing::kFamily;
using testing::parse_request;
using testing::RawMsg;
using testing::ReplyBuilder;
using Bytes = std::vector<std::uint8_t>;

ServiceKey tcp_key(const char* addr = "10.0.0.1", std::uint16_t port = 80) {
  return ServiceKey{IPPROTO_TCP, *Address::parse(addr), port};
}

RealServer dest(const char* addr, std::uint16_t port, std::uint32_t weight = 1) {
  RealServer d;
  d.addr = *Address::parse(addr);
  d.port = port;
  d.weight = weight;
  return d;
}

// The attributes of a nest payload, by type, in order.
std::vector<std::pair<int, Bytes>> attrs(const Bytes& run) {
  std::vector<std::pair<int, Bytes>> out;
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= run.size()) {
    nlattr h{};
    std::memcpy(&h, run.data() + off, sizeof h);
    out.emplace_back(h.nla_type, Bytes(run.begin() + static_cast<long>(off + NLA_HDRLEN),
                                       run.begin() + static_cast<long>(off + h.nla_len)));
    off += NLA_ALIGN(h.nla_len);
  }
  return out;
}

// The payload of a request's top-level nest `type`.
Bytes top_nest(const NlMsgPtr& msg, int type) {
  const auto p = parse_request(msg);
  return attr_bytes(p.top.at(static_cast<std::size_t>(type)));
}

TEST(TxnRequest, BeginCarriesFlagsAndTheGeneration) {
  auto msg = build_txn_begin(kFamily, true, 41);
  auto p = parse_request(msg);
  EXPECT_EQ(p.genl->cmd, SOCK_VS_CMD_TXN_BEGIN);
  EXPECT_NE(p.nlh->nlmsg_flags & NLM_F_ACK, 0);
  ASSERT_NE(p.top[SOCK_VS_ATTR_TXN], nullptr);
  EXPECT_NE(p.top[SOCK_VS_ATTR_TXN]->nla_type & NLA_F_NESTED, 0);
  const auto a = attrs(attr_bytes(p.top[SOCK_VS_ATTR_TXN]));
  ASSERT_EQ(a.size(), 2U);
  EXPECT_EQ(a[0].first, SOCK_VS_TXN_ATTR_FLAGS);
  std::uint32_t flags = 0;
  std::memcpy(&flags, a[0].second.data(), 4);
  EXPECT_EQ(flags, SOCK_VS_TXN_F_REPLACE);
  EXPECT_EQ(a[1].first, SOCK_VS_TXN_ATTR_GENERATION);
  std::uint64_t gen = 0;
  ASSERT_EQ(a[1].second.size(), 8U);
  std::memcpy(&gen, a[1].second.data(), 8);
  EXPECT_EQ(gen, 41U);

  msg = build_txn_begin(kFamily, false, std::nullopt);
  p = parse_request(msg);
  const auto b = attrs(attr_bytes(p.top[SOCK_VS_ATTR_TXN]));
  ASSERT_EQ(b.size(), 1U);  // no generation: commit whatever the table's
  std::memcpy(&flags, b[0].second.data(), 4);
  EXPECT_EQ(flags, 0U);
  const auto commit = build_txn_commit(kFamily);
  EXPECT_EQ(parse_request(commit).genl->cmd, SOCK_VS_CMD_TXN_COMMIT);
  const auto abort = build_txn_abort(kFamily);
  EXPECT_EQ(parse_request(abort).genl->cmd, SOCK_VS_CMD_TXN_ABORT);
}

TEST(TxnRequest, AnEntryIsTheNewServiceAndNewDestNests) {
  TxnService ts;
  ts.service = Service::from_key(tcp_key(), "mh");
  ts.service.persist = 60;
  RealServer with = dest("192.168.1.5", 8080, 3);
  with.u_threshold = 100;
  with.l_threshold = 0;  // the default: left out
  with.shards = 1;
  ts.dests = {with, dest("192.168.1.6", 8080)};
  TxnEntryLayout layout;
  const Bytes e = encode_txn_entry(ts, &layout);
  ASSERT_EQ(e.size() % 4, 0U);
  nlattr h{};
  std::memcpy(&h, e.data(), sizeof h);
  EXPECT_EQ(h.nla_type, SOCK_VS_ATTR_TXN_SVC | NLA_F_NESTED);
  EXPECT_EQ(NLA_ALIGN(h.nla_len), e.size());
  const auto inner = attrs(Bytes(e.begin() + NLA_HDRLEN, e.end()));
  ASSERT_EQ(inner.size(), 3U);
  EXPECT_EQ(inner[0].first, SOCK_VS_TXN_SVC_ATTR_SERVICE | NLA_F_NESTED);
  EXPECT_EQ(inner[0].second, top_nest(build_new_service(kFamily, ts.service), SOCK_VS_ATTR_SERVICE));
  EXPECT_EQ(inner[1].first, SOCK_VS_TXN_SVC_ATTR_DEST | NLA_F_NESTED);
  RealServer lean = with;
  lean.l_threshold.reset();
  lean.shards.reset();
  EXPECT_EQ(inner[1].second, top_nest(build_new_dest(kFamily, tcp_key(), lean), SOCK_VS_ATTR_DEST));
  EXPECT_EQ(inner[2].second,
            top_nest(build_new_dest(kFamily, tcp_key(), ts.dests[1]), SOCK_VS_ATTR_DEST));
  EXPECT_EQ(layout.service_offset, NLA_HDRLEN);
  ASSERT_EQ(layout.dest_offsets.size(), 2U);
  std::memcpy(&h, e.data() + layout.dest_offsets[1], sizeof h);
  EXPECT_EQ(h.nla_type, SOCK_VS_TXN_SVC_ATTR_DEST | NLA_F_NESTED);
}

TEST(TxnRequest, ADeletionIsTheKeyAndAFlag) {
  TxnService ts;
  ts.service = Service::from_key(tcp_key(), "rr");
  ts.remove = true;
  const Bytes e = encode_txn_entry(ts);
  const auto inner = attrs(Bytes(e.begin() + NLA_HDRLEN, e.end()));
  ASSERT_EQ(inner.size(), 2U);
  EXPECT_EQ(inner[0].second, top_nest(build_del_service(kFamily, tcp_key()), SOCK_VS_ATTR_SERVICE));
  EXPECT_EQ(inner[1].first, SOCK_VS_TXN_SVC_ATTR_DELETE);
  EXPECT_TRUE(inner[1].second.empty());
  ts.dests = {dest("192.168.1.5", 80)};
  EXPECT_THROW(encode_txn_entry(ts), Error);
}

TEST(TxnRequest, InvalidInputIsRefusedAsBySingleCommands) {
  TxnService ts;
  ts.service = Service::from_key(tcp_key(), "bad name!");
  try {
    encode_txn_entry(ts);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EINVAL);
  }
  ts.service.sched_name = "rr";
  ts.dests = {dest("fd00::5", 80)};
  try {
    encode_txn_entry(ts);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EAFNOSUPPORT);
  }
}

TEST(TxnRequest, TooManyRealServersForOneEntry) {
  TxnService ts;
  ts.service = Service::from_key(ServiceKey{IPPROTO_TCP, *Address::parse("fd00::1"), 80}, "rr");
  for (int i = 0; i < 1024; ++i) {
    RealServer d = dest("fd00::2", static_cast<std::uint16_t>(1000 + i));
    d.u_threshold = 10;
    d.l_threshold = 5;
    d.shards = 2;
    ts.dests.push_back(d);
  }
  try {
    encode_txn_entry(ts);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EMSGSIZE);
    EXPECT_NE(std::string(e.what()).find("service TCP [fd00::1]:80"), std::string::npos);
  }
  for (auto& d : ts.dests) {  // the defaults are left out: it fits
    d.u_threshold.reset();
    d.l_threshold.reset();
    d.shards.reset();
  }
  EXPECT_NO_THROW(encode_txn_entry(ts));
}

TEST(TxnRequest, StageMessagesPackEntriesAndSayWhere) {
  std::vector<Bytes> entries;
  std::vector<TxnEntryLayout> layouts(5);
  for (int i = 0; i < 5; ++i) {
    TxnService ts;
    ts.service = Service::from_key(tcp_key("10.0.0.1", static_cast<std::uint16_t>(80 + i)), "rr");
    ts.dests = {dest("192.168.1.5", 8080), dest("192.168.1.6", 8080)};
    entries.push_back(encode_txn_entry(ts, &layouts[static_cast<std::size_t>(i)]));
  }
  const std::size_t one = entries[0].size();
  StageMessage m = build_txn_stage(kFamily, entries, 1, 2 * one + one / 2);
  EXPECT_EQ(m.count, 2U);
  ASSERT_EQ(m.offsets.size(), 2U);
  const auto* base = reinterpret_cast<const std::uint8_t*>(nlmsg_hdr(m.msg.get()));
  EXPECT_EQ(m.offsets[0], NLMSG_HDRLEN + GENL_HDRLEN);
  EXPECT_EQ(std::memcmp(base + m.offsets[1], entries[2].data(), one), 0);
  EXPECT_EQ(nlmsg_hdr(m.msg.get())->nlmsg_len, NLMSG_HDRLEN + GENL_HDRLEN + 2 * one);
  EXPECT_EQ(parse_request(m.msg).genl->cmd, SOCK_VS_CMD_TXN_STAGE);
  // At least one, even too big.
  m = build_txn_stage(kFamily, entries, 4, 1);
  EXPECT_EQ(m.count, 1U);

  // Where an offset falls: entry 2's scheduler name, its second server's port.
  m = build_txn_stage(kFamily, entries, 1, 1 << 20);
  ASSERT_EQ(m.count, 4U);
  auto find = [&](std::size_t entry_off, int type, std::size_t nest) {
    std::size_t pos = entry_off + nest + NLA_HDRLEN;
    for (const auto& [t, payload] : attrs(Bytes(entries[2].begin() + static_cast<long>(nest + NLA_HDRLEN),
                                                entries[2].end()))) {
      if ((t & NLA_TYPE_MASK) == type) {
        return pos;
      }
      pos += NLA_ALIGN(NLA_HDRLEN + payload.size());
    }
    return std::size_t{0};
  };
  const std::size_t e2 = m.offsets[1];
  auto place = locate_txn_offset(entries, layouts, 1, m.offsets,
                                 find(e2, SOCK_VS_SVC_ATTR_SCHED_NAME, layouts[2].service_offset));
  ASSERT_TRUE(place);
  EXPECT_EQ(place->entry, 2U);
  EXPECT_FALSE(place->dest);
  EXPECT_EQ(place->attr, SOCK_VS_SVC_ATTR_SCHED_NAME);
  place = locate_txn_offset(entries, layouts, 1, m.offsets,
                            find(e2, SOCK_VS_DEST_ATTR_PORT, layouts[2].dest_offsets[1]) + 2);
  ASSERT_TRUE(place);
  EXPECT_EQ(place->entry, 2U);
  EXPECT_EQ(place->dest, 1U);
  EXPECT_EQ(place->attr, SOCK_VS_DEST_ATTR_PORT);
  place = locate_txn_offset(entries, layouts, 1, m.offsets, e2);  // the entry itself
  ASSERT_TRUE(place);
  EXPECT_EQ(place->entry, 2U);
  EXPECT_FALSE(place->dest);
  EXPECT_EQ(place->attr, 0);
  EXPECT_FALSE(locate_txn_offset(entries, layouts, 1, m.offsets, 4));  // the header
}

TEST(TxnReply, CommitAnswer) {
  ReplyBuilder r(SOCK_VS_CMD_TXN_COMMIT);
  r.nest(SOCK_VS_ATTR_TXN)
      .u32(SOCK_VS_TXN_ATTR_ADDED, 2)
      .u32(SOCK_VS_TXN_ATTR_CHANGED, 3)
      .u32(SOCK_VS_TXN_ATTR_DELETED, 4)
      .u32(SOCK_VS_TXN_ATTR_UNCHANGED, 5)
      .u64(SOCK_VS_TXN_ATTR_GENERATION, 77)
      .end()
      .u32(SOCK_VS_ATTR_KILLED, 6);
  const TxnResult res = parse_txn_reply(r.hdr());
  EXPECT_EQ(res, (TxnResult{2, 3, 4, 5, 6, 77}));
  ReplyBuilder bad(SOCK_VS_CMD_TXN_COMMIT);
  bad.u32(SOCK_VS_ATTR_KILLED, 1);
  try {
    parse_txn_reply(bad.hdr());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EPROTO);
  }
}

TEST(TxnReply, InfoGeneration) {
  ReplyBuilder with(SOCK_VS_CMD_GET_INFO);
  with.nest(SOCK_VS_ATTR_INFO).str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0")
      .u64(SOCK_VS_INFO_ATTR_GENERATION, 1234).end();
  EXPECT_EQ(parse_info_generation(with.hdr()), 1234U);
  ReplyBuilder without(SOCK_VS_CMD_GET_INFO);
  without.nest(SOCK_VS_ATTR_INFO).str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0").end();
  EXPECT_EQ(parse_info_generation(without.hdr()), std::nullopt);
}

// An NLMSG_ERROR with extended ACK TLVs, capped or with the request echoed.
const nlmsghdr* error_message(RawMsg& m, bool capped, std::optional<std::uint32_t> offs) {
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
  m.put(&h, sizeof h);
  nlmsgerr err{};
  err.error = -ENOENT;
  err.msg.nlmsg_len = capped ? NLMSG_HDRLEN : NLMSG_HDRLEN + 8;
  m.put(&err, sizeof err);
  if (!capped) {
    const std::uint8_t echoed[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    m.put(echoed, sizeof echoed);
  }
  m.attr_string(NLMSGERR_ATTR_MSG, "unknown scheduler");
  if (offs) {
    m.attr(NLMSGERR_ATTR_OFFS, &*offs, 4);
  }
  return m.finish();
}

TEST(TxnReply, ErrorOffset) {
  RawMsg a;
  EXPECT_EQ(error_attr_offset(error_message(a, true, 144)), 144U);
  RawMsg b;
  EXPECT_EQ(error_attr_offset(error_message(b, false, 36)), 36U);
  RawMsg c;
  EXPECT_EQ(error_attr_offset(error_message(c, true, std::nullopt)), std::nullopt);
  RawMsg d;
  const nlmsghdr* h = error_message(d, false, 8);
  EXPECT_EQ(parse_error_message(h).ext_ack, "unknown scheduler");  // unchanged
}

TEST(TxnNames, LabelsAsTheModuleWritesThem) {
  EXPECT_EQ(txn_service_label(tcp_key()), "service TCP 10.0.0.1:80");
  const ServiceKey v6{IPPROTO_UDP, *Address::parse("fd00::53"), 53};
  EXPECT_EQ(txn_service_label(v6), "service UDP [fd00::53]:53");
  EXPECT_EQ(strip_service_label("service UDP [fd00::53]:53: unknown scheduler", v6),
            "unknown scheduler");
  EXPECT_EQ(strip_service_label("unknown scheduler", v6), "unknown scheduler");
  EXPECT_EQ(strip_service_label("service TCP 10.0.0.1:80: x", v6), "service TCP 10.0.0.1:80: x");
}

TEST(TxnMerge, ServiceEditsAsSetService) {
  Service prev = Service::from_key(tcp_key(), "mh");
  prev.hash_key = HashKey::kCgroup;
  prev.shard_policy = ShardPolicy::kLc;
  prev.terminate = Terminate::kAll;
  prev.persist = 600;
  prev.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  prev.skip = std::vector<SkipRule>{SkipUid{5, 9}};
  Service edit = Service::from_key(tcp_key());  // no scheduler: unchanged
  edit.persist = 0;
  std::vector<std::uint16_t> types;
  Service got = merge_service_edit(prev, edit, &types);
  Service want = prev;
  want.flags = 0;  // always sent
  want.persist = 0;
  EXPECT_EQ(got, want);
  EXPECT_NE(std::find(types.begin(), types.end(), SOCK_VS_SVC_ATTR_FLAGS), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), SOCK_VS_SVC_ATTR_SCHED_NAME), types.end());
  edit.sched_name = "rr";
  edit.skip = std::vector<SkipRule>{};
  edit.hash_key = HashKey::kNetns;
  got = merge_service_edit(prev, edit);
  EXPECT_EQ(got.sched_name, "rr");
  EXPECT_EQ(got.skip, std::vector<SkipRule>{});  // an empty nest: cleared
  EXPECT_EQ(got.hash_key, HashKey::kNetns);
  EXPECT_EQ(got.shard_policy, ShardPolicy::kLc);
  EXPECT_EQ(got.terminate, Terminate::kAll);
}

TEST(TxnMerge, DestEditsAsSetDest) {
  RealServer prev = dest("192.168.1.5", 80, 2);
  prev.u_threshold = 100;
  prev.l_threshold = 50;
  prev.shards = 4;
  RealServer edit = dest("192.168.1.5", 80, 7);
  RealServer got = merge_dest_edit(tcp_key(), prev, edit);
  RealServer want = prev;
  want.weight = 7;
  EXPECT_EQ(got, want);
  edit.l_threshold = 0;
  got = merge_dest_edit(tcp_key(), prev, edit);
  EXPECT_EQ(got.l_threshold, 0U);
  EXPECT_EQ(got.u_threshold, 100U);
}

using Entry = TableModel::Entry;

std::vector<Entry> two_services() {
  Service a = Service::from_key(tcp_key("10.0.0.1"), "rr");
  a.persist = 0;
  Service b = Service::from_key(tcp_key("10.0.0.2"), "wrr");
  b.persist = 0;
  return {Entry{a, {dest("192.168.1.5", 80), dest("192.168.1.6", 80)}}, Entry{b, {}}};
}

TEST(TableModelTest, OnlyWhatTheCommandsTouchIsStaged) {
  TableModel m(two_services());
  m.set_line(3);
  m.add_dest(tcp_key("10.0.0.1"), dest("192.168.1.7", 80, 5));
  m.set_line(4);
  m.add_service(Service::from_key(tcp_key("10.0.0.3"), "lc"));
  m.set_line(5);
  m.del_dest(tcp_key("10.0.0.1"), dest("192.168.1.5", 80));
  const Transaction t = m.transaction();
  EXPECT_FALSE(t.replace);
  ASSERT_EQ(t.services.size(), 2U);
  EXPECT_EQ(t.services[0].service.key(), tcp_key("10.0.0.1"));
  ASSERT_EQ(t.services[0].dests.size(), 2U);
  EXPECT_EQ(t.services[0].dests[0].addr, *Address::parse("192.168.1.6"));
  EXPECT_EQ(t.services[0].dests[1].weight, 5U);
  EXPECT_EQ(t.services[1].service.sched_name, "lc");
  EXPECT_EQ(m.line_of(0, 1, 0), 3);  // the server added at line 3
  EXPECT_EQ(m.line_of(1, std::nullopt, SOCK_VS_SVC_ATTR_SCHED_NAME), 4);
}

TEST(TableModelTest, DeletionsAndAFlush) {
  TableModel m(two_services());
  m.set_line(1);
  m.del_service(tcp_key("10.0.0.2"));
  Transaction t = m.transaction();
  ASSERT_EQ(t.services.size(), 1U);
  EXPECT_TRUE(t.services[0].remove);
  EXPECT_EQ(t.services[0].service.key(), tcp_key("10.0.0.2"));
  m.set_line(2);
  m.add_service(Service::from_key(tcp_key("10.0.0.2"), "sh"));  // back: changed, not deleted
  t = m.transaction();
  ASSERT_EQ(t.services.size(), 1U);
  EXPECT_FALSE(t.services[0].remove);
  EXPECT_EQ(t.services[0].service.sched_name, "sh");
  m.set_line(3);
  m.flush();
  m.set_line(4);
  m.add_service(Service::from_key(tcp_key("10.0.0.9"), "rr"));
  t = m.transaction();
  EXPECT_TRUE(t.replace);  // after -C: the whole table
  ASSERT_EQ(t.services.size(), 1U);
  EXPECT_EQ(t.services[0].service.key(), tcp_key("10.0.0.9"));
  m.set_line(5);
  m.flush();
  t = m.transaction();
  EXPECT_TRUE(t.replace);
  EXPECT_TRUE(t.services.empty());  // an empty table
}

// The model finds services by key, not by position: keys that differ only
// in protocol, port or family are different services, a deleted one is gone
// from the look-up, and the table keeps its order through deletes and adds.
TEST(TableModelTest, LooksUpByKeyThroughDeletesAndAdds) {
  std::vector<Entry> table;
  for (int i = 0; i < 300; ++i) {
    const std::string a = "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    table.push_back(Entry{Service::from_key(tcp_key(a.c_str()), "rr"), {dest("192.168.1.5", 80)}});
  }
  TableModel m(std::move(table));
  ServiceKey udp = tcp_key("10.1.0.7");
  udp.protocol = IPPROTO_UDP;
  EXPECT_THROW(m.get_service(udp), Error);  // same address and port, other protocol
  EXPECT_THROW(m.get_service(tcp_key("10.1.0.7", 81)), Error);
  EXPECT_THROW(m.get_service(tcp_key("::ffff:10.1.0.7")), Error);
  m.set_line(1);
  m.del_service(tcp_key("10.1.0.7"));
  EXPECT_THROW(m.get_service(tcp_key("10.1.0.7")), Error);
  EXPECT_THROW(m.del_service(tcp_key("10.1.0.7")), Error);
  m.set_line(2);
  m.add_service(Service::from_key(udp, "sh"));
  m.set_line(3);
  m.add_service(Service::from_key(tcp_key("10.1.0.7"), "lc"));  // back, at the end
  m.set_line(4);
  m.add_dest(tcp_key("10.1.1.50"), dest("192.168.1.6", 80));  // the 300th, past the deleted one
  EXPECT_EQ(m.get_service(tcp_key("10.1.1.50")).num_dests, 2U);
  EXPECT_EQ(m.list_services().size(), 301U);
  const Transaction t = m.transaction();
  ASSERT_EQ(t.services.size(), 3U);  // table order: the 300th, then the two adds
  EXPECT_EQ(t.services[0].service.key(), tcp_key("10.1.1.50"));
  EXPECT_EQ(t.services[1].service.key(), udp);
  EXPECT_EQ(t.services[2].service.key(), tcp_key("10.1.0.7"));
  EXPECT_EQ(t.services[2].service.sched_name, "lc");
  EXPECT_EQ(m.line_of(2, std::nullopt, 0), 3);
  m.flush();
  EXPECT_TRUE(m.list_services().empty());
  EXPECT_THROW(m.get_service(tcp_key("10.1.1.50")), Error);
}

TEST(TableModelTest, TheModulesErrors) {
  TableModel m(two_services());
  auto code = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::make_pair(e.code(), std::string(e.what()));
    }
    return std::make_pair(0, std::string());
  };
  EXPECT_EQ(code([&] { m.add_service(Service::from_key(tcp_key("10.0.0.1"))); }),
            std::make_pair(EEXIST, std::string("service already exists")));
  EXPECT_EQ(code([&] { m.edit_service(Service::from_key(tcp_key("10.0.0.9"))); }),
            std::make_pair(ESRCH, std::string("no such service")));
  EXPECT_EQ(code([&] { m.add_dest(tcp_key("10.0.0.1"), dest("192.168.1.5", 80)); }),
            std::make_pair(EEXIST, std::string("real server already exists")));
  EXPECT_EQ(code([&] { m.edit_dest(tcp_key("10.0.0.1"), dest("192.168.1.9", 80)); }),
            std::make_pair(ENOENT, std::string("no such real server")));
  EXPECT_EQ(code([&] { m.del_dest(tcp_key("10.0.0.2"), dest("192.168.1.9", 80)); }),
            std::make_pair(ENOENT, std::string("no such real server")));
  RealServer sharded = dest("192.168.1.5", 80);
  sharded.shards = 4;
  EXPECT_EQ(code([&] { m.edit_dest(tcp_key("10.0.0.1"), sharded); }).first, EINVAL);
  EXPECT_EQ(code([&] { m.zero(tcp_key("10.0.0.9")); }).first, ESRCH);
  EXPECT_EQ(code([&] { m.add_dest(tcp_key("10.0.0.1"), dest("fd00::1", 80)); }).first, EAFNOSUPPORT);
  EXPECT_TRUE(m.transaction().services.empty());  // nothing happened
}

TEST(TableModelTest, EditsKeepWhatTheyDoNotSetAndTheirLines) {
  TableModel m(two_services());
  Service e = Service::from_key(tcp_key("10.0.0.1"), "mh");
  m.set_line(7);
  m.edit_service(e);
  RealServer d = dest("192.168.1.6", 80, 9);
  d.u_threshold = 40;
  m.set_line(8);
  m.edit_dest(tcp_key("10.0.0.1"), d);
  m.set_line(9);
  m.zero(std::nullopt);
  const Transaction t = m.transaction();
  ASSERT_EQ(t.services.size(), 1U);
  EXPECT_EQ(t.services[0].service.sched_name, "mh");
  EXPECT_EQ(t.services[0].service.persist, 0U);  // as read from the module
  EXPECT_EQ(t.services[0].dests[1].weight, 9U);
  EXPECT_EQ(t.services[0].dests[1].u_threshold, 40U);
  EXPECT_EQ(m.line_of(0, std::nullopt, SOCK_VS_SVC_ATTR_SCHED_NAME), 7);
  EXPECT_EQ(m.line_of(0, 1, SOCK_VS_DEST_ATTR_U_THRESH), 8);
  EXPECT_EQ(m.line_of(0, 0, SOCK_VS_DEST_ATTR_WEIGHT), 7);  // not touched: its service's
  EXPECT_EQ(m.zeros().size(), 1U);
}

// -R over a fake module.
class RestoreTxnTest : public ::testing::Test {
 protected:
  std::string restore(const std::string& text) {
    std::istringstream in(text);
    const auto lines = sockvsadm::parse_restore(in);
    std::ostringstream err;
    try {
      sockvsadm::restore_atomic(fake, lines, err);
    } catch (const Error& e) {
      return err.str() + e.what();
    }
    return err.str();
  }
  testing::FakeApi fake;
};

TEST_F(RestoreTxnTest, OneCommitAndTheGeneration) {
  EXPECT_EQ(restore("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 192.168.1.5\n-Z\n"), "");
  ASSERT_EQ(fake.commits.size(), 1U);
  EXPECT_EQ(fake.commits[0].generation, 0U);
  ASSERT_EQ(fake.table.size(), 1U);
  EXPECT_EQ(fake.table[0].dests.size(), 1U);
  EXPECT_EQ(fake.calls.back(), "zero");  // -Z after the commit
}

TEST_F(RestoreTxnTest, AChangedTableIsReadAgain) {
  int changes = 0;
  fake.before_commit = [&] {
    if (changes++ == 0) {
      fake.add_service(Service::from_key(tcp_key("10.0.0.7"), "rr"));  // another program
    }
  };
  EXPECT_EQ(restore("-A -t 10.0.0.1:80 -s rr\n"), "");
  EXPECT_EQ(fake.commits.size(), 1U);
  EXPECT_EQ(fake.table.size(), 2U);  // the other program's service stays
  fake.before_commit = [&] { fake.gen += 1; };
  const std::string err = restore("-A -t 10.0.0.2:80 -s rr\n");
  EXPECT_EQ(err,
            "the table kept changing while the rules were applied (5 tries) (nothing was "
            "applied)");
  EXPECT_EQ(fake.table.size(), 2U);
}

TEST_F(RestoreTxnTest, TheModulesRefusalNamesItsLine) {
  fake.add_service(Service::from_key(tcp_key("10.0.0.1"), "rr"));
  EXPECT_EQ(restore("-a -t 10.0.0.1:80 -r 192.168.1.5\n"
                    "-A -t 10.0.0.2:80 -s rr\n"
                    "-E -t 10.0.0.2:80 -s nosuch\n"
                    "-a -t 10.0.0.2:80 -r 192.168.1.6\n"),
            "line 3: unknown scheduler 'nosuch' (nothing was applied)");
  EXPECT_EQ(fake.table.size(), 1U);
  EXPECT_TRUE(fake.table[0].dests.empty());
  // A real server's: the line that set the attribute the module points at.
  EXPECT_EQ(restore("-a -t 10.0.0.1:80 -r 192.168.1.5\n"
                    "-e -t 10.0.0.1:80 -r 192.168.1.5 -w 1 -y 5\n"),
            "line 2: lower threshold above upper threshold (nothing was applied)");
}

TEST_F(RestoreTxnTest, AnOlderModuleGoesLineByLineWithAWarning) {
  fake.knows_txn = false;
  const std::string err = restore("-A -t 10.0.0.1:80 -s rr\n");
  EXPECT_EQ(err.rfind("sockvsadm: warning: the sock_vs module predates transactions", 0), 0U);
  EXPECT_EQ(fake.table.size(), 1U);
  EXPECT_TRUE(fake.commits.empty());
}

}  // namespace
}  // namespace sockvs
