// Persistence (-p / --persistent, SOCK_VS_SVC_ATTR_PERSIST), the netns hash
// key and the persistence templates (SOCK_VS_CMD_GET_TEMPLATE, -L -c): the
// command line, the messages, the output, JSON, and sockvsadm end to end
// against the in-memory module.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "cli.h"
#include "fake_api.h"
#include "format.h"
#include "json.h"
#include "nl_test_util.h"
#include "restore.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;
using sockvs::testing::kFamily;
using sockvs::testing::parse_request;
using sockvs::testing::ReplyBuilder;

const std::uint8_t kVip4[4] = {10, 0, 0, 1};
const std::uint8_t kReal4[4] = {192, 168, 1, 5};
const std::uint8_t kVip6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::uint8_t kReal6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

sockvs::Address addr(const char* text) { return *sockvs::Address::parse(text); }

sockvs::ServiceKey tcp_key() { return sockvs::ServiceKey{IPPROTO_TCP, addr("10.0.0.1"), 80}; }

int error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const sockvs::Error& e) {
    return e.code();
  }
  return 0;
}

Command parse(std::vector<std::string> args) { return parse_command(args); }

std::string usage_error(std::vector<std::string> args) {
  try {
    parse_command(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "<no error>";
}

sockvs::Template tmpl(std::uint16_t proto, const char* vaddr, std::uint16_t vport,
                      const char* daddr, std::uint16_t dport, sockvs::HashKey kind,
                      std::uint64_t client, std::uint32_t conns, std::uint32_t expires) {
  sockvs::Template t;
  t.protocol = proto;
  t.vaddr = addr(vaddr);
  t.vport = vport;
  t.daddr = addr(daddr);
  t.dport = dport;
  t.client_kind = kind;
  t.client = client;
  t.conns = conns;
  t.expires = expires;
  return t;
}

// --- command line ------------------------------------------------------------------

TEST(PersistCli, TimeoutForms) {
  const auto persist = [](std::vector<std::string> extra) {
    std::vector<std::string> args = {"-A", "-t", "10.0.0.1:80"};
    args.insert(args.end(), extra.begin(), extra.end());
    return parse(args).persist;
  };
  EXPECT_EQ(persist({}), 0U);  // not persistent
  EXPECT_EQ(persist({"-p"}), 300U);
  EXPECT_EQ(persist({"-p"}), static_cast<std::uint32_t>(SOCK_VS_PERSIST_DEFAULT));
  EXPECT_EQ(persist({"-p", "600"}), 600U);
  EXPECT_EQ(persist({"-p600"}), 600U);
  EXPECT_EQ(persist({"--persistent"}), 300U);
  EXPECT_EQ(persist({"--persistent", "60"}), 60U);
  EXPECT_EQ(persist({"--persistent=60"}), 60U);
  EXPECT_EQ(persist({"-p", "1"}), 1U);
  EXPECT_EQ(persist({"-p", "2678400"}), 2678400U);
  EXPECT_EQ(persist({"-p", "0300"}), 300U);  // digits: leading zeros are decimal
  // -p alone followed by another option, in any order.
  EXPECT_EQ(persist({"-p", "-s", "rr"}), 300U);
  EXPECT_EQ(persist({"-p", "--hash-key", "netns"}), 300U);
  Command c = parse({"-A", "-p", "-t", "10.0.0.1:80", "-s", "sh"});
  EXPECT_EQ(c.persist, 300U);
  EXPECT_EQ(c.scheduler, "sh");
  c = parse({"-Ap", "-t", "10.0.0.1:80"});  // bundled, no value
  EXPECT_EQ(c.op, Op::kAddService);
  EXPECT_EQ(c.persist, 300U);
  c = parse({"-A", "-p", "120", "-t", "10.0.0.1:80", "-s", "rr"});
  EXPECT_EQ(c.persist, 120U);
  EXPECT_EQ(c.service, tcp_key());
  // -E: given, or 0 (-E sets persistence anew, like ipvsadm).
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "-p", "10"}).persist, 10U);
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "-p"}).persist, 300U);
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "-s", "rr"}).persist, 0U);
}

TEST(PersistCli, BadTimeouts) {
  const std::string range = ": expected 1-2678400";
  for (const char* bad : {"0", "2678401", "99999999", "99999999999999999999", "00"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", bad}),
              "invalid persistence timeout (-p) '" + std::string(bad) + "'" + range)
        << bad;
  }
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p0"}),
            "invalid persistence timeout (-p) '0'" + range);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-pabc"}),
            "invalid persistence timeout (-p) 'abc'" + range);
  for (const char* bad : {"", "abc", "-5", "+5", "5s", " 5", "0x10", "1e3"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--persistent=" + std::string(bad)}),
              "invalid persistence timeout (--persistent) '" + std::string(bad) + "'" + range)
        << bad;
  }
  EXPECT_EQ(usage_error({"-E", "-t", "10.0.0.1:80", "--persistent", "0"}),
            "invalid persistence timeout (--persistent) '0'" + range);
  // A word that is not all digits is not the timeout: it is left alone.
  const std::string digits = " (the timeout of -p is a number of seconds, digits only)";
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", "abc"}),
            "unexpected argument 'abc'" + digits);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", "5m"}),
            "unexpected argument '5m'" + digits);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--persistent", "1.5"}),
            "unexpected argument '1.5' (the timeout of --persistent is a number of seconds, digits "
            "only)");
  EXPECT_EQ(usage_error({"-Ap", "abc", "-t", "10.0.0.1:80"}), "unexpected argument 'abc'" + digits);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", "-5"}), "unknown option '-5'");
  EXPECT_EQ(usage_error({"-A", "-p", "10.0.0.1:80"}), "unexpected argument '10.0.0.1:80'" + digits);
  // Only right after the option.
  EXPECT_EQ(usage_error({"-A", "-p", "-t", "10.0.0.1:80", "abc"}), "unexpected argument 'abc'");
  // Once only.
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", "-p", "60"}),
            "option -p given more than once");
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-p", "60", "--persistent"}),
            "option --persistent given more than once");
}

