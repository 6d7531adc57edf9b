// Where sockvs-healthd's messages go: the journal (stderr lines with a
// "<N>" priority prefix, when systemd connected stderr to it), stderr with
// a timestamp (--foreground elsewhere), or syslog (detached).
#ifndef SOCKVS_HEALTHD_LOG_H_
#define SOCKVS_HEALTHD_LOG_H_

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "engine.h"

namespace healthd {

// syslog(3)'s priority of a level: LOG_ERR, LOG_WARNING, LOG_INFO.
int syslog_priority(Level level) noexcept;

// "<4>message" (sd-daemon(3)'s SD_WARNING prefix): one journal entry of
// that priority per line written to a journal stream.
std::string journal_line(Level level, const std::string& message);

// Whether `journal_stream` ($JOURNAL_STREAM: "DEVICE:INODE") names the
// file open as descriptor `fd` (systemd's test for "stderr goes to the
// journal": not inherited by something that redirected it).
bool is_journal_stream(const char* journal_stream, int fd) noexcept;

class JournalLogger final : public Logger {
 public:
  void log(Level level, const std::string& message) override;

 private:
  std::mutex mu_;
};

// "2026-11-27T21:40:01.123Z sockvs-healthd[42]: warning: ..." on stderr.
class StderrLogger final : public Logger {
 public:
  void log(Level level, const std::string& message) override;

 private:
  std::mutex mu_;
};

class SyslogLogger final : public Logger {
 public:
  SyslogLogger();
  ~SyslogLogger() override;
  SyslogLogger(const SyslogLogger&) = delete;
  SyslogLogger& operator=(const SyslogLogger&) = delete;
  SyslogLogger(SyslogLogger&&) = delete;
  SyslogLogger& operator=(SyslogLogger&&) = delete;

  void log(Level level, const std::string& message) override;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_LOG_H_
