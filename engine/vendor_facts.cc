#include "engine/vendor_facts.h"

#include <algorithm>

#include "projections/codec.h"

#include <simdjson.h>

#include "schemas/json_writer.h"

namespace x402 {

int32_t VendorPartition(std::string_view vendor, int32_t partitions) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : vendor) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int32_t>(h % static_cast<uint64_t>(partitions > 0 ? partitions : 1));
}

std::string EncodeVendorFact(const VendorFact& f) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Field("vendor", f.vendor).Field("kind", f.settled ? "settled" : "failed");
  if (f.settled) {
    w.Field("time", FormatRfc3339(f.time));
  } else {
    w.Field("time", FormatRfc3339(f.ref.time))
        .Field("source", f.ref.source)
        .Field("id", f.ref.id)
        .Field("agent", f.agent)
        .Field("reason", f.reason);
  }
  w.EndObject();
  return out;
}

Status DecodeVendorFact(std::string_view json, VendorFact* out) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string copy(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(copy).get(doc)) return Err("vendor fact: not a JSON object");
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return Err("vendor fact: not a JSON object");
  auto str = [&](const char* name, std::string* dst) -> Status {
    std::string_view v;
    if (obj.find_field_unordered(name).get_string().get(v)) return Err(std::string("vendor fact: ") + name + ": missing or not a string");
    dst->assign(v);
    return Status::Ok();
  };
  *out = VendorFact();
  std::string kind, time;
  for (auto [name, dst] : {std::pair{"vendor", &out->vendor}, std::pair{"kind", &kind}, std::pair{"time", &time}}) {
    if (Status st = str(name, dst); !st.ok()) return st;
  }
  if (out->vendor.empty()) return Err("vendor fact: vendor: empty");
  auto t = ParseRfc3339(time, "vendor fact: time");
  if (!t) return Err(t.error());
  if (kind == "settled") {
    out->settled = true;
    out->time = *t;
    return Status::Ok();
  }
  if (kind != "failed") return Err("vendor fact: kind: expected settled or failed, got '" + kind + "'");
  out->ref.time = *t;
  for (auto [name, dst] : {std::pair{"source", &out->ref.source}, std::pair{"id", &out->ref.id},
                           std::pair{"agent", &out->agent}, std::pair{"reason", &out->reason}}) {
    if (Status st = str(name, dst); !st.ok()) return st;
  }
  return Status::Ok();
}

namespace {

std::string FactOutboxKey(uint64_t seq) {
  std::string k(OutboxVendorFactSink::kPrefix);
  PutBigEndian64(&k, seq);
  return k;
}

}  // namespace

