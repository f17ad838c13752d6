#include "connectors/kafka_source.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>

#include "schemas/decoder.h"
#include "schemas/jsonl.h"
#include "schemas/sha256.h"

namespace x402 {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Client-level errors (all brokers down, connection refused, ...): librdkafka retries them
// itself; they are reported through error() so the caller can log and report not-ready.
void ErrorCb(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnError(
      std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " + reason);
}

void RebalanceCb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                 void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnRebalance(err, parts);
}

}  // namespace

std::string KafkaSource::PositionKey(const std::string& topic, int32_t partition) {
  return "pos|kafka|" + topic + "|" + std::to_string(partition);
}

int KafkaSource::TopicIndex(const std::string& topic) const {
  for (size_t i = 0; i < o_.topics.size(); ++i)
    if (o_.topics[i] == topic) return static_cast<int>(i);
  if (!o_.vendor_facts_topic.empty() && topic == o_.vendor_facts_topic)
    return static_cast<int>(o_.topics.size());
  return -1;
}

KafkaSource::Part* KafkaSource::FindPart(const std::string& topic, int32_t partition) {
  auto it = assignment_.find({topic, partition});
  return it == assignment_.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<KafkaSource>> KafkaSource::Open(KafkaSourceOptions opts) {
  std::unique_ptr<KafkaSource> s(new KafkaSource());
  s->o_ = std::move(opts);
  if (s->o_.topics.empty()) return Err("kafka: no topics to consume");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  KafkaProps all = {{"enable.auto.commit", "false"},
                    {"enable.auto.offset.store", "false"},
                    {"auto.offset.reset", "earliest"},
                    {"enable.partition.eof", "false"},
                    // A fetch returns after at most 20 ms without data (default 500 ms): the
                    // dev broker holds fetches that long even when other partitions have data,
                    // and low-rate latency should not pay it either.
                    {"fetch.wait.max.ms", "20"},
                    {"group.id", "x402rec"}};
  if (s->o_.scan) all["group.id"] = "x402rec-replay";  // required by librdkafka; never joined
  for (const auto& [k, v] : s->o_.props) all[k] = v;
  if (Status st = ApplyKafkaProps(conf, all); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return Err(st.error());
  }
  rd_kafka_conf_set_opaque(conf, s.get());
  if (!s->o_.scan) {
    rd_kafka_conf_set_rebalance_cb(conf, RebalanceCb);
    rd_kafka_conf_set_error_cb(conf, ErrorCb);
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Err(std::string("kafka consumer: ") + err);
  }
  s->rk_ = rk;
  rd_kafka_poll_set_consumer(rk);
  if (!s->o_.scan) {
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(s->o_.topics.size()));
    for (const auto& t : s->o_.topics)
      rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    if (!s->o_.vendor_facts_topic.empty()) {
      rd_kafka_topic_partition_list_add(topics, s->o_.vendor_facts_topic.c_str(),
                                        RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) return Err(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
    return s;
  }
  // Scan mode: every partition from its beginning to its end now (or --until-offset).
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
  for (size_t ti = 0; ti < s->o_.topics.size(); ++ti) {
    const std::string& topic = s->o_.topics[ti];
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
      if (md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_partition_list_destroy(list);
      return Err("kafka: cannot read topic " + topic + ": " +
                 rd_kafka_err2str(e ? e : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    }
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      const int32_t p = md->topics[0].partitions[i].id;
      int64_t lo = 0, hi = 0;
      e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000);
      if (e) {
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(list);
        return Err("kafka: watermarks of " + topic + "/" + std::to_string(p) + ": " +
                   rd_kafka_err2str(e));
      }
      if (s->o_.until_offset) hi = std::min(hi, *s->o_.until_offset);
      if (hi <= lo) continue;
      Part part{topic, p, Shard(ti, p), lo, hi, false};
      s->assignment_[{topic, p}] = part;
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = lo;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) return Err(std::string("kafka assign: ") + rd_kafka_err2str(e));
  return s;
}

KafkaSource::~KafkaSource() {
  if (rk_) {
    auto* rk = static_cast<rd_kafka_t*>(rk_);
    if (!o_.scan) rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
}

void KafkaSource::Assign(void* plist) {
  auto* parts = static_cast<rd_kafka_topic_partition_list_t*>(plist);
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  const uint64_t epoch = ++epoch_;
  if (o_.on_assign) {
    std::vector<uint32_t> owned;
    for (int i = 0; i < parts->cnt; ++i) {
      const int ti = TopicIndex(parts->elems[i].topic);
      if (ti >= 0) owned.push_back(Shard(static_cast<size_t>(ti), parts->elems[i].partition));
    }
    o_.on_assign(owned);
  }
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = parts->elems[i];
    const int ti = TopicIndex(tp.topic);
    if (ti < 0) continue;
    const uint32_t shard = Shard(static_cast<size_t>(ti), tp.partition);
    int64_t lo = 0, hi = 0;
    // A failed query means "end unknown" (never "caught up"); CaughtUp asks again.
    const bool known =
        rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &lo, &hi, 10000) == 0;
    if (!known) lo = hi = 0;
    // -1: no stored offset (never seen, or reset below).
    int64_t stored = -1;
    if (o_.stored_offset) stored = o_.stored_offset(tp.topic, tp.partition).value_or(-1);
    if (known && stored > hi) {
      // The broker no longer has what we consumed (e.g. a restarted dev broker): the topic
      // is the event store, so rebuild this partition's state from what it has now.
      if (o_.reset_shard) o_.reset_shard(shard);
      stored = -1;
    }
    const int64_t from = std::max<int64_t>(stored, 0);
    if (known && o_.warn && lo > from) {
      o_.warn(std::string(tp.topic) + "/" + std::to_string(tp.partition) +
              ": history lost: offsets " + std::to_string(from) + ".." + std::to_string(lo - 1) +
              " (" + std::to_string(lo - from) +
              " records) are no longer on the broker (retention); the state of this partition is "
              "incomplete");
    }
    const int64_t next = stored >= 0 ? stored : lo;
    tp.offset = stored >= 0 ? stored : RD_KAFKA_OFFSET_BEGINNING;
    Part part{
        tp.topic, tp.partition, shard, next, hi, false, ti == static_cast<int>(o_.topics.size())};
    part.end_known = known;
    part.epoch = epoch;
    assignment_[{tp.topic, tp.partition}] = part;
  }
  rd_kafka_assign(rk, parts);
}

void KafkaSource::OnRebalance(int err, void* parts) {
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    Assign(parts);
  } else {
    // Revoked: everything returned so far was committed by the engine before this poll;
    // records collected in the current poll for these partitions are dropped (NextBatch
    // re-checks the assignment), so the new owner starts exactly at our stored offset.
    auto* list = static_cast<rd_kafka_topic_partition_list_t*>(parts);
    ++epoch_;
    for (int i = 0; i < list->cnt; ++i)
      assignment_.erase({list->elems[i].topic, list->elems[i].partition});
    rd_kafka_assign(rk, nullptr);
  }
}

bool KafkaSource::NextBatch(size_t max, std::vector<SourceRecord>* out) {
  out->clear();
  arena_.clear();
  batch_ts_.clear();
  oversize_digests_.clear();
  for (auto& [k, p] : assignment_) p.touched = false;
  if (o_.scan && CaughtUp()) return false;
  auto* rk = static_cast<rd_kafka_t*>(rk_);
  struct Pending {
    size_t off, len;
    std::string topic;
    int32_t partition;
    int64_t offset;
    uint64_t epoch;
    size_t key_off, key_len;
    bool has_key;
    int64_t ts;
  };
  std::vector<Pending> pending;
  const int64_t deadline = NowMs() + o_.max_wait_ms;
  while (pending.size() < max) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) break;
    // Adaptive batching: wait up to max_wait_ms for the first record, but once the batch has
    // one, close it as soon as the client's prefetched queue runs dry for idle_close_ms. A
    // backlog keeps the queue full (full batches, high throughput); a trickle gets committed
    // within milliseconds (low latency).
    const int64_t wait = pending.empty() ? left : std::min<int64_t>(left, o_.idle_close_ms);
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, static_cast<int>(wait));
    if (!m) {
      if (!pending.empty()) break;
      continue;
    }
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) error_ = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      continue;
    }
    const char* topic = rd_kafka_topic_name(m->rkt);
    Part* part = FindPart(topic, m->partition);
    if (!part || m->offset < part->next || (o_.scan && m->offset >= part->end_at_start)) {
      rd_kafka_message_destroy(m);
      continue;
    }
    pending.push_back(Pending{arena_.size(), m->len, topic, m->partition, m->offset, part->epoch, 0,
                              m->key_len, m->key != nullptr,
                              rd_kafka_message_timestamp(m, nullptr)});
    arena_.append(static_cast<const char*>(m->payload), m->len);
    arena_.append(EventDecoder::kPadding, ' ');
    pending.back().key_off = arena_.size();
    if (m->key) arena_.append(static_cast<const char*>(m->key), m->key_len);
    part->next = m->offset + 1;
    part->touched = true;
    rd_kafka_message_destroy(m);
    if (o_.scan && CaughtUp()) break;
  }
  for (const auto& p : pending) {
    const Part* part = FindPart(p.topic, p.partition);
    if (!part || part->epoch != p.epoch) continue;  // revoked (or re-assigned) during this poll
    SourceRecord r;
    r.shard = part->shard;
    r.bytes = std::string_view(arena_.data() + p.off, p.len);
    r.length = p.len;
    r.oversize = p.len > kMaxEventBytes;
    if (r.oversize) {
      Sha256 hash;
      hash.Update(r.bytes);
      oversize_digests_.push_back(hash.FinalHex());
      r.sha256 = oversize_digests_.back();
      r.bytes = r.bytes.substr(0, kOversizeHeadBytes);
    }
    r.origin = part->topic;
    r.index = static_cast<uint64_t>(p.partition);
    r.offset = static_cast<uint64_t>(p.offset);
    r.is_file = false;
    r.vendor_fact = part->facts;
    if (!part->facts) batch_ts_.push_back(std::max<int64_t>(p.ts, 0));
    r.check_key = !part->facts;
    r.has_key = p.has_key;
    r.key = std::string_view(arena_.data() + p.key_off, p.key_len);
    out->push_back(r);
  }
  return true;
}

