// Alert latency: from the arrival of the event that opens a finding to the webhook POST
// received by a Discord stand-in (FakeDiscord, real HTTP on 127.0.0.1), through the real
// path: Engine commit -> outbox column family -> OutboxDispatcher -> DiscordSink.
//
// A generated stream (1 % anomalies) is fed at a fixed rate (default 1,000 events/s of wall
// time): every tick (10 ms) the events that have "arrived" are committed as one batch, then
// the dispatcher is notified. An alert's latency is POST arrival minus the arrival time of the
// FIRST event of the batch that created it (conservative: the opening event arrived no
// earlier). The run is repeated for each --window-ms (default: 2000, the default grouping
// window, and 0, grouping off). Prints count, median, p90, p99 and max per window.
//
// Usage: alert_latency_bench [--events N] [--rate EV_PER_S] [--windows 2000,0] [--agents N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "connectors/discord_sink.h"
#include "connectors/generator.h"
#include "engine/engine.h"
#include "engine/outbox_dispatcher.h"
#include "tests/fake_discord.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A sink that never acknowledges: it keeps every entry in the outbox so the bench can read
// the alert ids of each batch after the commit, whatever the Discord worker does meanwhile.
class HoldSink final : public AlertSink {
 public:
  const std::string& name() const override { return name_; }
  SinkAttempt Deliver(std::span<const AlertRecord>) override {
    SinkAttempt a;
    a.retry_after = milliseconds(3600 * 1000);
    return a;
  }

 private:
  std::string name_ = "bench-hold";
};

struct Result {
  size_t alerts = 0, measured = 0, posts = 0;
  std::vector<double> ms;
};

Result RunOnce(const std::vector<std::string>& lines, double rate, int64_t window_ms) {
  test::TempDir tmp;
  EngineOptions eo;
  eo.store.path = tmp.path() + "/state";
  auto engine = Engine::Open(eo);
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().c_str());
    std::exit(1);
  }
  test::FakeDiscord server;
  DiscordSinkOptions so;
  so.url = server.Url();
  so.format.storm_threshold = window_ms > 0 ? 10 : 0;
  std::vector<DispatcherSinkConfig> sinks;
  sinks.push_back({std::move(*DiscordSink::Create(so)), nullptr});
  sinks.push_back({std::make_unique<HoldSink>(), nullptr});
  DispatcherOptions dopt;
  dopt.group_window = milliseconds(window_ms);
  dopt.poll_interval = milliseconds(10000);  // wake on Notify only
  OutboxDispatcher dispatcher((*engine)->store(), std::move(sinks), dopt);
  dispatcher.Start();

  std::vector<std::string> padded;
  padded.reserve(lines.size());
  for (const auto& l : lines) padded.push_back(l + std::string(64, ' '));
  std::map<std::string, Clock::time_point> born;  // alert id -> arrival of its batch's first event
  const auto t0 = Clock::now() + milliseconds(50);
  size_t next = 0;
  uint64_t seq = 0;
  while (next < lines.size()) {
    std::this_thread::sleep_until(t0 + milliseconds(static_cast<int64_t>(1000.0 * next / rate)) +
                                  milliseconds(10));
    const auto now = Clock::now();
    const size_t arrived = std::min(
        lines.size(), static_cast<size_t>((now - t0) / milliseconds(1) * rate / 1000.0) + 1);
    if (arrived <= next) continue;
    std::vector<SourceRecord> recs;
    for (size_t i = next; i < arrived; ++i) {
      SourceRecord r;
      r.bytes = std::string_view(padded[i].data(), lines[i].size());
      r.length = lines[i].size();
      r.origin = "bench";
      r.index = i + 1;
      recs.push_back(r);
    }
    const auto first_arrival =
        t0 + std::chrono::microseconds(static_cast<int64_t>(1e6 * next / rate));
    next = arrived;
    if (Status st = (*engine)->ProcessBatch(recs, {}); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.error().c_str());
      std::exit(1);
    }
    (*engine)->ForEachOutbox(seq, [&](const OutboxEntry& e) {
      born.emplace(e.alert_id, first_arrival);
      seq = e.seq + 1;
      return true;
    });
    dispatcher.Notify();
  }
  // Wait for the Discord worker (the hold sink never drains, so watch its counter).
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    auto snap = dispatcher.Snapshot();
    if (snap.sinks[0].delivered >= born.size()) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  dispatcher.Stop();
  Result r;
  r.alerts = born.size();
  for (const auto& req : server.Requests()) {
    ++r.posts;
    for (const auto& id : test::FooterAlertIds(req.body)) {
      auto it = born.find(id);
      if (it == born.end()) continue;
      ++r.measured;
      r.ms.push_back(std::chrono::duration<double, std::milli>(req.at - it->second).count());
    }
  }
  std::sort(r.ms.begin(), r.ms.end());
  return r;
}

double Pct(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace
}  // namespace x402

int main(int argc, char** argv) {
  using namespace x402;
  uint64_t events = 20000, agents = 50;
  double rate = 1000;
  std::vector<int64_t> windows = {2000, 0};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--events") {
      events = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--rate") {
      rate = std::strtod(v.c_str(), nullptr);
    } else if (k == "--agents") {
      agents = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--windows") {
      windows.clear();
      for (char* tok = std::strtok(v.data(), ","); tok; tok = std::strtok(nullptr, ","))
        windows.push_back(std::atoll(tok));
    } else {
      std::fprintf(stderr, "alert_latency_bench: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (events == 0 || !(rate > 0)) {
    std::fprintf(stderr, "alert_latency_bench: --events and --rate must be positive\n");
    return 2;
  }
  test::TempDir tmp;
  GeneratorOptions g;
  g.agents = static_cast<uint32_t>(agents);
  g.events = events;
  g.seed = 11;
  g.anomalies = 0.01;
  const std::string path = tmp.file("events.jsonl");
  if (auto s = GenerateToFile(g, path, ""); !s) {
    std::fprintf(stderr, "%s\n", s.error().c_str());
    return 1;
  }
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::printf("alert_latency_bench: %zu events at %.0f events/s, 1 %% anomalies, %llu agents\n",
              lines.size(), rate, static_cast<unsigned long long>(agents));
  for (int64_t w : windows) {
    auto r = RunOnce(lines, rate, w);
    std::printf(
        "  window %5lld ms: %zu alerts, %zu measured in %zu POSTs; latency median %.1f ms, p90 "
        "%.1f ms, p99 %.1f ms, "
        "max %.1f ms\n",
        static_cast<long long>(w), r.alerts, r.measured, r.posts, Pct(r.ms, 0.5), Pct(r.ms, 0.9),
        Pct(r.ms, 0.99), r.ms.empty() ? 0.0 : r.ms.back());
    std::fflush(stdout);
  }
  return 0;
}