void OutboxVendorFactSink::Resume(RocksStore* store) {
  // The highest key with the prefix: seek to the first key after the prefix range, step back.
  std::unique_ptr<rocksdb::Iterator> it(
      store->db()->NewIterator(rocksdb::ReadOptions(), store->meta()));
  std::string upper(kPrefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  it->SeekForPrev(rocksdb::Slice(upper));
  if (it->Valid() && it->key().starts_with(rocksdb::Slice(kPrefix.data(), kPrefix.size())) &&
      it->key() != rocksdb::Slice(upper) && it->key().size() == kPrefix.size() + 8) {
    next_seq_ = GetBigEndian64(std::string_view(it->key().data() + kPrefix.size(), 8)) + 1;
  }
}

void OutboxVendorFactSink::Add(const VendorFact& f) {
  std::string v;
  const uint32_t p = static_cast<uint32_t>(VendorPartition(f.vendor, partitions_));
  for (int shift : {24, 16, 8, 0}) v.push_back(static_cast<char>(p >> shift));
  const uint16_t n = static_cast<uint16_t>(std::min<size_t>(f.vendor.size(), 0xffff));
  v.push_back(static_cast<char>(n >> 8));
  v.push_back(static_cast<char>(n));
  v.append(f.vendor, 0, n);
  v += EncodeVendorFact(f);
  pending_.push_back(std::move(v));
}

void OutboxVendorFactSink::Stage(rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* meta) {
  for (const auto& v : pending_) wb->Put(meta, FactOutboxKey(next_seq_++), v);
  pending_.clear();
}

VendorFactForwarder::VendorFactForwarder(RocksStore* store, std::unique_ptr<KafkaProducer> producer,
                                         std::string topic)
    : store_(store), producer_(std::move(producer)), topic_(std::move(topic)) {}

VendorFactForwarder::~VendorFactForwarder() { Stop(); }

void VendorFactForwarder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void VendorFactForwarder::Notify() {
  {
    std::lock_guard<std::mutex> l(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

void VendorFactForwarder::Stop() {
  stop_.store(true);
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::string VendorFactForwarder::last_error() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_error_;
}

// Iterators start at the cursor, not at the prefix: delivered facts leave tombstones behind
// them until compaction, and skipping those on every pass cost more than delivering.
std::unique_ptr<rocksdb::Iterator> VendorFactForwarder::FromCursor() {
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &iter_upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(ro, store_->meta()));
  it->Seek(FactOutboxKey(cursor_.load()));
  return it;
}

bool VendorFactForwarder::Drained() { return !FromCursor()->Valid(); }

void VendorFactForwarder::Run() {
  while (!stop_.load()) {
    if (DeliverSome() > 0) continue;  // there may be more
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(100), [&] { return notified_ || stop_.load(); });
    notified_ = false;
  }
}

// Produces up to 10,000 committed facts, waits for their acknowledgement and deletes them.
// Returns how many were delivered (0: nothing to do, or the broker is away: retried later).
size_t VendorFactForwarder::DeliverSome() {
  std::vector<std::string> keys;
  Status st = Status::Ok();
  uint64_t skip_to = cursor_.load();  // past entries not written by Stage, left alone
  {
    std::unique_ptr<rocksdb::Iterator> it = FromCursor();
    for (; it->Valid() && keys.size() < 10000; it->Next()) {
      const rocksdb::Slice v = it->value();
      if (it->key().size() != OutboxVendorFactSink::kPrefix.size() + 8 || v.size() < 6) {
        if (keys.empty() && it->key().size() == OutboxVendorFactSink::kPrefix.size() + 8) {
          skip_to = GetBigEndian64(std::string_view(
                        it->key().data() + OutboxVendorFactSink::kPrefix.size(), 8)) +
                    1;
        }
        continue;
      }
      const auto* b = reinterpret_cast<const uint8_t*>(v.data());
      const int32_t partition = static_cast<int32_t>(
          (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]));
      const size_t n = (size_t(b[4]) << 8) | size_t(b[5]);
      if (v.size() < 6 + n) continue;
      const std::string_view vendor(v.data() + 6, n);
      const std::string_view json(v.data() + 6 + n, v.size() - 6 - n);
      st = producer_->Produce(topic_, vendor, json, {}, partition);
      if (!st.ok()) break;
      keys.push_back(it->key().ToString());
    }
  }
  if (keys.empty()) {  // nothing to deliver, or the first produce failed: retried later
    cursor_.store(skip_to);
    if (!st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      last_error_ = st.error();
    }
    return 0;
  }
  // Wait for the acknowledgements in short steps, so Stop() is never held up by an outage.
  while (st.ok() || !keys.empty()) {
    Status fl = producer_->Flush(200);
    if (fl.ok()) break;
    if (stop_.load()) return 0;
    if (fl.error().starts_with("kafka delivery failed")) {  // produced again on the next pass
      std::lock_guard<std::mutex> l(mu_);
      last_error_ = fl.error();
      return 0;
    }
  }
  if (!st.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    last_error_ = st.error();
  }
  rocksdb::WriteBatch wb;
  for (const auto& k : keys) wb.Delete(store_->meta(), k);
  if (Status w = store_->Write(&wb); !w.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    last_error_ = w.error();
    return 0;
  }
  // Everything before the last delivered key is gone (delivered, or left alone).
  cursor_.store(
      GetBigEndian64(std::string_view(keys.back()).substr(OutboxVendorFactSink::kPrefix.size())) +
      1);
  if (st.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    last_error_.clear();
  }
  return keys.size();
}

}  // namespace x402
