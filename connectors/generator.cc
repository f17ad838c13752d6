#include "connectors/generator.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
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
  // True with probability p (p in [0, 1]), in exact integer arithmetic on a 2^32 grid.
  bool Chance(double p) { return static_cast<double>(Next() >> 32) < p * 4294967296.0; }

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
constexpr const char* kOtherToken = "0xfde4c96c8593536e31f229ea8f37b2ada2699bb2";
constexpr const char* kBase = "eip155:8453";
constexpr const char* kLedgerSource = "genesis/a2a-x402";
constexpr const char* kChainSource = "chain-watcher/base";
const char* kAgentNames[] = {"builder_agent", "research_agent", "writer_agent", "trader_agent",
                             "support_agent", "scout_agent",    "planner_agent", "data_agent"};
const char* kVendorWords[] = {"weather", "search", "llm", "maps", "news", "prices", "ocr", "tts", "geo", "docs"};
constexpr TimeMs kForever{INT64_MAX};

enum class Anomaly : int {
  kMissingOnChain = 0,
  kAmountMismatch,
  kRecipientMismatch,
  kAssetMismatch,
  kDuplicateClaim,
  kPaidButFailed,
  kUnrecordedTransfer,
  kReorged,
  kUnconfirmed,
  kStale,
  kExpired,
  kSettledAfterExpiry,
  kNonceReuse,
  kVendorStreak,
  kWalletLow,
  kPerTxExceeded,
  kOverspend,
  kCount,
};

struct Agent {
  std::string name, wallet;
  Amount daily_limit = Amount::Usdc(100), monthly_limit = Amount::Usdc(1000), per_tx = Amount::Usdc(10);
  Amount balance;
};

struct Vendor {
  std::string name, pay_to, resource;
  uint32_t consecutive_failures = 0;
};

