// sockvs-healthd: the /metrics text and its HTTP listener in the event
// loop; the journal and stderr log formats.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "fd.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"

namespace healthd {
namespace {

class NullLogger final : public Logger {
 public:
  void log(Level /*level*/, const std::string& /*message*/) override {}
};

MetricsInput sample() {
  sockvs::Service s;
  s.addr = *sockvs::Address::parse("10.255.0.1");
  s.port = 6379;
  s.stats.conns = 12;
  s.stats.refused = 1;
  s.stats.untracked = 0;
  s.stats.killed = 2;
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse("127.0.0.1");
  d.port = 7001;
  d.weight = 3;
  d.active_conns = 4;
  d.inact_conns = 1;
  d.overloaded = true;
  d.stats.conns = 7;
  d.stats.killed = 2;
  d.stats.ejected = 3;
  d.stats.failed = 11;
  d.ejected = sockvs::EjectState::kOut;
  d.eject_left_ms = 2500;
  d.fails = 4;
  s.stats.ejected = 3;
  s.stats.failed = 12;
  sockvs::Service u;
  u.protocol = IPPROTO_UDP;
  u.addr = *sockvs::Address::parse("fd00::53");
  u.port = 53;
  MetricsInput in;
  in.module.emplace();
  in.module->emplace_back(s, std::vector<sockvs::RealServer>{d});
  in.module->emplace_back(u, std::vector<sockvs::RealServer>{});
  TargetView t;
  t.id = DestId{s.key(), d.addr, d.port};
  t.up = false;
  t.checked = true;
  t.last_ok = false;
  t.last_duration = std::chrono::microseconds(1500);
  t.passed = 10;
  t.failed = 3;
  in.targets.push_back(t);
  in.lookup_failures = 5;
  return in;
}

TEST(HealthdMetrics, Text) {
  const std::string text = render_metrics(sample());
  const std::string svc = R"(proto="tcp",local_address="10.255.0.1",local_port="6379")";
  const std::string dst = svc + R"(,remote_address="127.0.0.1",remote_port="7001")";
  for (const std::string& want : std::vector<std::string>{
           std::string("# TYPE sockvs_module_up gauge\nsockvs_module_up 1\n"),
           "# HELP sockvs_service_connections_total Connects to the virtual service scheduled to "
           "a real server.\n# TYPE sockvs_service_connections_total counter\n"
           "sockvs_service_connections_total{" +
               svc + "} 12\n",
           std::string("sockvs_service_connections_total{proto=\"udp\",local_address=\"fd00::53\","
                       "local_port=\"53\"} 0\n"),
           "sockvs_service_refused_total{" + svc + "} 1\n",
           "sockvs_service_untracked_total{" + svc + "} 0\n",
           "sockvs_service_killed_total{" + svc + "} 2\n",
           "sockvs_service_real_servers{" + svc + "} 1\n",
           "# TYPE sockvs_real_server_connections_total counter\n"
           "sockvs_real_server_connections_total{" +
               dst + "} 7\n",
           "sockvs_real_server_killed_total{" + dst + "} 2\n",
           "# TYPE sockvs_real_server_active_connections gauge\n"
           "sockvs_real_server_active_connections{" +
               dst + "} 4\n",
           "sockvs_real_server_inactive_connections{" + dst + "} 1\n",
           "sockvs_real_server_weight{" + dst + "} 3\n",
           "sockvs_real_server_overloaded{" + dst + "} 1\n",
           "# TYPE sockvs_service_ejections_total counter\nsockvs_service_ejections_total{" + svc +
               "} 3\n",
           "sockvs_service_failed_connects_total{" + svc + "} 12\n",
           "# TYPE sockvs_real_server_ejections_total counter\n"
           "sockvs_real_server_ejections_total{" +
               dst + "} 3\n",
           "sockvs_real_server_failed_connects_total{" + dst + "} 11\n",
           "# TYPE sockvs_real_server_ejected gauge\nsockvs_real_server_ejected{" + dst + "} 1\n",
           "sockvs_real_server_ejection_remaining_seconds{" + dst + "} 2.500000\n",
           "sockvs_real_server_consecutive_failures{" + dst + "} 4\n",
           "sockvs_healthd_real_server_up{" + dst + "} 0\n",
           "# TYPE sockvs_healthd_check_duration_seconds gauge\n"
           "sockvs_healthd_check_duration_seconds{" +
               dst + "} 0.001500\n",
           "sockvs_healthd_check_success{" + dst + "} 0\n",
           "sockvs_healthd_checks_total{" + dst + ",result=\"pass\"} 10\n" +
               "sockvs_healthd_checks_total{" + dst + ",result=\"fail\"} 3\n",
           std::string("sockvs_healthd_lookup_failures_total 5\n"),
       }) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing:\n" << want << "\nin:\n" << text;
  }
  // One HELP and one TYPE per family.
  std::size_t n = 0;
  for (auto p = text.find("# TYPE sockvs_healthd_checks_total "); p != std::string::npos;
       p = text.find("# TYPE sockvs_healthd_checks_total ", p + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 1U);
  EXPECT_EQ(text.back(), '\n');
}

TEST(HealthdMetrics, WithoutTheModule) {
  MetricsInput in = sample();
  in.module.reset();
  const std::string text = render_metrics(in);
  EXPECT_NE(text.find("sockvs_module_up 0\n"), std::string::npos);
  EXPECT_EQ(text.find("sockvs_service_"), std::string::npos);
  EXPECT_NE(text.find("sockvs_healthd_real_server_up{"), std::string::npos);
}

TEST(HealthdMetrics, LabelEscape) { EXPECT_EQ(label_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

// A GET over a real socket, answered from the event loop.
std::string http_get(std::uint16_t port, const std::string& request) {
  const Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    return "connect failed";
  }
  (void)!::send(s.get(), request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(s.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(HealthdMetrics, ServedFromTheLoop) {
  Loop loop;
  NullLogger log;
  int renders = 0;
  MetricsServer srv(
      loop, RealSpec{*sockvs::Address::parse("127.0.0.1"), 0},
      [&] {
        ++renders;
        return std::string("sockvs_module_up 1\n");
      },
      log);
  ASSERT_NE(srv.port(), 0);
  std::string got;
  std::string missing;
  const Fd done(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));  // the client says it is done
  bool finished = false;
  loop.add(done.get(), EPOLLIN, [&](std::uint32_t) { finished = true; });
  std::thread client([&] {
    // In two pieces: the request is complete only at the empty line.
    got = http_get(srv.port(),
                   "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nUser-Agent: "
                   "Prometheus/2.42.0\r\n\r\n");
    missing = http_get(srv.port(), "GET /nothing HTTP/1.0\r\n\r\n");
    const std::uint64_t one = 1;
    (void)!::write(done.get(), &one, sizeof(one));
  });
  while (!finished) {
    loop.run_once();
  }
  client.join();
  loop.remove(done.get());
  EXPECT_EQ(got,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 19\r\nConnection: close\r\n\r\nsockvs_module_up 1\n");
  EXPECT_TRUE(missing.starts_with("HTTP/1.0 404 Not Found\r\n")) << missing;
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(loop.size(), 1U);  // the listener only: both connections closed
}

TEST(HealthdLog, JournalPrefixes) {
  EXPECT_EQ(journal_line(Level::kError, "x"), "<3>x\n");
  EXPECT_EQ(journal_line(Level::kWarning, "two\nlines"), "<4>two lines\n");
  EXPECT_EQ(journal_line(Level::kInfo, "up"), "<6>up\n");
}

TEST(HealthdLog, JournalStreamMustBeThisFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  struct stat st {};
  ASSERT_EQ(::fstat(::fileno(f), &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(is_journal_stream(mine.c_str(), ::fileno(f)));
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_FALSE(is_journal_stream(other.c_str(), ::fileno(f)));
  EXPECT_FALSE(is_journal_stream(nullptr, ::fileno(f)));
  EXPECT_FALSE(is_journal_stream("garbage", ::fileno(f)));
  EXPECT_FALSE(is_journal_stream("1:2x", ::fileno(f)));
  std::fclose(f);
}

}  // namespace
}  // namespace healthd
