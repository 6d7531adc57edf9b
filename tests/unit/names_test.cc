// Host and service names (issue 15 part 5): -t / -u / -r and -R lines take
// names, -L and -S print them without -n, through a fake resolver.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "cli.h"
#include "fake_api.h"
#include "fake_resolver.h"
#include "format.h"
#include "resolver.h"
#include "restore.h"
#include "sockvs/error.h"

namespace sockvsadm {
namespace {

using testing::FakeResolver;

sockvs::Address addr(const char* text) { return *sockvs::Address::parse(text); }

sockvs::ServiceKey key(std::uint16_t proto, const char* a, std::uint16_t port) {
  return sockvs::ServiceKey{proto, addr(a), port};
}

// The names of the tests: /etc/hosts and /etc/services as a test has them.
void add_names(FakeResolver& r) {
  r.add_host("web.example", {"10.0.0.1"});
  r.add_host("backend.example", {"192.168.1.5"});
  r.add_host("backend2.example", {"192.168.1.6"});
  r.add_host("web6.example", {"fd00::1"});
  r.add_host("backend6.example", {"fd00::2"});
  r.add_host("v6only.example", {"fd00::9"});
  r.add_host("dual.example", {"fd00::7", "10.0.0.7"});                  // IPv6 listed first
  r.add_host("multi.example", {"10.0.0.20", "10.0.0.21", "fd00::20"});  // round robin
  r.set_reverse("10.0.0.30", "gone.example");                           // a PTR without an A record
  r.set_reverse("10.0.0.31", "10.0.0.32");  // a "name" that reads as a number
  r.set_reverse("10.0.0.33", "has:colon");  // one that the endpoint syntax cannot hold
  r.add_service("http", 80, IPPROTO_TCP);
  r.add_service("domain", 53, IPPROTO_TCP);
  r.add_service("domain", 53, IPPROTO_UDP);
  r.add_service("redis", 6379, IPPROTO_TCP);  // TCP only, as in Debian's /etc/services
  r.add_service("mdns", 5353, IPPROTO_UDP);
  r.set_service_name(8081, IPPROTO_TCP, "nowhere");  // getservbyname does not know it
  r.set_service_name(8082, IPPROTO_TCP, "8083");     // all digits: a number on input
}

class Names : public ::testing::Test {
 protected:
  Names() { add_names(names); }

  Command parse(std::initializer_list<const char*> args) const {
    const std::vector<std::string> v(args.begin(), args.end());
    return parse_command(v, names);
  }