TEST(PersistCli, OnlyOnAddAndEditService) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-p"}),
            "option -p is not valid with -a");
  EXPECT_EQ(usage_error({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-p", "60"}),
            "option -p is not valid with -e");
  EXPECT_EQ(usage_error({"-D", "-t", "10.0.0.1:80", "-p"}), "option -p is not valid with -D");
  EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "-p"}), "option -p is not valid with -K");
  EXPECT_EQ(usage_error({"-L", "-p"}), "option -p is not valid with -L");
  EXPECT_EQ(usage_error({"-S", "--persistent"}), "option --persistent is not valid with -S");
  EXPECT_EQ(usage_error({"-A", "-p"}), "-A needs a virtual service (-t or -u ADDRESS:PORT)");
}

TEST(PersistCli, NotWithThePortScheduler) {
  const std::string why =
      " cannot be combined with the port scheduler (persistence would override its choice by "
      "local port)";
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-s", "port", "-p"}), "option -p" + why);
  EXPECT_EQ(usage_error({"-E", "-t", "10.0.0.1:80", "-s", "port", "--persistent=60"}),
            "option --persistent" + why);
  // -E to port without -p turns persistence off: fine.
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "-s", "port"}).persist, 0U);
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "-s", "sh", "-p"}).persist, 300U);
}

TEST(PersistCli, NetnsHashKey) {
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "-p", "--hash-key", "netns"}).hash_key,
            sockvs::HashKey::kNetns);
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "--hash-key=netns"}).hash_key,
            sockvs::HashKey::kNetns);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--hash-key", "ns"}),
            "invalid hash key 'ns': expected tgid, local, cgroup or netns");
}

TEST(PersistCli, UsageDocumentsPersistenceAndNetns) {
  const std::string u = usage_text();
  for (const char* text :
       {"[-p [timeout]]", "--persistent   -p [timeout]", "1-2678400", "(default\n",
        "-E without -p makes the service\n", "non-persistent, as ipvsadm -E does",
        "Not with -s port", "local, cgroup or netns", "  netns   the socket's network namespace",
        "mh persistent 300 hash-key local", "(-S writes -p 300)", "-s mh -p 300 --hash-key local",
        "\"persistent\":300", "TEMPLATE", "expire 287s conns 2", "tgid:PID, cgroup:ID, netns",
        "CAP_NET_ADMIN"}) {
    EXPECT_NE(u.find(text), std::string::npos) << text;
  }
}

TEST(PersistCli, RestoreLines) {
  std::istringstream in(
      "-A -t 10.0.0.1:80 -s wrr -p 300 --hash-key netns\n"
      "-E -t 10.0.0.1:80 -p\n"
      "-E -t 10.0.0.1:80\n");
  const auto lines = parse_restore(in);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0].command.persist, 300U);
  EXPECT_EQ(lines[0].command.hash_key, sockvs::HashKey::kNetns);
  EXPECT_EQ(lines[1].command.persist, 300U);
  EXPECT_EQ(lines[2].command.persist, 0U);
  std::istringstream bad("-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80 -p 0\n");
  try {
    parse_restore(bad);
    ADD_FAILURE() << "no error";
  } catch (const RestoreError& e) {
    EXPECT_EQ(e.line_no(), 2);
    EXPECT_EQ(std::string(e.what()),
              "line 2: invalid persistence timeout (-p) '0': expected 1-2678400");
  }
}

// --- messages ----------------------------------------------------------------------

TEST(PersistMessages, PersistIsAU32WhenSet) {
  sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "sh");
  for (auto* build : {&sockvs::build_new_service, &sockvs::build_set_service}) {
    auto msg = (*build)(kFamily, svc);
    auto p = parse_request(msg);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_PERSIST], nullptr);  // not set: not sent
    for (const std::uint32_t v : {0U, 1U, 300U, 2678400U}) {
      svc.persist = v;
      msg = (*build)(kFamily, svc);
      p = parse_request(msg);
      ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_PERSIST], nullptr) << v;
      EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_PERSIST]), 4);
      EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_PERSIST]), v);
    }
    svc.persist.reset();
  }
  svc.persist = SOCK_VS_PERSIST_MAX + 1;
  EXPECT_EQ(error_code([&] { sockvs::build_new_service(kFamily, svc); }), EINVAL);
  EXPECT_EQ(error_code([&] { sockvs::build_set_service(kFamily, svc); }), EINVAL);
  // The netns hash key is a u8 like the others.
  svc.persist = 300;
  svc.hash_key = sockvs::HashKey::kNetns;
  const auto msg = sockvs::build_new_service(kFamily, svc);
  const auto p = parse_request(msg);
  ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY], nullptr);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY]), SOCK_VS_HASH_NETNS);
  svc.hash_key = static_cast<sockvs::HashKey>(SOCK_VS_HASH_NETNS + 1);
  EXPECT_EQ(error_code([&] { sockvs::build_new_service(kFamily, svc); }), EINVAL);
}

// A GET_SERVICE reply for TCP 10.0.0.1:80 plus `extra`.
template <typename F>
sockvs::Service parse_service_with(F&& extra) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kVip4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80);
  extra(b);
  b.end();
  return sockvs::parse_service_reply(b.hdr());
}

