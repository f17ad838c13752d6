#include "engine/vendor_facts.h"

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

void KafkaVendorFactSink::Add(const VendorFact& f) {
  if (!error_.ok()) return;
  Status st = producer_->Produce(topic_, f.vendor, EncodeVendorFact(f), {}, VendorPartition(f.vendor, partitions_));
  if (!st.ok()) {
    error_ = st;
    return;
  }
  ++produced_;
  pending_ = true;
}

Status KafkaVendorFactSink::Flush() {
  if (!error_.ok()) return std::exchange(error_, Status::Ok());
  if (!pending_) return Status::Ok();
  pending_ = false;
  return producer_->FlushUntilDelivered();  // a broker outage is waited out, not fatal
}

}  // namespace x402
