// The pipeline: dead letters, dedupe, atomic commits with the source position, resume after
// a crash, replay determinism.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/file_source.h"
#include "connectors/generator.h"
#include "projections/codec.h"
#include "replay/replay.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Processes `input` with a persistent engine in `dir`, batch by batch, like `x402rec run`.
// Returns false if a commit failed (the engine is then abandoned, as after a crash).
bool RunFile(const std::string& dir, const std::string& input, size_t batch, std::function<bool()> fail_write,
             DeadLetterSink* dls = nullptr) {
  EngineOptions o;
  o.store.path = dir;
  o.store.fail_write = std::move(fail_write);
  o.dead_letters = dls;
  auto e = Engine::Open(o);
  if (!e) throw std::runtime_error(e.error());
  auto src = FileSource::Open({input}, [&](const std::string& p) -> std::optional<FilePosition> {
    auto v = (*e)->GetMeta(FileSource::PositionKey(p));
    if (!v) return std::nullopt;
    return FilePosition::Decode(*v);
  });
  if (!src) throw std::runtime_error(src.error());
  std::vector<SourceRecord> recs;
  while ((*src)->NextBatch(batch, &recs)) {
    if (!(*e)->ProcessBatch(recs, (*src)->CurrentPositions()).ok()) return false;
  }
  return true;
}

std::string DigestOf(const std::string& dir) {
  EngineOptions o;
  o.store.path = dir;
  auto e = Engine::Open(o);
  return (*e)->Digest();
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GeneratorOptions g;
    g.agents = 7;
    g.events = 3000;
    g.seed = 11;
    input_ = tmp_.file("events.jsonl");
    ASSERT_TRUE(GenerateToFile(g, input_).ok());
  }
  TempDir tmp_;
  std::string input_;
};

TEST_F(EngineTest, MalformedLinesAreDeadLetteredWithReasonAndNeighboursStillApply) {
  test::Auth a;
  a.payment_id = "p1";
  std::vector<std::string> lines = {
      test::Authorized(a, "e1"),
      "{\"specversion\":\"1.0\",\"id\":\"x\"",  // unterminated object
      "not json at all",
      test::Ev("payment.settled", "e2", "2025-11-17T10:00:01Z", "builder_agent",
               R"({"payment_id":"p1","tx_hash":"0x01","amount":1.5})"),
      test::Settled("builder_agent", "p1", "e3", "2025-11-17T10:00:02Z"),
  };
  test::WriteLines(tmp_.file("in.jsonl"), lines);
  auto dls = FileDeadLetterSink::Open(tmp_.file("dl.jsonl"));
  ASSERT_TRUE(dls.ok());
  ASSERT_TRUE(RunFile(tmp_.file("state"), tmp_.file("in.jsonl"), 100, nullptr, dls->get()));
  std::string dl = ReadAll(tmp_.file("dl.jsonl"));
  std::vector<std::string> dl_lines;
  std::stringstream ss(dl);
  for (std::string l; std::getline(ss, l);) dl_lines.push_back(l);
  ASSERT_EQ(dl_lines.size(), 3u) << dl;
  EXPECT_NE(dl_lines[0].find("\"line\":2"), std::string::npos) << dl_lines[0];
  EXPECT_NE(dl_lines[0].find("not JSON"), std::string::npos) << dl_lines[0];
  EXPECT_NE(dl_lines[1].find("\"line\":3"), std::string::npos);
  EXPECT_NE(dl_lines[2].find("data.amount: expected atomic-unit integer string, got 1.5"), std::string::npos)
      << dl_lines[2];
  EXPECT_NE(dl_lines[2].find("\"original\":"), std::string::npos);
  EngineOptions o;
  o.store.path = tmp_.file("state");
  auto e = Engine::Open(o);
  EXPECT_EQ((*e)->stats().applied_total(), 2u);
  EXPECT_EQ((*e)->stats().dead_letters, 3u);
}

TEST_F(EngineTest, CrashBeforeAnyCommitResumesWithTheSameDigestAsAnUninterruptedRun) {
  ASSERT_TRUE(RunFile(tmp_.file("clean"), input_, 97, nullptr));
  const std::string clean = DigestOf(tmp_.file("clean"));
  // Kill the writer at several points: the k-th commit never reaches the store.
  for (int crash_at : {1, 2, 5, 13, 29}) {
    const std::string dir = tmp_.file("crash" + std::to_string(crash_at));
    int writes = 0;
    EXPECT_FALSE(RunFile(dir, input_, 97, [&] { return ++writes == crash_at; })) << crash_at;
    // A second crash a little later, then a clean finish.
    int writes2 = 0;
    RunFile(dir, input_, 97, [&] { return ++writes2 == 3; });
    ASSERT_TRUE(RunFile(dir, input_, 97, nullptr));
    EXPECT_EQ(DigestOf(dir), clean) << "crash at commit " << crash_at;
  }
}