TEST(PersistMessages, ServiceReplyPersist) {
  EXPECT_EQ(
      parse_service_with([](ReplyBuilder& b) { b.u32(SOCK_VS_SVC_ATTR_PERSIST, 300); }).persist,
      300U);
  EXPECT_EQ(parse_service_with([](ReplyBuilder& b) { b.u32(SOCK_VS_SVC_ATTR_PERSIST, 0); }).persist,
            0U);
  // An older module: no attribute.
  EXPECT_FALSE(parse_service_with([](ReplyBuilder& /*b*/) {}).persist.has_value());
  EXPECT_EQ(
      parse_service_with([](ReplyBuilder& b) { b.u8(SOCK_VS_SVC_ATTR_HASH_KEY, 3); }).hash_key,
      sockvs::HashKey::kNetns);
  // Too short for a u32.
  EXPECT_EQ(error_code([] {
              parse_service_with([](ReplyBuilder& b) { b.u16(SOCK_VS_SVC_ATTR_PERSIST, 300); });
            }),
            EPROTO);
}

TEST(PersistMessages, InfoTemplates) {
  ReplyBuilder b(SOCK_VS_CMD_GET_INFO);
  b.nest(SOCK_VS_ATTR_INFO)
      .str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0")
      .u32(SOCK_VS_INFO_ATTR_TEMPLATES, 7)
      .u32(SOCK_VS_INFO_ATTR_MAX_TEMPLATES, 65536)
      .end();
  const sockvs::Info i = sockvs::parse_info_reply(b.hdr());
  EXPECT_EQ(i.templates, 7U);
  EXPECT_EQ(i.max_templates, 65536U);
  ReplyBuilder old(SOCK_VS_CMD_GET_INFO);
  old.nest(SOCK_VS_ATTR_INFO).str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0").end();
  EXPECT_EQ(sockvs::parse_info_reply(old.hdr()).templates, 0U);
  EXPECT_EQ(sockvs::parse_info_reply(old.hdr()).max_templates, 0U);
  ReplyBuilder shrt(SOCK_VS_CMD_GET_INFO);
  shrt.nest(SOCK_VS_ATTR_INFO)
      .str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0")
      .u16(SOCK_VS_INFO_ATTR_MAX_TEMPLATES, 1)
      .end();
  EXPECT_EQ(error_code([&] { sockvs::parse_info_reply(shrt.hdr()); }), EPROTO);
}

TEST(PersistMessages, ListTemplatesIsADumpWithoutAttributes) {
  const auto msg = sockvs::build_list_templates(kFamily);
  const auto p = parse_request(msg);
  EXPECT_EQ(p.nlh->nlmsg_type, kFamily);
  EXPECT_EQ(p.nlh->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP), NLM_F_DUMP);
  EXPECT_EQ(p.genl->cmd, SOCK_VS_CMD_GET_TEMPLATE);
  EXPECT_EQ(p.genl->version, SOCK_VS_GENL_VERSION);
  EXPECT_EQ(p.top_count, 0);
}

// The attributes of one template, each of which a test may leave out or
// replace.
struct TemplateAttrs {
  bool af = true;
  bool protocol = true;
  bool vaddr = true;
  bool vport = true;
  bool daddr = true;
  bool dport = true;
  bool kind = true;
  bool client = true;
  bool conns = true;
  bool expires = true;
};

ReplyBuilder template_reply(const TemplateAttrs& a,
                            const std::function<void(ReplyBuilder&)>& extra = {}) {
  ReplyBuilder b(SOCK_VS_CMD_GET_TEMPLATE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_TEMPLATE);
  if (a.af) {
    b.u16(SOCK_VS_TMPL_ATTR_AF, AF_INET);
  }
  if (a.protocol) {
    b.u16(SOCK_VS_TMPL_ATTR_PROTOCOL, IPPROTO_TCP);
  }
  if (a.vaddr) {
    b.raw(SOCK_VS_TMPL_ATTR_VADDR, kVip4, 4);
  }
  if (a.vport) {
    b.u16(SOCK_VS_TMPL_ATTR_VPORT, 80);
  }
  if (a.daddr) {
    b.raw(SOCK_VS_TMPL_ATTR_DADDR, kReal4, 4);
  }
  if (a.dport) {
    b.u16(SOCK_VS_TMPL_ATTR_DPORT, 8080);
  }
  if (a.kind) {
    b.u8(SOCK_VS_TMPL_ATTR_CLIENT_KIND, SOCK_VS_HASH_TGID);
  }
  if (a.client) {
    b.u64(SOCK_VS_TMPL_ATTR_CLIENT, 1234);
  }
  if (a.conns) {
    b.u32(SOCK_VS_TMPL_ATTR_CONNS, 2);
  }
  if (a.expires) {
    b.u32(SOCK_VS_TMPL_ATTR_EXPIRES, 300);
  }
  if (extra) {
    extra(b);
  }
  b.end();
  return b;
}

TEST(PersistMessages, ParseFullIPv4Template) {
  const auto b = template_reply(TemplateAttrs{});
  const sockvs::Template t = sockvs::parse_template_reply(b.hdr());
  EXPECT_EQ(t, tmpl(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.5", 8080, sockvs::HashKey::kTgid, 1234,
                    2, 300));
  EXPECT_EQ(t.af(), AF_INET);
}

TEST(PersistMessages, ParseIPv6TemplateWithoutAfConnsOrExpires) {
  ReplyBuilder b(SOCK_VS_CMD_GET_TEMPLATE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_TEMPLATE)
      .u16(SOCK_VS_TMPL_ATTR_PROTOCOL, IPPROTO_UDP)
      .raw(SOCK_VS_TMPL_ATTR_VADDR, kVip6, 16)
      .u16(SOCK_VS_TMPL_ATTR_VPORT, 53)
      .raw(SOCK_VS_TMPL_ATTR_DADDR, kReal6, 16)
      .u16(SOCK_VS_TMPL_ATTR_DPORT, 5353)
      .u8(SOCK_VS_TMPL_ATTR_CLIENT_KIND, SOCK_VS_HASH_NETNS)
      .u64(SOCK_VS_TMPL_ATTR_CLIENT, 0)
      .u32(SOCK_VS_TMPL_ATTR_MAX + 3, 99)  // from a newer module: ignored
      .end();
  const sockvs::Template t = sockvs::parse_template_reply(b.hdr());
  EXPECT_EQ(t, tmpl(IPPROTO_UDP, "fd00::1", 53, "fd00::2", 5353, sockvs::HashKey::kNetns, 0, 0, 0));
}

