// sockvs-agent's logic, without the event loop: what it does at start,
// with each watch response and at each turn of the loop.  Time is passed
// in, the store (store.h) and the kernel (kernel_table.h) are interfaces:
// the unit tests drive it with in-memory ones.
//
//   start      load the snapshot (the last good table), compare it with the
//              kernel; nothing is flushed.  If the store has not been read
//              within initial_wait, the snapshot's table is restored.
//   list       a linearizable range read of the prefix, page by page, every
//              page pinned to the first page's revision; then a full
//              reconcile, the snapshot written, a watch from revision + 1.
//   watch      events are applied at revision boundaries (a watch response
//              never splits a revision), batched over at most `batch`.
//              Compacted: list again.  A broken stream: the watch resumes
//              from the last revision seen on the next member (revisions are
//              global, nothing is missed); no relist.
//   watchdog   a linearizable probe of the watch's member every
//              probe_interval: no answer, or no leader, moves the watch to
//              the next member; so does a stream that sent neither an event
//              nor a progress notification for watch_timeout.
//   resync     every resync_interval, and when sockvs-healthd's state file
//              changes, the whole kernel table is compared again (drift,
//              healthd's restores).
//   unreachable  the table stays as it is; status says stale.
#ifndef SOCKVS_AGENT_AGENT_H_
#define SOCKVS_AGENT_AGENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "desired.h"
#include "engine.h"
#include "kernel_table.h"
#include "reconcile.h"
#include "snapshot.h"
#include "status.h"
#include "store.h"

namespace agent {

using std::chrono::milliseconds;
using Logger = healthd::Logger;
using Level = healthd::Level;

struct AgentOptions {
  std::string cell;
  std::string snapshot_path = "/var/lib/sockvs-agent/snapshot.json";
  std::string status_path = "/run/sockvs-agent/status.json";    // "": none
  std::string metrics_path;                                     // "": none
  std::string healthd_state = "/var/lib/sockvs-healthd/state";  // "": local health ignored
  milliseconds batch{100};
  milliseconds probe_interval{3000};
  // 0: 3x the interval at which the member sends progress notifications,
  // once two were seen (etcd's default interval is 10 minutes:
  // --experimental-watch-progress-notify-interval on the members).
  milliseconds watch_timeout{0};
  milliseconds resync_interval{30000};
  milliseconds suspect_grace{2000};
  milliseconds stale_after{10000};
  milliseconds initial_wait{3000};
  milliseconds retry_min{200};
  milliseconds retry_max{5000};
  std::int64_t page_size = 500;
};

// Makes a connection to the module's table; throws sockvs::Error.
using KernelFactory = std::function<std::unique_ptr<KernelTable>()>;

// The local health sockvs-healthd records: the dest_name()s of the real
// servers it quiesced.  Returns nullopt if it did not change since the
// last call (the agent checks it every second).
using HealthSource = std::function<std::optional<std::set<std::string>>()>;

// healthd's state file at `path` (healthd/state_file.h), by mtime and size.
HealthSource healthd_state_source(std::string path, Logger& log);

class Agent {
 public:
  Agent(AgentOptions opts, Store& store, KernelFactory kernel, HealthSource health, Logger& log);

  void start(Clock::time_point now);
  // Does what is due; returns how long the caller may wait for the watch
  // (poll()) before calling step() again.
  milliseconds step(Clock::time_point now);
  // What the watch delivered.
  void on_poll(const WatchPoll& poll, Clock::time_point now);
  // SIGTERM: applies what is pending, writes the snapshot and the status.
  // The table stays in the kernel.
  void stop(Clock::time_point now);
  // SIGHUP: list again now.
  void relist() {
    need_list_ = true;
    retry_at_ = {};
  }

