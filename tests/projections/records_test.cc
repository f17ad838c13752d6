// The records' merges as EVENTS.md requires them: a payment's failures counted once however
// often and in whatever order they arrive, the chain log state a join-semilattice over blocks
// (any order, any repeats, the same record), and the state-format-2 encodings still read.
#include "projections/records.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "projections/codec.h"

namespace x402 {
namespace {

EventRef Ref(int64_t ms, const std::string& id) { return EventRef{TimeMs{ms}, "src", id}; }

TEST(RecordsTest, FailuresAreCountedOncePastTheKeptRefsInAnyOrder) {
  std::vector<FailureRef> all;
  for (int i = 0; i < 150; ++i)
    all.push_back(FailureRef{Ref(1000 + i, "f" + std::to_string(i)), "reason"});
  std::string first;
  std::mt19937 rng(3);
  for (int round = 0; round < 5; ++round) {
    std::vector<FailureRef> feed = all;
    for (int i = 0; i < 100; ++i) feed.push_back(all[rng() % all.size()]);  // repeats
    std::shuffle(feed.begin(), feed.end(), rng);
    PaymentRecord p;
    p.agent = "a";
    for (const auto& f : feed) p.AddFailure(f);
    EXPECT_EQ(p.Failures(), 150u);
    EXPECT_EQ(p.failure_refs.size(), kMaxFailureRefs);
    EXPECT_EQ(p.failure_refs.front().ref, all.front().ref);  // the earliest are kept
    const std::string bytes = p.Encode();
    if (first.empty()) first = bytes;
    EXPECT_EQ(bytes, first) << "round " << round;
    PaymentRecord back;
    ASSERT_TRUE(PaymentRecord::Decode(bytes, &back));
    EXPECT_EQ(back.Failures(), 150u);
    EXPECT_FALSE(back.AddFailure(all.back()));
    EXPECT_FALSE(back.AddFailure(all.front()));
  }
}

TEST(RecordsTest, AVersionOnePaymentRecordKeepsItsFailureCount) {
  // State format 2: version 1, a plain failure count before the refs, no fingerprints.
  std::string v1;
  Writer w(&v1);
  w.U8(1);
  w.Str("agent");
  w.Bool(false);  // has_auth
  w.Bool(false);  // settled
  w.Bool(false);  // failed
  w.Var(7);       // failures counted
  w.Var(0);       // refs kept
  w.Bool(false);  // cancelled
  w.U8(0);        // contribution
  w.Amt(Amount{});
  w.Var(0);  // open_mask
  w.U8(0);   // match
  PaymentRecord p;
  ASSERT_TRUE(PaymentRecord::Decode(v1, &p));
  EXPECT_EQ(p.Failures(), 7u);
  PaymentRecord again;
  ASSERT_TRUE(PaymentRecord::Decode(p.Encode(), &again));
  EXPECT_EQ(again.Failures(), 7u);
  EXPECT_EQ(static_cast<uint8_t>(p.Encode()[0]), 2);
}

ChainBlock Obs(uint64_t number, const std::string& hash, bool removed, uint64_t conf, int64_t ms,
               const std::string& id) {
  ChainBlock b;
  b.number = number;
  b.hash = hash;
  b.removed = removed;
  b.confirmations = conf;
  b.ref = Ref(ms, id);
  b.block_time = TimeMs{ms - 500};
  b.tx = "0xtx" + hash;
  return b;
}

TEST(RecordsTest, ChainLogStateIsTheSameForAnyOrderAndRepeats) {
  const std::vector<ChainBlock> obs = {
      Obs(100, "0xa", false, 1, 10, "o1"), Obs(100, "0xa", false, 6, 20, "o2"),
      Obs(100, "0xa", true, 6, 30, "o3"),  Obs(100, "0xb", false, 2, 40, "o4"),
      Obs(101, "0xc", false, 1, 50, "o5"), Obs(101, "0xc", true, 1, 60, "o6"),
      Obs(99, "", false, 20, 70, "o7"),
  };
  std::mt19937 rng(5);
  std::string first;
  for (int round = 0; round < 50; ++round) {
    std::vector<ChainBlock> feed = obs;
    for (int i = 0; i < 5; ++i) feed.push_back(obs[rng() % obs.size()]);
    std::shuffle(feed.begin(), feed.end(), rng);
    AuthRecord a;
    for (const auto& o : feed) a.used.Merge(o);
    // Live blocks: 100/0xb (2 confirmations) and 99 (by number): the higher number wins.
    EXPECT_FALSE(a.used.removed);
    EXPECT_EQ(a.used.block_number, 100u);
    EXPECT_EQ(a.used.confirmations, 2u);
    EXPECT_EQ(a.used.tx, "0xtx0xb");
    const std::string bytes = a.Encode();
    if (first.empty()) first = bytes;
    EXPECT_EQ(bytes, first) << "round " << round;
  }
  // With every block removed the log is removed, dated by the earliest removal of the block
  // that the order puts first (the highest).
  ChainObs gone;
  for (const auto& o : {Obs(100, "0xa", false, 1, 10, "i"), Obs(100, "0xa", true, 1, 30, "r2"),
                        Obs(100, "0xa", true, 1, 20, "r1")}) {
    gone.Merge(o);
  }
  EXPECT_TRUE(gone.removed);
  EXPECT_EQ(gone.ref, Ref(20, "r1"));
  EXPECT_FALSE(gone.Merge(Obs(100, "0xa", true, 1, 30, "r2"))) << "a repeat changes nothing";
}

TEST(RecordsTest, AFormatTwoObservationReadsAsOneBlockNamedByItsHeight) {
  std::string v1;
  Writer w(&v1);
  w.U8(1);
  w.Var(0);  // payment_ids
  w.U8(1);   // used: the state-format-2 form
  w.Var(100);
  w.Bool(false);
  w.Var(3);
  w.Time(TimeMs{5});
  w.Str("src");
  w.Str("u1");
  w.U8(0);  // canceled: never observed
  w.Str("0xusedtx");
  w.Str("");
  w.Var(0);
  AuthRecord a;
  ASSERT_TRUE(AuthRecord::Decode(v1, &a));
  ASSERT_EQ(a.used.blocks.size(), 1u);
  EXPECT_EQ(a.used.blocks[0].hash, "");
  EXPECT_EQ(a.used.block_number, 100u);
  EXPECT_EQ(a.used.tx, "0xusedtx");
  EXPECT_FALSE(a.used.removed);
  EXPECT_FALSE(a.canceled.present);
  // A removal at that height, named by height alone, is final for it.
  EXPECT_TRUE(a.used.Merge(Obs(100, "", true, 0, 9, "r")));
  EXPECT_TRUE(a.used.removed);
}

}  // namespace
}  // namespace x402