TEST(PersistMessages, TemplateClientKindFromANewerModuleIsKept) {
  const auto b = template_reply(TemplateAttrs{.kind = false},
                                [](ReplyBuilder& r) { r.u8(SOCK_VS_TMPL_ATTR_CLIENT_KIND, 9); });
  EXPECT_EQ(static_cast<int>(sockvs::parse_template_reply(b.hdr()).client_kind), 9);
}

TEST(PersistMessages, MalformedTemplatesAreEPROTO) {
  // No TEMPLATE nest (a connection instead).
  ReplyBuilder none(SOCK_VS_CMD_GET_TEMPLATE, NLM_F_MULTI);
  none.nest(SOCK_VS_ATTR_CONN).u16(SOCK_VS_CONN_ATTR_PROTOCOL, IPPROTO_TCP).end();
  EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(none.hdr()); }), EPROTO);
  // An empty message.
  ReplyBuilder empty(SOCK_VS_CMD_GET_TEMPLATE, NLM_F_MULTI);
  EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(empty.hdr()); }), EPROTO);
  // A TEMPLATE that is not a nest.
  ReplyBuilder flat(SOCK_VS_CMD_GET_TEMPLATE, NLM_F_MULTI);
  flat.u32(SOCK_VS_ATTR_TEMPLATE, 1);
  EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(flat.hdr()); }), EPROTO);
  // Each required attribute missing.
  const std::vector<std::pair<const char*, TemplateAttrs>> missing = {
      {"protocol", {.protocol = false}}, {"vaddr", {.vaddr = false}},
      {"vport", {.vport = false}},       {"daddr", {.daddr = false}},
      {"dport", {.dport = false}},       {"client kind", {.kind = false}},
      {"client", {.client = false}},
  };
  for (const auto& [name, attrs] : missing) {
    const auto b = template_reply(attrs);
    EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(b.hdr()); }), EPROTO) << name;
  }
  // Without AF, CONNS, EXPIRES it parses.
  const auto minimal = template_reply({.af = false, .conns = false, .expires = false});
  EXPECT_EQ(sockvs::parse_template_reply(minimal.hdr()).client, 1234U);
}

TEST(PersistMessages, ShortOrBadTemplateAttributesAreEPROTO) {
  struct Case {
    const char* name;
    TemplateAttrs drop;
    std::function<void(ReplyBuilder&)> put;
  };
  const std::uint8_t one = 1;
  const std::uint8_t four[4] = {1, 2, 3, 4};
  const std::vector<Case> cases = {
      {"vport of 1 byte",
       {.vport = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_VPORT, &one, 1); }},
      {"dport of 0 bytes",
       {.dport = false},
       [](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_DPORT, "", 0); }},
      {"protocol of 1 byte",
       {.protocol = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_PROTOCOL, &one, 1); }},
      {"client kind of 0 bytes",
       {.kind = false},
       [](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_CLIENT_KIND, "", 0); }},
      {"client of 4 bytes",
       {.client = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_CLIENT, four, 4); }},
      {"conns of 2 bytes",
       {.conns = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_CONNS, four, 2); }},
      {"expires of 1 byte",
       {.expires = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_EXPIRES, &one, 1); }},
      {"af of 1 byte",
       {.af = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_AF, &one, 1); }},
      {"vaddr of 3 bytes",
       {.vaddr = false},
       [&](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_VADDR, four, 3); }},
      {"daddr of IPv6 under AF_INET",
       {.daddr = false},
       [](ReplyBuilder& b) { b.raw(SOCK_VS_TMPL_ATTR_DADDR, kReal6, 16); }},
      {"unknown family",
       {.af = false},
       [](ReplyBuilder& b) { b.u16(SOCK_VS_TMPL_ATTR_AF, AF_UNIX); }},
  };
  for (const auto& c : cases) {
    const auto b = template_reply(c.drop, c.put);
    EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(b.hdr()); }), EPROTO) << c.name;
  }
  // Without AF, addresses of two lengths are two families.
  const auto mixed = template_reply({.af = false, .daddr = false}, [](ReplyBuilder& b) {
    b.raw(SOCK_VS_TMPL_ATTR_DADDR, kReal6, 16);
  });
  EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(mixed.hdr()); }), EPROTO);
  // AF says IPv6, the addresses are 4 bytes.
  const auto bad_af =
      template_reply({.af = false}, [](ReplyBuilder& b) { b.u16(SOCK_VS_TMPL_ATTR_AF, AF_INET6); });
  EXPECT_EQ(error_code([&] { sockvs::parse_template_reply(bad_af.hdr()); }), EPROTO);
  // A truncated message.
  EXPECT_EQ(error_code([] { sockvs::parse_template_reply(nullptr); }), EPROTO);
}