  std::string usage_error(std::initializer_list<const char*> args) const {
    try {
      parse(args);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "<no error>";
  }

  FakeResolver names;
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(Names, VirtualServiceHostAndPortNames) {
  Command c = parse({"-A", "-t", "web.example:http", "-s", "rr"});
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 80));
  c = parse({"-A", "-u", "web.example:domain"});
  EXPECT_EQ(c.service, key(IPPROTO_UDP, "10.0.0.1", 53));
  // A name with a numeric port, a number with a port name.
  EXPECT_EQ(parse({"-A", "-t", "web.example:6379"}).service, key(IPPROTO_TCP, "10.0.0.1", 6379));
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.9:redis"}).service, key(IPPROTO_TCP, "10.0.0.9", 6379));
  EXPECT_EQ(parse({"-A", "-t", "[fd00::5]:http"}).service, key(IPPROTO_TCP, "fd00::5", 80));
  // Every command that takes a service: -E, -D, -L -t, -S -t, -Z -t, -K.
  EXPECT_EQ(parse({"-D", "-t", "web.example:http"}).service, key(IPPROTO_TCP, "10.0.0.1", 80));
  EXPECT_EQ(parse({"-L", "-n", "-t", "web.example:http"}).service,
            key(IPPROTO_TCP, "10.0.0.1", 80));  // -n is about output: names still resolve
  EXPECT_EQ(parse({"-K", "-u", "web.example:domain"}).service, key(IPPROTO_UDP, "10.0.0.1", 53));
}

TEST_F(Names, PortNamesArePerProtocol) {
  // redis is TCP only; mdns UDP only.
  EXPECT_EQ(parse({"-A", "-u", "web.example:mdns"}).service, key(IPPROTO_UDP, "10.0.0.1", 5353));
  const std::string e = usage_error({"-A", "-u", "web.example:redis"});
  EXPECT_TRUE(has(e, "unknown port 'redis'")) << e;
  EXPECT_TRUE(has(e, "UDP service name")) << e;
  EXPECT_TRUE(has(usage_error({"-A", "-t", "web.example:mdns"}), "unknown port 'mdns'"));
}

TEST_F(Names, RealServerNames) {
  Command c = parse({"-a", "-t", "web.example:http", "-r", "backend.example:redis", "-w", "2"});
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 80));
  ASSERT_TRUE(c.dest);
  EXPECT_EQ(c.dest->addr, addr("192.168.1.5"));
  EXPECT_EQ(c.dest->port, 6379);
  EXPECT_EQ(c.dest->weight, 2U);
  // Without a port: the service's, as for a number.
  c = parse({"-a", "-t", "web.example:http", "-r", "backend.example"});
  EXPECT_EQ(c.dest->addr, addr("192.168.1.5"));
  EXPECT_EQ(c.dest->port, 80);
  // A number with a port name; -e and -d too.
  c = parse({"-e", "-t", "web.example:http", "-r", "192.168.1.6:redis", "-w", "3"});
  EXPECT_EQ(c.dest->addr, addr("192.168.1.6"));
  EXPECT_EQ(c.dest->port, 6379);
  c = parse({"-d", "-u", "web.example:domain", "-r", "backend2.example:domain"});
  EXPECT_EQ(c.dest->addr, addr("192.168.1.6"));
  EXPECT_EQ(c.dest->port, 53);
  // -K -r.
  c = parse({"-K", "-t", "web.example:http", "-r", "backend.example"});
  EXPECT_EQ(c.dest->addr, addr("192.168.1.5"));
}

TEST_F(Names, IPv6NamesGoInBracketsForTheService) {
  Command c = parse({"-A", "-t", "[web6.example]:http"});
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "fd00::1", 80));
  // A real server of an IPv6 service is resolved in IPv6, brackets or not.
  c = parse({"-a", "-t", "[web6.example]:http", "-r", "backend6.example"});
  EXPECT_EQ(c.dest->addr, addr("fd00::2"));
  EXPECT_EQ(c.dest->port, 80);
  c = parse({"-a", "-t", "[web6.example]:http", "-r", "[backend6.example]:8080"});
  EXPECT_EQ(c.dest->addr, addr("fd00::2"));
  EXPECT_EQ(c.dest->port, 8080);
  c = parse({"-a", "-t", "[web6.example]:http", "-r", "backend6.example:http"});
  EXPECT_EQ(c.dest->port, 80);
}

TEST_F(Names, FirstAddressOfTheFamily) {
  // As ipvsadm (gethostbyname's h_addr_list[0]): the first address, here
  // the first of the family asked for.
  EXPECT_EQ(parse({"-A", "-t", "multi.example:80"}).service, key(IPPROTO_TCP, "10.0.0.20", 80));
  EXPECT_EQ(parse({"-A", "-t", "dual.example:80"}).service, key(IPPROTO_TCP, "10.0.0.7", 80));
  EXPECT_EQ(parse({"-A", "-t", "[dual.example]:80"}).service, key(IPPROTO_TCP, "fd00::7", 80));
  EXPECT_EQ(parse({"-a", "-t", "[web6.example]:80", "-r", "dual.example"}).dest->addr,
            addr("fd00::7"));
  EXPECT_EQ(parse({"-a", "-t", "web.example:80", "-r", "dual.example"}).dest->addr,
            addr("10.0.0.7"));
}

