// BatchState against a model: random gets, puts, deletes and scans over a few hundred keys,
// with a cache small enough that eviction runs all the time, commits that are synchronous or
// asynchronous (RocksStore::WriteAsync), and a reopen of the store at the end.
#include "engine/batch_state.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/testutil.h"

namespace x402 {
namespace {

using test::TempDir;

std::map<std::string, std::string> ScanAll(BatchState& s, Table t, std::string_view prefix) {
  std::map<std::string, std::string> out;
  std::string last;
  s.Scan(t, prefix, [&](std::string_view k, std::string_view v) {
    EXPECT_TRUE(out.empty() || std::string(k) > last) << "scan out of order at " << k;
    last = std::string(k);
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  return out;
}

void RunModel(bool async, uint32_t seed, bool write_back = false) {
  TempDir tmp;
  StoreOptions so;
  so.path = tmp.path();
  so.disable_wal = true;
  auto store = RocksStore::Open(so);
  ASSERT_TRUE(store) << store.error();
  // Two tables, two shards; the model is keyed by (table, shard, key).
  std::map<std::tuple<int, uint32_t, std::string>, std::string> model;
  {
    BatchState s(store->get(), /*cache_entries=*/16);
    s.SetWriteBack(write_back);
    std::mt19937 rng(seed);
    auto key = [&] { return "k" + std::to_string(rng() % 300); };
    const Table tables[] = {Table::kPayments, Table::kAuths};
    for (int batch = 0; batch < 300; ++batch) {
      const int ops = 1 + static_cast<int>(rng() % 40);
      for (int i = 0; i < ops; ++i) {
        const Table t = tables[rng() % 2];
        const uint32_t shard = rng() % 2;
        s.SetShard(shard);
        const std::string k = key();
        const auto mk = std::make_tuple(static_cast<int>(t), shard, k);
        switch (rng() % 8) {
          case 0:
          case 1:
          case 2: {
            std::string v;
            const bool found = s.Get(t, k, &v);
            auto it = model.find(mk);
            ASSERT_EQ(found, it != model.end()) << "batch " << batch << " key " << k;
            if (found) {
              ASSERT_EQ(v, it->second) << "batch " << batch << " key " << k;
            }
            break;
          }
          case 3:
          case 4:
          case 5: {
            const std::string v = "v" + std::to_string(rng());
            s.Put(t, k, v);
            model[mk] = v;
            break;
          }
          case 6:
            s.Delete(t, k);
            model.erase(mk);
            break;
          case 7: {
            const std::string prefix = "k" + std::to_string(rng() % 10);
            std::map<std::string, std::string> want;
            for (const auto& [m, v] : model) {
              if (std::get<0>(m) == static_cast<int>(t) && std::get<1>(m) == shard &&
                  std::get<2>(m).starts_with(prefix)) {
                want.emplace(std::get<2>(m), v);
              }
            }
            ASSERT_EQ(ScanAll(s, t, prefix), want) << "batch " << batch << " prefix " << prefix;
            break;
          }
        }
      }
      rocksdb::WriteBatch wb;
      s.Flush(&wb);
      if (async) {
        ASSERT_TRUE((*store)->WriteAsync(std::move(wb)).ok());
      } else {
        ASSERT_TRUE((*store)->Write(&wb).ok());
      }
    }
    ASSERT_TRUE((*store)->WaitWrites().ok());
    if (write_back) {
      // The cache merged over the store is the model, before anything more is written.
      for (Table t : {Table::kPayments, Table::kAuths}) {
        size_t n = 0;
        s.ForEachMerged(t, [&](std::string_view pk, std::string_view v) {
          const uint32_t shard = static_cast<uint32_t>(static_cast<uint8_t>(pk[3]));
          auto m =
              model.find(std::make_tuple(static_cast<int>(t), shard, std::string(pk.substr(4))));
          ASSERT_NE(m, model.end()) << pk.substr(4);
          EXPECT_EQ(v, m->second);
          ++n;
        });
        size_t want = 0;
        for (const auto& [m, v] : model) want += std::get<0>(m) == static_cast<int>(t);
        EXPECT_EQ(n, want);
      }
      // Then everything is written back (replay --state-dir).
      s.SetWriteBack(false);
      rocksdb::WriteBatch wb;
      s.Flush(&wb);
      ASSERT_TRUE((*store)->Write(&wb).ok());
    }
  }
  // Everything committed is in RocksDB itself, shard prefix first.
  size_t n = 0;
  for (Table t : {Table::kPayments, Table::kAuths}) {
    std::unique_ptr<rocksdb::Iterator> it(
        (*store)->db()->NewIterator(rocksdb::ReadOptions(), (*store)->cf(t)));
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
      const std::string pk = it->key().ToString();
      const uint32_t shard = static_cast<uint32_t>(static_cast<uint8_t>(pk[3]));
      auto m = model.find(std::make_tuple(static_cast<int>(t), shard, pk.substr(4)));
      ASSERT_NE(m, model.end()) << pk.substr(4);
      EXPECT_EQ(it->value().ToString(), m->second);
    }
  }
  EXPECT_EQ(n, model.size());
}

TEST(BatchStateTest, MatchesAModelUnderConstantEvictionWithSynchronousCommits) {
  for (uint32_t seed = 1; seed <= 4; ++seed) RunModel(false, seed);
}

TEST(BatchStateTest, MatchesAModelWhenEachCommitOverlapsTheNextBatch) {
  for (uint32_t seed = 1; seed <= 4; ++seed) RunModel(true, seed);
}

// Write-back (replay): pending writes stay cached across commits and reach the store only
// when eviction spills them; reads, scans and the merged view see the model throughout.
TEST(BatchStateTest, WriteBackMatchesAModelWhileSpillingUnderOverlappedCommits) {
  for (uint32_t seed = 1; seed <= 4; ++seed) RunModel(true, seed, true);
  for (uint32_t seed = 5; seed <= 6; ++seed) RunModel(false, seed, true);
}

// --state-cache-mb: the cache stays within its byte budget (beyond the batch in hand), in
// both modes, and everything evicted or spilled still reads back.
TEST(BatchStateTest, TheCacheKeepsToItsByteBudget) {
  for (bool write_back : {false, true}) {
    TempDir tmp;
    StoreOptions so;
    so.path = tmp.path();
    so.disable_wal = true;
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store) << store.error();
    constexpr size_t kBudget = 1 << 20;
    BatchState s(store->get(), /*cache_entries=*/1000000, kBudget);
    s.SetWriteBack(write_back);
    const std::string value(1000, 'v');
    size_t peak = 0;
    for (int batch = 0; batch < 100; ++batch) {
      for (int i = 0; i < 100; ++i)
        s.Put(Table::kPayments, "p" + std::to_string(batch * 100 + i), value + std::to_string(i));
      rocksdb::WriteBatch wb;
      s.Flush(&wb);
      ASSERT_TRUE((*store)->WriteAsync(std::move(wb)).ok());
      peak = std::max(peak, s.cached_bytes());
    }
    EXPECT_LT(peak, kBudget + 200 * 1100)
        << "write_back " << write_back;  // a batch's entries may stay
    for (int k = 0; k < 10000; k += 97) {
      std::string v;
      ASSERT_TRUE(s.Get(Table::kPayments, "p" + std::to_string(k), &v)) << k;
      EXPECT_EQ(v, value + std::to_string(k % 100));
    }
    ASSERT_TRUE((*store)->WaitWrites().ok());
  }
}

TEST(BatchStateTest, AFailedAsynchronousWriteIsReportedByEveryLaterCall) {
  TempDir tmp;
  StoreOptions so;
  so.path = tmp.path();
  int writes = 0;
  so.fail_write = [&] { return ++writes == 2; };
  auto store = RocksStore::Open(so);
  ASSERT_TRUE(store) << store.error();
  rocksdb::WriteBatch a, b, c;
  ASSERT_TRUE(a.Put((*store)->meta(), "a", "1").ok());
  ASSERT_TRUE(b.Put((*store)->meta(), "b", "2").ok());
  ASSERT_TRUE(c.Put((*store)->meta(), "c", "3").ok());
  ASSERT_TRUE((*store)->WriteAsync(std::move(a)).ok());
  ASSERT_TRUE((*store)->WriteAsync(std::move(b)).ok());  // fails on the writer thread
  const Status later = (*store)->WriteAsync(std::move(c));
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.error().find("injected fault"), std::string::npos) << later.error();
  EXPECT_FALSE((*store)->WaitWrites().ok());
  rocksdb::WriteBatch d;
  EXPECT_FALSE((*store)->Write(&d).ok());
  std::string v;
  EXPECT_TRUE((*store)->Get((*store)->meta(), "a", &v));
  EXPECT_EQ(v, "1");
  EXPECT_FALSE((*store)->Get((*store)->meta(), "b", &v));
  EXPECT_FALSE((*store)->Get((*store)->meta(), "c", &v));
}

}  // namespace
}  // namespace x402
