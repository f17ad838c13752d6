// Crash safety of `x402rec run` as a real process (DESIGN.md principle 2, STYLE.md rule 7).
// The binary processes a 300,000-event file into a persistent store and is SIGKILLed at
// random (seeded, logged) instants, restarted each time, and finally allowed to finish.
// After every kill the committed store is checked against a reference model of the input:
// the committed position is a line start, the events applied (plus duplicates) and the dead
// letters equal the good and bad lines before it, and every bad line before it is already
// in D/deadletter.jsonl. At the end the state digest of the store (`run --status`) must equal
// that of a clean `x402rec replay` of the same file: nothing lost, nothing applied twice.
//
// The delays are drawn from X402_CRASH_SEED (random when unset; logged either way).
#include <gtest/gtest.h>

#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/file_source.h"
#include "engine/engine.h"
#include "tests/child_process.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using SteadyClock = std::chrono::steady_clock;
using test::ChildProcess;
using test::DescribeWaitStatus;
using test::ReadWholeFile;
using test::X402Binary;

constexpr uint64_t kEvents = 300000;
constexpr int kAgents = 50;
constexpr int kBatchSize = 512;
constexpr int kBadLines = 300;
// Kills: at least kMinKills, of which at least kMinMidRunKills must interrupt processing
// (the run had committed batches but not reached the end of the file). A run spends its first
// ~0.1-0.4 s on this 2-core machine opening the store (an fsync per column family, WAL
// recovery), so the shorter delays land in open/recovery -- crash points worth having too.
// Each kill that finds no new commit widens the delay range by kDelayStepMs (a loaded machine
// starts runs slowly), and the loop goes on, up to kMaxKills, until enough kills were mid-run.
constexpr int kMinKills = 8;
constexpr int kMinMidRunKills = 5;
constexpr int kMaxKills = 40;
constexpr int kMinDelayMs = 20;
constexpr int kMaxDelayMs = 700;
constexpr int kDelayStepMs = 250;
constexpr int kMaxDelayCapMs = 3000;

__attribute__((format(printf, 1, 2))) void Log(const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::printf("[ crash    ] ");
  std::vprintf(fmt, ap);
  std::printf("\n");
  std::fflush(stdout);
  va_end(ap);
}

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

struct Finished {
  int status = -1;
  std::string output;
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

Finished RunToEnd(const std::vector<std::string>& args, const std::string& log_path) {
  ChildProcess c(args, log_path);
  Finished f;
  if (c.started()) f.status = c.Wait();
  f.output = ReadWholeFile(log_path);
  return f;
}

// The summary printed by `run`, `run --status` and `replay`:
//   "  events: 300,000 applied, 0 duplicates dropped, 0 dead letters, 0 after as-of skipped"
//   "  state digest: <64 hex>"
struct Summary {
  bool parsed = false;
  uint64_t applied = 0, duplicates = 0, dead_letters = 0;
  std::string digest;
};

// The number (digits and thousands commas) that ends just before `suffix` in `line`.
std::optional<uint64_t> NumberBefore(std::string_view line, std::string_view suffix) {
  const size_t end = line.find(suffix);
  if (end == std::string_view::npos) return std::nullopt;
  size_t begin = end;
  while (begin > 0 &&
         (std::isdigit(static_cast<unsigned char>(line[begin - 1])) || line[begin - 1] == ','))
    --begin;
  uint64_t n = 0;
  bool any = false;
  for (size_t i = begin; i < end; ++i) {
    if (line[i] == ',') continue;
    n = n * 10 + static_cast<uint64_t>(line[i] - '0');
    any = true;
  }
  if (!any) return std::nullopt;
  return n;
}

Summary ParseSummary(const std::string& out) {
  Summary s;
  std::istringstream in(out);
  std::string line;
  bool events = false;
  while (std::getline(in, line)) {
    if (line.rfind("  events: ", 0) == 0) {
      auto a = NumberBefore(line, " applied");
      auto d = NumberBefore(line, " duplicates dropped");
      auto l = NumberBefore(line, " dead letters");
      if (a && d && l) {
        s.applied = *a;
        s.duplicates = *d;
        s.dead_letters = *l;
        events = true;
      }
    } else if (line.rfind("  state digest: ", 0) == 0) {
      s.digest = line.substr(16);
    }
  }
  s.parsed = events && s.digest.size() == 64;
  return s;
}

// What we know of an input file: where each line starts and which lines are malformed.
struct InputModel {
  std::string path;
  std::vector<uint64_t> line_offset;  // [i] = byte offset of line i+1; back() = file size
  std::set<uint64_t> bad_lines;       // 1-based
  std::vector<uint64_t> bad_before;   // [k] = bad lines among lines 1..k

