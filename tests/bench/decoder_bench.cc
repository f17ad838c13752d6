// Decoder benchmarks (Google Benchmark): EventDecoder on one realistic event of every type, on a
// generated stream of mixed events (x402::Generate, the same stream `x402rec gen` writes), on
// that stream with malformed lines mixed in (the rejection path), and JsonlReader + decoder over
// a file of it (what `x402rec replay` does before the engine sees an event). Two reference
// points measure simdjson alone on the same stream: the floor under any on-demand decoder.
//
// Every benchmark reports items/s (events), bytes/s and time_per_event. Run it from a
// Release-with-debug-info build; see tests/bench/README.md for the commands and the last numbers
// measured.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/generator.h"
#include "schemas/decoder.h"
#include "schemas/decoder_backend.h"
#include "schemas/event.h"
#include "schemas/jsonl.h"

namespace x402 {
namespace {

// One compact line per type, as producers send them: EVM values in mixed (checksum) case, so
// canonicalisation has work to do; a Solana authorization and settlement; an ignored extension.
struct Fixture {
  const char* name;
  const char* json;
};

constexpr Fixture kFixtures[] = {
    {"x402.budget.limits_set",
     R"({"specversion":"1.0","id":"01JD3W0A7K2M4N6P8Q0R2S4T6V","source":"ops/budget-admin","type":"x402.budget.limits_set","time":"2025-11-17T00:00:00Z","subject":"builder_agent","datacontenttype":"application/json","data":{"daily_limit":"100.00","monthly_limit":"1000","per_transaction_max":"10.50"}})"},
    {"x402.wallet.registered",
     R"({"specversion":"1.0","id":"01JD3W1A2B3C4D5E6F7G8H9J0K","source":"genesis/wallet-service","type":"x402.wallet.registered","time":"2025-11-16T08:30:00Z","subject":"builder_agent","datacontenttype":"application/json","data":{"network":"base","address":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0"}})"},
    {"x402.payment.authorized",
     R"({"specversion":"1.0","id":"01JD3W6Q1V7M1X9Q8S2A4B5C6D","source":"genesis/a2a-x402","type":"x402.payment.authorized","time":"2025-11-17T10:00:00.123Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_7f3c2a91","vendor":"vendor-7","resource":"https://api.weather.example/v1/forecast?city=Lisbon","network":"base","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payer":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0","pay_to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","amount":"1500000","valid_after":"1763373540","valid_before":"1763374200","nonce":"0x9e3f156324d42f0ea4b6f4fce81d56fbd64a2143a3fdd60a130d9c90e5b4d688"}})"},
    {"x402.payment.authorized.solana",
     R"({"specversion":"1.0","id":"01JD3W6S3X9P3Z1S0V4C6D7E8F","source":"genesis/a2a-x402","type":"x402.payment.authorized","time":"2025-11-17T10:02:00Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_sol_0042","vendor":"vendor-7","resource":"https://api.weather.example/v1/forecast?city=Porto","network":"solana","asset":"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v","payer":"pXCt3YbuCN14DT8gfkvhKCMLdXKjZJ5MwECExwyk2S33","pay_to":"QiCtDH9HW3MPVjx3B7bDSzrMM6D1NABZov6ehKsCc25","amount":"1000000","valid_after":"1763373660","valid_before":"1763374320","nonce":"M7CHtUKgXEAJqRoJZdYkZkHBn5YJmFMn9UmBDZ3AhBcY"}})"},
    {"x402.payment.settled",
     R"({"specversion":"1.0","id":"01JD3W7A4Y0Q4A2T1W5D7E8F9G","source":"genesis/facilitator-client","type":"x402.payment.settled","time":"2025-11-17T10:00:02.870Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_7f3c2a91","tx_hash":"0x045EF594D81D2F2134D61151ED71260D8F79E657C7CB6ED1D893688532017409","amount":"1500000"}})"},
    {"x402.payment.settled.solana",
     R"({"specversion":"1.0","id":"01JD3W7B5Z1R5B3V2X6E8F9G0H","source":"genesis/facilitator-client","type":"x402.payment.settled","time":"2025-11-17T10:02:01Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_sol_0042","tx_hash":"Bx1rDbgr2G7HQjBejFV1pF3v3w71sCEWtmq6S1mSWe5JzpPdNyKY2154i4UQWAY5DF9a6o4s7PbTjnde7KEqsY8F"}})"},
    {"x402.payment.failed",
     R"({"specversion":"1.0","id":"01JD3W8D7B3T7D5X4Z8G0H1J2K","source":"genesis/facilitator-client","type":"x402.payment.failed","time":"2025-11-17T10:05:30Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_a2b3c4d5","reason":"unexpected_settle_error","tx_hash":"0x546d58cb9d8f0e2306a8d0a7199ed492a095a386a997bbab88b51d5f55b859ef","retryable":true}})"},
    {"x402.payment.cancelled",
     R"({"specversion":"1.0","id":"01JD3W9E8C4V8E6Y5A9H1J2K3M","source":"genesis/a2a-x402","type":"x402.payment.cancelled","time":"2025-11-17T10:06:00Z","subject":"builder_agent","datacontenttype":"application/json","data":{"payment_id":"pay_b3c4d5e6","reason":"user aborted the task"}})"},
    {"x402.chain.transfer",
     R"({"specversion":"1.0","id":"base:0x045ef594d81d2f2134d61151ed71260d8f79e657c7cb6ed1d893688532017409:3","source":"chain-indexer/base","type":"x402.chain.transfer","time":"2025-11-17T10:00:05Z","subject":"builder_agent","datacontenttype":"application/json","data":{"network":"base","tx_hash":"0x045ef594d81d2f2134d61151ed71260d8f79e657c7cb6ed1d893688532017409","log_index":3,"block_number":38291045,"block_time":"2025-11-17T10:00:03Z","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","from":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","amount":"1500000","confirmations":12,"removed":false}})"},
    {"x402.chain.authorization_used",
     R"({"specversion":"1.0","id":"base:0x045ef594d81d2f2134d61151ed71260d8f79e657c7cb6ed1d893688532017409:2","source":"chain-indexer/base","type":"x402.chain.authorization_used","time":"2025-11-17T10:00:05Z","subject":"builder_agent","datacontenttype":"application/json","data":{"network":"base","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","authorizer":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0","nonce":"0x9e3f156324d42f0ea4b6f4fce81d56fbd64a2143a3fdd60a130d9c90e5b4d688","tx_hash":"0x045ef594d81d2f2134d61151ed71260d8f79e657c7cb6ed1d893688532017409","block_number":38291045}})"},
    {"x402.chain.authorization_canceled",
     R"({"specversion":"1.0","id":"base:0xa861ee91f354b2a7f37b34c44d97584347052f8c602f9c3d4d0318c0206f75db:0","source":"chain-indexer/base","type":"x402.chain.authorization_canceled","time":"2025-11-17T10:07:11Z","subject":"builder_agent","datacontenttype":"application/json","data":{"network":"base","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","authorizer":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0","nonce":"0xf3ba9e408e06fcfc2340e086d1f128bcce70651d0af663d7fbc9638daeff8712","tx_hash":"0xa861ee91f354b2a7f37b34c44d97584347052f8c602f9c3d4d0318c0206f75db","block_number":38291350,"removed":null}})"},
    {"x402.wallet.balance",
     R"({"specversion":"1.0","id":"base:0x6b1e5fe3c7a1d2b4e8f90a12c3d4e5f6a7b8c9d0:38291045","source":"chain-indexer/base","type":"x402.wallet.balance","time":"2025-11-17T10:00:05Z","subject":"builder_agent","datacontenttype":"application/json","data":{"network":"base","address":"0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","balance":"187250000","block_number":38291045}})"},
};