TEST(PersistTypes, DedupeKeepsTheFirstOfEachClientAndService) {
  using sockvs::HashKey;
  const auto a = tmpl(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.5", 80, HashKey::kTgid, 1, 2, 300);
  auto a_again = a;  // listed twice during a resize, with newer counters
  a_again.conns = 0;
  a_again.expires = 12;
  a_again.daddr = addr("192.168.1.6");
  auto other_proto = a;
  other_proto.protocol = IPPROTO_UDP;
  auto other_vaddr = a;
  other_vaddr.vaddr = addr("10.0.0.2");
  auto other_vport = a;
  other_vport.vport = 81;
  auto other_kind = a;
  other_kind.client_kind = HashKey::kCgroup;
  auto other_client = a;
  other_client.client = 2;
  const auto v6 = tmpl(IPPROTO_TCP, "fd00::1", 80, "fd00::2", 80, HashKey::kNetns, 0, 1, 300);
  std::vector<sockvs::Template> list = {a,           other_proto, a_again,      other_vaddr, v6,
                                        other_vport, other_kind,  other_client, v6,          a};
  sockvs::dedupe_templates(list);
  EXPECT_EQ(list, (std::vector<sockvs::Template>{a, other_proto, other_vaddr, v6, other_vport,
                                                 other_kind, other_client}));
  std::vector<sockvs::Template> nothing;
  sockvs::dedupe_templates(nothing);
  EXPECT_TRUE(nothing.empty());
}

TEST(PersistTypes, NetnsHashKeyName) {
  EXPECT_EQ(sockvs::hash_key_name(sockvs::HashKey::kNetns), "netns");
  EXPECT_EQ(sockvs::parse_hash_key("netns"), sockvs::HashKey::kNetns);
  EXPECT_EQ(sockvs::hash_key_name(static_cast<sockvs::HashKey>(4)), "4");
  EXPECT_EQ(sockvs::kPersistDefault, 300U);
  EXPECT_EQ(sockvs::kPersistMax, 2678400U);
}

// --- output ------------------------------------------------------------------------

sockvs::Service persistent_service(std::optional<std::uint32_t> persist) {
  sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "wrr");
  svc.persist = persist;
  return svc;
}

TEST(PersistFormat, ListFlagsAndSave) {
  EXPECT_EQ(service_flags(persistent_service(std::nullopt)), "");
  EXPECT_EQ(service_flags(persistent_service(0)), "");
  EXPECT_EQ(service_flags(persistent_service(300)), " persistent 300");
  sockvs::Service svc = persistent_service(2678400);
  svc.sched_name = "sh";
  svc.hash_key = sockvs::HashKey::kNetns;
  svc.terminate = sockvs::Terminate::kAll;
  svc.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  // After the scheduler, first, where ipvsadm prints it.
  EXPECT_EQ(service_flags(svc), " persistent 2678400 hash-key netns terminate all real-peername");
  EXPECT_EQ(format_save({ServiceEntry{svc, {}}}),
            "-A -t 10.0.0.1:80 -s sh -p 2678400 --hash-key netns --terminate all "
            "--real-peername\n");
  EXPECT_EQ(format_save({ServiceEntry{persistent_service(0), {}}}), "-A -t 10.0.0.1:80 -s wrr\n");
  const sockvs::Info info{"0.1.0", 1, "kprobe", "6.1.0", 256, 64, 0, 1, 65536};
  EXPECT_NE(format_list(info, {ServiceEntry{persistent_service(300), {}}}, ListOptions{})
                .find("\nTCP  10.0.0.1:80 wrr persistent 300\n"),
            std::string::npos);
}

TEST(PersistFormat, VersionShowsTemplates) {
  const sockvs::Info info{"0.1.0", 1, "kprobe", "6.1.0", 256, 64, 0, 3, 65536};
  EXPECT_NE(
      format_version("0.1.0", info, "").find("untracked=0, templates=3, max_templates=65536)\n"),
      std::string::npos);
}