  [[nodiscard]] Status status(Clock::time_point now) const;
  // True once the kernel has a table worth announcing: the first listing
  // was applied, or the snapshot was restored after initial_wait.
  [[nodiscard]] bool ready() const noexcept { return ready_; }
  [[nodiscard]] const Table& applied() const noexcept { return applied_; }
  [[nodiscard]] std::int64_t applied_revision() const noexcept { return applied_rev_; }
  [[nodiscard]] std::size_t member() const noexcept { return member_; }

 private:
  void list(Clock::time_point now);
  void start_watch(Clock::time_point now);
  void probe(Clock::time_point now);
  void apply_pending(Clock::time_point now);
  // Compares and applies `desired` for the services of `only` (labels; all
  // when nullopt).  False if the kernel could not be reached.
  bool reconcile(const Desired& desired, const std::optional<std::set<std::string>>& only,
                 Clock::time_point now, const std::string& why);
  void restore_snapshot(Clock::time_point now);
  void check_health(Clock::time_point now);
  void move_member(Clock::time_point now, const std::string& why);
  void failed(Clock::time_point now, const std::string& what);
  // A linearizable read (listing, probe) was answered: the store, with a
  // leader, was reachable.  Only that counts against staleness.
  void contact(Clock::time_point now);
  void log_problems(const Desired& desired);
  void write_files(Clock::time_point now, bool force);
  KernelTable* kernel(Clock::time_point now);
  void set_applied(Table table);  // applied_ and its hash

  AgentOptions opts_;
  Store& store_;
  KernelFactory kernel_factory_;
  HealthSource health_source_;
  Logger& log_;
  Layout layout_;
  DesiredBuilder builder_;

  std::unique_ptr<KernelTable> kernel_;
  std::optional<Clock::time_point> kernel_retry_at_;

  // The store.
  std::size_t member_ = 0;
  bool need_list_ = true;
  bool synced_ = false;
  Clock::time_point retry_at_{};
  milliseconds backoff_{0};
  std::int64_t watched_rev_ = 0;  // every change up to it was received
  std::int64_t applied_rev_ = 0;  // ... and applied
  std::int64_t store_rev_ = 0;    // the newest revision seen
  std::int64_t builder_rev_ = 0;  // the revision builder_ describes
  bool managed_ = false;          // the marker key was there at the last apply
  bool stopped_ = false;
  std::optional<Clock::time_point> last_contact_;
  bool stale_logged_ = false;
  Clock::time_point next_probe_{};
  Clock::time_point watch_started_{};
  Clock::time_point watch_activity_{};
  std::optional<Clock::time_point> last_progress_;
  std::optional<Clock::duration> progress_interval_;
  std::vector<etcd::Event> pending_;
  Clock::time_point pending_since_{};

  // The kernel.
  Table applied_;              // the desired table last applied, by name
  std::string applied_hash_;   // table_hash(applied_), kept by set_applied()
  ByLabel applied_target_;     // ... with local health on top, by label
  bool kernel_dirty_ = false;  // an apply did not reach the kernel: full reconcile due
  bool unmanaged_logged_ = false;
  Suspects suspects_;
  std::set<std::string> quiesced_;
  std::set<std::string> held_;         // real servers local health keeps at 0
  std::set<std::string> held_logged_;  // ... as of the apply before
  std::map<std::string, std::string> kernel_errors_logged_;
  std::map<std::string, std::string> problems_;
  Clock::time_point next_resync_{};
  std::optional<Clock::time_point> recheck_at_;
  Clock::time_point next_health_check_{};
  std::optional<Clock::time_point> restore_at_;  // restore the snapshot then, unless synced
  bool ready_ = false;

  // Files.
  bool snapshot_dirty_ = false;
  Clock::time_point next_snapshot_{};
  Clock::time_point next_status_{};

  // Status.
  std::string last_error_;
  double last_error_time_ = 0;
  std::uint64_t lists_ = 0;
  std::uint64_t watches_ = 0;
  std::uint64_t applies_ = 0;
  std::uint64_t changes_ = 0;
  double last_apply_seconds_ = 0;
  Clock::time_point started_{};
};

}  // namespace agent

#endif  // SOCKVS_AGENT_AGENT_H_
