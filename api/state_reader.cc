#include "api/state_reader.h"

#include "engine/batch_state.h"
#include "projections/codec.h"

namespace x402 {

uint64_t UtilizationPpm(Amount spent, Amount limit) {
  constexpr uint64_t kCap = 1000000000000ull;
  if (limit.is_zero()) return spent.is_zero() ? 0 : 1000000;
  if (limit.v > u128(UINT64_MAX)) {
    return static_cast<uint64_t>(std::min<u128>(spent.v / (limit.v / 1000000), kCap));
  }
  // Cap spent first so spent * 10^6 cannot overflow 128 bits.
  const u128 max_spent = limit.v * 1000000;  // limit < 2^64, so this fits
  if (spent.v >= max_spent) return kCap;
  const Amount ppm = MulDiv(spent, 1000000, static_cast<uint64_t>(limit.v));
  return std::min<uint64_t>(static_cast<uint64_t>(ppm.v), kCap);
}

StateReader::StateReader(RocksStore* store) : store_(store), snap_(store->db()->GetSnapshot()) {
  ro_.snapshot = snap_;
  auto it = Iter(store_->meta());
  for (it->Seek("wm|"); it->Valid() && it->key().starts_with("wm|"); it->Next()) {
    if (it->key().size() != 7 || it->value().size() != 8) continue;
    const std::string k = it->key().ToString();
    const uint32_t shard = (uint32_t(uint8_t(k[3])) << 24) | (uint32_t(uint8_t(k[4])) << 16) |
                           (uint32_t(uint8_t(k[5])) << 8) | uint32_t(uint8_t(k[6]));
    watermarks_[shard] = TimeMs{static_cast<int64_t>(GetBigEndian64(it->value().ToString()))};
  }
}

StateReader::~StateReader() { store_->db()->ReleaseSnapshot(snap_); }

bool StateReader::Get(Table t, uint32_t shard, std::string_view logical_key, std::string* value) {
  std::string k = BatchState::ShardPrefix(shard);
  k.append(logical_key);
  return store_->db()->Get(ro_, store_->cf(t), k, value).ok();
}

bool StateReader::Find(Table t, std::string_view logical_key, std::string* value, uint32_t* shard) {
  for (const auto& [s, wm] : watermarks_) {
    if (Get(t, s, logical_key, value)) {
      if (shard) *shard = s;
      return true;
    }
  }
  return false;
}

bool StateReader::GetMeta(std::string_view key, std::string* value) {
  return store_->db()->Get(ro_, store_->meta(), key, value).ok();
}

std::unique_ptr<rocksdb::Iterator> StateReader::Iter(rocksdb::ColumnFamilyHandle* cf) {
  return std::unique_ptr<rocksdb::Iterator>(store_->db()->NewIterator(ro_, cf));
}

TimeMs StateReader::MaxWatermark() const {
  TimeMs t = kTimeMin;
  for (const auto& [s, wm] : watermarks_) t = std::max(t, wm);
  return t;
}

}  // namespace x402