TEST(PersistFormat, TemplateClients) {
  using sockvs::HashKey;
  auto t = tmpl(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.5", 80, HashKey::kTgid, 1234, 0, 0);
  EXPECT_EQ(template_client(t), "tgid:1234");
  t.client_kind = HashKey::kCgroup;
  t.client = 5678;
  EXPECT_EQ(template_client(t), "cgroup:5678");
  t.client_kind = HashKey::kNetns;
  t.client = 0;
  EXPECT_EQ(template_client(t), "netns");
  t.client_kind = HashKey::kLocal;
  t.client = 0x1a2b3c4d5e6f7081ULL;
  EXPECT_EQ(template_client(t), "local:0x1a2b3c4d5e6f7081");
  t.client = 0xff;
  EXPECT_EQ(template_client(t), "local:0xff");
  t.client_kind = static_cast<HashKey>(9);
  t.client = 42;
  EXPECT_EQ(template_client(t), "9:42");
}

sockvs::Connection conn(const char* local, std::uint16_t lport, const char* vaddr,
                        std::uint16_t vport, const char* daddr, std::uint16_t dport) {
  sockvs::Connection c;
  c.protocol = IPPROTO_TCP;
  c.local = addr(local);
  c.lport = lport;
  c.vaddr = addr(vaddr);
  c.vport = vport;
  c.daddr = addr(daddr);
  c.dport = dport;
  c.state = 1;
  c.pid = 1234;
  c.comm = "curl";
  return c;
}

TEST(PersistFormat, TemplatesAfterTheConnections) {
  using sockvs::HashKey;
  const std::vector<sockvs::Connection> conns = {
      conn("127.0.0.1", 40000, "10.0.0.1", 80, "192.168.1.5", 80)};
  const std::vector<sockvs::Template> templates = {
      tmpl(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.5", 80, HashKey::kTgid, 1234, 1, 300),
      tmpl(IPPROTO_UDP, "fd00::1", 53, "fd00::2", 5353, HashKey::kNetns, 0, 0, 287),
      tmpl(IPPROTO_TCP, "10.0.0.2", 443, "192.168.1.6", 443, HashKey::kLocal, 0x1a2b3c4d5e6f7081ULL,
           12, 60),
  };
  EXPECT_EQ(format_conns(conns, templates),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        pid/comm\n"
            "TCP ESTABLISHED 127.0.0.1:40000    10.0.0.1:80        192.168.1.5:80     1234/curl\n"
            "TCP TEMPLATE    tgid:1234          10.0.0.1:80        192.168.1.5:80     "
            "expire 300s conns 1\n"
            "UDP TEMPLATE    netns              [fd00::1]:53       [fd00::2]:5353     "
            "expire 287s conns 0\n"
            "TCP TEMPLATE    local:0x1a2b3c4d5e6f7081 10.0.0.2:443       192.168.1.6:443    "
            "expire 60s conns 12\n");
  // Templates alone.
  EXPECT_EQ(format_conns({}, {templates[0]}),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        pid/comm\n"
            "TCP TEMPLATE    tgid:1234          10.0.0.1:80        192.168.1.5:80     "
            "expire 300s conns 1\n");
  // With the shard column, a template has none.
  auto sharded = conns[0];
  sharded.shard = 3;
  EXPECT_EQ(format_conns({sharded}, {templates[0]}),
            "Sock VS connection entries\n"
            "pro state       source             virtual            destination        shard "
            "pid/comm\n"
            "TCP ESTABLISHED 127.0.0.1:40000    10.0.0.1:80        192.168.1.5:80     3     "
            "1234/curl\n"
            "TCP TEMPLATE    tgid:1234          10.0.0.1:80        192.168.1.5:80     -     "
            "expire 300s conns 1\n");
}

// --- JSON --------------------------------------------------------------------------

TEST(PersistJson, WrittenOnlyWhenPersistent) {
  std::vector<ServiceEntry> entries = {ServiceEntry{persistent_service(300), {}},
                                       ServiceEntry{persistent_service(0), {}},
                                       ServiceEntry{persistent_service(std::nullopt), {}}};
  entries[1].service.port = 81;
  entries[2].service.port = 82;
  const std::string text = format_json(entries, JsonView{});
  EXPECT_NE(text.find("\"scheduler\": \"wrr\",\n      \"persistent\": 300,\n      \"flags\""),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\"persistent\""), text.rfind("\"persistent\"")) << "only the first";
  const auto back = parse_json(text);
  ASSERT_EQ(back.size(), 3U);
  EXPECT_EQ(back[0].service.persist, 300U);
  EXPECT_FALSE(back[1].service.persist.has_value());
  EXPECT_FALSE(back[2].service.persist.has_value());
  // Round trip of what -S --json writes, and the -A it restores with.
  EXPECT_EQ(format_json(back, JsonView{}), text);
  const JsonRules rules = json_rules(back);
  ASSERT_EQ(rules.lines.size(), 3U);
  EXPECT_EQ(rules.lines[0].command.persist, 300U);
  EXPECT_EQ(rules.lines[1].command.persist, 0U);
}

TEST(PersistJson, ModuleObjectHasTheTemplates) {
  const sockvs::Info info{"0.1.0", 0, "kprobe", "6.1.0", 256, 64, 0, 5, 65536};
  const std::string text = format_json({}, JsonView{true, false}, info);
  EXPECT_NE(text.find("\"untracked\": 0,\n    \"templates\": 5,\n    \"max_templates\": 65536\n"),
            std::string::npos)
      << text;
}

std::string json_error(const std::string& service_fields) {
  try {
    parse_json(R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1", )"
               R"("port": 80)" +
               service_fields + "}]}");
  } catch (const JsonError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(PersistJson, ReadsZeroAndRejectsBadValues) {
  EXPECT_EQ(json_error(R"(, "persistent": 0)"), "<no error>");
  EXPECT_EQ(json_error(R"(, "persistent": 2678400)"), "<no error>");
  EXPECT_EQ(json_error(R"(, "persistent": 2678401)"),
            "JSON services[0].persistent: 2678401 out of range 0-2678400");
  EXPECT_EQ(json_error(R"(, "persistent": -1)"),
            "JSON services[0].persistent: -1 out of range 0-2678400");
  EXPECT_EQ(json_error(R"(, "persistent": "300")"),
            "JSON services[0].persistent: expected an integer 0-2678400, got string");
  EXPECT_EQ(json_error(R"(, "persistent": 1.5)"),
            "JSON services[0].persistent: expected an integer 0-2678400, got number");
  EXPECT_EQ(json_error(R"(, "persistent": true)"),
            "JSON services[0].persistent: expected an integer 0-2678400, got boolean");
  EXPECT_EQ(json_error(R"(, "persistent": 1, "persistent": 2)"),
            "JSON: duplicate key 'persistent'");
  EXPECT_EQ(json_error(R"(, "scheduler": "port", "persistent": 60)"),
            "JSON services[0].persistent: persistence cannot be combined with the port scheduler "
            "(it would override its choice by local port)");
  EXPECT_EQ(json_error(R"(, "scheduler": "port", "persistent": 0)"), "<no error>");
  EXPECT_EQ(json_error(R"(, "hash_key": "netns")"), "<no error>");
  EXPECT_EQ(json_error(R"(, "persistant": 300)"), "JSON services[0]: unknown key 'persistant'");
}

// --- sockvsadm against the in-memory module ----------------------------------------

using Proxy = sockvs::testing::FakeProxy;

// Records the Service of every add_service / edit_service.
class Recorder : public Proxy {
 public:
  Recorder(FakeApi& f, std::vector<sockvs::Service>& sent) : Proxy(f), sent_(sent) {}
  void add_service(const sockvs::Service& s) override {
    sent_.push_back(s);
    Proxy::add_service(s);
  }
  void edit_service(const sockvs::Service& s) override {
    sent_.push_back(s);
    Proxy::edit_service(s);
  }

 private:
  std::vector<sockvs::Service>& sent_;
};

// An Api that does not implement list_templates (another helper's fake).
class NoTemplates : public Proxy {
 public:
  using Proxy::Proxy;
  std::vector<sockvs::Template> list_templates() override { return Api::list_templates(); }
};

class PersistAppTest : public ::testing::Test {
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
      ++connects;
      if (no_templates) {
        return std::make_unique<NoTemplates>(fake);
      }
      return std::make_unique<Recorder>(fake, sent);
    });
    return {status, out.str(), err.str()};
  }

  std::string ok(std::vector<std::string> args, const std::string& input = "") {
    const Result r = run_args(std::move(args), input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  [[nodiscard]] std::optional<std::uint32_t> persist_of(std::size_t i) const {
    return fake.table.at(i).svc.persist;
  }

  FakeApi fake;
  std::vector<sockvs::Service> sent;
  bool no_templates = false;
  int connects = 0;
};

TEST_F(PersistAppTest, AddEditListSave) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "sh", "-p", "--hash-key", "netns"});
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].persist, 300U);
  EXPECT_EQ(persist_of(0), 300U);
  EXPECT_NE(ok({"-L", "-n"}).find("\nTCP  10.0.0.1:80 sh persistent 300 hash-key netns\n"),
            std::string::npos);
  EXPECT_EQ(ok({"-S", "-n"}), "-A -t 10.0.0.1:80 -s sh -p 300 --hash-key netns\n");
  // -A without -p sends no PERSIST (a module without persistence takes it).
  ok({"-A", "-u", "10.0.0.1:53"});
  EXPECT_FALSE(sent.back().persist.has_value());
  EXPECT_EQ(persist_of(1), 0U);
  // -E sets it anew: given, or off.
  ok({"-E", "-t", "10.0.0.1:80", "-p", "60"});
  EXPECT_EQ(sent.back().persist, 60U);
  EXPECT_EQ(persist_of(0), 60U);
  ok({"-E", "-t", "10.0.0.1:80", "-s", "mh"});
  EXPECT_EQ(sent.back().persist, 0U) << "-E without -p sends 0";
  EXPECT_EQ(persist_of(0), 0U);
  EXPECT_EQ(fake.table[0].svc.hash_key, sockvs::HashKey::kNetns) << "the rest stays";
  EXPECT_EQ(ok({"-S", "-n", "-t", "10.0.0.1:80"}), "-A -t 10.0.0.1:80 -s mh --hash-key netns\n");
  ok({"-E", "-t", "10.0.0.1:80", "--persistent"});
  EXPECT_EQ(persist_of(0), 300U);
  EXPECT_EQ(fake.table[0].svc.sched_name, "mh");
}