TEST_F(Names, FamilyMismatch) {
  // An IPv4 service (no brackets) of a name that has only IPv6 addresses.
  std::string e = usage_error({"-A", "-t", "v6only.example:80"});
  EXPECT_TRUE(has(e, "host 'v6only.example' has no IPv4 address")) << e;
  EXPECT_TRUE(has(e, "[v6only.example]:PORT")) << e;
  e = usage_error({"-A", "-t", "[web.example]:80"});
  EXPECT_TRUE(has(e, "host 'web.example' has no IPv6 address")) << e;
  // A real server of the other family.
  e = usage_error({"-a", "-t", "web.example:80", "-r", "v6only.example"});
  EXPECT_TRUE(has(e, "host 'v6only.example' has no IPv4 address")) << e;
  EXPECT_TRUE(has(e, "the virtual service is IPv4")) << e;
  e = usage_error({"-a", "-t", "[web6.example]:80", "-r", "backend.example:80"});
  EXPECT_TRUE(has(e, "has no IPv6 address")) << e;
  EXPECT_TRUE(has(e, "the virtual service is IPv6")) << e;
  e = usage_error({"-a", "-t", "web.example:80", "-r", "[backend.example]:80"});
  EXPECT_TRUE(has(e, "is IPv6 (a name in brackets) but the virtual service is IPv4")) << e;
  // Numbers of the wrong family, as before.
  EXPECT_TRUE(has(usage_error({"-a", "-t", "web.example:80", "-r", "[::1]:80"}), "is IPv6"));
}

TEST_F(Names, UnknownNamesAreUsageErrorsNamingThem) {
  std::string e = usage_error({"-A", "-t", "nosuch.example:80"});
  EXPECT_EQ(e,
            "virtual service: cannot resolve host 'nosuch.example' in 'nosuch.example:80' (Name "
            "or service not known)");
  e = usage_error({"-a", "-t", "web.example:80", "-r", "nosuch.example:80"});
  EXPECT_TRUE(has(e, "real server: cannot resolve host 'nosuch.example'")) << e;
  e = usage_error({"-A", "-t", "web.example:nosuchport"});
  EXPECT_TRUE(has(e, "unknown port 'nosuchport' in 'web.example:nosuchport'")) << e;
  e = usage_error({"-a", "-t", "web.example:80", "-r", "backend.example:nosuchport"});
  EXPECT_TRUE(has(e, "real server: unknown port 'nosuchport'")) << e;
}

TEST_F(Names, NumbersAreNeverLookedUp) {
  // Malformed numbers stay errors and are not taken for names.
  for (const char* bad : {"10.0.0:80", "10.0.0.256:80", "1.2.3.4.5:80", "[fd00::zz]:80", "fd00::zz",
                          "[10.0.0.1]:80", "[]:80", ":80"}) {
    EXPECT_NE(usage_error({"-A", "-t", bad}), "<no error>") << bad;
  }
  EXPECT_EQ(names.lookups, 0);
  // Numbers need no lookup at all.
  parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080"});
  parse({"-a", "-t", "[fd00::1]:80", "-r", "fd00::2"});
  EXPECT_EQ(names.lookups, 0);
  // Ports: out of range stays out of range, not a name.
  EXPECT_TRUE(has(usage_error({"-A", "-t", "web.example:70000"}), "out of range"));
  EXPECT_TRUE(has(usage_error({"-A", "-t", "web.example:0"}), "out of range"));
  EXPECT_TRUE(has(usage_error({"-A", "-t", "web.example:"}), "missing port"));
  EXPECT_TRUE(has(usage_error({"-A", "-t", "web.example"}), "needs a port"));
}