// Items/s and bytes/s, plus "time_per_event" (shown as e.g. 310ns): `events_per_iteration`
// events were handled per iteration, `bytes` bytes in all.
void SetPerEventCounters(benchmark::State& state, double events_per_iteration, double bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events_per_iteration));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["time_per_event"] =
      benchmark::Counter(events_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                   benchmark::Counter::kInvert);
}

// One event, decoded over and over into the same Event (as the engine does).
void BM_DecodeOne(benchmark::State& state, const Fixture& fx) {
  std::string buf(fx.json);
  const size_t len = buf.size();
  buf.append(EventDecoder::kPadding, ' ');
  const std::string_view json(buf.data(), len);
  EventDecoder decoder;
  Event e;
  if (Status st = decoder.DecodeInto(json, &e); !st.ok()) {
    state.SkipWithError(st.error().c_str());
    return;
  }
  for (auto _ : state) {
    Status st = decoder.DecodeInto(json, &e);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(e);
  }
  SetPerEventCounters(state, 1, static_cast<double>(state.iterations() * len));
}

// A generated JSONL stream held in memory: each line is followed by the next one (or padding),
// so every view has EventDecoder::kPadding readable bytes after it, as from JsonlReader.
struct Stream {
  std::string buf;
  std::vector<std::string_view> lines;
  uint64_t valid = 0, bad = 0;
};