TEST_F(PersistAppTest, AModuleWithoutPersistence) {
  fake.knows_persist = false;
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr"});  // sends no PERSIST
  EXPECT_FALSE(persist_of(0).has_value());
  // -E sends PERSIST 0, refused as unknown: sent again without it.
  ok({"-E", "-t", "10.0.0.1:80", "-s", "wrr"});
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[1].persist, 0U);
  EXPECT_FALSE(sent[2].persist.has_value());
  EXPECT_EQ(fake.table[0].svc.sched_name, "wrr");
  EXPECT_EQ(ok({"-S", "-n"}), "-A -t 10.0.0.1:80 -s wrr\n");
  // Asking for persistence is the module's error.
  Result r = run_args({"-E", "-t", "10.0.0.1:80", "-p"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("Unknown attribute type"), std::string::npos) << r.err;
  r = run_args({"-A", "-t", "10.0.0.2:80", "-p"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(fake.table.size(), 1U);
  // Other errors are not retried.
  r = run_args({"-E", "-t", "10.0.0.9:80"});
  EXPECT_EQ(r.status, kExitFailure);
  // -R undoes an -E there too (its undo is an -E without -p): such a module
  // predates transactions as well, so -R goes line by line.
  fake.knows_txn = false;
  sent.clear();
  r = run_args({"-R"},
               "-E -t 10.0.0.1:80 -s rr\n"
               "-A -t 10.0.0.2:80 -s nosuch\n");  // refused by the module
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("the earlier lines were rolled back"), std::string::npos) << r.err;
  EXPECT_EQ(fake.table[0].svc.sched_name, "wrr");
}

TEST_F(PersistAppTest, UsageErrorsDoNotConnect) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-A", "-t", "10.0.0.1:80", "-p", "0"},
        std::vector<std::string>{"-A", "-t", "10.0.0.1:80", "-p", "abc"},
        std::vector<std::string>{"-A", "-t", "10.0.0.1:80", "-s", "port", "-p"},
        std::vector<std::string>{"-E", "-t", "10.0.0.1:80", "--persistent=99999999"}}) {
    const Result r = run_args(args);
    EXPECT_EQ(r.status, kExitUsage) << args.back();
    EXPECT_NE(r.err.find("(see 'sockvsadm --help')"), std::string::npos) << r.err;
  }
  EXPECT_EQ(connects, 0);
}

TEST_F(PersistAppTest, TheModuleRefusesPersistenceWithPort) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "port"});
  const Result r = run_args({"-E", "-t", "10.0.0.1:80", "-p"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("persistence cannot be combined with the port scheduler"), std::string::npos)
      << r.err;
  EXPECT_EQ(persist_of(0), 0U);
}

TEST_F(PersistAppTest, SaveClearRestoreRoundTrips) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "sh", "-p", "3600", "--hash-key", "netns"});
  ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.5"});
  ok({"-A", "-u", "[fd00::1]:53", "-s", "rr"});
  ok({"-A", "-t", "10.0.0.2:80", "-p"});
  const std::string saved = ok({"-S", "-n"});
  EXPECT_EQ(saved,
            "-A -t 10.0.0.1:80 -s sh -p 3600 --hash-key netns\n"
            "-a -t 10.0.0.1:80 -r 192.168.1.5:80 -w 1\n"
            "-A -u [fd00::1]:53 -s rr\n"
            "-A -t 10.0.0.2:80 -s wrr -p 300\n");
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(ok({"-S", "-n"}), saved);
  // And through JSON.
  const std::string json = ok({"-S", "--json"});
  EXPECT_NE(json.find("\"persistent\": 3600"), std::string::npos);
  ok({"-C"});
  ok({"-R", "--json"}, json);
  EXPECT_EQ(ok({"-S", "-n"}), saved);
  EXPECT_EQ(ok({"-S", "--json"}), json);
}

