// Cost of observability (Google Benchmark): the pipeline with and without the metrics
// observer, the state probe over a demo-sized state, rendering /metrics, and API lookups.
// Run: build/tests/bench/api_bench (numbers in README.md).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

#include "api/api_service.h"
#include "api/metrics.h"
#include "connectors/generator.h"
#include "schemas/decoder.h"

namespace x402 {
namespace {

struct Stream {
  std::vector<std::string> lines;  // each padded for the decoder
  std::vector<size_t> lengths;
};

const Stream& Events() {
  static Stream* s = [] {
    auto* st = new Stream();
    const std::string path = std::filesystem::temp_directory_path() / "x402-api-bench.jsonl";
    GeneratorOptions g;
    g.agents = 50;
    g.events = 100000;
    g.seed = 42;
    g.anomalies = 0.01;
    if (!GenerateToFile(g, path)) std::abort();
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      st->lengths.push_back(line.size());
      st->lines.push_back(line + std::string(EventDecoder::kPadding, ' '));
    }
    std::filesystem::remove(path);
    return st;
  }();
  return *s;
}

std::unique_ptr<Engine> Fill(const std::string& dir, EngineObserver* obs) {
  EngineOptions o;
  o.store.path = dir;
  o.store.disable_wal = true;
  o.observer = obs;
  auto e = Engine::Open(o);
  if (!e) std::abort();
  const Stream& s = Events();
  std::vector<SourceRecord> batch;
  for (size_t i = 0; i < s.lines.size(); ++i) {
    SourceRecord r;
    r.bytes = std::string_view(s.lines[i].data(), s.lengths[i]);
    r.length = s.lengths[i];
    batch.push_back(r);
    if (batch.size() == 16384 || i + 1 == s.lines.size()) {
      if (!(*e)->ProcessBatch(batch, {}).ok()) std::abort();
      batch.clear();
    }
  }
  return std::move(*e);
}

std::string TempDir(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::string("x402-api-bench-") + name);
  std::filesystem::remove_all(p);
  return p.string();
}

// The whole pipeline over 100,000 generated events; arg 1 = with the metrics observer.
void BM_Pipeline(benchmark::State& state) {
  Events();
  Metrics m;
  for (auto _ : state) {
    const std::string dir = TempDir("pipeline");
    Fill(dir, state.range(0) ? &m : nullptr);
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(Events().lines.size()));
}
BENCHMARK(BM_Pipeline)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);

struct Filled {
  std::string dir = TempDir("state");
  std::unique_ptr<Engine> engine = Fill(dir, nullptr);
};
Filled& State() {
  static Filled* f = new Filled();
  return *f;
}

void BM_ProbeState(benchmark::State& state) {
  Filled& f = State();
  ProbeSummary s;
  for (auto _ : state) {
    auto fams = ProbeState(f.engine->store(), f.engine->config(), 100, 1763380000000, &s);
    benchmark::DoNotOptimize(fams);
  }
  state.counters["payments"] = static_cast<double>(s.payments);
  state.counters["agents"] = static_cast<double>(s.agents);
}
BENCHMARK(BM_ProbeState)->Unit(benchmark::kMillisecond);

void BM_RenderMetrics(benchmark::State& state) {
  Filled& f = State();
  Metrics m;
  m.SetProbeFamilies(
      ProbeState(f.engine->store(), f.engine->config(), 100, 1763380000000, nullptr));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = m.Render();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderMetrics)->Unit(benchmark::kMicrosecond);

void BM_Api(benchmark::State& state, std::string target) {
  Filled& f = State();
  ApiServiceOptions o;
  o.store = f.engine->store();
  o.config = &f.engine->config();
  ApiService svc(std::move(o));
  HttpRequest req{"GET", target, ""};
  for (auto _ : state) {
    ApiResponse r = svc.Handle(req);
    if (r.status != 200)
      state.SkipWithError(("status " + std::to_string(r.status) + ": " + r.body).c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK_CAPTURE(BM_Api, agent, std::string("/v1/agents/builder_agent"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Api, can_spend, std::string("/v1/agents/builder_agent/can-spend?amount=2.50"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Api, findings_page, std::string("/v1/findings?status=open&limit=100"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Api, findings_by_kind,
                  std::string("/v1/findings?kind=vendor.failure_streak&limit=100"))
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace x402

BENCHMARK_MAIN();
