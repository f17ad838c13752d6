#include "engine/outbox_dispatcher.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <optional>

#include "projections/codec.h"

namespace x402 {
namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string SeqKey(uint64_t seq) {
  std::string k;
  PutBigEndian64(&k, seq);
  return k;
}
}  // namespace

struct OutboxDispatcher::Worker {
  DispatcherSinkConfig cfg;
  std::thread thread;
  uint64_t cursor = 0;  // next seq this sink has to look at (guarded by mu_)
  DispatcherSinkStatus status;    // guarded by mu_
  std::string last_logged;
  bool failing = false;
};

std::string OutboxDispatcher::AckKey(const std::string& sink_name) { return "ack|" + sink_name; }

OutboxDispatcher::OutboxDispatcher(RocksStore* store, std::vector<DispatcherSinkConfig> sinks,
                                   DispatcherOptions opts)
    : store_(store), opts_(std::move(opts)) {
  for (auto& s : sinks) {
    auto w = std::make_unique<Worker>();
    w->status.name = s.sink->name();
    w->cfg = std::move(s);
    std::string v;
    if (store_->Get(store_->meta(), AckKey(w->status.name), &v) && v.size() == 8)
      w->cursor = GetBigEndian64(v);
    workers_.push_back(std::move(w));
  }
  // Nothing below the oldest stored entry is left to delete.
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->outbox()));
  it->SeekToFirst();
  deleted_below_ = it->Valid() && it->key().size() == 8
                       ? GetBigEndian64(std::string_view(it->key().data(), it->key().size()))
                       : 0;
}

OutboxDispatcher::~OutboxDispatcher() { Stop(); }

void OutboxDispatcher::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    Worker* p = w.get();
    p->thread = std::thread([this, p] { Run(p); });
  }
}

void OutboxDispatcher::Notify() {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++notify_gen_;
  }
  cv_.notify_all();
}

void OutboxDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

uint64_t OutboxDispatcher::CommittedSeq() const {
  std::string v;
  if (!store_->Get(store_->meta(), "outbox_seq", &v) || v.size() != 8) return 0;
  return GetBigEndian64(v);
}

std::vector<OutboxEntry> OutboxDispatcher::Read(uint64_t from, size_t max) const {
  std::vector<OutboxEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->outbox()));
  OutboxEntry e;
  for (it->Seek(SeqKey(from)); it->Valid() && out.size() < max; it->Next()) {
    if (it->key().size() != 8) continue;
    if (!OutboxEntry::Decode(std::string_view(it->value().data(), it->value().size()), &e))
      continue;
    e.seq = GetBigEndian64(std::string_view(it->key().data(), it->key().size()));
    out.push_back(e);
  }
  return out;
}

// Store reads and writes happen outside mu_ (they wait for the pipeline's write in flight, and
// the pipeline calls Notify, which takes mu_); ack_mu_ keeps acknowledgements one at a time, so
// the other cursors and deleted_below_ cannot move while this one is written.
Status OutboxDispatcher::Ack(Worker* w, uint64_t cursor) {
  std::lock_guard<std::mutex> serial(ack_mu_);
  uint64_t low = cursor, deleted_below;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& o : workers_) low = std::min(low, o.get() == w ? cursor : o->cursor);
    deleted_below = deleted_below_;
  }
  rocksdb::WriteBatch wb;
  wb.Put(store_->meta(), AckKey(w->status.name), SeqKey(cursor));
  // Point deletes, not DeleteRange: the store's memtable insert hints share one hint map
  // between a memtable and its range-deletion table, which corrupts the skiplist.
  if (low > deleted_below) {
    std::unique_ptr<rocksdb::Iterator> it(
        store_->db()->NewIterator(rocksdb::ReadOptions(), store_->outbox()));
    const std::string end = SeqKey(low);
    for (it->Seek(SeqKey(deleted_below)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
      wb.Delete(store_->outbox(), it->key());
    }
  }
  Status st = store_->Write(&wb);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> l(mu_);
  w->cursor = cursor;
  deleted_below_ = std::max(deleted_below_, low);
  return Status::Ok();
}

void OutboxDispatcher::Sleep(milliseconds d, bool wake_on_notify) {
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t gen = notify_gen_;
  cv_.wait_for(l, d, [&] { return stop_ || (wake_on_notify && notify_gen_ != gen); });
}