  uint64_t lines() const { return line_offset.size() - 1; }
  uint64_t good_lines() const { return lines() - bad_lines.size(); }
};

// Builds the model of `content` (every line ends with '\n', none is empty).
::testing::AssertionResult IndexLines(const std::string& content, InputModel* m) {
  if (content.empty() || content.back() != '\n') {
    return ::testing::AssertionFailure() << m->path << ": empty or missing the final newline";
  }
  m->line_offset.clear();
  m->line_offset.push_back(0);
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] != '\n') continue;
    if (i == m->line_offset.back()) {
      return ::testing::AssertionFailure()
             << m->path << ": blank line " << m->line_offset.size() << " (the model assumes none)";
    }
    m->line_offset.push_back(i + 1);
  }
  m->bad_before.assign(m->lines() + 1, 0);
  for (uint64_t k = 1; k <= m->lines(); ++k) {
    m->bad_before[k] = m->bad_before[k - 1] + (m->bad_lines.count(k) ? 1 : 0);
  }
  return ::testing::AssertionSuccess();
}

// What the store in `data_dir` has committed, read in-process from a read-only open (which
// neither takes the lock nor flushes, so the next run still recovers from the WAL as left by
// the kill).
struct Committed {
  bool store_exists = false;
  bool readable = false;
  std::string error;
  bool has_position = false;
  FilePosition pos;  // next line to read
  EngineStats stats;
};

Committed ReadCommitted(const std::string& data_dir, const std::string& input) {
  Committed c;
  std::error_code ec;
  c.store_exists = std::filesystem::exists(data_dir + "/state/CURRENT", ec);
  if (!c.store_exists) return c;
  EngineOptions o;
  o.store.path = data_dir + "/state";
  o.store.read_only = true;
  o.cache_entries = 16;
  auto e = Engine::Open(o);
  if (!e) {
    c.error = e.error();
    return c;
  }
  c.readable = true;
  if (auto v = (*e)->GetMeta(FileSource::PositionKey(input))) {
    auto p = FilePosition::Decode(*v);
    if (!p) {
      c.readable = false;
      c.error = "undecodable position '" + *v + "'";
      return c;
    }
    c.has_position = true;
    c.pos = *p;
  }
  c.stats = (*e)->stats();
  return c;
}

// D/deadletter.jsonl: how often each line number of `input` appears.
struct DeadLetterFile {
  std::map<uint64_t, int> count_by_line;
  std::vector<std::string> problems;  // unparseable entries, other files
  uint64_t entries = 0;
};

DeadLetterFile ReadDeadLetters(const std::string& path, const std::string& input) {
  DeadLetterFile d;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  simdjson::dom::parser parser;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    simdjson::dom::element doc;
    std::string_view file;
    uint64_t line_no = 0;
    if (parser.parse(line).get(doc) || doc["file"].get(file) || doc["line"].get(line_no)) {
      d.problems.push_back("entry " + std::to_string(n) +
                           " is not a dead-letter object: " + line.substr(0, 160));
      continue;
    }
    if (file != input) {
      d.problems.push_back("entry " + std::to_string(n) + " names file " + std::string(file));
      continue;
    }
    ++d.entries;
    ++d.count_by_line[line_no];
  }
  return d;
}

