#include "log.h"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>

namespace healthd {

int syslog_priority(Level level) noexcept {
  switch (level) {
    case Level::kError:
      return LOG_ERR;
    case Level::kWarning:
      return LOG_WARNING;
    case Level::kInfo:
      break;
  }
  return LOG_INFO;
}

std::string journal_line(Level level, const std::string& message) {
  std::string out = "<" + std::to_string(syslog_priority(level)) + ">";
  // A message with a newline would be two entries, the second at the
  // default priority: keep it one.
  for (const char c : message) {
    out += c == '\n' ? ' ' : c;
  }
  out += '\n';
  return out;
}

bool is_journal_stream(const char* journal_stream, int fd) noexcept {
  if (journal_stream == nullptr) {
    return false;
  }
  const std::string_view s(journal_stream);
  const auto colon = s.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  const char* b = s.data();
  auto [p1, e1] = std::from_chars(b, b + colon, dev);
  auto [p2, e2] = std::from_chars(b + colon + 1, b + s.size(), ino);
  if (e1 != std::errc() || p1 != b + colon || e2 != std::errc() || p2 != b + s.size()) {
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return false;
  }
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void JournalLogger::log(Level level, const std::string& message) {
  const std::string line = journal_line(level, message);
  const std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void StderrLogger::log(Level level, const std::string& message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  const char* prefix = level == Level::kError     ? "error: "
                       : level == Level::kWarning ? "warning: "
                                                  : "";
  const std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(stderr, "%s.%03dZ sockvs-healthd[%d]: %s%s\n", stamp, static_cast<int>(ms),
               static_cast<int>(::getpid()), prefix, message.c_str());
  std::fflush(stderr);
}

SyslogLogger::SyslogLogger() { ::openlog("sockvs-healthd", LOG_PID, LOG_DAEMON); }

SyslogLogger::~SyslogLogger() { ::closelog(); }

void SyslogLogger::log(Level level, const std::string& message) {
  ::syslog(syslog_priority(level), "%s", message.c_str());
}

}  // namespace healthd