TEST_F(EngineTest, ReRunningAFinishedInputAppliesNothingTwice) {
  ASSERT_TRUE(RunFile(tmp_.file("s"), input_, 500, nullptr));
  const std::string d1 = DigestOf(tmp_.file("s"));
  ASSERT_TRUE(RunFile(tmp_.file("s"), input_, 500, nullptr));
  EngineOptions o;
  o.store.path = tmp_.file("s");
  auto e = Engine::Open(o);
  EXPECT_EQ((*e)->stats().applied_total(), 3000u);
  EXPECT_EQ((*e)->stats().duplicates, 0u);
  EXPECT_EQ((*e)->Digest(), d1);
}

TEST_F(EngineTest, BatchSizeDoesNotChangeTheDigest) {
  ASSERT_TRUE(RunFile(tmp_.file("b1"), input_, 1, nullptr));
  ASSERT_TRUE(RunFile(tmp_.file("b2"), input_, 100000, nullptr));
  EXPECT_EQ(DigestOf(tmp_.file("b1")), DigestOf(tmp_.file("b2")));
}

TEST_F(EngineTest, ReplayTwiceGivesByteIdenticalReportsAndTheRunDigest) {
  ReplayOptions r;
  r.inputs = {input_};
  auto a = RunReplay(r);
  auto b = RunReplay(r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->report.ToJson(), b->report.ToJson());
  EXPECT_EQ(a->report.ToMarkdown(), b->report.ToMarkdown());
  ASSERT_TRUE(RunFile(tmp_.file("run"), input_, 256, nullptr));
  EXPECT_EQ(a->report.state_digest, DigestOf(tmp_.file("run")));
}

TEST_F(EngineTest, ReplayAsOfSkipsAndCountsLaterEvents) {
  ReplayOptions r;
  r.inputs = {input_};
  auto full = RunReplay(r);
  ASSERT_TRUE(full.ok());
  r.as_of = *ParseRfc3339("2025-11-17T00:00:10Z", "t");
  auto early = RunReplay(r);
  ASSERT_TRUE(early.ok());
  EXPECT_GT(early->report.stats.skipped_after_as_of, 0u);
  EXPECT_EQ(early->report.stats.applied_total() + early->report.stats.skipped_after_as_of,
            full->report.stats.applied_total());
  EXPECT_EQ(FormatRfc3339(early->report.as_of), "2025-11-17T00:00:10.000Z");
  EXPECT_NE(early->report.state_digest, full->report.state_digest);
}

TEST_F(EngineTest, ReportJsonHasTheDocumentedSections) {
  ReplayOptions r;
  r.inputs = {input_};
  auto res = RunReplay(r);
  ASSERT_TRUE(res.ok());
  const std::string j = res->report.ToJson();
  for (const char* key : {"\"as_of\"", "\"events\"", "\"duplicates\"", "\"dead_letters\"", "\"agents\"",
                          "\"committed\"", "\"reserved\"", "\"findings\"", "\"state_digest\""}) {
    EXPECT_NE(j.find(key), std::string::npos) << key;
  }
  EXPECT_EQ(res->report.agents.size(), 7u);
}