// Checks the store left by a kill against the model: the committed position is a line start,
// the counters match the lines before it exactly, and no dead letter before it is missing.
::testing::AssertionResult CheckCommitted(const Committed& c, const InputModel& m,
                                          const std::string& data_dir) {
  if (!c.has_position) {
    if (c.stats.applied_total() + c.stats.duplicates + c.stats.dead_letters != 0) {
      return ::testing::AssertionFailure()
             << "state holds " << c.stats.applied_total() << " applied events but no position";
    }
    return ::testing::AssertionSuccess();
  }
  const uint64_t next = c.pos.line_no;
  if (next < 1 || next > m.lines() + 1) {
    return ::testing::AssertionFailure()
           << "committed next line " << next << " outside 1.." << m.lines() + 1;
  }
  if (c.pos.offset != m.line_offset[next - 1]) {
    return ::testing::AssertionFailure()
           << "committed offset " << c.pos.offset << " is not the start of line " << next << " ("
           << m.line_offset[next - 1] << ")";
  }
  const uint64_t bad = m.bad_before[next - 1];
  const uint64_t good = (next - 1) - bad;
  if (c.stats.applied_total() + c.stats.duplicates != good || c.stats.dead_letters != bad) {
    return ::testing::AssertionFailure()
           << "committed position is line " << next << " (" << good << " events, " << bad
           << " malformed lines before it) but the committed counters say "
           << c.stats.applied_total() << " applied + " << c.stats.duplicates << " duplicates and "
           << c.stats.dead_letters << " dead letters";
  }
  if (bad > 0) {
    DeadLetterFile d = ReadDeadLetters(data_dir + "/deadletter.jsonl", m.path);
    // Exactly once: a restart cuts off the dead letters of uncommitted batches before it reads
    // them again, so no line is ever in the file twice.
    for (const auto& [l, count] : d.count_by_line) {
      if (count > 1) {
        return ::testing::AssertionFailure()
               << "line " << l << " is in deadletter.jsonl " << count << " times";
      }
    }
    for (uint64_t l : m.bad_lines) {
      if (l >= next) break;
      if (!d.count_by_line.count(l)) {
        return ::testing::AssertionFailure()
               << "line " << l << " is malformed and before the "
               << "committed line " << next << " but not in deadletter.jsonl";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class CrashSafetyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new test::TempDir();
    events_path_ = shared_->file("events.jsonl");
    const auto t0 = SteadyClock::now();
    Finished g =
        RunToEnd({X402Binary(), "gen", "--out", events_path_, "--agents", std::to_string(kAgents),
                  "--events", std::to_string(kEvents), "--seed", "7"},
                 shared_->file("gen.log"));
    gen_ok_ = g.ok();
    gen_output_ = DescribeWaitStatus(g.status) + ": " + g.output;
    Log("gen: %s events in %.2f s", std::to_string(kEvents).c_str(), SecondsSince(t0));
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(gen_ok_) << X402Binary() << " gen failed (X402_BINARY_DIR must name the build "
                         << "directory holding x402rec): " << gen_output_;
    const char* s = std::getenv("X402_CRASH_SEED");
    seed_ = (s && *s) ? std::strtoull(s, nullptr, 10) : std::random_device()();
    rng_.seed(seed_);
    RecordProperty("crash_seed", std::to_string(seed_));
    Log("seed %llu (rerun with X402_CRASH_SEED=%llu)", static_cast<unsigned long long>(seed_),
        static_cast<unsigned long long>(seed_));
  }

  // Kills `run` repeatedly, lets a last run finish and compares with the replay of the file.
  void CrashAndCompare(const InputModel& m) {
    const auto t_case = SteadyClock::now();
    const std::string data_dir = tmp_.file("data");
    // The reference replay runs beside the kill loop (it keeps its store in our temp dir).
    ChildProcess replay(
        {X402Binary(), "replay", "--input", m.path, "--state-dir", tmp_.file("replay-state")},
        tmp_.file("replay.log"));
    ASSERT_TRUE(replay.started());

    int max_delay = kMaxDelayMs;
    int kills = 0, mid_run = 0, during_open = 0, after_end = 0;
    uint64_t prev_next = 1;
    bool finished = false;
    while (!finished && (kills < kMinKills || mid_run < kMinMidRunKills)) {
      ASSERT_LT(kills, kMaxKills) << "only " << mid_run << " of " << kills
                                  << " kills landed while the run was processing";
      const int delay = std::uniform_int_distribution<int>(kMinDelayMs, max_delay)(rng_);
      const std::string log = tmp_.file("run-" + std::to_string(kills) + ".log");
      const auto t0 = SteadyClock::now();
      int status;
      bool exited_itself;
      {
        ChildProcess run({X402Binary(), "run", "--input", m.path, "--data-dir", data_dir,
                          "--batch-size", std::to_string(kBatchSize)},
                         log);
        ASSERT_TRUE(run.started());
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        exited_itself = run.Poll().has_value();
        run.Signal(SIGKILL);
        status = run.Wait();
        // It may also have exited by itself between Poll() and Kill().
        exited_itself = exited_itself || !WIFSIGNALED(status);
      }
      const double lived = SecondsSince(t0);
      if (exited_itself) {
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "run " << kills << " failed by itself (" << DescribeWaitStatus(status)
            << "): " << ReadWholeFile(log);
        finished = true;
      } else {
        ASSERT_EQ(WTERMSIG(status), SIGKILL)
            << DescribeWaitStatus(status) << ": " << ReadWholeFile(log);
        ++kills;
      }
      Committed c = ReadCommitted(data_dir, m.path);
      if (c.store_exists && !c.readable) {
        // A kill while the very first run creates the store (column families) can leave it
        // unopenable read-only until a read-write open completes it; after a commit, never.
        ASSERT_EQ(prev_next, 1u) << "store unreadable after a kill: " << c.error;
        Log("kill %2d after %3d ms: store not yet created completely (%s)", kills, delay,
            c.error.c_str());
        ++during_open;
        max_delay = std::min(max_delay + kDelayStepMs, kMaxDelayCapMs);
        continue;
      }
      ASSERT_TRUE(CheckCommitted(c, m, data_dir))
          << "after kill " << kills << " (" << delay << " ms)";
      const uint64_t next = c.has_position ? c.pos.line_no : 1;
      ASSERT_GE(next, prev_next) << "the committed position went backwards";
      const char* what;
      if (finished) {
        what = "had already finished by itself";
      } else if (next > m.lines()) {
        what = "after the end of the file";
        ++after_end;
      } else if (next > prev_next) {
        what = "mid-run";
        ++mid_run;
      } else {
        what = "in open/recovery or its first batch (no new commit)";
        ++during_open;
        max_delay = std::min(max_delay + kDelayStepMs, kMaxDelayCapMs);
      }
      Log("kill %2d after %3d ms (lived %.3f s): committed line %s -> %s of %s, %s", kills, delay,
          lived, std::to_string(prev_next).c_str(), std::to_string(next).c_str(),
          std::to_string(m.lines()).c_str(), what);
      prev_next = next;
      if (next > m.lines()) finished = true;
    }
    ASSERT_FALSE(finished) << "the file was consumed after " << kills << " kills (" << mid_run
                           << " mid-run): make it larger";
    Log("%d kills: %d mid-run, %d before a first commit, %d after the end; kill phase %.1f s",
        kills, mid_run, during_open, after_end, SecondsSince(t_case));

    // The last run finishes; then the stored state, reopened, must equal the replay's.
    auto t0 = SteadyClock::now();
    Finished last = RunToEnd({X402Binary(), "run", "--input", m.path, "--data-dir", data_dir,
                              "--batch-size", std::to_string(kBatchSize)},
                             tmp_.file("run-last.log"));
    ASSERT_TRUE(last.ok()) << "final run: " << DescribeWaitStatus(last.status) << ": "
                           << last.output;
    Log("final run: %.2f s", SecondsSince(t0));
    Finished status = RunToEnd({X402Binary(), "run", "--status", "--data-dir", data_dir},
                               tmp_.file("status.log"));
    t0 = SteadyClock::now();
    const int replay_status = replay.Wait();
    Log("waited %.2f s more for the replay", SecondsSince(t0));
    const std::string replay_out = ReadWholeFile(tmp_.file("replay.log"));
    ASSERT_TRUE(WIFEXITED(replay_status) && WEXITSTATUS(replay_status) == 0)
        << "replay: " << DescribeWaitStatus(replay_status) << ": " << replay_out;
    const Summary want = ParseSummary(replay_out);
    ASSERT_TRUE(want.parsed) << "replay output: " << replay_out;
    // The reference itself: every good line applied once, every bad line dead-lettered.
    ASSERT_EQ(want.applied + want.duplicates, m.good_lines()) << replay_out;
    ASSERT_EQ(want.duplicates, 0u) << "the generated stream has no duplicates: " << replay_out;
    ASSERT_EQ(want.dead_letters, m.bad_lines.size())
        << "replay does not reject exactly the malformed lines: " << replay_out;

    const Summary final_run = ParseSummary(last.output);
    EXPECT_TRUE(final_run.parsed) << "final run output: " << last.output;
    EXPECT_EQ(final_run.digest, want.digest) << "final run:\n"
                                             << last.output << "replay:\n"
                                             << replay_out;

    EXPECT_TRUE(status.ok()) << "x402rec run --status --data-dir " << data_dir << ": "
                             << DescribeWaitStatus(status.status) << ": " << status.output;
    const Summary got = ParseSummary(status.output);
    EXPECT_TRUE(got.parsed) << "run --status output: " << status.output;
    if (got.parsed) {
      EXPECT_EQ(got.digest, want.digest) << "run --status:\n"
                                         << status.output << "replay:\n"
                                         << replay_out;
      EXPECT_EQ(got.applied, m.good_lines()) << status.output;
      EXPECT_EQ(got.duplicates, 0u) << status.output;
      EXPECT_EQ(got.dead_letters, m.bad_lines.size()) << status.output;
    }
    // And the store itself, read in-process, is at the end of the file with exact counters.
    Committed c = ReadCommitted(data_dir, m.path);
    ASSERT_TRUE(c.readable) << c.error;
    EXPECT_TRUE(CheckCommitted(c, m, data_dir));
    EXPECT_EQ(c.pos.line_no, m.lines() + 1);
    EXPECT_EQ(c.stats.applied_total(), m.good_lines());
    Log("digest %s; case %.1f s", want.digest.c_str(), SecondsSince(t_case));
  }

  static test::TempDir* shared_;
  static std::string events_path_;
  static bool gen_ok_;
  static std::string gen_output_;
  test::TempDir tmp_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

test::TempDir* CrashSafetyTest::shared_ = nullptr;
std::string CrashSafetyTest::events_path_;
bool CrashSafetyTest::gen_ok_ = false;
std::string CrashSafetyTest::gen_output_;

TEST_F(CrashSafetyTest, KilledRunsResumeToTheReplayDigest) {
  InputModel m;
  m.path = events_path_;
  ASSERT_TRUE(IndexLines(ReadWholeFile(m.path), &m));
  ASSERT_EQ(m.lines(), kEvents);
  CrashAndCompare(m);
}

// One malformed line of each kind, drawn from `rng`; `next_event` is the line it precedes.
std::string BadLine(int kind, const std::string& next_event, std::mt19937_64& rng) {
  switch (kind) {
    case 0: {  // binary junk: any bytes but line ends, starting with a non-text byte
      std::string s(std::uniform_int_distribution<size_t>(1, 300)(rng), '\0');
      for (auto& ch : s) {
        do ch = static_cast<char>(rng() & 0xff);
        while (ch == '\n' || ch == '\r');
      }
      s[0] = static_cast<char>(0x80 | (rng() & 0x7f));
      return s;
    }
    case 1:  // truncated JSON: a real event cut short
      return next_event.substr(
          0, std::uniform_int_distribution<size_t>(1, next_event.size() - 1)(rng));
    case 2: {  // valid JSON that is not an event
      static const char* kNotEvents[] = {"{}",
                                         "[]",
                                         "null",
                                         "42",
                                         "\"x402\"",
                                         "{\"specversion\":\"1.0\"}",
                                         "{\"hello\":\"world\",\"n\":[1,2,3]}",
                                         "[{\"type\":\"x402.payment.settled\"}]"};
      const size_t n = sizeof kNotEvents / sizeof kNotEvents[0];
      const size_t pick = rng() % (n + 1);
      if (pick < n) return kNotEvents[pick];
      // A real event of an unknown type (dead-lettered before its id is ever recorded).
      std::string s = next_event;
      const size_t at = s.find("\"type\":\"x402.");
      if (at != std::string::npos) s.replace(at, 13, "\"type\":\"x403.");
      return s;
    }
    default:  // oversize (beyond the 64 KiB event limit)
      return "{\"junk\":\"" + std::string(70000, 'a') + "\"}";
  }
}

TEST_F(CrashSafetyTest, DeadLettersSurviveKillsAndTheDigestStillMatches) {
  const std::string events = ReadWholeFile(events_path_);
  InputModel plain;
  plain.path = events_path_;
  ASSERT_TRUE(IndexLines(events, &plain));
  // Choose the original lines that get a malformed line inserted before them.
  std::set<uint64_t> before;
  while (before.size() < kBadLines) before.insert(rng_() % plain.lines());
  std::string out;
  out.reserve(events.size() + kBadLines * 512);
  InputModel m;
  m.path = tmp_.file("events-with-junk.jsonl");
  uint64_t line_no = 0;
  int n = 0;
  for (uint64_t i = 0; i < plain.lines(); ++i) {
    const std::string next(events, plain.line_offset[i],
                           plain.line_offset[i + 1] - plain.line_offset[i] - 1);
    if (before.count(i)) {
      const int kind = n < 2 ? 3 : n % 3;  // two oversize lines, then the three kinds in turn
      ++n;
      out += BadLine(kind, next, rng_);
      out.push_back('\n');
      m.bad_lines.insert(++line_no);
    }
    out += next;
    out.push_back('\n');
    ++line_no;
  }
  {
    std::ofstream f(m.path, std::ios::binary | std::ios::trunc);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    ASSERT_TRUE(f.good()) << m.path;
  }
  ASSERT_TRUE(IndexLines(out, &m));
  ASSERT_EQ(m.good_lines(), kEvents);
  ASSERT_EQ(m.bad_lines.size(), static_cast<size_t>(kBadLines));
  CrashAndCompare(m);
  if (HasFatalFailure()) return;

  // Every malformed line is in deadletter.jsonl exactly once (a kill between writing the dead
  // letters and committing the batch leaves some that the next run cuts off and writes again),
  // and no good line is.
  DeadLetterFile d = ReadDeadLetters(tmp_.file("data") + "/deadletter.jsonl", m.path);
  for (const auto& p : d.problems) ADD_FAILURE() << "deadletter.jsonl: " << p;
  uint64_t missing = 0, repeated = 0;
  for (uint64_t l : m.bad_lines) {
    auto it = d.count_by_line.find(l);
    if (it == d.count_by_line.end()) {
      if (++missing <= 10) ADD_FAILURE() << "malformed line " << l << " is not in deadletter.jsonl";
    } else if (it->second > 1) {
      ++repeated;
    }
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(repeated, 0u);
  EXPECT_EQ(d.entries, m.bad_lines.size());
  for (const auto& [l, count] : d.count_by_line) {
    EXPECT_TRUE(m.bad_lines.count(l)) << "good line " << l << " was dead-lettered";
  }
  Log("deadletter.jsonl: %llu entries for %zu malformed lines, %llu of them repeated",
      static_cast<unsigned long long>(d.entries), m.bad_lines.size(),
      static_cast<unsigned long long>(repeated));
}

}  // namespace
}  // namespace x402