constexpr uint64_t kStreamEvents = 200'000;

Stream MakeStream(double bad_lines) {
  GeneratorOptions o;
  o.agents = 1000;
  o.events = kStreamEvents;
  o.seed = 1;
  o.bad_lines = bad_lines;
  Stream s;
  std::vector<std::pair<size_t, size_t>> spans;
  Generate(o, [&](std::string_view subject, std::string_view line) {
    spans.emplace_back(s.buf.size(), line.size());
    s.buf.append(line);
    s.buf.push_back('\n');
    ++(subject.empty() ? s.bad : s.valid);
  });
  s.buf.append(EventDecoder::kPadding, ' ');
  for (auto [off, len] : spans) s.lines.emplace_back(s.buf.data() + off, len);
  return s;
}

const Stream& CleanStream() {
  static const Stream s = MakeStream(0);
  return s;
}

const Stream& StreamWithBadLines() {
  static const Stream s = MakeStream(0.01);
  return s;
}

// Decodes the stream line after line, one event per benchmark iteration.
void DecodeStream(benchmark::State& state, const Stream& s, detail::DecoderBackend* backend) {
  EventDecoder decoder;
  Event e;
  uint64_t rejected = 0, bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view line = s.lines[i];
    Status st = backend ? backend->DecodeInto(line, &e) : decoder.DecodeInto(line, &e);
    rejected += !st.ok();
    bytes += line.size();
    benchmark::DoNotOptimize(e);
    if (++i == s.lines.size()) i = 0;
  }
  if (s.bad == 0 && rejected != 0) state.SkipWithError("a generated event was rejected");
  state.counters["rejected_pct"] =
      100.0 * static_cast<double>(rejected) / static_cast<double>(state.iterations());
  SetPerEventCounters(state, 1, static_cast<double>(bytes));
}

void BM_DecodeGeneratedStream(benchmark::State& state) {
  DecodeStream(state, CleanStream(), nullptr);
}

// The fallback for CPUs without AVX2 (always built, chosen at run time).
void BM_DecodeGeneratedStreamGenericBackend(benchmark::State& state) {
  auto backend = detail::generic::NewBackend();
  DecodeStream(state, CleanStream(), backend.get());
}

// 1 % malformed lines (the generator's --bad-lines), so the rejection path is in the mix.
void BM_DecodeGeneratedStreamWithBadLines(benchmark::State& state) {
  DecodeStream(state, StreamWithBadLines(), nullptr);
}

// Reference points for the decoder numbers: what simdjson itself costs on the same stream. Its
// first stage alone (parser.iterate), then that plus visiting every attribute and data field
// (the raw token of each value, nothing checked or copied): a floor no on-demand decoder of
// these events can go below on this machine.
void BM_SimdjsonStage1Only(benchmark::State& state) {
  const Stream& s = CleanStream();
  simdjson::ondemand::parser parser(kMaxEventBytes + 4096);
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view line = s.lines[i];
    simdjson::ondemand::document doc;
    auto err = parser
                   .iterate(simdjson::padded_string_view(line.data(), line.size(),
                                                         line.size() + EventDecoder::kPadding))
                   .get(doc);
    benchmark::DoNotOptimize(err);
    bytes += line.size();
    if (++i == s.lines.size()) i = 0;
  }
  SetPerEventCounters(state, 1, static_cast<double>(bytes));
}

