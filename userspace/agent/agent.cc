#include "agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "sockvs/error.h"
#include "state_file.h"

namespace agent {

namespace {

constexpr auto kFileEvery = std::chrono::seconds(1);
constexpr auto kHealthEvery = std::chrono::seconds(1);
constexpr auto kKernelRetry = std::chrono::seconds(5);
constexpr auto kMaxWait = std::chrono::seconds(1);
constexpr std::size_t kOpsLogged = 8;  // changes named per apply; the rest counted

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string secs(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + "s";
}

std::size_t count_dests(const Table& t) {
  std::size_t n = 0;
  for (const auto& [name, e] : t) {
    n += e.dests.size();
  }
  return n;
}

std::string plural(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// The real servers of both as sets (the kernel keeps its own order).
bool same_entry(const sockvsadm::ServiceEntry& a, const sockvsadm::ServiceEntry& b) {
  if (!same_service_settings(a.service, b.service) || a.dests.size() != b.dests.size()) {
    return false;
  }
  for (const auto& d : a.dests) {
    const auto it = std::find_if(b.dests.begin(), b.dests.end(), [&d](const auto& o) {
      return o.addr == d.addr && o.port == d.port;
    });
    if (it == b.dests.end() || !same_dest_settings(*it, d)) {
      return false;
    }
  }
  return true;
}

}  // namespace

HealthSource healthd_state_source(std::string path, Logger& log) {
  struct Seen {
    std::string path;
    bool first = true;
    std::tuple<bool, std::int64_t, std::int64_t, std::int64_t, ino_t> key{};
  };
  auto seen = std::make_shared<Seen>();
  seen->path = std::move(path);
  return [seen, &log]() -> std::optional<std::set<std::string>> {
    struct stat st {};
    const bool exists = ::stat(seen->path.c_str(), &st) == 0;
    const auto key = exists ? std::make_tuple(true, static_cast<std::int64_t>(st.st_mtim.tv_sec),
                                              static_cast<std::int64_t>(st.st_mtim.tv_nsec),
                                              static_cast<std::int64_t>(st.st_size), st.st_ino)
                            : decltype(seen->key){};
    if (!seen->first && key == seen->key) {
      return std::nullopt;
    }
    seen->first = false;
    seen->key = key;
    std::set<std::string> out;
    if (!exists) {
      return out;
    }
    try {
      std::vector<std::string> warnings;
      for (const auto& [name, r] : healthd::load_state(seen->path, warnings)) {
        out.insert(name);
      }
    } catch (const std::runtime_error& e) {
      log.log(Level::kWarning, std::string("local health: ") + e.what());
    }
    return out;
  };
}

Agent::Agent(AgentOptions opts, Store& store, KernelFactory kernel, HealthSource health,
             Logger& log)
    : opts_(std::move(opts)),
      store_(store),
      kernel_factory_(std::move(kernel)),
      health_source_(std::move(health)),
      log_(log),
      layout_(opts_.cell),
      builder_(layout_),
      applied_hash_(table_hash(applied_)) {}

void Agent::set_applied(Table table) {
  applied_ = std::move(table);
  applied_hash_ = table_hash(applied_);
}

KernelTable* Agent::kernel(Clock::time_point now) {
  if (kernel_) {
    return kernel_.get();
  }
  if (kernel_retry_at_ && now < *kernel_retry_at_) {
    return nullptr;
  }
  try {
    kernel_ = kernel_factory_();
    kernel_retry_at_.reset();
  } catch (const sockvs::Error& e) {
    const std::string why = std::string("cannot reach the sock_vs module: ") + e.what();
    if (why != last_error_) {
      failed(now, why);
    }
    kernel_retry_at_ = now + kKernelRetry;
    return nullptr;
  }
  return kernel_.get();
}

void Agent::failed(Clock::time_point /*now*/, const std::string& what) {
  last_error_ = what;
  last_error_time_ = wall_now();
  log_.log(Level::kWarning, what);
}

void Agent::contact(Clock::time_point now) {
  last_contact_ = now;
  backoff_ = milliseconds(0);
  if (stale_logged_) {
    log_.log(Level::kInfo, "the store answers again (" + store_.endpoint(member_) + ")");
    stale_logged_ = false;
  }
}

void Agent::start(Clock::time_point now) {
  started_ = now;
  try {
    if (auto snap = load_snapshot(opts_.snapshot_path)) {
      if (snap->cell != layout_.cell()) {
        log_.log(Level::kWarning, opts_.snapshot_path + " is cell '" + snap->cell + "', not '" +
                                      layout_.cell() + "': ignored");
      } else {
        set_applied(std::move(snap->services));
        applied_rev_ = snap->revision;
        builder_rev_ = snap->revision;
        applied_target_ = by_label(applied_);
        log_.log(Level::kInfo, "snapshot " + opts_.snapshot_path + ": revision " +
                                   std::to_string(applied_rev_) + ", " +
                                   plural(applied_.size(), "service") + ", " +
                                   plural(count_dests(applied_), "real server"));
      }
    } else {
      log_.log(Level::kInfo, "no snapshot " + opts_.snapshot_path + " (first start)");
    }
  } catch (const SnapshotError& e) {
    failed(now, std::string("snapshot ignored: ") + e.what());
  }
  check_health(now);
  // Compare with the kernel; change nothing yet.
  if (KernelTable* k = kernel(now)) {
    try {
      const ByLabel current = k->read(std::nullopt);
      std::size_t missing = 0;
      std::size_t differ = 0;
      for (const auto& [label, want] : by_label(applied_)) {
        const auto have = current.find(label);
        if (have == current.end()) {
          ++missing;
        } else if (!same_entry(have->second, want)) {
          ++differ;
        }
      }
      const std::size_t others = current.size() - (applied_.size() - missing);
      log_.log(Level::kInfo, "kernel: " + plural(current.size(), "service") +
                                 "; of the snapshot's " + std::to_string(applied_.size()) + ", " +
                                 std::to_string(missing) + " missing, " + std::to_string(differ) +
                                 " different; " + std::to_string(others) +
                                 " not the agent's (left alone)");
    } catch (const sockvs::Error& e) {
      kernel_.reset();
      failed(now, std::string("cannot read the kernel's table: ") + e.what());
    }
  }
  restore_at_ = now + opts_.initial_wait;
  need_list_ = true;
  retry_at_ = now;
  next_resync_ = now + opts_.resync_interval;
  write_files(now, true);
}

void Agent::stop(Clock::time_point now) {
  if (!pending_.empty()) {
    apply_pending(now);
  }
  store_.stop_watch();
  stopped_ = true;
  write_files(now, true);
}

milliseconds Agent::step(Clock::time_point now) {
  if (need_list_ && now >= retry_at_) {
    list(now);
  } else if (!need_list_ && !store_.watching() && now >= retry_at_) {
    start_watch(now);
  }
  if (!pending_.empty() && now >= pending_since_ + opts_.batch) {
    apply_pending(now);
  }
  if (restore_at_ && now >= *restore_at_) {
    restore_at_.reset();
    if (!synced_) {
      restore_snapshot(now);
    }
    ready_ = true;
  }
  if (now >= next_health_check_) {
    check_health(now);
  }
  const bool kernel_due = kernel_dirty_ && (!kernel_retry_at_ || now >= *kernel_retry_at_);
  if (synced_ && (now >= next_resync_ || (recheck_at_ && now >= *recheck_at_) || kernel_due)) {
    next_resync_ = now + opts_.resync_interval;
    recheck_at_.reset();
    const Desired d = builder_.build(applied_);
    if (reconcile(d, std::nullopt, now, "resync")) {
      applied_rev_ = builder_rev_;
    }
  }
  if (store_.watching() && now >= next_probe_) {
    probe(now);
  }
  if (store_.watching()) {
    std::optional<Clock::duration> limit;
    if (opts_.watch_timeout.count() > 0) {
      limit = opts_.watch_timeout;
    } else if (progress_interval_) {
      limit = std::max<Clock::duration>(3 * *progress_interval_, std::chrono::seconds(3));
    }
    if (limit && now - watch_activity_ > *limit) {
      move_member(now, "the watch on " + store_.endpoint(member_) +
                           " sent neither a change nor a progress notification for " +
                           secs(now - watch_activity_));
    }
  }
  const bool stale = !last_contact_ || now - *last_contact_ > opts_.stale_after;
  if (stale && !stale_logged_ && now - started_ > opts_.stale_after) {
    log_.log(Level::kWarning,
             "no answer from the store for " +
                 (last_contact_ ? secs(now - *last_contact_) : secs(now - started_)) +
                 ": keeping the table of revision " + std::to_string(applied_rev_) + " (stale)");
    stale_logged_ = true;
  }
  write_files(now, false);

  Clock::time_point wake = now + kMaxWait;
  const auto earlier = [&wake](Clock::time_point t) { wake = std::min(wake, t); };
  if (need_list_ || !store_.watching()) {
    earlier(retry_at_);
  }
  if (!pending_.empty()) {
    earlier(pending_since_ + opts_.batch);
  }
  if (restore_at_) {
    earlier(*restore_at_);
  }
  if (recheck_at_) {
    earlier(*recheck_at_);
  }
  if (store_.watching()) {
    earlier(next_probe_);
  }
  earlier(next_resync_);
  const auto wait = std::chrono::duration_cast<milliseconds>(wake - now);
  return std::max(wait, milliseconds(0));
}

void Agent::list(Clock::time_point now) {
  ++lists_;
  store_.stop_watch();
  std::vector<etcd::KeyValue> kvs;
  std::int64_t rev = 0;
  const std::string member = store_.endpoint(member_);
  try {
    std::string key = layout_.prefix();
    for (;;) {
      etcd::RangeRequest req;
      req.key = key;
      req.range_end = layout_.range_end();
      req.limit = opts_.page_size;
      req.revision = rev;
      etcd::RangeResponse r = store_.range(member_, req);
      if (rev == 0) {
        rev = r.header.revision;
      }
      const bool more = r.more && !r.kvs.empty();
      if (more) {
        key = r.kvs.back().key + std::string(1, '\0');
      }
      std::move(r.kvs.begin(), r.kvs.end(), std::back_inserter(kvs));
      if (!more) {
        break;
      }
    }
  } catch (const etcd::StoreError& e) {
    if (e.compacted() && rev != 0) {
      // Compacted between two pages: the next listing starts anew.
      failed(now, "listing " + layout_.prefix() + " on " + member + " at revision " +
                      std::to_string(rev) + ": " + e.what() + "; listing again");
      retry_at_ = now;
      return;
    }
    backoff_ = backoff_.count() == 0 ? opts_.retry_min : std::min(2 * backoff_, opts_.retry_max);
    retry_at_ = now + backoff_;
    member_ = (member_ + 1) % store_.size();
    failed(now, "listing " + layout_.prefix() + " on " + member + ": " + e.what() + "; trying " +
                    store_.endpoint(member_));
    return;
  }
  contact(now);
  store_rev_ = std::max(store_rev_, rev);
  builder_.clear();
  for (const auto& kv : kvs) {
    (void)builder_.put(kv.key, kv.value);
  }
  pending_.clear();
  watched_rev_ = rev;
  builder_rev_ = rev;
  const Desired d = builder_.build(applied_);
  log_problems(d);
  log_.log(Level::kInfo, "listed " + layout_.prefix() + " at revision " + std::to_string(rev) +
                             " on " + member + ": " + plural(kvs.size(), "key") + ", " +
                             plural(d.services.size(), "service") +
                             (d.marker ? "" : ", no marker key"));
  synced_ = true;
  need_list_ = false;
  restore_at_.reset();
  ready_ = true;
  if (reconcile(d, std::nullopt, now, "revision " + std::to_string(rev))) {
    applied_rev_ = rev;
  }
  next_resync_ = now + opts_.resync_interval;
  start_watch(now);
}

void Agent::start_watch(Clock::time_point now) {
  try {
    store_.watch(member_, layout_.prefix(), layout_.range_end(), watched_rev_ + 1);
  } catch (const etcd::StoreError& e) {
    move_member(now, "cannot watch on " + store_.endpoint(member_) + ": " + e.what());
    return;
  }
  ++watches_;
  watch_activity_ = now;
  last_progress_.reset();
  next_probe_ = now + opts_.probe_interval;
  log_.log(Level::kInfo, "watching " + layout_.prefix() + " from revision " +
                             std::to_string(watched_rev_ + 1) + " on " + store_.endpoint(member_));
}

void Agent::move_member(Clock::time_point now, const std::string& why) {
  store_.stop_watch();
  member_ = (member_ + 1) % store_.size();
  backoff_ = backoff_.count() == 0 ? opts_.retry_min : std::min(2 * backoff_, opts_.retry_max);
  retry_at_ = now + backoff_;
  failed(now, why + "; watching on " + store_.endpoint(member_) + " from revision " +
                  std::to_string(watched_rev_ + 1) + " next");
}

void Agent::probe(Clock::time_point now) {
  next_probe_ = now + opts_.probe_interval;
  etcd::RangeRequest req;
  req.key = layout_.marker_key();
  req.count_only = true;
  try {
    const etcd::RangeResponse r = store_.range(member_, req);
    store_rev_ = std::max(store_rev_, r.header.revision);
    contact(now);
  } catch (const etcd::StoreError& e) {
    move_member(now, store_.endpoint(member_) + " did not answer a linearizable read: " + e.what());
  }
}

void Agent::on_poll(const WatchPoll& poll, Clock::time_point now) {
  for (const auto& r : poll.responses) {
    watch_activity_ = now;
    store_rev_ = std::max(store_rev_, r.header.revision);
    if (r.canceled) {
      store_.stop_watch();
      if (r.compact_revision > 0) {
        failed(now, "the watch from revision " + std::to_string(watched_rev_ + 1) +
                        " was compacted (the store keeps revisions from " +
                        std::to_string(r.compact_revision) + "): listing again");
        need_list_ = true;
        retry_at_ = now;
      } else {
        move_member(now, "the watch was canceled" +
                             (r.cancel_reason.empty() ? std::string() : ": " + r.cancel_reason));
      }
      return;
    }
    // Not a contact (see contact()): a member cut off from its leader
    // still creates watches and sends progress notifications.
    if (r.created) {
      continue;
    }
    if (r.progress()) {
      if (last_progress_) {
        progress_interval_ = now - *last_progress_;
      }
      last_progress_ = now;
      watched_rev_ = std::max(watched_rev_, r.header.revision);
      if (pending_.empty()) {
        builder_rev_ = watched_rev_;
        if (managed_ && !kernel_dirty_ && synced_) {
          applied_rev_ = builder_rev_;
        }
      }
      continue;
    }
    if (pending_.empty()) {
      pending_since_ = now;
    }
    for (const auto& e : r.events) {
      watched_rev_ = std::max(watched_rev_, e.kv.mod_revision);
      pending_.push_back(e);
    }
  }
  if (poll.ended) {
    move_member(now, "the watch on " + store_.endpoint(member_) + " ended: " + poll.error);
  }
}

void Agent::apply_pending(Clock::time_point now) {
  std::set<std::string> names;
  bool marker = false;
  for (const auto& e : pending_) {
    std::string why;
    const auto pk = layout_.parse(e.kv.key, why);
    if (pk && pk->kind == KeyKind::kMarker) {
      marker = true;
    } else if (pk) {
      names.insert(pk->service);
    }
    if (e.is_delete) {
      builder_.erase(e.kv.key);
    } else {
      (void)builder_.put(e.kv.key, e.kv.value);
    }
  }
  const std::size_t n = pending_.size();
  pending_.clear();
  builder_rev_ = watched_rev_;
  const Desired d = builder_.build(applied_);
  log_problems(d);
  std::optional<std::set<std::string>> only;
  if (!marker && !kernel_dirty_ && managed_) {
    std::set<std::string> labels;
    for (const auto& name : names) {
      if (const auto it = applied_.find(name); it != applied_.end()) {
        labels.insert(label_of(it->second.service.key()));
      }
      if (const auto it = d.services.find(name); it != d.services.end()) {
        labels.insert(label_of(it->second.service.key()));
      }
    }
    only = std::move(labels);
  }
  if (only && only->empty()) {
    applied_rev_ = builder_rev_;  // nothing that reaches the kernel changed
    return;
  }
  if (reconcile(d, only, now,
                "revision " + std::to_string(builder_rev_) + " (" + plural(n, "change") + ")")) {
    applied_rev_ = builder_rev_;
  }
}

bool Agent::reconcile(const Desired& desired, const std::optional<std::set<std::string>>& only,
                      Clock::time_point now, const std::string& why) {
  if (!desired.marker) {
    if (!unmanaged_logged_) {
      log_.log(Level::kWarning, "no marker key " + layout_.marker_key() +
                                    ": the prefix is not managed; the table stays as it is");
      unmanaged_logged_ = true;
    }
    managed_ = false;
    return false;
  }
  if (unmanaged_logged_) {
    log_.log(Level::kInfo, "marker key " + layout_.marker_key() + " is there: managing the prefix");
    unmanaged_logged_ = false;
  }
  const bool was_managed = managed_;
  managed_ = true;
  KernelTable* k = kernel(now);
  if (k == nullptr) {
    kernel_dirty_ = true;
    return false;
  }
  const bool full = !only || !was_managed;
  std::optional<std::set<std::string>> scope_only = full ? std::nullopt : only;
  ByLabel target = by_label(desired.services);
  std::set<std::string> scope;
  for (const auto& [name, e] : applied_) {
    scope.insert(label_of(e.service.key()));
  }
  if (scope_only) {
    std::erase_if(target, [&](const auto& kv) { return !scope_only->contains(kv.first); });
    std::erase_if(scope, [&](const std::string& l) { return !scope_only->contains(l); });
  }
  const auto t0 = Clock::now();
  ApplyResult res;
  HealthResult health;
  try {
    const ByLabel current = k->read(scope_only);
    for (const auto& [label, want] : target) {
      if (current.contains(label) && !scope.contains(label)) {
        log_.log(Level::kInfo, "service " + label +
                                   " was in the kernel before the store named it: taking it over "
                                   "(edited in place)");
      }
    }
    health = overlay_local_health(target, current, applied_target_, quiesced_, suspects_, now,
                                  opts_.suspect_grace);
    res = k->apply(current, target, scope);
  } catch (const sockvs::Error& e) {
    kernel_.reset();
    kernel_retry_at_ = now + kKernelRetry;
    kernel_dirty_ = true;
    failed(now, "cannot change the kernel's table: " + std::string(e.what()));
    return false;
  }
  last_apply_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
  ++applies_;
  changes_ += res.ops;
  if (health.recheck && (!recheck_at_ || *health.recheck < *recheck_at_)) {
    recheck_at_ = health.recheck;
  }
  // Held real servers: those of this apply's services anew.
  std::erase_if(held_, [&](const std::string& name) {
    const auto arrow = name.find(" -> ");
    return !scope_only || scope_only->contains(name.substr(0, arrow));
  });
  for (const auto& name : health.held) {
    if (held_.insert(name).second && !held_logged_.contains(name)) {
      log_.log(Level::kInfo,
               name + ": quiesced by sockvs-healthd: weight 0 stays until it restores it");
    }
  }
  held_logged_ = held_;
  for (const auto& name : health.waiting) {
    log_.log(Level::kInfo, name + ": weight 0, set by someone else: waiting " +
                               secs(opts_.suspect_grace) +
                               " for sockvs-healthd's state file before giving it its weight");
  }
  // Kernel refusals: each said once while it lasts.
  std::map<std::string, std::string> errors = res.errors;
  for (const auto& [label, err] : errors) {
    const auto old = kernel_errors_logged_.find(label);
    if (old == kernel_errors_logged_.end() || old->second != err) {
      log_.log(Level::kError, "the kernel refused: " + err);
      last_error_ = err;
      last_error_time_ = wall_now();
    }
  }
  if (scope_only) {
    std::erase_if(kernel_errors_logged_,
                  [&](const auto& kv) { return scope_only->contains(kv.first); });
    kernel_errors_logged_.insert(errors.begin(), errors.end());
  } else {
    kernel_errors_logged_ = std::move(errors);
  }
  if (res.ops > 0) {
    std::string text = why + ": " + plural(res.ops, "change");
    for (std::size_t i = 0; i < res.done.size() && i < kOpsLogged; ++i) {
      text += (i == 0 ? ": " : "; ") + res.done[i];
    }
    if (res.done.size() > kOpsLogged) {
      text += "; and " + std::to_string(res.done.size() - kOpsLogged) + " more";
    }
    log_.log(Level::kInfo, text);
  }
  set_applied(desired.services);
  if (scope_only) {
    std::erase_if(applied_target_, [&](const auto& kv) { return scope_only->contains(kv.first); });
    applied_target_.merge(target);
  } else {
    applied_target_ = std::move(target);
    kernel_dirty_ = false;
  }
  snapshot_dirty_ = true;
  return true;
}

void Agent::restore_snapshot(Clock::time_point now) {
  if (applied_.empty()) {
    return;
  }
  log_.log(Level::kWarning, "the store has not been read within " + secs(opts_.initial_wait) +
                                ": restoring the snapshot's table (revision " +
                                std::to_string(applied_rev_) + ", " +
                                plural(applied_.size(), "service") + ")");
  Desired d;
  d.marker = true;
  d.services = applied_;
  (void)reconcile(d, std::nullopt, now, "snapshot of revision " + std::to_string(applied_rev_));
}

void Agent::check_health(Clock::time_point now) {
  next_health_check_ = now + kHealthEvery;
  if (!health_source_) {
    return;
  }
  auto q = health_source_();
  if (q && *q != quiesced_) {
    quiesced_ = std::move(*q);
    recheck_at_ = now;  // healthd quiesced or restored something: look again
  }
}

void Agent::log_problems(const Desired& desired) {
  for (const auto& [key, why] : desired.problems) {
    const auto old = problems_.find(key);
    if (old == problems_.end() || old->second != why) {
      std::string line = key;
      line += ": ";
      line += why;
      log_.log(Level::kWarning, line);
    }
  }
  for (const auto& [key, why] : problems_) {
    if (!desired.problems.contains(key)) {
      log_.log(Level::kInfo, key + ": no longer skipped");
    }
  }
  problems_ = desired.problems;
}

Status Agent::status(Clock::time_point now) const {
  Status st;
  st.pid = static_cast<int>(::getpid());
  st.cell = layout_.cell();
  for (std::size_t i = 0; i < store_.size(); ++i) {
    st.endpoints.push_back(store_.endpoint(i));
  }
  st.member = store_.watching() ? store_.endpoint(member_) : std::string();
  st.applied_revision = applied_rev_;
  st.store_revision = store_rev_;
  st.synced = synced_;
  st.stale = !last_contact_ || now - *last_contact_ > opts_.stale_after;
  st.contact_age =
      last_contact_ ? std::chrono::duration<double>(now - *last_contact_).count() : -1.0;
  st.updated = wall_now();
  st.last_error = last_error_;
  st.last_error_time = last_error_time_;
  st.table_hash = applied_hash_;
  st.services = applied_.size();
  st.dests = count_dests(applied_);
  st.held = held_.size();
  st.problems = problems_.size();
  st.kernel_errors = kernel_errors_logged_.size();
  st.lists = lists_;
  st.watches = watches_;
  st.applies = applies_;
  st.changes = changes_;
  st.last_apply_seconds = last_apply_seconds_;
  if (stopped_) {
    st.state = "stopped";
  } else if (!synced_) {
    st.state = "starting";
  } else if (!managed_) {
    st.state = "unmanaged";
  } else if (kernel_dirty_) {
    st.state = "kernel-error";
  } else if (st.stale) {
    st.state = "unreachable";
  } else {
    st.state = "watching";
  }
  return st;
}

void Agent::write_files(Clock::time_point now, bool force) {
  if (snapshot_dirty_ && (force || now >= next_snapshot_)) {
    try {
      Snapshot snap;
      snap.cell = layout_.cell();
      snap.revision = applied_rev_;
      snap.services = applied_;
      save_snapshot(opts_.snapshot_path, snap);
      snapshot_dirty_ = false;
    } catch (const std::runtime_error& e) {
      failed(now, std::string("snapshot: ") + e.what());
    }
    next_snapshot_ = now + kFileEvery;
  }
  if (force || now >= next_status_) {
    next_status_ = now + kFileEvery;
    const Status st = status(now);
    try {
      if (!opts_.status_path.empty()) {
        write_file_atomic(opts_.status_path, format_status_json(st), false);
      }
      if (!opts_.metrics_path.empty()) {
        write_file_atomic(opts_.metrics_path, format_status_metrics(st), false);
      }
    } catch (const std::runtime_error& e) {
      if (last_error_.find("status") == std::string::npos) {
        failed(now, std::string("status: ") + e.what());
      }
    }
  }
}

}  // namespace agent
