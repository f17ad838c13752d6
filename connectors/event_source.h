// EventSource: where raw events come from (a JSONL file, a Kafka consumer). Sources hand
// out batches of raw records together with the position just past the batch, which the
// engine commits atomically with the state the batch produced (DESIGN.md principle 2).
// Thread-safety: a source is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace x402 {

struct SourceRecord {
  uint32_t shard = 0;       // state partition (Kafka partition; 0 for files)
  std::string_view bytes;   // the event; EventDecoder::kPadding readable bytes follow it
  bool oversize = false;    // longer than the event size limit (bytes holds its head)
  uint64_t length = 0;      // full length of the record in bytes
  std::string_view origin;  // file path or topic name
  uint64_t index = 0;       // file: line number; Kafka: partition
  uint64_t offset = 0;      // file: byte offset; Kafka: message offset
  bool is_file = true;
  // An internal vendor fact (engine/vendor_facts.h) rather than a CloudEvent.
  bool vendor_fact = false;
  // Kafka events: the message key, which must equal the event's subject (EVENTS.md); a
  // missing or different key is dead-lettered, since the event may sit on the wrong partition.
  bool check_key = false;
  bool has_key = false;
  std::string_view key;
  // Oversize records: lowercase hex SHA-256 of the whole record (its head is in `bytes`).
  std::string_view sha256;
};

// Meta-column-family entries recording where a source stands.
using Positions = std::vector<std::pair<std::string, std::string>>;

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Clears `out` and fills it with up to `max` records; the views stay valid until the next
  // call. Returns false once the source is exhausted and `out` is empty.
  virtual bool NextBatch(size_t max, std::vector<SourceRecord>* out) = 0;
  // Positions just past the last batch returned.
  virtual Positions CurrentPositions() const = 0;
  // Bytes consumed and total bytes, for progress (0 total when unknown).
  virtual uint64_t bytes_done() const = 0;
  virtual uint64_t bytes_total() const = 0;
  // A read error that ended the source early (empty if none).
  virtual std::string error() const = 0;
};

}  // namespace x402