struct Pending {
  TimeMs time;
  uint64_t seq;
  std::string subject, line;
  bool operator>(const Pending& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

struct PaymentSpec {
  uint32_t agent = 0;
  size_t vendor = 0;
  Amount amount;
  TimeMs t;
  int64_t validity_s = 300;
  enum Outcome { kSettle, kFail, kCancel, kHang } outcome = kSettle;
  std::optional<TimeMs> outcome_at;
  bool chain = true;             // on-chain logs for a settlement
  bool chain_on_failure = false; // the ledger says failed, the chain says paid
  std::optional<Amount> transfer_amount;
  std::string transfer_to, transfer_asset, nonce, tx;
  std::optional<uint64_t> confirmations;
  bool reorg = false;
};

struct PaymentOut {
  std::string payment_id, nonce, tx, auth_key;
  uint64_t log_index = 0;
  TimeMs settle_t, block_t;
};

// A finding the injections must produce, open while from <= as_of < until.
struct TruthItem {
  TruthFinding f;
  TimeMs from{INT64_MIN}, until = kForever;
};

struct VendorModel {
  bool has_settle = false;
  TimeMs max_settle;
  std::vector<TimeMs> failures;
};

struct BalanceModel {
  uint64_t block = 0;
  Amount balance;
  std::string key;
};

class Gen {
 public:
  Gen(const GeneratorOptions& o, const std::function<void(std::string_view, std::string_view)>& emit)
      : o_(o), emit_(emit), rng_(o.seed) {}

  GeneratorStats Run();

 private:
  std::string Envelope(const char* type, TimeMs t, const std::string& subject, const char* source);
  std::string NextId(TimeMs t);
  void Schedule(TimeMs t, const std::string& subject, std::string line) {
    heap_.push(Pending{t, seq_++, subject, std::move(line)});
  }
  void EmitLine(const Pending& p);
  uint64_t BlockAt(TimeMs t) const { return block_base_ + static_cast<uint64_t>((t.ms - o_.start.ms) / 2000); }
  uint64_t Room() const { return o_.events - stats_.events - heap_.size(); }

  PaymentOut EmitPayment(const PaymentSpec& s);
  void EmitTransfer(TimeMs seen, const std::string& subject, const std::string& tx, uint64_t log_index, uint64_t block,
                    TimeMs block_t, const std::string& asset, const std::string& from, const std::string& to,
                    Amount amount, uint64_t confirmations, bool removed);
  void EmitAuthUsed(TimeMs seen, const std::string& subject, const std::string& authorizer, const std::string& nonce,
                    const std::string& tx, uint64_t block, bool removed);
  void EmitBalance(TimeMs t, uint32_t ai, Amount balance, uint64_t block);
  void EmitBadLine();

  void NormalPayment(TimeMs t);
  bool Inject(TimeMs t);
  void Commit(uint32_t agent, TimeMs t, Amount a);
  void VendorSettle(size_t v, TimeMs t);
  void VendorFail(size_t v, TimeMs t);
  void AddTruth(const char* kind, std::string key, const char* severity, TimeMs from = TimeMs{INT64_MIN},
                TimeMs until = kForever) {
    truth_.push_back(TruthItem{TruthFinding{kind, std::move(key), severity}, from, until});
  }
  void ComputeTruth();

  GeneratorOptions o_;
  const std::function<void(std::string_view, std::string_view)>& emit_;
  Rng rng_;
  std::vector<Agent> agents_;
  std::vector<Vendor> vendors_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> heap_;
  uint64_t seq_ = 0, id_counter_ = 0, block_base_ = 22000000;
  GeneratorStats stats_;
  int next_anomaly_ = 0;
  uint64_t flaky_count_ = 0, bad_kind_ = 0;
  // The model the ground truth comes from.
  std::vector<TruthItem> truth_;
  std::map<std::string, Amount> committed_;  // "agent|D|day" / "agent|M|month" -> committed
  struct Reservation {
    uint32_t agent;
    TimeMs t;
    Amount amount;
    TimeMs until;
  };
  std::vector<Reservation> reservations_;
  std::map<size_t, VendorModel> vendor_model_;
  std::map<uint32_t, BalanceModel> balances_;
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

std::string Gen::Envelope(const char* type, TimeMs t, const std::string& subject, const char* source) {
  std::string s;
  s.reserve(512);
  s += "{\"specversion\":\"1.0\",\"id\":\"";
  s += NextId(t);
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

void Gen::EmitLine(const Pending& p) {
  emit_(p.subject, p.line);
  ++stats_.events;
  if (stats_.events == 1) stats_.first = p.time;
  stats_.last = std::max(stats_.last, p.time);
  if (o_.bad_lines > 0 && rng_.Chance(o_.bad_lines)) EmitBadLine();
}

void Gen::EmitBadLine() {
  ++stats_.bad_lines;
  std::string line;
  switch (bad_kind_++ % 6) {
    case 0: line = "\x01\x02\xff garbage from a broken producer"; break;
    case 1:
      line = "{\"specversion\":\"1.0\",\"id\":\"" + NextId(stats_.last) +
             "\",\"source\":\"genesis/a2a-x402\",\"type\":\"x402.payment.settled\",\"time\":";
      break;  // truncated mid-object
    case 2: line = "{\"hello\":\"world\",\"answer\":42}"; break;
    case 3:
      line = Envelope("x402.payment.settled", stats_.last, agents_[0].name, kLedgerSource) +
             "{\"payment_id\":\"pay_bad\",\"tx_hash\":\"" + std::string(kUsdcBase) + "\",\"amount\":1.5}}";
      break;  // amount as a JSON number (and a short tx hash)
    case 4:
      line = Envelope("x402.payment.refunded", stats_.last, agents_[0].name, kLedgerSource) +
             "{\"payment_id\":\"pay_bad\"}}";
      break;  // unknown type
    default:
      line = Envelope("x402.payment.authorized", stats_.last, agents_[0].name, kLedgerSource) +
             "{\"payment_id\":\"pay_bad\",\"amount\":\"-5\"}}";
      break;
  }
  emit_("", line);
}

void Gen::Commit(uint32_t agent, TimeMs t, Amount a) {
  const std::string& name = agents_[agent].name;
  for (const std::string& k : {name + "|D|" + DayBucket(t), name + "|M|" + MonthBucket(t)}) {
    committed_[k] = SaturatingAdd(committed_[k], a);
  }
  agents_[agent].balance = CheckedSub(agents_[agent].balance, a).value_or(Amount{});
}

// The streak model: failures after the vendor's latest settlement, by event time.
void Gen::VendorSettle(size_t v, TimeMs t) {
  VendorModel& m = vendor_model_[v];
  if (m.has_settle && t <= m.max_settle) return;
  m.has_settle = true;
  m.max_settle = t;
  std::erase_if(m.failures, [&](TimeMs f) { return f <= t; });
}

void Gen::VendorFail(size_t v, TimeMs t) {
  VendorModel& m = vendor_model_[v];
  if (m.has_settle && t <= m.max_settle) return;
  m.failures.push_back(t);
}

void Gen::EmitTransfer(TimeMs seen, const std::string& subject, const std::string& tx, uint64_t log_index,
                       uint64_t block, TimeMs block_t, const std::string& asset, const std::string& from,
                       const std::string& to, Amount amount, uint64_t confirmations, bool removed) {
  std::string line = Envelope("x402.chain.transfer", seen, subject, kChainSource);
  JsonWriter j(&line);
  j.BeginObject().Field("network", "base").Field("tx_hash", tx);
  j.Key("log_index").Uint(log_index);
  j.Key("block_number").Uint(block);
  j.Field("block_time", FormatRfc3339(block_t)).Field("asset", asset).Field("from", from).Field("to", to);
  j.Field("amount", ToAtomicString(amount));
  j.Key("confirmations").Uint(confirmations);
  j.Key("removed").Bool(removed).EndObject();
  line += "}";
  Schedule(seen, subject, std::move(line));
}

void Gen::EmitAuthUsed(TimeMs seen, const std::string& subject, const std::string& authorizer,
                       const std::string& nonce, const std::string& tx, uint64_t block, bool removed) {
  std::string line = Envelope("x402.chain.authorization_used", seen, subject, kChainSource);
  JsonWriter j(&line);
  j.BeginObject()
      .Field("network", "base")
      .Field("asset", kUsdcBase)
      .Field("authorizer", authorizer)
      .Field("nonce", nonce)
      .Field("tx_hash", tx);
  j.Key("block_number").Uint(block);
  if (removed) j.Key("removed").Bool(true);
  j.EndObject();
  line += "}";
  Schedule(seen, subject, std::move(line));
}

void Gen::EmitBalance(TimeMs t, uint32_t ai, Amount balance, uint64_t block) {
  Agent& a = agents_[ai];
  std::string line = Envelope("x402.wallet.balance", t, a.name, kChainSource);
  JsonWriter j(&line);
  j.BeginObject().Field("network", "base").Field("address", a.wallet).Field("asset", kUsdcBase);
  j.Field("balance", ToAtomicString(balance));
  j.Key("block_number").Uint(block).EndObject();
  line += "}";
  Schedule(t, a.name, std::move(line));
  BalanceModel& m = balances_[ai];
  m.key = std::string(kBase) + "|" + a.wallet + "|" + kUsdcBase;
  if (m.key.empty() || block > m.block || (block == m.block && balance < m.balance) || m.block == 0) {
    m.block = block;
    m.balance = balance;
  }
}

PaymentOut Gen::EmitPayment(const PaymentSpec& s) {
  Agent& a = agents_[s.agent];
  Vendor& v = vendors_[s.vendor];
  PaymentOut out;
  out.payment_id = "pay_" + NextId(s.t).substr(10);
  out.nonce = s.nonce.empty() ? Hex(rng_, 64) : s.nonce;
  out.auth_key = std::string(kBase) + "|" + kUsdcBase + "|" + a.wallet + "|" + out.nonce;
  ++stats_.payments;
  {
    std::string line = Envelope("x402.payment.authorized", s.t, a.name, kLedgerSource);
    JsonWriter j(&line);
    j.BeginObject()
        .Field("payment_id", out.payment_id)
        .Field("vendor", v.name)
        .Field("resource", v.resource + "?q=" + std::to_string(rng_.Below(100000)))
        .Field("network", rng_.Below(5) == 0 ? "eip155:8453" : "base")
        .Field("asset", MixedCase(kUsdcBase, rng_))
        .Field("payer", MixedCase(a.wallet, rng_))
        .Field("pay_to", v.pay_to)
        .Field("amount", ToAtomicString(s.amount))
        .Field("valid_after", std::to_string(s.t.ms / 1000 - 600))
        .Field("valid_before", std::to_string(s.t.ms / 1000 + s.validity_s))
        .Field("nonce", out.nonce)
        .EndObject();
    line += "}";
    Schedule(s.t, a.name, std::move(line));
  }
  if (s.amount > a.per_tx) {
    AddTruth("budget.per_transaction_exceeded", a.name + "|" + out.payment_id, "critical");
  }
  const TimeMs ot = s.outcome_at ? *s.outcome_at : s.t.plus_seconds(static_cast<int64_t>(rng_.Range(1, 4)));
  out.settle_t = ot;
  switch (s.outcome) {
    case PaymentSpec::kHang:
      reservations_.push_back({s.agent, s.t, s.amount, TimeMs{(s.t.ms / 1000 + s.validity_s) * 1000}});
      return out;
    case PaymentSpec::kCancel: {
      ++stats_.cancelled;
      std::string line = Envelope("x402.payment.cancelled", ot, a.name, kLedgerSource);
      JsonWriter j(&line);
      j.BeginObject().Field("payment_id", out.payment_id).Field("reason", "agent_aborted").EndObject();
      line += "}";
      Schedule(ot, a.name, std::move(line));
      return out;
    }
    case PaymentSpec::kFail: {
      ++stats_.failed;
      std::string line = Envelope("x402.payment.failed", ot, a.name, kLedgerSource);
      static const char* kReasons[] = {"insufficient_funds", "invalid_exact_evm_payload_signature",
                                       "unexpected_settle_error", "invalid_transaction_state"};
      JsonWriter j(&line);
      j.BeginObject().Field("payment_id", out.payment_id).Field("reason", kReasons[rng_.Below(4)]);
      j.Key("retryable").Bool(rng_.Below(2) == 0).EndObject();
      line += "}";
      Schedule(ot, a.name, std::move(line));
      VendorFail(s.vendor, ot);
      if (!s.chain_on_failure) return out;
      Commit(s.agent, s.t, s.amount);  // the chain shows the money left the wallet
      break;
    }
    case PaymentSpec::kSettle: {
      ++stats_.settled;
      out.tx = s.tx.empty() ? Hex(rng_, 64) : s.tx;
      std::string line = Envelope("x402.payment.settled", ot, a.name, kLedgerSource);
      JsonWriter j(&line);
      j.BeginObject().Field("payment_id", out.payment_id).Field("tx_hash", out.tx);
      if (rng_.Below(2)) j.Field("amount", ToAtomicString(s.amount));
      j.EndObject();
      line += "}";
      Schedule(ot, a.name, std::move(line));
      VendorSettle(s.vendor, ot);
      Commit(s.agent, s.t, s.amount);
      if (!s.chain) return out;
      break;
    }
  }
  if (out.tx.empty()) out.tx = Hex(rng_, 64);
  // The chain watcher sees the block a few seconds later.
  out.block_t = ot.plus_seconds(static_cast<int64_t>(rng_.Range(1, 3)));
  const uint64_t block = BlockAt(out.block_t);
  const TimeMs seen = out.block_t.plus_seconds(static_cast<int64_t>(rng_.Range(2, 12)));
  out.log_index = rng_.Below(40) + 1;
  const uint64_t conf = s.confirmations ? *s.confirmations : rng_.Range(12, 40);
  const Amount tamount = s.transfer_amount ? *s.transfer_amount : s.amount;
  const std::string to = s.transfer_to.empty() ? v.pay_to : s.transfer_to;
  const std::string asset = s.transfer_asset.empty() ? kUsdcBase : s.transfer_asset;
  EmitAuthUsed(seen, a.name, a.wallet, out.nonce, out.tx, block, false);
  EmitTransfer(seen, a.name, out.tx, out.log_index, block, out.block_t, asset, a.wallet, to, tamount, conf, false);
  if (s.reorg) {
    const TimeMs later = seen.plus_seconds(30);
    EmitAuthUsed(later, a.name, a.wallet, out.nonce, out.tx, block, true);
    EmitTransfer(later, a.name, out.tx, out.log_index, block, out.block_t, asset, a.wallet, to, tamount, conf, true);
  }
  return out;
}

void Gen::NormalPayment(TimeMs t) {
  const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
  Agent& a = agents_[ai];
  // Realistic API prices: mostly 0.001 .. 0.02 USDC per call, sometimes up to 0.25.
  Amount amount{u128(rng_.Range(1, 20)) * 1000};
  if (rng_.Below(8) == 0) amount = Amount{u128(rng_.Range(20, 250)) * 1000};
  // Normal traffic stays under 70 % of every budget: skip a payment that would not.
  const Amount day = committed_[a.name + "|D|" + DayBucket(t)], month = committed_[a.name + "|M|" + MonthBucket(t)];
  if (MulDiv(SaturatingAdd(day, amount), 10, 7) > a.daily_limit ||
      MulDiv(SaturatingAdd(month, amount), 10, 7) > a.monthly_limit) {
    return;
  }
  PaymentSpec s;
  s.agent = ai;
  s.vendor = rng_.Below(o_.vendors);
  s.amount = amount;
  s.t = t;
  Vendor& v = vendors_[s.vendor];
  // Failures are rare and never three in a row for one vendor in normal traffic.
  const uint64_t roll = rng_.Below(1000);
  if (roll < 25 && v.consecutive_failures < 2) {
    ++v.consecutive_failures;
    s.outcome = PaymentSpec::kFail;
  } else if (roll < 35) {
    s.outcome = PaymentSpec::kCancel;
  } else {
    v.consecutive_failures = 0;
  }
  if (s.outcome == PaymentSpec::kFail) {
    // Keep normal failures strictly after the vendor's last settlement in event time too.
    s.outcome_at = t.plus_seconds(4);
  }
  EmitPayment(s);
}

// Injects the next anomaly kind (round robin) if there is room for its events.
bool Gen::Inject(TimeMs t) {
  const Anomaly kind = Anomaly(next_anomaly_);
  const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
  Agent& a = agents_[ai];
  PaymentSpec s;
  s.agent = ai;
  s.vendor = rng_.Below(o_.vendors);
  s.amount = Amount{u128(rng_.Range(10, 500)) * 1000};
  s.t = t;
  const std::string net = kBase;
  const uint64_t room = Room();
  auto need = [&](uint64_t n) { return room >= n; };
  switch (kind) {
    case Anomaly::kMissingOnChain: {
      if (!need(2)) return false;
      s.chain = false;
      auto p = EmitPayment(s);
      AddTruth("recon.missing_on_chain", p.payment_id, "critical", p.settle_t.plus_seconds(600));
      break;
    }
    case Anomaly::kAmountMismatch: {
      if (!need(4)) return false;
      s.transfer_amount = Amount{s.amount.v + u128(rng_.Range(1, 50)) * 10000};
      auto p = EmitPayment(s);
      AddTruth("recon.amount_mismatch", net + "|" + p.tx + "|" + std::to_string(p.log_index), "critical");
      break;
    }
    case Anomaly::kRecipientMismatch: {
      if (!need(4)) return false;
      s.transfer_to = Hex(rng_, 40);
      auto p = EmitPayment(s);
      AddTruth("recon.recipient_mismatch", net + "|" + p.tx + "|" + std::to_string(p.log_index), "critical");
      break;
    }
    case Anomaly::kAssetMismatch: {
      if (!need(4)) return false;
      s.transfer_asset = kOtherToken;
      auto p = EmitPayment(s);
      AddTruth("recon.asset_mismatch", net + "|" + p.tx + "|" + std::to_string(p.log_index), "critical");
      break;
    }
    case Anomaly::kDuplicateClaim: {
      if (!need(6)) return false;
      auto p1 = EmitPayment(s);
      PaymentSpec s2 = s;
      s2.t = t.plus_seconds(5);
      s2.outcome_at = p1.settle_t.plus_seconds(10);
      s2.tx = p1.tx;
      s2.chain = false;
      EmitPayment(s2);
      AddTruth("recon.duplicate_claim", net + "|" + p1.tx, "critical");
      break;
    }
    case Anomaly::kPaidButFailed: {
      if (!need(4)) return false;
      s.outcome = PaymentSpec::kFail;
      s.chain_on_failure = true;
      auto p = EmitPayment(s);
      AddTruth("recon.paid_but_failed", p.auth_key, "critical");
      break;
    }
    case Anomaly::kUnrecordedTransfer: {
      if (!need(1)) return false;
      const std::string tx = Hex(rng_, 64);
      const uint64_t log = rng_.Below(40) + 1;
      const Amount amt = Amount::Usdc(rng_.Range(20, 900));
      EmitTransfer(t.plus_seconds(5), a.name, tx, log, BlockAt(t), t, kUsdcBase, a.wallet, Hex(rng_, 40), amt, 20,
                   false);
      AddTruth("recon.unrecorded_transfer", net + "|" + tx + "|" + std::to_string(log), "critical",
               t.plus_seconds(600));
      break;
    }
    case Anomaly::kReorged: {
      if (!need(6)) return false;
      s.reorg = true;
      auto p = EmitPayment(s);
      AddTruth("recon.reorged", net + "|" + p.tx + "|" + std::to_string(p.log_index), "critical");
      break;
    }
    case Anomaly::kUnconfirmed: {
      if (!need(4)) return false;
      s.confirmations = 2;
      auto p = EmitPayment(s);
      AddTruth("recon.unconfirmed", net + "|" + p.tx + "|" + std::to_string(p.log_index), "warning",
               p.settle_t.plus_seconds(1800));
      break;
    }
    case Anomaly::kStale: {
      if (!need(1)) return false;
      s.outcome = PaymentSpec::kHang;
      s.validity_s = 7200;
      auto p = EmitPayment(s);
      const TimeMs vb{(t.ms / 1000 + 7200) * 1000};
      AddTruth("authorization.stale", p.auth_key, "warning", t.plus_seconds(900), vb);
      AddTruth("authorization.expired", p.auth_key, "info", vb);
      break;
    }
    case Anomaly::kExpired: {
      if (!need(1)) return false;
      s.outcome = PaymentSpec::kHang;
      s.validity_s = 120;
      auto p = EmitPayment(s);
      AddTruth("authorization.expired", p.auth_key, "info", TimeMs{(t.ms / 1000 + 120) * 1000});
      break;
    }
    case Anomaly::kSettledAfterExpiry: {
      if (!need(4)) return false;
      s.validity_s = 60;
      s.outcome_at = TimeMs{(t.ms / 1000 + 70) * 1000};
      auto p = EmitPayment(s);
      AddTruth("authorization.settled_after_expiry", p.auth_key, "critical");
      break;
    }
    case Anomaly::kNonceReuse: {
      if (!need(6)) return false;
      auto p1 = EmitPayment(s);
      PaymentSpec s2 = s;
      s2.t = t.plus_seconds(20);
      s2.nonce = p1.nonce;
      s2.outcome = PaymentSpec::kCancel;
      EmitPayment(s2);
      AddTruth("authorization.nonce_reuse", p1.auth_key, "critical");
      break;
    }
    case Anomaly::kVendorStreak: {
      const uint64_t n = (flaky_count_ % 2 == 0) ? 3 : 5;
      if (!need(2 * n)) return false;
      Vendor v;
      v.name = "flaky-api-" + std::to_string(++flaky_count_);
      v.pay_to = Hex(rng_, 40);
      v.resource = "https://flaky" + std::to_string(flaky_count_) + ".example.com/v1/data";
      vendors_.push_back(std::move(v));
      for (uint64_t i = 0; i < n; ++i) {
        PaymentSpec f = s;
        f.agent = static_cast<uint32_t>(rng_.Below(agents_.size()));
        f.vendor = vendors_.size() - 1;
        f.t = t.plus_seconds(static_cast<int64_t>(2 * i));
        f.outcome = PaymentSpec::kFail;
        EmitPayment(f);
      }
      break;  // the truth comes from the vendor model
    }
    case Anomaly::kWalletLow: {
      if (!need(1)) return false;
      const Amount low = Amount::Usdc(stats_.anomalies % 2 ? 30 : 150);
      EmitBalance(t, ai, low, BlockAt(t) + 10000000);  // far ahead: the latest observation
      break;  // the truth comes from the balance model
    }
    case Anomaly::kPerTxExceeded: {
      if (!need(4)) return false;
      s.amount = SaturatingAdd(a.per_tx, Amount::Usdc(1));
      EmitPayment(s);  // the per-transaction truth is added by EmitPayment
      break;
    }
    case Anomaly::kOverspend: {
      // Spend the agent's whole daily budget (and a bit) in a burst of maximal payments.
      const Amount day = committed_[a.name + "|D|" + DayBucket(t)];
      const Amount each = std::min(a.per_tx, Amount::Usdc(5));
      uint64_t k = 1;
      if (day < a.daily_limit) k = static_cast<uint64_t>((a.daily_limit.v - day.v) / each.v) + 2;
      if (!need(4 * k)) return false;
      for (uint64_t i = 0; i < k; ++i) {
        PaymentSpec o = s;
        o.amount = each;
        o.t = t.plus_seconds(static_cast<int64_t>(i));
        EmitPayment(o);
      }
      break;  // the truth comes from the budget model
    }
    case Anomaly::kCount: return false;
  }
  ++stats_.anomalies;
  next_anomaly_ = (next_anomaly_ + 1) % static_cast<int>(Anomaly::kCount);
  return true;
}

// Ground truth as of the last event time, from the model.
void Gen::ComputeTruth() {
  const TimeMs as_of = stats_.last;
  std::vector<TruthFinding> out;
  for (const auto& item : truth_) {
    if (item.from <= as_of && as_of < item.until) out.push_back(item.f);
  }
  // Budgets: only the buckets containing as_of are still open.
  for (uint32_t ai = 0; ai < agents_.size(); ++ai) {
    const Agent& a = agents_[ai];
    for (char period : {'D', 'M'}) {
      const std::string bucket = period == 'D' ? DayBucket(as_of) : MonthBucket(as_of);
      Amount spend = committed_[a.name + "|" + period + "|" + bucket];
      for (const auto& r : reservations_) {
        if (r.agent != ai || as_of >= r.until) continue;
        if ((period == 'D' ? DayBucket(r.t) : MonthBucket(r.t)) == bucket) spend = SaturatingAdd(spend, r.amount);
      }
      const Amount limit = period == 'D' ? a.daily_limit : a.monthly_limit;
      const std::string pname = period == 'D' ? "daily" : "monthly";
      for (uint32_t pct : {80u, 90u, 95u}) {
        if (MulDiv(spend, 100, pct) >= limit) {
          out.push_back({"budget.threshold", a.name + "|" + pname + "|" + bucket + "|" + std::to_string(pct),
                         pct >= 95 ? "critical" : "warning"});
        }
      }
      if (spend >= limit) out.push_back({"budget.exhausted", a.name + "|" + pname + "|" + bucket, "critical"});
    }
  }
  for (const auto& [vi, m] : vendor_model_) {
    if (m.failures.size() >= 3) {
      out.push_back({"vendor.failure_streak", vendors_[vi].name, m.failures.size() >= 5 ? "critical" : "warning"});
    }
  }
  for (const auto& [ai, m] : balances_) {
    if (m.balance < Amount::Usdc(200)) {
      out.push_back({"wallet.balance_low", m.key, m.balance < Amount::Usdc(50) ? "critical" : "warning"});
    }
  }
  std::sort(out.begin(), out.end());
  stats_.truth = std::move(out);
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
    a.balance = Amount::Usdc(5000 + setup.Below(5000));
    agents_.push_back(std::move(a));
  }
  // Set-up events: each agent's wallet, and explicit limits for every other agent.
  for (uint32_t i = 0; i < o_.agents && stats_.events + heap_.size() < o_.events; ++i) {
    Agent& a = agents_[i];
    std::string line = Envelope("x402.wallet.registered", t, a.name, kLedgerSource);
    JsonWriter j(&line);
    j.BeginObject().Field("network", "base").Field("address", a.wallet).EndObject();
    line += "}";
    Schedule(t, a.name, std::move(line));
    if (i % 2 == 0 && stats_.events + heap_.size() < o_.events) {
      a.daily_limit = Amount::Usdc(50 + 50 * setup.Below(5));
      a.monthly_limit = Amount::Usdc(1000 + 500 * setup.Below(4));
      a.per_tx = Amount::Usdc(5);
      std::string l2 = Envelope("x402.budget.limits_set", t, a.name, kLedgerSource);
      JsonWriter j2(&l2);
      j2.BeginObject()
          .Field("daily_limit", ToUsdcString(a.daily_limit))
          .Field("monthly_limit", ToUsdcString(a.monthly_limit))
          .Field("per_transaction_max", ToUsdcString(a.per_tx))
          .EndObject();
      l2 += "}";
      Schedule(t, a.name, std::move(l2));
    }
  }
  // Default rate: one payment per agent every 20 s of event time.
  const double pps = o_.payments_per_second > 0 ? o_.payments_per_second : 0.05 * o_.agents;
  const double gap_ms = 1000.0 / pps;
  double clock = static_cast<double>(t.ms);
  uint64_t balance_every = 97;
  while (stats_.events + heap_.size() < o_.events) {
    clock += gap_ms * (0.5 + static_cast<double>(rng_.Below(1000)) / 1000.0);
    t = TimeMs{static_cast<int64_t>(clock)};
    while (!heap_.empty() && heap_.top().time <= t) {
      EmitLine(heap_.top());
      heap_.pop();
    }
    if (Room() >= 5) {
      if (!(o_.anomalies > 0 && rng_.Chance(o_.anomalies) && Inject(t))) NormalPayment(t);
    } else {
      // Fill the last few lines with balance observations so the count is exact.
      const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
      EmitBalance(t, ai, agents_[ai].balance, BlockAt(t));
    }
    if (--balance_every == 0) {
      balance_every = 97;
      if (Room() >= 6) {
        const uint32_t ai = static_cast<uint32_t>(rng_.Below(agents_.size()));
        EmitBalance(t, ai, agents_[ai].balance, BlockAt(t));
      }
    }
  }
  while (!heap_.empty()) {
    EmitLine(heap_.top());
    heap_.pop();
  }
  ComputeTruth();
  return stats_;
}

}  // namespace

std::string GeneratorStats::TruthJson() const {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("as_of", FormatRfc3339(last));
  j.Key("open_findings").BeginArray();
  for (const auto& f : truth) {
    j.BeginObject().Field("kind", f.kind).Field("key", f.key).Field("severity", f.severity).EndObject();
  }
  j.EndArray();
  j.EndObject();
  out.push_back('\n');
  return out;
}

GeneratorStats Generate(const GeneratorOptions& opts,
                        const std::function<void(std::string_view, std::string_view)>& emit) {
  Gen g(opts, emit);
  return g.Run();
}

Result<GeneratorStats> GenerateToFile(const GeneratorOptions& opts, const std::string& path,
                                      const std::string& truth_path) {
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
  if (!truth_path.empty()) {
    std::FILE* t = std::fopen(truth_path.c_str(), "we");
    if (!t) return Err(truth_path + ": cannot create: " + std::strerror(errno));
    std::string json = stats.TruthJson();
    bool tok = std::fwrite(json.data(), 1, json.size(), t) == json.size();
    tok = (std::fclose(t) == 0) && tok;
    if (!tok) return Err(truth_path + ": write failed");
  }
  return stats;
}

}  // namespace x402