void BM_SimdjsonWalk(benchmark::State& state) {
  namespace od = simdjson::ondemand;
  const Stream& s = CleanStream();
  od::parser parser(kMaxEventBytes + 4096);
  uint64_t bytes = 0, sum = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view line = s.lines[i];
    od::document doc;
    od::object obj;
    if (parser
            .iterate(simdjson::padded_string_view(line.data(), line.size(),
                                                  line.size() + EventDecoder::kPadding))
            .get(doc) ||
        doc.get_object().get(obj)) {
      return state.SkipWithError("simdjson rejected a generated event");
    }
    for (auto field : obj) {
      if (field.error()) return state.SkipWithError("simdjson rejected a generated event");
      od::field&& f = std::move(field).value_unsafe();
      sum += static_cast<unsigned char>(*f.key().raw());
      od::object data;
      if (f.value().raw_json_token()[0] == '{' && !f.value().get_object().get(data)) {
        for (auto inner : data) {
          if (inner.error()) return state.SkipWithError("simdjson rejected a generated event");
          od::field&& g = std::move(inner).value_unsafe();
          sum += static_cast<unsigned char>(*g.key().raw()) + g.value().raw_json_token().size();
        }
      } else {
        sum += f.value().raw_json_token().size();
      }
    }
    benchmark::DoNotOptimize(sum);
    bytes += line.size();
    if (++i == s.lines.size()) i = 0;
  }
  SetPerEventCounters(state, 1, static_cast<double>(bytes));
}

// The clean stream written to a file once, read back by JsonlReader each iteration.
class StreamFile {
 public:
  StreamFile() {
    char tmpl[] = "/tmp/x402_decoder_bench_XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) return;
    path_ = tmpl;
    const Stream& s = CleanStream();
    const size_t size = s.buf.size() - EventDecoder::kPadding;
    for (size_t done = 0; done < size;) {
      ssize_t n = ::write(fd, s.buf.data() + done, size - done);
      if (n <= 0) {
        path_.clear();
        break;
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    size_ = size;
  }
  ~StreamFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  size_t size_ = 0;
};

const StreamFile& TheStreamFile() {
  static const StreamFile f;
  return f;
}

// JsonlReader alone over the whole file (page cache warm): the reader's share of a replay.
void BM_JsonlRead(benchmark::State& state) {
  const StreamFile& f = TheStreamFile();
  if (f.path().empty()) return state.SkipWithError("cannot write a temporary file");
  uint64_t lines = 0;
  for (auto _ : state) {
    auto r = JsonlReader::Open(f.path());
    if (!r) return state.SkipWithError(r.error().c_str());
    JsonlLine line;
    lines = 0;
    while ((*r)->Next(&line)) {
      benchmark::DoNotOptimize(line);
      ++lines;
    }
  }
  SetPerEventCounters(state, static_cast<double>(lines),
                      static_cast<double>(state.iterations() * f.size()));
}

// JsonlReader + EventDecoder over the whole file: everything `x402rec replay` does to an event
// before the engine applies it.
void BM_JsonlReadAndDecode(benchmark::State& state) {
  const StreamFile& f = TheStreamFile();
  if (f.path().empty()) return state.SkipWithError("cannot write a temporary file");
  EventDecoder decoder;
  Event e;
  uint64_t lines = 0, rejected = 0;
  for (auto _ : state) {
    auto r = JsonlReader::Open(f.path(), 0, 1, kMaxEventBytes);
    if (!r) return state.SkipWithError(r.error().c_str());
    JsonlLine line;
    lines = 0;
    while ((*r)->Next(&line)) {
      rejected += !decoder.DecodeInto(line.text, &e).ok();
      benchmark::DoNotOptimize(e);
      ++lines;
    }
  }
  if (rejected != 0) state.SkipWithError("a generated event was rejected");
  SetPerEventCounters(state, static_cast<double>(lines),
                      static_cast<double>(state.iterations() * f.size()));
}

BENCHMARK(BM_DecodeGeneratedStream);
BENCHMARK(BM_DecodeGeneratedStreamGenericBackend);
BENCHMARK(BM_DecodeGeneratedStreamWithBadLines);
BENCHMARK(BM_SimdjsonStage1Only);
BENCHMARK(BM_SimdjsonWalk);
BENCHMARK(BM_JsonlRead)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonlReadAndDecode)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace x402

int main(int argc, char** argv) {
  for (const auto& fx : x402::kFixtures) {
    benchmark::RegisterBenchmark((std::string("BM_DecodeOne/") + fx.name).c_str(),
                                 x402::BM_DecodeOne, fx);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
