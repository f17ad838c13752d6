// The dedupe horizon of EVENTS.md section 1, on DedupeWindow alone and through the engine:
// a repeat within the horizon is a duplicate whatever its content, a repeat past it is
// applied, a horizon of 0 remembers nothing, and what is remembered survives a restart (one
// meta value per commit, no key per event) except for a dropped shard.
#include "engine/dedupe_window.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "engine/engine.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

constexpr int64_t kHour = 3600 * 1000;
const TimeMs kT0{1763337600000};  // 2025-11-17T00:00:00Z

TimeMs At(int64_t ms) { return TimeMs{kT0.ms + ms}; }

TEST(DedupeWindowTest, WithinTheHorizonIsADuplicatePastItIsApplied) {
  DedupeWindow w(kHour);
  EXPECT_FALSE(w.CheckAndRemember(0, "src", "a", At(0), kTimeMin));
  EXPECT_TRUE(w.CheckAndRemember(0, "src", "a", At(0), At(0)));
  // The first one's time is exactly one horizon behind the watermark: still within.
  EXPECT_TRUE(w.CheckAndRemember(0, "src", "a", At(5), At(kHour)));
  // One millisecond more: forgotten, applied, and remembered again at its own time.
  EXPECT_FALSE(w.CheckAndRemember(0, "src", "a", At(kHour + 1), At(kHour + 1)));
  EXPECT_TRUE(w.CheckAndRemember(0, "src", "a", At(0), At(kHour + 2)));
  // The pair is (source, id): neither part alone, and no concatenation ambiguity.
  EXPECT_FALSE(w.CheckAndRemember(0, "other", "a", At(0), At(0)));
  EXPECT_FALSE(w.CheckAndRemember(0, "srca", "", At(0), At(0)));
  EXPECT_FALSE(w.CheckAndRemember(0, "sr", "ca", At(0), At(0)));
  // Shards are separate clocks and separate memories.
  EXPECT_FALSE(w.CheckAndRemember(1, "src", "a", At(0), At(0)));
}

TEST(DedupeWindowTest, HorizonZeroRemembersNothing) {
  DedupeWindow w(0);
  EXPECT_FALSE(w.CheckAndRemember(0, "src", "a", At(0), kTimeMin));
  EXPECT_FALSE(w.CheckAndRemember(0, "src", "a", At(0), At(0)));
  EXPECT_EQ(w.remembered(), 0u);
}

TEST(DedupeWindowTest, ExpiredPairsAreDroppedSoMemoryFollowsTheHorizonNotTheStream) {
  DedupeWindow w(kHour);
  // 200,000 events, 1,000 per simulated minute: about 60,000 within an hour at any time.
  for (int i = 0; i < 200000; ++i) {
    const TimeMs t = At(int64_t(i) * 60);
    ASSERT_FALSE(w.CheckAndRemember(0, "s", std::to_string(i), t, t));
    if (i % 10000 == 9999) {  // a commit
      rocksdb::WriteBatch wb;
      w.Stage(&wb, nullptr, {{0, t}});
    }
  }
  EXPECT_LT(w.remembered(), 130000u);
  EXPECT_LT(w.memory_bytes(), size_t(4) << 20);
  // The latest ones are still remembered.
  const TimeMs last = At(int64_t(199999) * 60);
  EXPECT_TRUE(w.CheckAndRemember(0, "s", "199999", last, last));
  EXPECT_TRUE(w.CheckAndRemember(0, "s", "150000", last, last));
}

TEST(DedupeWindowTest, SurvivesARestartAsOneValuePerCommitAndForgetsADroppedShard) {
  test::TempDir tmp;
  StoreOptions so;
  so.path = tmp.file("db");
  std::map<uint32_t, TimeMs> wms = {{0, At(10)}, {1, At(10)}};
  {
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    for (int i = 0; i < 1000; ++i)
      ASSERT_FALSE(w.CheckAndRemember(i % 2, "s", std::to_string(i), At(i % 10), At(0)));
    rocksdb::WriteBatch wb;
    w.Stage(&wb, (*store)->meta(), wms);
    EXPECT_EQ(wb.Count(), 1u);  // one segment for 1,000 pairs
    ASSERT_TRUE((*store)->Write(&wb).ok());
    // Shard 1 is dropped afterwards: its pairs must not come back.
    rocksdb::WriteBatch drop;
    w.DropShard(1, &drop, (*store)->meta());
    ASSERT_TRUE((*store)->Write(&drop).ok());
  }
  {
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    ASSERT_TRUE(w.Load(store->get(), wms).ok());
    EXPECT_TRUE(w.CheckAndRemember(0, "s", "0", At(0), At(10)));
    EXPECT_TRUE(w.CheckAndRemember(0, "s", "998", At(0), At(10)));
    EXPECT_FALSE(w.CheckAndRemember(1, "s", "1", At(0), At(10)));
    // Once every pair of the segment is past the horizon, a commit deletes it.
    std::map<uint32_t, TimeMs> later = {{0, At(3 * kHour)}, {1, At(3 * kHour)}};
    rocksdb::WriteBatch wb;
    w.Stage(&wb, (*store)->meta(), later);
    ASSERT_TRUE((*store)->Write(&wb).ok());
    std::unique_ptr<rocksdb::Iterator> it(
        (*store)->db()->NewIterator(rocksdb::ReadOptions(), (*store)->meta()));
    int segments = 0;
    for (it->Seek("dd|"); it->Valid() && it->key().starts_with("dd|"); it->Next()) ++segments;
    EXPECT_EQ(segments, 0);
  }
  {
    // A store whose clocks are past the horizon loads nothing.
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    ASSERT_TRUE(w.Load(store->get(), {{0, At(5 * kHour)}}).ok());
    EXPECT_EQ(w.remembered(), 0u);
  }
}

