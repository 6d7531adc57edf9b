// In-memory etcd and logger for sockvs-agent's unit tests.
#ifndef SOCKVS_TESTS_UNIT_AGENT_FAKES_H_
#define SOCKVS_TESTS_UNIT_AGENT_FAKES_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent.h"
#include "etcd.h"
#include "store.h"

namespace agent::testing {

class CaptureLogger final : public Logger {
 public:
  std::vector<std::string> lines;
  void log(Level level, const std::string& message) override {
    lines.push_back(std::string(level == Level::kError     ? "E "
                                : level == Level::kWarning ? "W "
                                                           : "I ") +
                    message);
  }
  [[nodiscard]] bool has(const std::string& part) const {
    for (const auto& l : lines) {
      if (l.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  [[nodiscard]] std::string all() const {
    std::string out;
    for (const auto& l : lines) {
      out += l + "\n";
    }
    return out;
  }
};

// One etcd cluster: an MVCC history of puts and deletes, compaction,
// members that can be down or without a leader, one watch stream.
class FakeStore final : public Store {
 public:
  struct Change {
    std::int64_t rev = 0;
    std::string key;
    std::optional<std::string> value;  // nullopt: deleted
  };

  explicit FakeStore(std::size_t members = 3) : down(members, false), no_leader(members, false) {}

  std::vector<bool> down;       // no answer at all
  std::vector<bool> no_leader;  // answers reads with "etcdserver: no leader"; watches stay silent
  std::int64_t revision = 1;
  std::int64_t compacted = 0;
  std::vector<Change> history;
  std::size_t ranges = 0;  // range calls that got an answer
  std::size_t watch_opens = 0;
  std::optional<std::size_t> watch_member;
  std::int64_t watch_next = 0;  // the next revision the watch delivers
  bool watch_progress = false;  // deliver a progress notification on the next poll
  bool stream_break = false;    // end the stream on the next poll

  // One revision with these changes.
  void txn(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
    ++revision;
    for (const auto& [k, v] : changes) {
      history.push_back(Change{revision, k, v});
    }
  }
  void put(const std::string& k, const std::string& v) { txn({{k, v}}); }
  void del(const std::string& k) { txn({{k, std::nullopt}}); }
  // Revisions before `rev` are gone (etcd's compaction keeps `rev` itself).
  void compact(std::int64_t rev) { compacted = rev; }

  [[nodiscard]] std::map<std::string, std::string> state(std::int64_t rev) const {
    std::map<std::string, std::string> out;
    for (const auto& c : history) {
      if (c.rev > rev) {
        break;
      }
      if (c.value) {
        out[c.key] = *c.value;
      } else {
        out.erase(c.key);
      }
    }
    return out;
  }

  [[nodiscard]] std::size_t size() const override { return down.size(); }
  [[nodiscard]] std::string endpoint(std::size_t m) const override {
    return "http://m" + std::to_string(m) + ":2379";
  }

  etcd::RangeResponse range(std::size_t m, const etcd::RangeRequest& req) override {
    using etcd::StoreError;
    if (down.at(m)) {
      throw StoreError(StoreError::Kind::kTransport, 0, endpoint(m) + ": Connection refused");
    }
    if (no_leader.at(m)) {
      throw StoreError(StoreError::Kind::kServer, 14, "etcdserver: no leader");
    }
    const std::int64_t rev = req.revision == 0 ? revision : req.revision;
    if (rev < compacted) {
      throw StoreError(StoreError::Kind::kServer, 11,
                       "etcdserver: mvcc: required revision has been compacted");
    }
    ++ranges;
    etcd::RangeResponse r;
    r.header.revision = revision;
    const auto st = state(rev);
    const std::string end = req.range_end.empty() ? req.key + std::string(1, '\0') : req.range_end;
    for (auto it = st.lower_bound(req.key); it != st.end() && it->first < end; ++it) {
      ++r.count;
      if (req.count_only) {
        continue;
      }
      if (req.limit > 0 && static_cast<std::int64_t>(r.kvs.size()) == req.limit) {
        r.more = true;
        continue;
      }
      etcd::KeyValue kv;
      kv.key = it->first;
      kv.value = it->second;
      r.kvs.push_back(kv);
    }
    return r;
  }

  void watch(std::size_t m, const std::string& key, const std::string& end,
             std::int64_t start) override {
    watch_key_ = key;
    watch_end_ = end;
    ++watch_opens;
    watch_member = m;
    watch_next = start;
    created_pending_ = true;
  }
  void stop_watch() override { watch_member.reset(); }
  [[nodiscard]] bool watching() const override { return watch_member.has_value(); }

  WatchPoll poll(std::chrono::milliseconds /*timeout*/, int /*fd*/) override {
    WatchPoll out;
    if (!watch_member) {
      return out;
    }
    const std::size_t m = *watch_member;
    if (down.at(m) || stream_break) {
      stream_break = false;
      out.ended = true;
      out.error = "connection reset";
      watch_member.reset();
      return out;
    }
    if (no_leader.at(m)) {
      // A member without a leader: watches are created, progress is
      // notified (its own, old revision), no change comes.
      if (std::exchange(created_pending_, false)) {
        etcd::WatchResponse c;
        c.created = true;
        out.responses.push_back(c);
      }
      if (std::exchange(watch_progress, false)) {
        etcd::WatchResponse p;
        p.header.revision = watch_next - 1;
        out.responses.push_back(p);
      }
      return out;
    }
    if (created_pending_) {
      created_pending_ = false;
      etcd::WatchResponse c;
      c.created = true;
      c.header.revision = revision;
      out.responses.push_back(c);
      if (watch_next < compacted) {
        etcd::WatchResponse x;
        x.canceled = true;
        x.compact_revision = compacted;
        out.responses.push_back(x);
        watch_member.reset();
        return out;
      }
    }
    // One response per revision.
    for (std::int64_t rev = watch_next; rev <= revision; ++rev) {
      etcd::WatchResponse w;
      w.header.revision = revision;
      for (const auto& c : history) {
        if (c.rev == rev && c.key >= watch_key_ && c.key < watch_end_) {
          etcd::Event e;
          e.is_delete = !c.value;
          e.kv.key = c.key;
          e.kv.value = c.value.value_or("");
          e.kv.mod_revision = rev;
          w.events.push_back(e);
        }
      }
      if (!w.events.empty()) {
        out.responses.push_back(w);
      }
    }
    watch_next = revision + 1;
    if (watch_progress) {
      watch_progress = false;
      etcd::WatchResponse p;
      p.header.revision = revision;
      out.responses.push_back(p);
    }
    return out;
  }

 private:
  bool created_pending_ = false;
  std::string watch_key_;
  std::string watch_end_;
};

}  // namespace agent::testing

#endif  // SOCKVS_TESTS_UNIT_AGENT_FAKES_H_