Positions KafkaSource::CurrentPositions() const {
  Positions out;
  for (const auto& [k, p] : assignment_) {
    if (p.touched) out.emplace_back(PositionKey(p.topic, p.partition), std::to_string(p.next));
  }
  return out;
}

void KafkaSource::CommitAsync() {
  if (o_.scan || assignment_.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(assignment_.size()));
  for (const auto& [k, p] : assignment_) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.next;
  }
  rd_kafka_commit(static_cast<rd_kafka_t*>(rk_), list, 1);
  rd_kafka_topic_partition_list_destroy(list);
}

bool KafkaSource::CaughtUp(bool exact_facts) {
  if (assignment_.empty()) return o_.scan;
  for (auto& [k, p] : assignment_) {
    if (!p.end_known) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(static_cast<rd_kafka_t*>(rk_), p.topic.c_str(),
                                           p.partition, &lo, &hi, 1000)) {
        return false;
      }
      p.end_at_start = hi;
      p.end_known = true;
    }
    if (!p.facts && p.next < p.end_at_start) return false;
  }
  for (const auto& [k, p] : assignment_) {
    if (!p.facts) continue;
    int64_t lo = 0, hi = 0;
    // The exact end is a broker round trip per partition; the cached one (from the last
    // fetch response) is free but may miss facts produced since.
    const rd_kafka_resp_err_t e =
        exact_facts ? rd_kafka_query_watermark_offsets(static_cast<rd_kafka_t*>(rk_),
                                                       p.topic.c_str(), p.partition, &lo, &hi, 1000)
                    : rd_kafka_get_watermark_offsets(static_cast<rd_kafka_t*>(rk_), p.topic.c_str(),
                                                     p.partition, &lo, &hi);
    if (e) return false;
    if (p.next < hi) return false;
  }
  return true;
}