// A store written before state format 2 (tx_hash_index: one key per network a bare hash was
// seen on) is converted when the engine opens it, and resuming on it ends in the same state
// and findings as a store that always had the new layout.
TEST(EngineFormatTest, AFormatOneStoreIsConvertedOnOpenAndResumesToTheSameState) {
  TempDir tmp;
  GeneratorOptions g;
  g.agents = 20;
  g.events = 20000;
  g.seed = 5;
  g.anomalies = 0.1;
  const std::string all = tmp.file("all.jsonl"), first = tmp.file("a.jsonl"),
                    second = tmp.file("b.jsonl");
  ASSERT_TRUE(GenerateToFile(g, all).ok());
  {
    std::ifstream in(all);
    std::ofstream a(first), b(second);
    std::string line;
    for (size_t i = 0; std::getline(in, line); ++i) (i < 10000 ? a : b) << line << "\n";
  }
  const std::string ref = tmp.file("ref"), old = tmp.file("old");
  ASSERT_TRUE(RunFile(ref, first, 512, nullptr));
  ASSERT_TRUE(RunFile(ref, second, 512, nullptr));
  ASSERT_TRUE(RunFile(old, first, 512, nullptr));

  // Rewrite `old` as a format-1 build left it.
  size_t legacy = 0;
  {
    StoreOptions so;
    so.path = old;
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store) << store.error();
    rocksdb::WriteBatch wb;
    auto* cf = (*store)->cf(Table::kTxHashIndex);
    std::unique_ptr<rocksdb::Iterator> it((*store)->db()->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string k = it->key().ToString();
      if (!k.ends_with("|n")) continue;
      const std::string value = it->value().ToString();  // Reader keeps a view of it
      Reader r(value);
      ASSERT_EQ(r.U8(), 1);
      const uint64_t n = r.Var();
      for (uint64_t i = 0; i < n; ++i, ++legacy)
        ASSERT_TRUE(wb.Put(cf, k + "|" + r.Str(), "").ok());
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(wb.Delete(cf, k).ok());
    }
    // Formats 1 and 2 kept every (source, id) as a key of the dedupe table, not in segments.
    std::unique_ptr<rocksdb::Iterator> m((*store)->db()->NewIterator(rocksdb::ReadOptions(), (*store)->meta()));
    for (m->Seek("dd|"); m->Valid() && m->key().starts_with("dd|"); m->Next()) {
      ASSERT_TRUE(wb.Delete((*store)->meta(), m->key()).ok());
    }
    std::ifstream in(first);
    for (std::string line; std::getline(in, line);) {
      auto field = [&](const std::string& name) {
        const size_t at = line.find("\"" + name + "\":\"") + name.size() + 4;
        return line.substr(at, line.find('"', at) - at);
      };
      std::string key(4, '\0');
      Writer(&key).Str(field("source"));
      key += field("id");
      ASSERT_TRUE(wb.Put((*store)->cf(Table::kDedupe), key, "").ok());
    }
    ASSERT_TRUE(wb.Delete((*store)->meta(), "format").ok());
    ASSERT_TRUE((*store)->Write(&wb).ok());
  }
  ASSERT_GT(legacy, 100u);

  ASSERT_TRUE(RunFile(old, second, 512, nullptr));
  EXPECT_EQ(DigestOf(old), DigestOf(ref));
  auto open_findings = [](const std::string& dir) {
    EngineOptions o;
    o.store.path = dir;
    auto e = Engine::Open(o);
    std::vector<std::string> out;
    (*e)->ForEachFinding([&](const Finding& f) {
      if (f.open) out.push_back(f.finding_id);
    });
    return out;
  };
  EXPECT_EQ(open_findings(old), open_findings(ref));
  {
    StoreOptions so;
    so.path = old;
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store) << store.error();
    std::unique_ptr<rocksdb::Iterator> it(
        (*store)->db()->NewIterator(rocksdb::ReadOptions(), (*store)->cf(Table::kTxHashIndex)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_EQ(it->key().ToString().find("|n|"), std::string::npos)
          << "legacy key left: " << it->key().ToString();
    }
    std::string v;
    EXPECT_TRUE((*store)->Get((*store)->meta(), "format", &v));
    EXPECT_EQ(v, "3");
    std::unique_ptr<rocksdb::Iterator> d(
        (*store)->db()->NewIterator(rocksdb::ReadOptions(), (*store)->cf(Table::kDedupe)));
    d->SeekToFirst();
    EXPECT_FALSE(d->Valid()) << "format 3 keeps no dedupe keys";
  }
  // The converted pairs are remembered: the first half again is all duplicates.
  {
    EngineOptions o;
    o.store.path = old;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error();
    EXPECT_GE((*e)->dedupe_window().remembered(), 20000u);
  }
}

TEST(EngineFormatTest, AStoreFromANewerBuildIsRefusedWithTheReason) {
  TempDir tmp;
  const std::string dir = tmp.file("state");
  {
    EngineOptions o;
    o.store.path = dir;
    ASSERT_TRUE(Engine::Open(o));
  }
  {
    StoreOptions so;
    so.path = dir;
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store) << store.error();
    rocksdb::WriteBatch wb;
    ASSERT_TRUE(wb.Put((*store)->meta(), "format", "4").ok());
    ASSERT_TRUE((*store)->Write(&wb).ok());
  }
  EngineOptions o;
  o.store.path = dir;
  auto e = Engine::Open(o);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("state store format 4 is newer than this build reads (3)"),
            std::string::npos)
      << e.error();
}

}  // namespace
}  // namespace x402
