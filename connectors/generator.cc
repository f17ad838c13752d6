#include "connectors/generator.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <queue>
#include <vector>

#include "schemas/json_writer.h"
#include "schemas/money.h"

namespace x402 {
namespace {

// SplitMix64: small, fast, and identical everywhere (std distributions are not portable).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n ? Next() % n : 0; }
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool Chance(uint32_t per_million) { return Below(1000000) < per_million; }

 private:
  uint64_t s_;
};

std::string Hex(Rng& rng, int nibbles) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 0; i < nibbles; ++i) s.push_back(kHex[rng.Below(16)]);
  return s;
}

// Mixed-case rendering of an address, as checksummed addresses look on the wire.
std::string MixedCase(const std::string& addr, Rng& rng) {
  std::string s = addr;
  for (size_t i = 2; i < s.size(); ++i)
    if (s[i] >= 'a' && s[i] <= 'f' && rng.Below(2)) s[i] = char(s[i] - 'a' + 'A');
  return s;
}

constexpr const char* kUsdcBase = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
constexpr const char* kLedgerSource = "genesis/a2a-x402";
constexpr const char* kChainSource = "chain-watcher/base";
const char* kAgentNames[] = {"builder_agent", "research_agent", "writer_agent", "trader_agent",
                             "support_agent", "scout_agent",    "planner_agent", "data_agent"};
const char* kVendorWords[] = {"weather", "search", "llm", "maps", "news", "prices", "ocr", "tts", "geo", "docs"};

struct Agent {
  std::string name, wallet;
  Amount daily_limit, monthly_limit;
  std::string day;
  Amount day_spend, month_spend;
  std::string month;
  Amount balance;
};

struct Vendor {
  std::string name, pay_to, resource;
  uint32_t consecutive_failures = 0;
};