TEST(NamesOff, WithoutAResolverNamesAreRefused) {
  const std::vector<std::string> args{"-A", "-t", "web.example:80"};
  try {
    parse_command(args);
    FAIL() << "a name parsed without a resolver";
  } catch (const UsageError& e) {
    EXPECT_TRUE(has(e.what(), "cannot resolve host 'web.example'")) << e.what();
  }
  const std::vector<std::string> port{"-A", "-t", "10.0.0.1:http"};
  EXPECT_THROW(parse_command(port), UsageError);
}

TEST_F(Names, RestoreLinesResolveNamesFirst) {
  std::istringstream in(
      "-A -t web.example:http -s rr\n"
      "-a -t web.example:http -r backend.example:redis -w 1\n"
      "-a -t web.example:http -r 192.168.1.6 -w 2\n");
  const auto lines = parse_restore(in, names);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0].command.service, key(IPPROTO_TCP, "10.0.0.1", 80));
  EXPECT_EQ(lines[1].command.dest->addr, addr("192.168.1.5"));
  EXPECT_EQ(lines[1].command.dest->port, 6379);
  EXPECT_EQ(lines[2].command.dest->port, 80);
  std::istringstream bad(
      "-A -t web.example:http -s rr\n"
      "\n"
      "-a -t web.example:http -r nosuch.example -w 1\n");
  try {
    parse_restore(bad, names);
    FAIL() << "an unknown name restored";
  } catch (const RestoreError& e) {
    EXPECT_EQ(e.line_no(), 3);
    EXPECT_TRUE(has(e.what(), "line 3: real server: cannot resolve host 'nosuch.example'"))
        << e.what();
  }
}

// --- output ---------------------------------------------------------------

TEST_F(Names, EndpointNamesLikeAddrportToAnyname) {
  const EndpointNames n(names);
  EXPECT_EQ(n.host(addr("10.0.0.1")), "web.example");
  EXPECT_EQ(n.host(addr("fd00::1")), "web6.example");
  EXPECT_EQ(n.host(addr("10.9.9.9")), "10.9.9.9");  // no name
  EXPECT_EQ(n.port(80, IPPROTO_TCP), "http");
  EXPECT_EQ(n.port(6379, IPPROTO_TCP), "redis");
  EXPECT_EQ(n.port(6379, IPPROTO_UDP), "6379");  // redis is TCP only
  EXPECT_EQ(n.port(53, IPPROTO_UDP), "domain");
  EXPECT_EQ(n.port(9999, IPPROTO_TCP), "9999");
  EXPECT_EQ(n.endpoint(addr("10.0.0.1"), 80, IPPROTO_TCP), "web.example:http");
  EXPECT_EQ(n.endpoint(addr("fd00::1"), 53, IPPROTO_UDP), "[web6.example]:domain");
  EXPECT_EQ(n.endpoint(addr("fd00::3"), 5300, IPPROTO_UDP), "[fd00::3]:5300");
  EXPECT_EQ(n.endpoint(addr("10.9.9.9"), 80, IPPROTO_TCP), "10.9.9.9:http");
}

TEST_F(Names, OnlyNamesThatReadBackAsTheSameNumber) {
  const EndpointNames n(names);
  // The name's first address of the family is another one: -R would not
  // give this address back.
  EXPECT_EQ(n.host(addr("10.0.0.21")), "10.0.0.21");
  EXPECT_EQ(n.host(addr("10.0.0.20")), "multi.example");
  EXPECT_EQ(n.host(addr("fd00::20")), "multi.example");  // its first IPv6 address
  EXPECT_EQ(n.host(addr("10.0.0.7")), "dual.example");   // its first IPv4 address
  EXPECT_EQ(n.host(addr("10.0.0.30")), "10.0.0.30");     // the name does not resolve
  EXPECT_EQ(n.host(addr("10.0.0.31")), "10.0.0.31");     // the name reads as a number
  EXPECT_EQ(n.host(addr("10.0.0.33")), "10.0.0.33");     // the name has a ':'
  EXPECT_EQ(n.port(8081, IPPROTO_TCP), "8081");          // getservbyname does not know it
  EXPECT_EQ(n.port(8082, IPPROTO_TCP), "8082");          // all digits
}