// A shard dropped, every segment expired and deleted, a restart, the shard rebuilt: its new
// pairs must survive the next restart (segment numbers never restart below a drop marker).
TEST(DedupeWindowTest, ARebuiltShardsPairsSurviveARestartAfterEverySegmentExpired) {
  test::TempDir tmp;
  StoreOptions so;
  so.path = tmp.file("db");
  auto commit = [&](RocksStore* store, DedupeWindow& w, std::map<uint32_t, TimeMs> wms) {
    rocksdb::WriteBatch wb;
    w.Stage(&wb, store->meta(), wms);
    ASSERT_TRUE(store->Write(&wb).ok());
  };
  {
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    for (int i = 0; i < 5; ++i) {
      ASSERT_FALSE(w.CheckAndRemember(3, "s", "old" + std::to_string(i), At(0), At(0)));
      commit(store->get(), w, {{3, At(0)}});
    }
    rocksdb::WriteBatch drop;
    w.DropShard(3, &drop, (*store)->meta());
    ASSERT_TRUE((*store)->Write(&drop).ok());
    commit(store->get(), w, {{3, At(3 * kHour)}});  // every segment expires and goes
  }
  {
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    ASSERT_TRUE(w.Load(store->get(), {}).ok());
    ASSERT_FALSE(w.CheckAndRemember(3, "s", "new", At(4 * kHour), At(4 * kHour)));
    commit(store->get(), w, {{3, At(4 * kHour)}});
  }
  {
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.error();
    DedupeWindow w(kHour);
    ASSERT_TRUE(w.Load(store->get(), {{3, At(4 * kHour)}}).ok());
    EXPECT_TRUE(w.CheckAndRemember(3, "s", "new", At(4 * kHour), At(4 * kHour)));
  }
}

TEST(DedupeWindowTest, TimesPastTheFortyEightBitRangeDoNotWrap) {
  DedupeWindow w(kHour);
  const TimeMs far{int64_t(1) << 48};  // about year 10,900: kept as the latest representable
  EXPECT_FALSE(w.CheckAndRemember(0, "s", "x", far, far));
  EXPECT_TRUE(w.CheckAndRemember(0, "s", "x", far, far));
}

// Through the engine: a repeat with other content is dropped within the horizon, applied
// past it; the remembered pairs are in meta segments, never in the dedupe table.
std::string Authorized(const std::string& id, const std::string& time, const std::string& amount) {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"svc","type":"x402.payment.authorized","time":")" + time +
         R"(","subject":"a1","data":{"payment_id":"p-)" + id +
         R"(","vendor":"v","resource":"https://v.example/r","network":"base","asset":"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913","payer":"0x1111111111111111111111111111111111111111","pay_to":"0x2222222222222222222222222222222222222222","amount":")" +
         amount + R"(","valid_after":"0","valid_before":"4102444800","nonce":"0x)" +
         std::string(63, '0') + id.substr(id.size() - 1) + R"("}})";
}

TEST(DedupeWindowTest, EngineDropsARepeatWithinTheHorizonWhateverItsContentAndAppliesOnePastIt) {
  test::TempDir tmp;
  const std::vector<std::string> lines = {
      Authorized("e1", "2025-11-17T00:00:00.000Z", "1000"),
      Authorized("e1", "2025-11-17T00:30:00.000Z", "9999"),  // same pair, other content: duplicate
      Authorized("e2", "2025-11-17T02:00:00.000Z", "1000"),  // clock moves 2 h on
      Authorized("e1", "2025-11-17T00:00:00.000Z", "1000"),  // first one is 2 h behind: applied
  };
  test::WriteLines(tmp.file("in.jsonl"), lines);
  EngineOptions eo;
  eo.store.path = tmp.file("db");
  eo.projections.dedupe_horizon_s = 3600;
  auto eng = Engine::Open(eo);
  ASSERT_TRUE(eng.ok()) << eng.error();
  std::vector<SourceRecord> recs;
  std::vector<std::string> padded;
  for (const auto& l : lines) padded.push_back(l + std::string(EventDecoder::kPadding, ' '));
  for (size_t i = 0; i < lines.size(); ++i) {
    SourceRecord r;
    r.bytes = std::string_view(padded[i]).substr(0, lines[i].size());
    r.length = lines[i].size();
    recs.push_back(r);
  }
  ASSERT_TRUE((*eng)->ProcessBatch(recs, {}).ok());
  EXPECT_EQ((*eng)->stats().duplicates, 1u);
  EXPECT_EQ((*eng)->stats().applied_total(), 3u);
  std::unique_ptr<rocksdb::Iterator> it((*eng)->store()->db()->NewIterator(
      rocksdb::ReadOptions(), (*eng)->store()->cf(Table::kDedupe)));
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid()) << "no store key per event";
}

}  // namespace
}  // namespace x402
