// Ground truth and order independence (issue #3): the generator injects every finding kind
// and models what must be open at the end; a replay must report exactly that. Shuffled
// arrival orders of the same events must give the same open findings and state digest.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "connectors/generator.h"
#include "replay/replay.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using OpenSet = std::set<std::tuple<std::string, std::string, std::string>>;  // kind, key, severity

OpenSet OpenFindings(const Report& r) {
  OpenSet s;
  for (const auto& f : r.findings) {
    if (f.open) s.emplace(std::string(FindingKindName(f.kind)), f.key, std::string(SeverityName(f.severity)));
  }
  return s;
}

OpenSet TruthSet(const GeneratorStats& g) {
  OpenSet s;
  for (const auto& t : g.truth) s.emplace(t.kind, t.key, t.severity);
  return s;
}

std::string Describe(const OpenSet& a, const OpenSet& b) {
  std::string out;
  int n = 0;
  for (const auto& x : a)
    if (!b.count(x) && n++ < 15) out += "  missing: " + std::get<0>(x) + " " + std::get<1>(x) + " " + std::get<2>(x) + "\n";
  for (const auto& x : b)
    if (!a.count(x) && n++ < 30) out += "  extra:   " + std::get<0>(x) + " " + std::get<1>(x) + " " + std::get<2>(x) + "\n";
  return out;
}

Report Replay(const std::string& path, int64_t dedupe_horizon_s = 604800) {
  ReplayOptions o;
  o.inputs = {path};
  o.projections.dedupe_horizon_s = dedupe_horizon_s;
  o.batch_size = 4096;
  auto r = RunReplay(o);
  if (!r) throw std::runtime_error(r.error());
  return r->report;
}

class GroundTruthTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(GroundTruthTest, ReplayReportsExactlyTheInjectedFindings) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 12;
  g.events = 40000;
  g.seed = GetParam();
  g.anomalies = 0.03;
  g.bad_lines = 0.002;
  auto stats = GenerateToFile(g, tmp.file("events.jsonl"), tmp.file("truth.json"));
  ASSERT_TRUE(stats.ok()) << stats.error();
  Report r = Replay(tmp.file("events.jsonl"));
  const OpenSet truth = TruthSet(*stats), open = OpenFindings(r);
  EXPECT_EQ(open, truth) << "seed " << g.seed << "\n" << Describe(truth, open);
  EXPECT_EQ(r.stats.dead_letters, stats->bad_lines);
  EXPECT_EQ(r.stats.applied_total(), g.events);
  EXPECT_EQ(FormatRfc3339(r.as_of), FormatRfc3339(stats->last));
  // Every finding kind was injected and is present.
  std::set<std::string> kinds;
  for (const auto& t : truth) kinds.insert(std::get<0>(t));
  EXPECT_EQ(kinds.size(), static_cast<size_t>(kFindingKindCount)) << "seed " << g.seed;
}

INSTANTIATE_TEST_SUITE_P(Seeds, GroundTruthTest, ::testing::Values(1, 2, 3, 4));

TEST(GroundTruthTest, CleanStreamHasNoOpenFindings) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 10;
  g.events = 30000;
  g.seed = 9;
  auto stats = GenerateToFile(g, tmp.file("events.jsonl"));
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->truth.empty());
  Report r = Replay(tmp.file("events.jsonl"));
  EXPECT_EQ(OpenFindings(r), OpenSet{}) << Describe({}, OpenFindings(r));
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

TEST(OrderIndependenceTest, ShuffledStreamsGiveTheSameOpenFindingsAndDigest) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 8;
  g.events = 12000;
  g.seed = 5;
  g.anomalies = 0.05;
  auto stats = GenerateToFile(g, tmp.file("events.jsonl"));
  ASSERT_TRUE(stats.ok());
  const Report base = Replay(tmp.file("events.jsonl"));
  const OpenSet base_open = OpenFindings(base);
  ASSERT_FALSE(base_open.empty());
  std::vector<std::string> lines = ReadLines(tmp.file("events.jsonl"));
  std::mt19937_64 rng(20251117);
  for (int round = 0; round < 12; ++round) {
    std::vector<std::string> shuffled = lines;
    if (round % 3 == 2) {
      // Local disorder only: swap neighbours within small windows (late chain logs etc.).
      for (size_t i = 0; i + 8 < shuffled.size(); i += 8) std::shuffle(shuffled.begin() + i, shuffled.begin() + i + 8, rng);
    } else {
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
    }
    const std::string path = tmp.file("shuffled" + std::to_string(round) + ".jsonl");
    test::WriteLines(path, shuffled);
    const Report r = Replay(path);
    EXPECT_EQ(OpenFindings(r), base_open) << "round " << round << "\n" << Describe(base_open, OpenFindings(r));
    EXPECT_EQ(r.state_digest, base.state_digest) << "round " << round;
  }
}