TEST_F(Names, DefaultEndpointNamesAreNumericAndLookNothingUp) {
  const EndpointNames n;
  EXPECT_EQ(n.endpoint(addr("10.0.0.1"), 80, IPPROTO_TCP), "10.0.0.1:80");
  EXPECT_EQ(n.endpoint(addr("fd00::1"), 53, IPPROTO_UDP), "[fd00::1]:53");
  const EndpointNames none(no_names());
  EXPECT_EQ(none.endpoint(addr("10.0.0.1"), 80, IPPROTO_TCP), "10.0.0.1:80");
  EXPECT_EQ(names.lookups, 0);
}

sockvs::RealServer dest(const char* a, std::uint16_t port, std::uint32_t weight) {
  sockvs::RealServer d;
  d.addr = addr(a);
  d.port = port;
  d.weight = weight;
  return d;
}

std::vector<ServiceEntry> named_entries() {
  std::vector<ServiceEntry> entries;
  entries.push_back({sockvs::Service::from_key(key(IPPROTO_TCP, "10.0.0.1", 80), "rr"),
                     {dest("192.168.1.5", 6379, 1), dest("192.168.1.7", 6380, 2)}});
  entries.push_back({sockvs::Service::from_key(key(IPPROTO_UDP, "fd00::1", 53), "wrr"),
                     {dest("fd00::2", 53, 1)}});
  return entries;
}

const sockvs::Info kInfo{"0.1.0", 2, "kprobe", "6.1.0", 256, 64};

TEST_F(Names, ListWithAndWithoutNames) {
  const auto entries = named_entries();
  EXPECT_EQ(format_list(kInfo, entries, ListOptions{}, EndpointNames(names)),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  web.example:http rr\n"
            "  -> backend.example:redis        Sock    1      0          0         \n"
            "  -> 192.168.1.7:6380             Sock    2      0          0         \n"
            "UDP  [web6.example]:domain wrr\n"
            "  -> [backend6.example]:domain    Sock    1      0          0         \n");
  EXPECT_EQ(format_list(kInfo, entries, ListOptions{}),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:80 rr\n"
            "  -> 192.168.1.5:6379             Sock    1      0          0         \n"
            "  -> 192.168.1.7:6380             Sock    2      0          0         \n"
            "UDP  [fd00::1]:53 wrr\n"
            "  -> [fd00::2]:53                 Sock    1      0          0         \n");
  // The other views name the same way.
  const std::string stats =
      format_list(kInfo, entries, ListOptions{true, false, false, false}, EndpointNames(names));
  EXPECT_TRUE(has(stats, "\nTCP  web.example:http   ")) << stats;
  EXPECT_TRUE(has(stats, "\n  -> backend.example:redis   ")) << stats;
}

TEST_F(Names, SaveWithAndWithoutNames) {
  const auto entries = named_entries();
  EXPECT_EQ(format_save(entries, EndpointNames(names)),
            "-A -t web.example:http -s rr\n"
            "-a -t web.example:http -r backend.example:redis -w 1\n"
            "-a -t web.example:http -r 192.168.1.7:6380 -w 2\n"
            "-A -u [web6.example]:domain -s wrr\n"
            "-a -u [web6.example]:domain -r [backend6.example]:domain -w 1\n");
  EXPECT_EQ(format_save(entries),
            "-A -t 10.0.0.1:80 -s rr\n"
            "-a -t 10.0.0.1:80 -r 192.168.1.5:6379 -w 1\n"
            "-a -t 10.0.0.1:80 -r 192.168.1.7:6380 -w 2\n"
            "-A -u [fd00::1]:53 -s wrr\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 1\n");
}

// --- the whole program ----------------------------------------------------

struct Result {
  int status;
  std::string out;
  std::string err;
};