Result<int32_t> KafkaSource::PartitionCount(const std::string& topic) {
  return TopicPartitionCount(rk_, topic);
}

std::vector<uint32_t> KafkaSource::IdleShards() {
  std::vector<uint32_t> out;
  for (const auto& [k, p] : assignment_) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(static_cast<rd_kafka_t*>(rk_), p.topic.c_str(), p.partition,
                                       &lo, &hi) == 0 &&
        p.next >= hi) {
      out.push_back(p.shard);
    }
  }
  return out;
}

int64_t KafkaSource::Lag() {
  int64_t lag = 0;
  for (const auto& [k, p] : assignment_) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(static_cast<rd_kafka_t*>(rk_), p.topic.c_str(), p.partition,
                                       &lo, &hi) == 0 &&
        hi > p.next) {
      lag += hi - p.next;
    }
  }
  return lag;
}

std::vector<KafkaSource::PartitionLag> KafkaSource::PartitionLags() {
  std::vector<PartitionLag> out;
  for (const auto& [k, p] : assignment_) {
    int64_t lo = 0, hi = 0;
    PartitionLag l{p.topic, p.partition, 0};
    if (rd_kafka_get_watermark_offsets(static_cast<rd_kafka_t*>(rk_), p.topic.c_str(), p.partition,
                                       &lo, &hi) == 0 &&
        hi > p.next) {
      l.lag = hi - p.next;
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace x402