TEST(OrderIndependenceTest, DuplicatedEventsChangeNothing) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 6;
  g.events = 8000;
  g.seed = 6;
  g.anomalies = 0.05;
  ASSERT_TRUE(GenerateToFile(g, tmp.file("events.jsonl")).ok());
  const Report base = Replay(tmp.file("events.jsonl"));
  std::vector<std::string> lines = ReadLines(tmp.file("events.jsonl"));
  std::vector<std::string> doubled;
  std::mt19937_64 rng(7);
  for (const auto& l : lines) {
    doubled.push_back(l);
    if (rng() % 4 == 0) doubled.push_back(l);  // a producer retry
  }
  std::shuffle(doubled.begin(), doubled.end(), rng);
  test::WriteLines(tmp.file("doubled.jsonl"), doubled);
  const Report r = Replay(tmp.file("doubled.jsonl"));
  EXPECT_GT(r.stats.duplicates, 0u);
  EXPECT_EQ(r.stats.applied_total(), base.stats.applied_total());
  EXPECT_EQ(OpenFindings(r), OpenFindings(base));
  EXPECT_EQ(r.state_digest, base.state_digest);
}

// Every finding, open or resolved, with what identifies it (not its timestamps or wording).
using FindingSet = std::set<std::tuple<std::string, std::string, std::string, bool>>;
FindingSet AllFindings(const Report& r) {
  FindingSet s;
  for (const auto& f : r.findings) {
    s.emplace(std::string(FindingKindName(f.kind)), f.key, std::string(SeverityName(f.severity)), f.open);
  }
  return s;
}

// EVENTS.md section 1: every merge is idempotent. Each event comes a second time at a random
// later position and nothing remembers pairs (horizon 0): the same findings and the same
// state, only the applied count doubles. With the default horizon the repeats are duplicates.
TEST(OrderIndependenceTest, EveryEventTwiceWithNothingRememberedChangesOnlyTheAppliedCount) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 10;
  g.events = 20000;
  g.seed = 11;
  g.anomalies = 0.05;
  ASSERT_TRUE(GenerateToFile(g, tmp.file("events.jsonl")).ok());
  const Report base = Replay(tmp.file("events.jsonl"));
  const std::vector<std::string> lines = ReadLines(tmp.file("events.jsonl"));
  // Slot i holds line i and, inserted after it, repeats of earlier lines, each of them at a
  // random position after its original.
  std::vector<std::vector<size_t>> after(lines.size());
  std::mt19937_64 rng(13);
  for (size_t i = 0; i < lines.size(); ++i) after[i + (rng() % (lines.size() - i))].push_back(i);
  std::vector<std::string> twice;
  for (size_t i = 0; i < lines.size(); ++i) {
    twice.push_back(lines[i]);
    for (size_t j : after[i]) twice.push_back(lines[j]);
  }
  ASSERT_EQ(twice.size(), 2 * lines.size());
  test::WriteLines(tmp.file("twice.jsonl"), twice);

  const Report r = Replay(tmp.file("twice.jsonl"), 0);
  EXPECT_EQ(r.stats.duplicates, 0u);
  EXPECT_EQ(r.stats.applied_total(), 2 * base.stats.applied_total());
  EXPECT_EQ(r.state_digest, base.state_digest);
  EXPECT_EQ(OpenFindings(r), OpenFindings(base)) << Describe(OpenFindings(base), OpenFindings(r));
  EXPECT_EQ(AllFindings(r), AllFindings(base));
  EXPECT_EQ(r.stats.findings_opened, base.stats.findings_opened) << "a repeat must not re-open or re-alert";
  EXPECT_EQ(r.stats.findings_resolved, base.stats.findings_resolved);

  const Report d = Replay(tmp.file("twice.jsonl"));
  EXPECT_EQ(d.stats.duplicates, base.stats.applied_total());
  EXPECT_EQ(d.stats.applied_total(), base.stats.applied_total());
  EXPECT_EQ(d.state_digest, base.state_digest);
}

TEST(DeterminismTest, SameInputTwiceGivesByteIdenticalReports) {
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = 6;
  g.events = 8000;
  g.seed = 8;
  g.anomalies = 0.05;
  g.bad_lines = 0.01;
  ASSERT_TRUE(GenerateToFile(g, tmp.file("events.jsonl")).ok());
  const Report a = Replay(tmp.file("events.jsonl"));
  const Report b = Replay(tmp.file("events.jsonl"));
  EXPECT_EQ(a.ToJson(), b.ToJson());
  EXPECT_EQ(a.ToMarkdown(), b.ToMarkdown());
  // And the generator itself is deterministic.
  ASSERT_TRUE(GenerateToFile(g, tmp.file("again.jsonl")).ok());
  std::ifstream x(tmp.file("events.jsonl")), y(tmp.file("again.jsonl"));
  std::stringstream sx, sy;
  sx << x.rdbuf();
  sy << y.rdbuf();
  EXPECT_EQ(sx.str(), sy.str());
}

}  // namespace
}  // namespace x402