void OutboxDispatcher::Run(Worker* w) {
  std::optional<Clock::time_point> pending_since;
  auto log = [&](const std::string& msg) {
    if (opts_.log && msg != w->last_logged) opts_.log(msg);
    w->last_logged = msg;
  };
  uint64_t cursor;
  {
    std::lock_guard<std::mutex> l(mu_);
    cursor = w->cursor;
  }
  while (true) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
    }
    if (w->status.disabled) {
      // Keep the cursor: the entries stay for a fixed webhook. Idle until Stop.
      Sleep(milliseconds(3600 * 1000), false);
      continue;
    }
    auto entries = Read(cursor, opts_.max_batch);
    if (entries.empty()) {
      pending_since.reset();
      Sleep(opts_.poll_interval, true);
      continue;
    }
    const auto now = Clock::now();
    if (!pending_since) pending_since = now;
    if (!w->cfg.immediate && opts_.group_window.count() > 0 && entries.size() < opts_.max_batch &&
        now < *pending_since + opts_.group_window) {
      Sleep(std::chrono::duration_cast<milliseconds>(*pending_since + opts_.group_window - now) +
                milliseconds(1),
            false);
      continue;
    }
    std::vector<AlertRecord> records;
    for (const auto& e : entries) {
      if (w->cfg.accepts && !w->cfg.accepts(e)) continue;
      records.push_back(AlertRecord{e.seq, e.alert_id, e.agent_id, e.json});
    }
    SinkAttempt a;
    if (!records.empty()) a = w->cfg.sink->Deliver(records);
    const uint64_t next =
        a.handled >= records.size() ? entries.back().seq + 1 : records[a.handled].seq;
    {
      std::lock_guard<std::mutex> l(mu_);
      w->status.delivered += a.delivered;
      w->status.dead_lettered += a.dead_lettered;
      // Entries not routed here count once, when the cursor passes them.
      size_t routed_before_next = 0, before_next = 0;
      for (const auto& e : entries) before_next += e.seq < next;
      for (const auto& r : records) routed_before_next += r.seq < next;
      w->status.skipped += before_next - routed_before_next;
      if (a.failed) ++w->status.failed_attempts;
      if (!a.failed && !a.disabled && a.handled < records.size() && a.retry_after.count() > 0)
        ++w->status.rate_limited;
      w->status.retrying = a.handled < records.size() && !a.disabled;
      w->status.disabled = a.disabled;
      w->status.circuit_open = a.circuit_open;
      if (!a.error.empty()) w->status.last_error = a.error;
    }
    if (next > cursor) {
      Status st = Ack(w, next);
      if (!st.ok()) {
        log(w->status.name + ": cannot store acknowledgement: " + st.error() + " (retrying)");
        Sleep(milliseconds(1000), false);
        continue;
      }
      cursor = next;
    }
    if (a.disabled) {
      log(a.error);
      continue;
    }
    if (a.handled < records.size()) {
      if (a.failed) {
        log(a.error + " (retrying)");
        w->failing = true;
      }
      Sleep(a.retry_after, false);
      continue;
    }
    if (w->failing) {
      log(w->status.name + ": delivering again");
      w->failing = false;
    }
    // Whatever is left over (more than max_batch) goes right away.
    pending_since = Clock::now() - opts_.group_window;
  }
}

bool OutboxDispatcher::WaitDrained(milliseconds timeout) {
  const uint64_t target = CommittedSeq();
  const auto deadline = Clock::now() + timeout;
  Notify();
  while (true) {
    bool drained = true;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& w : workers_) {
        if (w->status.disabled) continue;
        // The cursor may sit below `target` only because the remaining seqs do not exist
        // (a batch that failed to commit consumed none): check the outbox itself.
        if (w->cursor < target) drained = false;
      }
    }
    if (!drained) {
      // Cursors may lag the last committed seq when no entry remains past them. The store is
      // read outside mu_ (see Ack).
      std::vector<uint64_t> behind;
      {
        std::lock_guard<std::mutex> l(mu_);
        for (const auto& w : workers_)
          if (!w->status.disabled && w->cursor < target) behind.push_back(w->cursor);
      }
      bool any = false;
      for (uint64_t cursor : behind) {
        std::unique_ptr<rocksdb::Iterator> it(
            store_->db()->NewIterator(rocksdb::ReadOptions(), store_->outbox()));
        it->Seek(SeqKey(cursor));
        if (it->Valid() &&
            GetBigEndian64(std::string_view(it->key().data(), it->key().size())) < target)
          any = true;
      }
      drained = !any;
    }
    if (drained) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

DispatcherSnapshot OutboxDispatcher::Snapshot() const {
  const uint64_t committed = CommittedSeq();
  DispatcherSnapshot s;
  std::lock_guard<std::mutex> l(mu_);
  uint64_t low = committed;
  for (const auto& w : workers_) {
    DispatcherSinkStatus st = w->status;
    st.pending = committed > w->cursor ? committed - w->cursor : 0;
    low = std::min(low, w->cursor);
    s.sinks.push_back(std::move(st));
  }
  s.outbox_pending = committed > low ? committed - low : 0;
  return s;
}

}  // namespace x402
