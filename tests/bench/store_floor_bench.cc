// The floor under the engine's per-event cost that the state store alone sets: RocksStore,
// opened with the engine's own options, doing only the minimum work the event contract
// requires of every event, with no decoding and no projection logic at all.
//
// Per event: one Get of its dedupe key (absent, as for every new event: the bloom filters
// answer) and KEYS key writes spread over the dedupe, payments and auths column families
// (a replay of `x402rec gen --agents 1000` writes 3.1 keys per event after coalescing within
// a batch), committed as one WriteBatch per BATCH events, synchronously or overlapped
// (WriteAsync, as replay does). Prints events/s.
//
// Usage: store_floor_bench [EVENTS=2000000] [KEYS=3] [BATCH=16384] [ASYNC=1] [GET=1] [DIR]
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/rocksdb_store.h"

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A key like the engine's: 4-byte shard, then a 36-character id (a UUID's length).
void MakeKey(uint64_t n, uint64_t salt, std::string* k) {
  static const char* hex = "0123456789abcdef";
  k->assign("\0\0\0\1", 4);
  uint64_t a = Mix(n ^ salt), b = Mix(a);
  for (int i = 0; i < 16; ++i) k->push_back(hex[(a >> (4 * i)) & 15]);
  for (int i = 0; i < 16; ++i) k->push_back(hex[(b >> (4 * i)) & 15]);
  k->append("-evt");
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  const int keys = argc > 2 ? std::atoi(argv[2]) : 3;
  const uint64_t batch = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 16384;
  const bool async = argc > 4 ? std::atoi(argv[4]) != 0 : true;
  const bool get = argc > 5 ? std::atoi(argv[5]) != 0 : true;
  const std::string dir = argc > 6 ? argv[6] : "/tmp/x402rec-store-floor";
  if (events == 0 || keys < 1 || keys > 3 || batch == 0) {
    std::fprintf(stderr, "store_floor_bench: EVENTS and BATCH must be positive, KEYS 1..3\n");
    return 2;
  }
  std::filesystem::remove_all(dir);

  x402::StoreOptions so;
  so.path = dir;
  so.disable_wal = true;  // as replay opens its store
  auto opened = x402::RocksStore::Open(so);
  if (!opened.ok()) {
    std::fprintf(stderr, "store_floor_bench: %s\n", opened.error().c_str());
    return 1;
  }
  auto store = std::move(opened.value());
  const x402::Table tables[] = {x402::Table::kDedupe, x402::Table::kPayments, x402::Table::kAuths};
  const std::string value(120, 'v');  // a PaymentRecord's order of size

  const auto t0 = std::chrono::steady_clock::now();
  std::string key, got;
  uint64_t found = 0;
  // The engine moves a batch's writes into its WriteBatch sorted by table and key
  // (BatchState::Flush), so do the same.
  std::vector<std::string> pending[3];
  for (uint64_t e = 0; e < events; ++e) {
    MakeKey(e, 0, &key);
    if (get && store->GetUnsynced(store->cf(x402::Table::kDedupe), key, &got)) ++found;
    pending[0].push_back(key);
    for (int k = 1; k < keys; ++k) {
      MakeKey(e, static_cast<uint64_t>(k), &key);
      pending[k % 3].push_back(key);
    }
    if ((e + 1) % batch == 0 || e + 1 == events) {
      rocksdb::WriteBatch wb;
      for (int t = 0; t < 3; ++t) {
        std::sort(pending[t].begin(), pending[t].end());
        for (const auto& k : pending[t]) wb.Put(store->cf(tables[t]), k, t == 0 ? "" : value);
        pending[t].clear();
      }
      x402::Status st = async ? store->WriteAsync(std::move(wb)) : store->Write(&wb);
      if (!st.ok()) {
        std::fprintf(stderr, "store_floor_bench: %s\n", st.error().c_str());
        return 1;
      }
    }
  }
  if (x402::Status st = store->WaitWrites(); !st.ok()) {
    std::fprintf(stderr, "store_floor_bench: %s\n", st.error().c_str());
    return 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("store floor: %" PRIu64 " events, %d keys/event, batch %" PRIu64
              ", %s commits%s: %.2f s, %.0f events/s (%.0f key writes/s), %" PRIu64 " found\n",
              events, keys, batch, async ? "overlapped" : "synchronous",
              get ? "" : ", no dedupe Get", s, events / s, events * keys / s, found);
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