class NamesApp : public Names {
 protected:
  Result run_args(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(
        args, in, out, err,
        [this]() -> std::unique_ptr<sockvs::Api> {
          ++connects;
          if (!module_loaded) {
            throw sockvs::ModuleNotLoadedError();
          }
          return std::make_unique<sockvs::testing::FakeProxy>(fake);
        },
        names);
    return {status, out.str(), err.str()};
  }

  std::string ok(std::vector<std::string> args, const std::string& input = "") {
    const Result r = run_args(std::move(args), input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  void build_config() {
    ok({"-A", "-t", "web.example:http", "-s", "rr"});
    ok({"-a", "-t", "web.example:http", "-r", "backend.example:redis"});
    ok({"-a", "-t", "web.example:http", "-r", "192.168.1.7:6380", "-w", "2"});
    ok({"-A", "-u", "[web6.example]:domain"});
    ok({"-a", "-u", "[web6.example]:domain", "-r", "backend6.example"});
  }

  sockvs::testing::FakeApi fake;
  bool module_loaded = true;
  int connects = 0;
};

const char* const kSavedNumeric =
    "-A -t 10.0.0.1:80 -s rr\n"
    "-a -t 10.0.0.1:80 -r 192.168.1.5:6379 -w 1\n"
    "-a -t 10.0.0.1:80 -r 192.168.1.7:6380 -w 2\n"
    "-A -u [fd00::1]:53 -s wrr\n"
    "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 1\n";

const char* const kSavedNames =
    "-A -t web.example:http -s rr\n"
    "-a -t web.example:http -r backend.example:redis -w 1\n"
    "-a -t web.example:http -r 192.168.1.7:6380 -w 2\n"
    "-A -u [web6.example]:domain -s wrr\n"
    "-a -u [web6.example]:domain -r [backend6.example]:domain -w 1\n";

TEST_F(NamesApp, NamesInNumbersOut) {
  build_config();
  EXPECT_EQ(ok({"-S", "-n"}), kSavedNumeric);
  EXPECT_EQ(ok({"-S"}), kSavedNames);
  const std::string listed = ok({"-L"});
  EXPECT_TRUE(has(listed, "\nTCP  web.example:http rr\n")) << listed;
  EXPECT_TRUE(has(listed, "\n  -> backend.example:redis        Sock    1")) << listed;
  EXPECT_TRUE(has(listed, "\nUDP  [web6.example]:domain wrr\n")) << listed;
  EXPECT_EQ(ok({}), listed);  // no command: -L
  const std::string numeric = ok({"-L", "-n"});
  EXPECT_TRUE(has(numeric, "\nTCP  10.0.0.1:80 rr\n")) << numeric;
  EXPECT_FALSE(has(numeric, "example")) << numeric;
  // One service by name, listed by name.
  const std::string one = ok({"-L", "-t", "web.example:http"});
  EXPECT_TRUE(has(one, "\nTCP  web.example:http rr\n")) << one;
  EXPECT_FALSE(has(one, "UDP")) << one;
}

TEST_F(NamesApp, JsonAndConnectionsStayNumeric) {
  build_config();
  for (const auto& args :
       {std::vector<std::string>{"-L", "--json"}, std::vector<std::string>{"-S", "--json"}}) {
    const std::string doc = ok(args);
    EXPECT_TRUE(has(doc, "\"10.0.0.1\"")) << doc;
    EXPECT_FALSE(has(doc, "example")) << doc;
  }
  sockvs::Connection c;
  c.protocol = IPPROTO_TCP;
  c.local = addr("10.0.0.1");
  c.lport = 40000;
  c.vaddr = addr("10.0.0.1");
  c.vport = 80;
  c.daddr = addr("192.168.1.5");
  c.dport = 6379;
  c.state = 1;
  c.pid = 42;
  c.comm = "redis-cli";
  fake.conns.push_back(c);
  const std::string conns = ok({"-L", "-c"});
  EXPECT_TRUE(has(conns, "10.0.0.1:80 ")) << conns;
  EXPECT_TRUE(has(conns, "192.168.1.5:6379 ")) << conns;
  EXPECT_FALSE(has(conns, "example")) << conns;
}

TEST_F(NamesApp, SaveWithNamesRestoresTheSameTable) {
  build_config();
  const std::string saved = ok({"-S"});
  ok({"-C"});
  EXPECT_EQ(ok({"-S", "-n"}), "");
  ok({"-R"}, saved);
  EXPECT_EQ(ok({"-S", "-n"}), kSavedNumeric);
  EXPECT_EQ(ok({"-S"}), saved);
}

TEST_F(NamesApp, AnUnknownNameSendsNothing) {
  build_config();
  connects = 0;
  Result r = run_args({"-a", "-t", "web.example:http", "-r", "nosuch.example"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err,
            "sockvsadm: real server: cannot resolve host 'nosuch.example' in 'nosuch.example' "
            "(Name or service not known) (see 'sockvsadm --help')\n");
  EXPECT_EQ(connects, 0);
  r = run_args({"-A", "-t", "web.example:nosuchport"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_TRUE(has(r.err, "'nosuchport'")) << r.err;
  EXPECT_EQ(connects, 0);
  // -R: a bad name on a later line applies none of the lines.
  r = run_args({"-R"},
               "-A -t 10.0.0.50:80 -s rr\n"
               "-a -t 10.0.0.50:80 -r nosuch.example:80 -w 1\n");
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_TRUE(has(r.err, "line 2: real server: cannot resolve host 'nosuch.example'")) << r.err;
  EXPECT_TRUE(has(r.err, "(nothing was applied)")) << r.err;
  EXPECT_EQ(connects, 0);
  EXPECT_EQ(ok({"-S", "-n"}), kSavedNumeric);
}

TEST_F(NamesApp, HelpStartsWithTheVersionLine) {
  module_loaded = false;
  const std::string help = ok({"-h"});
  const Result v = run_args({"-v"});
  const std::string first = v.out.substr(0, v.out.find('\n') + 1);
  EXPECT_EQ(first, version_line(userspace_version()));
  EXPECT_EQ(help.substr(0, first.size()), first);
  EXPECT_EQ(help.substr(first.size(), 7), "Usage:\n");
  EXPECT_EQ(ok({"--help"}), help);
  EXPECT_EQ(connects, 1);  // -v only
}

// --- the system's resolver, without the network ------------------------------

TEST(SystemResolver, NumericHostsAndCaching) {
  const SystemResolver sys;
  // getaddrinfo on a number looks nothing up.
  EXPECT_EQ(sys.host_addresses("127.0.0.1").addrs, std::vector<sockvs::Address>{addr("127.0.0.1")});
  EXPECT_EQ(sys.host_addresses("::1").addrs, std::vector<sockvs::Address>{addr("::1")});
  EXPECT_EQ(sys.host_addresses("127.0.0.1"), sys.host_addresses("127.0.0.1"));  // cached
}

TEST(SystemResolver, ServicesFromEtcServices) {
  const SystemResolver sys;
  const auto http = sys.service_port("http", IPPROTO_TCP);
  if (!http) {
    GTEST_SKIP() << "no http/tcp in the services database (no /etc/services?)";
  }
  EXPECT_EQ(*http, 80);
  EXPECT_EQ(sys.service_name(80, IPPROTO_TCP), "http");
  EXPECT_EQ(sys.service_port("domain", IPPROTO_UDP), 53);
  EXPECT_EQ(sys.service_name(53, IPPROTO_UDP), "domain");
  EXPECT_EQ(sys.service_port("no-such-service-name", IPPROTO_TCP), std::nullopt);
  EXPECT_EQ(sys.service_name(1, IPPROTO_UDP).value_or("none"),
            sys.service_name(1, IPPROTO_UDP).value_or("none"));
}

}  // namespace
}  // namespace sockvsadm
