// Shared helpers for the test suites: event builders (CloudEvents JSON lines), a temporary
// directory, and EngineHarness, which drives a real Engine on a throw-away RocksDB store.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/deadletter_sink.h"
#include "engine/engine.h"
#include "schemas/json_writer.h"

namespace x402 {
// Readable gtest output for money.
inline void PrintTo(const Amount& a, std::ostream* os) { *os << ToAtomicString(a); }
}  // namespace x402

namespace x402::test {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "x402test-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `pred` every 20 ms until it holds or `seconds` pass.
inline bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

inline std::string Hex64(uint64_t n) {
  char buf[67];
  std::snprintf(buf, sizeof buf, "0x%064llx", static_cast<unsigned long long>(n));
  return buf;
}
inline std::string Addr(uint64_t n) {
  char buf[43];
  std::snprintf(buf, sizeof buf, "0x%040llx", static_cast<unsigned long long>(n));
  return buf;
}

inline const char* kUsdc = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";

// Builds one CloudEvent line. `data` is the JSON of the data object.
inline std::string Ev(const std::string& type, const std::string& id, const std::string& time,
                      const std::string& subject, const std::string& data,
                      const std::string& source = "test/ledger") {
  std::string s;
  JsonWriter j(&s);
  j.BeginObject()
      .Field("specversion", "1.0")
      .Field("id", id)
      .Field("source", source)
      .Field("type", "x402." + type)
      .Field("time", time)
      .Field("subject", subject);
  j.Key("data").Raw(data);
  j.EndObject();
  return s;
}

struct Auth {
  std::string payment_id, agent = "builder_agent", vendor = "vendor-7", amount = "1500000";
  std::string time = "2025-11-17T10:00:00.000Z";
  uint64_t nonce = 1, payer = 0xA1, pay_to = 0xB2;
  int64_t valid_before = 1763373600 + 300;  // 10:05
  std::string network = "base";
};

inline std::string Authorized(const Auth& a, const std::string& id) {
  std::string d;
  JsonWriter j(&d);
  j.BeginObject()
      .Field("payment_id", a.payment_id)
      .Field("vendor", a.vendor)
      .Field("resource", "https://api.example.com/v1/x")
      .Field("network", a.network)
      .Field("asset", kUsdc)
      .Field("payer", Addr(a.payer))
      .Field("pay_to", Addr(a.pay_to))
      .Field("amount", a.amount)
      .Field("valid_after", "0")
      .Field("valid_before", std::to_string(a.valid_before))
      .Field("nonce", Hex64(a.nonce))
      .EndObject();
  return Ev("payment.authorized", id, a.time, a.agent, d);
}

inline std::string Settled(const std::string& agent, const std::string& payment_id,
                           const std::string& id, const std::string& time, uint64_t tx = 0xF1,
                           const std::string& amount = "") {
  std::string d = "{\"payment_id\":\"" + payment_id + "\",\"tx_hash\":\"" + Hex64(tx) + "\"";
  if (!amount.empty()) d += ",\"amount\":\"" + amount + "\"";
  d += "}";
  return Ev("payment.settled", id, time, agent, d);
}

inline std::string Failed(const std::string& agent, const std::string& payment_id,
                          const std::string& id, const std::string& time) {
  return Ev("payment.failed", id, time, agent,
            "{\"payment_id\":\"" + payment_id + "\",\"reason\":\"insufficient_funds\"}");
}

inline std::string Cancelled(const std::string& agent, const std::string& payment_id,
                             const std::string& id, const std::string& time) {
  return Ev("payment.cancelled", id, time, agent, "{\"payment_id\":\"" + payment_id + "\"}");
}

inline std::string LimitsSet(const std::string& agent, const std::string& id,
                             const std::string& time, const std::string& data) {
  return Ev("budget.limits_set", id, time, agent, data);
}

// Chain and wallet events (EVENTS.md section 2). They come from an indexer, so their source
// differs from the ledger's; ids only need to be unique per builder call.
struct Transfer {
  std::string agent = "builder_agent";
  std::string time = "2025-11-17T10:01:00.000Z";
  std::string network = "base";
  std::string tx_hash = Hex64(0xF1);
  uint64_t log_index = 0, block_number = 100, confirmations = 10;
  std::string block_time = "2025-11-17T10:01:00.000Z";
  std::string asset = kUsdc;
  std::string from = Addr(0xA1), to = Addr(0xB2), amount = "1500000";
  bool removed = false;
  std::string block_hash;  // "" = not given
};

inline std::string ChainTransfer(const Transfer& t, const std::string& id) {
  std::string d;
  JsonWriter j(&d);
  j.BeginObject().Field("network", t.network).Field("tx_hash", t.tx_hash);
  j.Key("log_index").Uint(t.log_index);
  j.Key("block_number").Uint(t.block_number);
  j.Field("block_time", t.block_time)
      .Field("asset", t.asset)
      .Field("from", t.from)
      .Field("to", t.to)
      .Field("amount", t.amount);
  j.Key("confirmations").Uint(t.confirmations);
  j.Key("removed").Bool(t.removed);
  if (!t.block_hash.empty()) j.Field("block_hash", t.block_hash);
  j.EndObject();
  return Ev("chain.transfer", id, t.time, t.agent, d, "test/chain");
}

// The EIP-3009 AuthorizationUsed / AuthorizationCanceled logs.
struct AuthLog {
  std::string agent = "builder_agent";
  std::string time = "2025-11-17T10:01:00.000Z";
  std::string network = "base";
  std::string asset = kUsdc;
  std::string authorizer = Addr(0xA1);
  std::string nonce = Hex64(1);
  std::string tx_hash = Hex64(0xF1);
  uint64_t block_number = 100;
  bool removed = false;
  std::string block_hash;  // "" = not given
};

inline std::string AuthLogEvent(const std::string& type, const AuthLog& a, const std::string& id) {
  std::string d;
  JsonWriter j(&d);
  j.BeginObject()
      .Field("network", a.network)
      .Field("asset", a.asset)
      .Field("authorizer", a.authorizer)
      .Field("nonce", a.nonce)
      .Field("tx_hash", a.tx_hash);
  j.Key("block_number").Uint(a.block_number);
  j.Key("removed").Bool(a.removed);
  if (!a.block_hash.empty()) j.Field("block_hash", a.block_hash);
  j.EndObject();
  return Ev(type, id, a.time, a.agent, d, "test/chain");
}
inline std::string AuthorizationUsed(const AuthLog& a, const std::string& id) {
  return AuthLogEvent("chain.authorization_used", a, id);
}
inline std::string AuthorizationCanceled(const AuthLog& a, const std::string& id) {
  return AuthLogEvent("chain.authorization_canceled", a, id);
}

inline std::string WalletRegistered(const std::string& agent, const std::string& id,
                                    const std::string& time, const std::string& network,
                                    const std::string& address) {
  std::string d;
  JsonWriter(&d).BeginObject().Field("network", network).Field("address", address).EndObject();
  return Ev("wallet.registered", id, time, agent, d);
}

inline std::string WalletBalance(const std::string& agent, const std::string& id,
                                 const std::string& time, const std::string& network,
                                 const std::string& address, const std::string& balance,
                                 uint64_t block_number, const std::string& asset = kUsdc) {
  std::string d;
  JsonWriter j(&d);
  j.BeginObject()
      .Field("network", network)
      .Field("address", address)
      .Field("asset", asset)
      .Field("balance", balance);
  j.Key("block_number").Uint(block_number);
  j.EndObject();
  return Ev("wallet.balance", id, time, agent, d, "test/chain");
}

// Drives a real Engine on a temporary store, one batch per Feed() call.
class EngineHarness {
 public:
  explicit EngineHarness(ProjectionConfig cfg = ProjectionConfig(), std::string dir = "") {
    if (dir.empty()) {
      tmp_ = std::make_unique<TempDir>();
      dir = tmp_->path();
    }
    dir_ = dir;
    cfg_ = std::move(cfg);
    Reopen();
  }
  void Reopen() {
    engine_.reset();
    EngineOptions o;
    o.store.path = dir_ + "/state";
    o.projections = cfg_;
    o.dead_letters = &dead_;
    o.store.fail_write = fail_write_;
    auto e = Engine::Open(o);
    if (!e) throw std::runtime_error(e.error());
    engine_ = std::move(*e);
  }
  Status Feed(const std::vector<std::string>& lines, uint32_t shard = 0) {
    std::vector<std::string> padded;
    padded.reserve(lines.size());
    std::vector<SourceRecord> recs;
    for (size_t i = 0; i < lines.size(); ++i) padded.push_back(lines[i] + std::string(64, ' '));
    for (size_t i = 0; i < lines.size(); ++i) {
      SourceRecord r;
      r.shard = shard;
      r.bytes = std::string_view(padded[i].data(), lines[i].size());
      r.length = lines[i].size();
      r.origin = "test";
      r.index = ++line_;
      recs.push_back(r);
    }
    return engine_->ProcessBatch(recs, {});
  }
  Status AdvanceTo(const std::string& rfc3339, uint32_t shard = 0) {
    return engine_->AdvanceClock(shard, *ParseRfc3339(rfc3339, "t"));
  }
  std::vector<Finding> Findings(bool open_only = true) {
    std::vector<Finding> out;
    engine_->ForEachFinding([&](const Finding& f) {
      if (!open_only || f.open) out.push_back(f);
    });
    return out;
  }
  std::map<std::string, Finding> OpenByKey() {
    std::map<std::string, Finding> m;
    for (auto& f : Findings()) m[std::string(FindingKindName(f.kind)) + " " + f.key] = f;
    return m;
  }
  bool HasOpen(FindingKind kind, const std::string& key) {
    for (auto& f : Findings())
      if (f.kind == kind && f.key == key) return true;
    return false;
  }
  std::vector<OutboxEntry> Outbox() {
    std::vector<OutboxEntry> out;
    engine_->ForEachOutbox(0, [&](const OutboxEntry& e) {
      out.push_back(e);
      return true;
    });
    return out;
  }
  Engine& engine() { return *engine_; }
  // Reopens the store with a hook called before every commit-like write (the store's own
  // writes included, e.g. the outbox dispatcher's acknowledgements): true fails the write.
  void SetWriteHook(std::function<bool()> hook) {
    fail_write_ = std::move(hook);
    Reopen();
  }
  MemoryDeadLetterSink& dead_letters() { return dead_; }
  const std::string& dir() const { return dir_; }

 private:
  std::unique_ptr<TempDir> tmp_;
  std::string dir_;
  ProjectionConfig cfg_;
  std::function<bool()> fail_write_;
  MemoryDeadLetterSink dead_{100000};
  std::unique_ptr<Engine> engine_;
  uint64_t line_ = 0;
};

}  // namespace x402::test