// A future event, ordered by time then sequence (deterministic).
struct Pending {
  TimeMs time;
  uint64_t seq;
  uint32_t agent;
  std::string line;
  bool operator>(const Pending& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

class Gen {
 public:
  Gen(const GeneratorOptions& o, const std::function<void(std::string_view, std::string_view)>& emit)
      : o_(o), emit_(emit), rng_(o.seed) {}

  GeneratorStats Run();

 private:
  std::string Envelope(const char* type, const std::string& id, const char* source, TimeMs t,
                       const std::string& subject);
  std::string NextId(TimeMs t);
  void Schedule(TimeMs t, uint32_t agent, std::string line) {
    heap_.push(Pending{t, seq_++, agent, std::move(line)});
  }
  void Emit(const Pending& p) {
    emit_(agents_[p.agent].name, p.line);
    ++stats_.events;
    if (stats_.events == 1) stats_.first = p.time;
    stats_.last = p.time;
  }
  void MakePayment(TimeMs t);

  GeneratorOptions o_;
  const std::function<void(std::string_view, std::string_view)>& emit_;
  Rng rng_;
  std::vector<Agent> agents_;
  std::vector<Vendor> vendors_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> heap_;
  uint64_t seq_ = 0, id_counter_ = 0, block_base_ = 22000000;
  GeneratorStats stats_;
};

std::string Gen::NextId(TimeMs t) {
  // ULID-shaped: 10 chars of time, 16 of a counter mixed with the seed (Crockford base32).
  static const char* kB32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string id(26, '0');
  uint64_t ms = static_cast<uint64_t>(t.ms);
  for (int i = 9; i >= 0; --i) {
    id[i] = kB32[ms & 31];
    ms >>= 5;
  }
  uint64_t r = (++id_counter_) * 0x9E3779B97F4A7C15ull ^ o_.seed;
  for (int i = 25; i >= 10; --i) {
    id[i] = kB32[r & 31];
    r = (r >> 5) | (uint64_t(i) << 59);
  }
  return id;
}

std::string Gen::Envelope(const char* type, const std::string& id, const char* source, TimeMs t,
                          const std::string& subject) {
  std::string s;
  s.reserve(512);
  s += "{\"specversion\":\"1.0\",\"id\":\"";
  s += id;
  s += "\",\"source\":\"";
  s += source;
  s += "\",\"type\":\"";
  s += type;
  s += "\",\"time\":\"";
  s += FormatRfc3339(t);
  s += "\",\"subject\":\"";
  s += subject;
  s += "\",\"datacontenttype\":\"application/json\",\"data\":";
  return s;
}

void Gen::MakePayment(TimeMs t) {
  const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
  Agent& a = agents_[ai];
  const std::string day = DayBucket(t), month = MonthBucket(t);
  if (a.day != day) {
    a.day = day;
    a.day_spend = Amount{};
  }
  if (a.month != month) {
    a.month = month;
    a.month_spend = Amount{};
  }
  // Realistic API prices: 0.001 .. 0.25 USDC, mostly small.
  Amount amount{u128(rng_.Range(1, 250)) * 1000};
  if (rng_.Below(4) == 0) amount = Amount{u128(rng_.Range(1, 20)) * 1000};
  // A clean stream stays under 70 % of every budget: skip the payment when it would not.
  if (MulDiv(SaturatingAdd(a.day_spend, amount), 10, 7) > a.daily_limit ||
      MulDiv(SaturatingAdd(a.month_spend, amount), 10, 7) > a.monthly_limit) {
    return;
  }
  Vendor& v = vendors_[rng_.Below(vendors_.size())];
  const std::string payment_id = "pay_" + NextId(t).substr(10);
  const std::string nonce = Hex(rng_, 64);
  const int64_t valid_before = t.ms / 1000 + 300;
  ++stats_.payments;
  {
    std::string line = Envelope("x402.payment.authorized", NextId(t), kLedgerSource, t, a.name);
    JsonWriter j(&line);
    j.BeginObject()
        .Field("payment_id", payment_id)
        .Field("vendor", v.name)
        .Field("resource", v.resource + "?q=" + std::to_string(rng_.Below(100000)))
        .Field("network", rng_.Below(5) == 0 ? "eip155:8453" : "base")
        .Field("asset", MixedCase(kUsdcBase, rng_))
        .Field("payer", MixedCase(a.wallet, rng_))
        .Field("pay_to", v.pay_to)
        .Field("amount", ToAtomicString(amount))
        .Field("valid_after", std::to_string(t.ms / 1000 - 600))
        .Field("valid_before", std::to_string(valid_before))
        .Field("nonce", nonce)
        .EndObject();
    line += "}";
    Schedule(t, ai, std::move(line));
  }
  // Outcome. Failures are rare and never three in a row for one vendor in a clean stream.
  const uint64_t roll = rng_.Below(1000);
  const TimeMs outcome_t = t.plus_seconds(static_cast<int64_t>(rng_.Range(1, 4)));
  if (roll < 25 && v.consecutive_failures < 2) {
    ++v.consecutive_failures;
    ++stats_.failed;
    std::string line = Envelope("x402.payment.failed", NextId(outcome_t), kLedgerSource, outcome_t, a.name);
    static const char* kReasons[] = {"insufficient_funds", "invalid_exact_evm_payload_signature",
                                     "unexpected_settle_error", "invalid_transaction_state"};
    JsonWriter j(&line);
    j.BeginObject().Field("payment_id", payment_id).Field("reason", kReasons[rng_.Below(4)]);
    j.Key("retryable").Bool(rng_.Below(2) == 0).EndObject();
    line += "}";
    Schedule(outcome_t, ai, std::move(line));
    return;
  }
  if (roll < 35) {
    ++stats_.cancelled;
    std::string line = Envelope("x402.payment.cancelled", NextId(outcome_t), kLedgerSource, outcome_t, a.name);
    JsonWriter j(&line);
    j.BeginObject().Field("payment_id", payment_id).Field("reason", "agent_aborted").EndObject();
    line += "}";
    Schedule(outcome_t, ai, std::move(line));
    return;
  }
  v.consecutive_failures = 0;
  ++stats_.settled;
  a.day_spend = SaturatingAdd(a.day_spend, amount);
  a.month_spend = SaturatingAdd(a.month_spend, amount);
  a.balance = *CheckedSub(a.balance, amount);
  const std::string tx = Hex(rng_, 64);
  {
    std::string line = Envelope("x402.payment.settled", NextId(outcome_t), kLedgerSource, outcome_t, a.name);
    JsonWriter j(&line);
    j.BeginObject().Field("payment_id", payment_id).Field("tx_hash", tx);
    if (rng_.Below(2)) j.Field("amount", ToAtomicString(amount));
    j.EndObject();
    line += "}";
    Schedule(outcome_t, ai, std::move(line));
  }
  // The chain watcher sees the block a few seconds later.
  const TimeMs block_t = outcome_t.plus_seconds(static_cast<int64_t>(rng_.Range(1, 3)));
  const uint64_t block = block_base_ + static_cast<uint64_t>((block_t.ms - o_.start.ms) / 2000);
  const TimeMs seen_t = block_t.plus_seconds(static_cast<int64_t>(rng_.Range(2, 12)));
  const uint64_t log_index = rng_.Below(40);
  {
    std::string line = Envelope("x402.chain.authorization_used", NextId(seen_t), kChainSource, seen_t, a.name);
    JsonWriter j(&line);
    j.BeginObject()
        .Field("network", "base")
        .Field("asset", kUsdcBase)
        .Field("authorizer", a.wallet)
        .Field("nonce", nonce)
        .Field("tx_hash", tx);
    j.Key("block_number").Uint(block).EndObject();
    line += "}";
    Schedule(seen_t, ai, std::move(line));
  }
  {
    std::string line = Envelope("x402.chain.transfer", NextId(seen_t), kChainSource, seen_t, a.name);
    JsonWriter j(&line);
    j.BeginObject().Field("network", "base").Field("tx_hash", tx);
    j.Key("log_index").Uint(log_index + 1);
    j.Key("block_number").Uint(block);
    j.Field("block_time", FormatRfc3339(block_t))
        .Field("asset", kUsdcBase)
        .Field("from", a.wallet)
        .Field("to", v.pay_to)
        .Field("amount", ToAtomicString(amount));
    j.Key("confirmations").Uint(rng_.Range(12, 40));
    j.Key("removed").Bool(false).EndObject();
    line += "}";
    Schedule(seen_t, ai, std::move(line));
  }
}

GeneratorStats Gen::Run() {
  Rng setup(o_.seed ^ 0xA5A5A5A5ull);
  for (uint32_t i = 0; i < o_.vendors; ++i) {
    Vendor v;
    const char* w = kVendorWords[i % 10];
    v.name = std::string(w) + "-api-" + std::to_string(i + 1);
    v.pay_to = Hex(setup, 40);
    v.resource = "https://" + std::string(w) + std::to_string(i + 1) + ".example.com/v1/" + w;
    vendors_.push_back(std::move(v));
  }
  TimeMs t = o_.start;
  for (uint32_t i = 0; i < o_.agents; ++i) {
    Agent a;
    char buf[32];
    std::snprintf(buf, sizeof buf, "agent_%04u", i + 1);
    a.name = i < 8 ? kAgentNames[i] : buf;
    a.wallet = Hex(setup, 40);
    a.daily_limit = Amount::Usdc(100);
    a.monthly_limit = Amount::Usdc(1000);
    a.balance = Amount::Usdc(5000 + setup.Below(5000));
    agents_.push_back(std::move(a));
  }
  // Set-up events: each agent's wallet, and explicit limits for every other agent.
  for (uint32_t i = 0; i < o_.agents; ++i) {
    Agent& a = agents_[i];
    std::string line = Envelope("x402.wallet.registered", NextId(t), kLedgerSource, t, a.name);
    JsonWriter j(&line);
    j.BeginObject().Field("network", "base").Field("address", a.wallet).EndObject();
    line += "}";
    Schedule(t, i, std::move(line));
    if (i % 2 == 0) {
      a.daily_limit = Amount::Usdc(50 + 50 * setup.Below(5));
      a.monthly_limit = Amount::Usdc(1000 + 500 * setup.Below(4));
      std::string l2 = Envelope("x402.budget.limits_set", NextId(t), kLedgerSource, t, a.name);
      JsonWriter j2(&l2);
      j2.BeginObject()
          .Field("daily_limit", ToUsdcString(a.daily_limit))
          .Field("monthly_limit", ToUsdcString(a.monthly_limit))
          .Field("per_transaction_max", "5.00")
          .EndObject();
      l2 += "}";
      Schedule(t, i, std::move(l2));
    }
  }
  const double gap_ms = 1000.0 / (o_.payments_per_second > 0 ? o_.payments_per_second : 1);
  double clock = static_cast<double>(t.ms);
  uint64_t balance_every = 97;
  while (stats_.events + heap_.size() < o_.events) {
    // Emit everything due before the next payment.
    clock += gap_ms * (0.5 + static_cast<double>(rng_.Below(1000)) / 1000.0);
    t = TimeMs{static_cast<int64_t>(clock)};
    while (!heap_.empty() && heap_.top().time <= t) {
      Emit(heap_.top());
      heap_.pop();
    }
    const uint64_t room = o_.events - stats_.events - heap_.size();
    if (room >= 5) {
      MakePayment(t);
    } else {
      // Fill the last few lines with balance observations so the count is exact.
      const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
      Agent& a = agents_[ai];
      std::string line = Envelope("x402.wallet.balance", NextId(t), kChainSource, t, a.name);
      JsonWriter j(&line);
      j.BeginObject().Field("network", "base").Field("address", a.wallet).Field("asset", kUsdcBase);
      j.Field("balance", ToAtomicString(a.balance));
      j.Key("block_number").Uint(block_base_ + static_cast<uint64_t>((t.ms - o_.start.ms) / 2000)).EndObject();
      line += "}";
      Schedule(t, ai, std::move(line));
    }
    if (--balance_every == 0) {
      balance_every = 97;
      if (o_.events - stats_.events - heap_.size() >= 6) {
        const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
        Agent& a = agents_[ai];
        std::string line = Envelope("x402.wallet.balance", NextId(t), kChainSource, t, a.name);
        JsonWriter j(&line);
        j.BeginObject().Field("network", "base").Field("address", a.wallet).Field("asset", kUsdcBase);
        j.Field("balance", ToAtomicString(a.balance));
        j.Key("block_number").Uint(block_base_ + static_cast<uint64_t>((t.ms - o_.start.ms) / 2000)).EndObject();
        line += "}";
        Schedule(t, ai, std::move(line));
      }
    }
  }
  while (!heap_.empty()) {
    Emit(heap_.top());
    heap_.pop();
  }
  return stats_;
}

}  // namespace

GeneratorStats Generate(const GeneratorOptions& opts,
                        const std::function<void(std::string_view, std::string_view)>& emit) {
  Gen g(opts, emit);
  return g.Run();
}

Result<GeneratorStats> GenerateToFile(const GeneratorOptions& opts, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "we");
  if (!f) return Err(path + ": cannot create: " + std::strerror(errno));
  std::string buf;
  buf.reserve(1 << 20);
  bool ok = true;
  auto stats = Generate(opts, [&](std::string_view, std::string_view line) {
    buf.append(line);
    buf.push_back('\n');
    if (buf.size() > (1 << 20) - 4096) {
      ok = ok && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
      buf.clear();
    }
  });
  ok = ok && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Err(path + ": write failed: " + std::strerror(errno));
  return stats;
}

}  // namespace x402