TEST_F(PersistAppTest, RestoreRollsBackAnEditThatTurnedPersistenceOff) {
  ok({"-A", "-t", "10.0.0.1:80", "-p", "600"});
  const Result r = run_args({"-R"},
                            "-E -t 10.0.0.1:80 -s rr\n"
                            "-A -t 10.0.0.1:80\n");  // fails: exists
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_NE(r.err.find("line 2: service already exists (nothing was applied)"), std::string::npos)
      << r.err;
  EXPECT_EQ(persist_of(0), 600U) << "the -E was never applied";
  EXPECT_EQ(fake.table[0].svc.sched_name, "wrr");
}

TEST_F(PersistAppTest, RestoreRollsBackAnEditThatChangedTheTimeout) {
  ok({"-A", "-t", "10.0.0.1:80"});
  const Result r = run_args({"-R"},
                            "-E -t 10.0.0.1:80 -p 60\n"
                            "-A -t 10.0.0.1:80\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(persist_of(0), 0U);
}

TEST_F(PersistAppTest, RestoreRollsBackDeleteAndClearWithPersistence) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "sh", "-p", "120", "--hash-key", "netns"});
  ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.5"});
  const std::string before = ok({"-S", "-n"});
  Result r = run_args({"-R"},
                      "-D -t 10.0.0.1:80\n"
                      "-A -t 10.0.0.9:80 -s nosuch\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(ok({"-S", "-n"}), before) << "recreated with -p 120";
  r = run_args({"-R"},
               "-C\n"
               "-A -t 10.0.0.9:80 -s nosuch\n");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(ok({"-S", "-n"}), before);
  // -R --json rolls back the same way.
  r = run_args({"-R", "--json"},
               R"({"version": 1, "services": [)"
               R"({"protocol": "tcp", "address": "10.0.0.2", "port": 80, "persistent": 30},)"
               R"({"protocol": "tcp", "address": "10.0.0.1", "port": 80}]})");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(ok({"-S", "-n"}), before);
}

TEST_F(PersistAppTest, InverseCommandsCarryPersistence) {
  ok({"-A", "-t", "10.0.0.1:80", "-p", "600"});
  // -E without -p turns it off: the undo puts 600 back.
  auto inv = inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].op, Op::kEditService);
  EXPECT_EQ(inv[0].persist, 600U);
  // -E -p 600 changes nothing.
  EXPECT_TRUE(inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80", "-p", "600"})).empty());
  inv = inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80", "-p", "60"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].persist, 600U);
  // -D and -C re-create it persistent.
  inv = inverse_of(fake, parse({"-D", "-t", "10.0.0.1:80"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].op, Op::kAddService);
  EXPECT_EQ(inv[0].persist, 600U);
  inv = inverse_of(fake, parse({"-C"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].persist, 600U);
  // A service from a module without persistence (no PERSIST reported).
  fake.table[0].svc.persist.reset();
  inv = inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80", "-p"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].persist, 0U);
  EXPECT_TRUE(inverse_of(fake, parse({"-E", "-t", "10.0.0.1:80"})).empty());
  inv = inverse_of(fake, parse({"-D", "-t", "10.0.0.1:80"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_EQ(inv[0].persist, 0U);
}

TEST_F(PersistAppTest, ListConnectionsThenTemplates) {
  using sockvs::HashKey;
  fake.conns = {conn("127.0.0.1", 40000, "10.0.0.1", 80, "192.168.1.5", 80),
                conn("127.0.0.1", 40001, "10.0.0.2", 80, "192.168.1.6", 80)};
  fake.templates = {
      tmpl(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.5", 80, HashKey::kTgid, 1234, 1, 300),
      tmpl(IPPROTO_TCP, "10.0.0.2", 80, "192.168.1.6", 80, HashKey::kCgroup, 77, 1, 300),
      tmpl(IPPROTO_UDP, "10.0.0.1", 80, "192.168.1.5", 80, HashKey::kNetns, 0, 0, 5),
  };
  EXPECT_EQ(ok({"-L", "-c", "-n"}), format_conns(fake.conns, fake.templates));
  EXPECT_EQ(ok({"-L", "-c", "-t", "10.0.0.1:80"}),
            format_conns({fake.conns[0]}, {fake.templates[0]}));
  EXPECT_EQ(ok({"-L", "-c", "-u", "10.0.0.1:80"}), format_conns({}, {fake.templates[2]}));
  EXPECT_EQ(fake.calls.back(), "list_templates");
}

TEST_F(PersistAppTest, AnOlderModuleListsNoTemplates) {
  fake.conns = {conn("127.0.0.1", 40000, "10.0.0.1", 80, "192.168.1.5", 80)};
  for (const int code : {EOPNOTSUPP, EINVAL}) {
    fake.templates_error = code;
    EXPECT_EQ(ok({"-L", "-c"}), format_conns(fake.conns)) << code;
  }
  fake.templates_error.reset();
  no_templates = true;  // an Api without list_templates
  EXPECT_EQ(ok({"-L", "-c"}), format_conns(fake.conns));
}

TEST_F(PersistAppTest, TemplateListingNeedsPrivilege) {
  fake.templates_error = EPERM;
  const Result r = run_args({"-L", "-c"});
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("sockvsadm: "), std::string::npos);
}

TEST_F(PersistAppTest, VersionAndJsonListShowTheTemplates) {
  fake.info_reply.templates = 2;
  fake.info_reply.max_templates = 65536;
  EXPECT_NE(ok({"-V"}).find("templates=2, max_templates=65536)"), std::string::npos);
  EXPECT_NE(ok({"-L", "--json"}).find("\"templates\": 2,\n    \"max_templates\": 65536"),
            std::string::npos);
  ok({"-A", "-t", "10.0.0.1:80", "-p", "90"});
  const std::string listed = ok({"-L", "--json"});
  EXPECT_NE(listed.find("\"persistent\": 90"), std::string::npos) << listed;
  // -L --json restores too.
  ok({"-C"});
  ok({"-R", "--json"}, listed);
  EXPECT_EQ(persist_of(0), 90U);
}

}  // namespace
}  // namespace sockvsadm
