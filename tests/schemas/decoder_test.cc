// EventDecoder (schemas/decoder.h) against EVENTS.md sections 1 and 2: every rejection rule with
// the exact reason naming the field, the canonical forms of accepted events, the example files
// in schemas/examples/ (valid ones decode, invalid ones give their .reason), agreement of the
// required-field lists with the JSON Schemas, and agreement of the per-CPU decoder backends.
#include "schemas/decoder.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "schemas/decoder_backend.h"

namespace x402 {
namespace {

namespace fs = std::filesystem;

// Fields of a JSON object in order: name and raw JSON value.
using Fields = std::vector<std::pair<std::string, std::string>>;

std::string Q(const std::string& s) { return "\"" + s + "\""; }

std::string ObjectJson(const Fields& fields) {
  std::string out = "{";
  for (const auto& [name, raw] : fields) {
    if (out.size() > 1) out += ",";
    out += Q(name) + ":" + raw;
  }
  return out + "}";
}

Fields With(Fields f, const std::string& name, const std::string& raw) {
  for (auto& [n, v] : f) {
    if (n == name) {
      v = raw;
      return f;
    }
  }
  f.emplace_back(name, raw);
  return f;
}

Fields Without(Fields f, const std::string& name) {
  f.erase(std::remove_if(f.begin(), f.end(), [&](const auto& p) { return p.first == name; }),
          f.end());
  return f;
}

// Realistic values (Base USDC, an agent wallet, a vendor) in mixed case where case must not matter.
const std::string kUsdcBase = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const std::string kUsdcBaseLower = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const std::string kPayer = "0x6B1e5Fe3C7a1d2B4e8F90a12C3d4E5f6A7b8C9d0";
const std::string kPayerLower = "0x6b1e5fe3c7a1d2b4e8f90a12c3d4e5f6a7b8c9d0";
const std::string kPayTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const std::string kPayToLower = "0x209693bc6afc0c5328ba36faf03c514ef312287c";
const std::string kNonce = "0x9E3F156324D42F0EA4B6F4FCE81D56FBD64A2143A3FDD60A130D9C90E5B4D6C1";
const std::string kNonceLower =
    "0x9e3f156324d42f0ea4b6f4fce81d56fbd64a2143a3fdd60a130d9c90e5b4d6c1";
const std::string kTx = "0x045EF594D81D2F2134D61151ED71260D8F79E657C7CB6ED1D893688532017409";
const std::string kTxLower = "0x045ef594d81d2f2134d61151ed71260d8f79e657c7cb6ed1d893688532017409";
const std::string kBlock = "0x9C1B0E5D2A7F4B3C8E6D5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D";
const std::string kBlockLower =
    "0x9c1b0e5d2a7f4b3c8e6d5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
const std::string kUsdcSolana = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const std::string kSolanaPayer = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";
const std::string kSolanaSig =
    "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW";
constexpr int64_t kTimeMs = 1'763'373'600'123;  // 2025-11-17T10:00:00.123Z

Fields Envelope(const std::string& type) {
  return {{"specversion", Q("1.0")},
          {"id", Q("01JD3W6Q1V7M1X9Q8S2A4B5C6D")},
          {"source", Q("genesis/a2a-x402")},
          {"type", Q(type)},
          {"time", Q("2025-11-17T10:00:00.123Z")},
          {"subject", Q("builder_agent")},
          {"datacontenttype", Q("application/json")}};
}

std::string EventJson(const Fields& envelope, const Fields& data) {
  return ObjectJson(With(envelope, "data", ObjectJson(data)));
}

// One valid `data` per type and the fields EVENTS.md section 2 requires.
struct TypeCase {
  std::string type;
  Fields data;
  std::vector<std::string> required;
};

const std::vector<TypeCase>& Types() {
  static const std::vector<TypeCase> kTypes = {
      {"x402.budget.limits_set",
       {{"daily_limit", Q("100.00")},
        {"monthly_limit", Q("1000")},
        {"per_transaction_max", Q("10.5")}},
       {}},
      {"x402.wallet.registered",
       {{"network", Q("base")}, {"address", Q(kPayer)}},
       {"network", "address"}},
      {"x402.payment.authorized",
       {{"payment_id", Q("pay_7f3c2a91")},
        {"vendor", Q("vendor-7")},
        {"resource", Q("https://api.weather.example/v1/forecast?city=Lisbon")},
        {"network", Q("base")},
        {"asset", Q(kUsdcBase)},
        {"payer", Q(kPayer)},
        {"pay_to", Q(kPayTo)},
        {"amount", Q("1500000")},
        {"valid_after", Q("1763373540")},
        {"valid_before", Q("1763374200")},
        {"nonce", Q(kNonce)}},
       {"payment_id", "vendor", "resource", "network", "asset", "payer", "pay_to", "amount",
        "valid_after", "valid_before", "nonce"}},
      {"x402.payment.settled",
       {{"payment_id", Q("pay_7f3c2a91")}, {"tx_hash", Q(kTx)}, {"amount", Q("1500000")}},
       {"payment_id", "tx_hash"}},
      {"x402.payment.failed",
       {{"payment_id", Q("pay_91d0e4f2")},
        {"reason", Q("insufficient_funds")},
        {"tx_hash", Q(kTx)},
        {"retryable", "false"}},
       {"payment_id", "reason"}},
      {"x402.payment.cancelled",
       {{"payment_id", Q("pay_b3c4d5e6")}, {"reason", Q("user aborted")}},
       {"payment_id"}},
      {"x402.chain.transfer",
       {{"network", Q("base")},
        {"tx_hash", Q(kTx)},
        {"log_index", "3"},
        {"block_number", "38291045"},
        {"block_time", Q("2025-11-17T10:00:03Z")},
        {"asset", Q(kUsdcBase)},
        {"from", Q(kPayer)},
        {"to", Q(kPayTo)},
        {"amount", Q("1500000")},
        {"confirmations", "12"},
        {"removed", "false"},
        {"block_hash", Q(kBlock)}},
       {"network", "tx_hash", "log_index", "block_number", "block_time", "asset", "from", "to",
        "amount", "confirmations"}},
      {"x402.chain.authorization_used",
       {{"network", Q("base")},
        {"asset", Q(kUsdcBase)},
        {"authorizer", Q(kPayer)},
        {"nonce", Q(kNonce)},
        {"tx_hash", Q(kTx)},
        {"block_number", "38291045"},
        {"removed", "false"},
        {"block_hash", Q(kBlock)}},
       {"network", "asset", "authorizer", "nonce", "tx_hash", "block_number"}},
      {"x402.chain.authorization_canceled",
       {{"network", Q("base")},
        {"asset", Q(kUsdcBase)},
        {"authorizer", Q(kPayer)},
        {"nonce", Q(kNonce)},
        {"tx_hash", Q(kTx)},
        {"block_number", "38291350"},
        {"removed", "null"},
        {"block_hash", "null"}},
       {"network", "asset", "authorizer", "nonce", "tx_hash", "block_number"}},
      {"x402.wallet.balance",
       {{"network", Q("base")},
        {"address", Q(kPayer)},
        {"asset", Q(kUsdcBase)},
        {"balance", Q("187250000")},
        {"block_number", "38291045"}},
       {"network", "address", "asset", "balance", "block_number"}},
  };
  return kTypes;
}

const TypeCase& TypeNamed(const std::string& type) {
  for (const auto& t : Types())
    if (t.type == type) return t;
  std::abort();
}

// A valid event of `type` with its data changed by `data`.
std::string EventOf(const std::string& type, const Fields& data) {
  return EventJson(Envelope(type), data);
}
std::string EventOf(const std::string& type) { return EventOf(type, TypeNamed(type).data); }
std::string EventWithData(const std::string& type, const std::string& field,
                          const std::string& raw) {
  return EventOf(type, With(TypeNamed(type).data, field, raw));
}
std::string EventWithEnvelope(const std::string& type, const std::string& attr,
                              const std::string& raw) {
  return EventJson(With(Envelope(type), attr, raw), TypeNamed(type).data);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path SourceDir() {
  const char* dir = std::getenv("X402_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::path();
}

std::vector<fs::path> JsonFilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class DecoderTest : public testing::Test {
 protected:
  // The reason `json` is rejected for; "" (and a failure) if it is accepted.
  std::string Reject(const std::string& json) {
    auto r = decoder_.Decode(json);
    EXPECT_FALSE(r.ok()) << "accepted: " << json.substr(0, 400);
    return r.ok() ? "" : r.error();
  }
  Event Accept(const std::string& json) {
    auto r = decoder_.Decode(json);
    EXPECT_TRUE(r.ok()) << r.error() << "\n  in: " << json.substr(0, 400);
    return r.ok() ? *r : Event{};
  }

  EventDecoder decoder_;
};

// --- Accepted events and canonical forms -------------------------------------------------

TEST_F(DecoderTest, EveryTypeDecodesWithItsType) {
  for (const auto& t : Types()) {
    Event e = Accept(EventOf(t.type));
    EXPECT_EQ(EventTypeName(e.type), t.type);
    EXPECT_EQ(e.id, "01JD3W6Q1V7M1X9Q8S2A4B5C6D");
    EXPECT_EQ(e.source, "genesis/a2a-x402");
    EXPECT_EQ(e.subject, "builder_agent");
    EXPECT_EQ(e.time.ms, kTimeMs);
  }
}

TEST_F(DecoderTest, AuthorizationIsDecodedInCanonicalForm) {
  Event e = Accept(EventOf("x402.payment.authorized"));
  EXPECT_EQ(e.type, EventType::kPaymentAuthorized);
  EXPECT_EQ(e.payment_id, "pay_7f3c2a91");
  EXPECT_EQ(e.vendor, "vendor-7");
  EXPECT_EQ(e.resource, "https://api.weather.example/v1/forecast?city=Lisbon");
  EXPECT_EQ(e.network, "eip155:8453");
  EXPECT_EQ(e.asset, kUsdcBaseLower);
  EXPECT_EQ(e.payer, kPayerLower);
  EXPECT_EQ(e.pay_to, kPayToLower);
  EXPECT_EQ(e.amount, Amount{1'500'000});
  EXPECT_EQ(e.valid_after, 1'763'373'540);
  EXPECT_EQ(e.valid_before, 1'763'374'200);
  EXPECT_EQ(e.nonce, kNonceLower);
}

TEST_F(DecoderTest, NetworkNameAndCaip2IdDecodeToTheSameNetwork) {
  Event by_name = Accept(EventWithData("x402.wallet.registered", "network", Q("base")));
  Event by_id = Accept(EventWithData("x402.wallet.registered", "network", Q("eip155:8453")));
  EXPECT_EQ(by_name.network, "eip155:8453");
  EXPECT_EQ(by_id.network, by_name.network);
  Event poly = Accept(EventWithData("x402.wallet.registered", "network", Q("polygon-amoy")));
  EXPECT_EQ(poly.network, "eip155:80002");
}

TEST_F(DecoderTest, AddressCaseDoesNotMatter) {
  Event upper = Accept(EventWithData("x402.wallet.registered", "address",
                                     Q("0X6B1E5FE3C7A1D2B4E8F90A12C3D4E5F6A7B8C9D0")));
  Event lower = Accept(EventWithData("x402.wallet.registered", "address", Q(kPayerLower)));
  EXPECT_EQ(upper.address, kPayerLower);
  EXPECT_EQ(lower.address, kPayerLower);
}

TEST_F(DecoderTest, TimeWithOffsetIsStoredAsUtc) {
  Event e =
      Accept(EventWithEnvelope("x402.payment.settled", "time", Q("2025-11-17T12:00:00.123+02:00")));
  EXPECT_EQ(e.time.ms, kTimeMs);
}

TEST_F(DecoderTest, ChainTransferFieldsAreDecoded) {
  Event e = Accept(EventOf("x402.chain.transfer"));
  EXPECT_EQ(e.network, "eip155:8453");
  EXPECT_EQ(e.tx_hash, kTxLower);
  EXPECT_TRUE(e.has_tx_hash);
  EXPECT_EQ(e.log_index, 3u);
  EXPECT_EQ(e.block_number, 38'291'045u);
  EXPECT_EQ(e.block_time.ms, 1'763'373'603'000);
  EXPECT_EQ(e.asset, kUsdcBaseLower);
  EXPECT_EQ(e.from, kPayerLower);
  EXPECT_EQ(e.to, kPayToLower);
  EXPECT_EQ(e.amount, Amount{1'500'000});
  EXPECT_EQ(e.confirmations, 12u);
  EXPECT_FALSE(e.removed);
  Event removed = Accept(EventWithData("x402.chain.transfer", "removed", "true"));
  EXPECT_TRUE(removed.removed);
}

// EVENTS.md: block_hash is optional on the chain log types, 0x + 64 hex, kept lowercase.
TEST_F(DecoderTest, BlockHashIsOptionalAndCanonical) {
  const auto& t = TypeNamed("x402.chain.transfer");
  EXPECT_EQ(Accept(EventOf(t.type)).block_hash, kBlockLower);
  EXPECT_EQ(Accept(EventOf(t.type, Without(t.data, "block_hash"))).block_hash, "");
  EXPECT_EQ(Accept(EventOf("x402.chain.authorization_used")).block_hash, kBlockLower);
  EXPECT_EQ(Accept(EventOf("x402.chain.authorization_canceled")).block_hash, "");
  EXPECT_NE(Reject(EventWithData(t.type, "block_hash", "\"0x1234\"")).find("data.block_hash"),
            std::string::npos);
  EXPECT_NE(Reject(EventWithData(t.type, "block_hash", "7")).find("data.block_hash"),
            std::string::npos);
}

TEST_F(DecoderTest, RemovedDefaultsToFalseWhenAbsentOrNull) {
  const auto& t = TypeNamed("x402.chain.transfer");
  EXPECT_FALSE(Accept(EventOf(t.type, Without(t.data, "removed"))).removed);
  EXPECT_FALSE(Accept(EventWithData(t.type, "removed", "null")).removed);
}

TEST_F(DecoderTest, AuthorizationLogsCarryTheAuthorizer) {
  for (const char* type : {"x402.chain.authorization_used", "x402.chain.authorization_canceled"}) {
    Event e = Accept(EventOf(type));
    EXPECT_EQ(e.authorizer, kPayerLower) << type;
    EXPECT_EQ(e.nonce, kNonceLower) << type;
    EXPECT_EQ(e.tx_hash, kTxLower) << type;
    EXPECT_EQ(e.asset, kUsdcBaseLower) << type;
    EXPECT_TRUE(e.from.empty()) << type;
  }
  EXPECT_TRUE(Accept(EventWithData("x402.chain.authorization_used", "removed", "true")).removed);
}

TEST_F(DecoderTest, WalletBalanceIsHeldInAmount) {
  Event e = Accept(EventOf("x402.wallet.balance"));
  EXPECT_EQ(e.amount, Amount{187'250'000});
  EXPECT_TRUE(e.has_amount);
  EXPECT_EQ(e.address, kPayerLower);
  EXPECT_EQ(e.block_number, 38'291'045u);
}

TEST_F(DecoderTest, LimitsCanBeSetResetOrLeftUnchanged) {
  Event set = Accept(EventOf("x402.budget.limits_set"));
  EXPECT_EQ(set.daily_limit.kind, LimitUpdate::Kind::kSet);
  EXPECT_EQ(set.daily_limit.value, Amount::Usdc(100));
  EXPECT_EQ(set.monthly_limit.value, Amount::Usdc(1000));
  EXPECT_EQ(set.per_transaction_max.value, Amount{10'500'000});
  Event mixed = Accept(EventOf("x402.budget.limits_set",
                               {{"daily_limit", "null"}, {"per_transaction_max", Q("2")}}));
  EXPECT_EQ(mixed.daily_limit.kind, LimitUpdate::Kind::kReset);
  EXPECT_EQ(mixed.monthly_limit.kind, LimitUpdate::Kind::kUnchanged);
  EXPECT_EQ(mixed.per_transaction_max.kind, LimitUpdate::Kind::kSet);
  EXPECT_EQ(mixed.per_transaction_max.value, Amount::Usdc(2));
  Event none = Accept(EventOf("x402.budget.limits_set", {}));
  EXPECT_EQ(none.daily_limit.kind, LimitUpdate::Kind::kUnchanged);
  EXPECT_EQ(none.monthly_limit.kind, LimitUpdate::Kind::kUnchanged);
  EXPECT_EQ(none.per_transaction_max.kind, LimitUpdate::Kind::kUnchanged);
}

TEST_F(DecoderTest, SettledAmountIsOptional) {
  const auto& t = TypeNamed("x402.payment.settled");
  Event with = Accept(EventOf(t.type));
  EXPECT_TRUE(with.has_amount);
  EXPECT_EQ(with.amount, Amount{1'500'000});
  Event without = Accept(EventOf(t.type, Without(t.data, "amount")));
  EXPECT_FALSE(without.has_amount);
  Event null_amount = Accept(EventWithData(t.type, "amount", "null"));
  EXPECT_FALSE(null_amount.has_amount);
}

TEST_F(DecoderTest, NullOptionalFieldsAreAbsent) {
  Event failed = Accept(EventOf("x402.payment.failed", {{"payment_id", Q("p")},
                                                        {"reason", Q("invalid_transaction_state")},
                                                        {"tx_hash", "null"},
                                                        {"retryable", "null"}}));
  EXPECT_FALSE(failed.has_tx_hash);
  EXPECT_TRUE(failed.tx_hash.empty());
  EXPECT_FALSE(failed.retryable.has_value());
  EXPECT_EQ(failed.reason, "invalid_transaction_state");
  Event cancelled =
      Accept(EventOf("x402.payment.cancelled", {{"payment_id", Q("p")}, {"reason", "null"}}));
  EXPECT_FALSE(cancelled.has_reason);
}

TEST_F(DecoderTest, FailedCarriesRetryableAndTxHash) {
  Event e = Accept(EventWithData("x402.payment.failed", "retryable", "true"));
  ASSERT_TRUE(e.retryable.has_value());
  EXPECT_TRUE(*e.retryable);
  EXPECT_TRUE(e.has_tx_hash);
  EXPECT_EQ(e.tx_hash, kTxLower);
  EXPECT_EQ(e.reason, "insufficient_funds");
}

TEST_F(DecoderTest, ReasonMayBeEmptyButNotLongerThan1024Bytes) {
  EXPECT_TRUE(Accept(EventWithData("x402.payment.failed", "reason", Q(""))).has_reason);
  Accept(EventWithData("x402.payment.failed", "reason", Q(std::string(1024, 'r'))));
  EXPECT_EQ(Reject(EventWithData("x402.payment.failed", "reason", Q(std::string(1025, 'r')))),
            "data.reason: length 1025 outside 0..1024 bytes");
  Event cancelled = Accept(EventOf("x402.payment.cancelled", {{"payment_id", Q("p")}}));
  EXPECT_FALSE(cancelled.has_reason);
}

TEST_F(DecoderTest, SolanaValuesAreBase58AndKeptAsGiven) {
  Event e = Accept(EventOf(
      "x402.payment.authorized",
      With(With(With(With(With(TypeNamed("x402.payment.authorized").data, "network", Q("solana")),
                          "asset", Q(kUsdcSolana)),
                     "payer", Q(kSolanaPayer)),
                "pay_to", Q(kSolanaPayer)),
           "nonce", Q(kSolanaSig))));
  EXPECT_EQ(e.network, "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
  EXPECT_EQ(e.asset, kUsdcSolana);
  EXPECT_EQ(e.payer, kSolanaPayer);
  EXPECT_EQ(e.nonce, kSolanaSig);
}

TEST_F(DecoderTest, EvmAddressOnSolanaAndBase58OnEvmAreRejected) {
  const std::string sol =
      EventOf("x402.wallet.registered", {{"network", Q("solana-devnet")}, {"address", Q(kPayer)}});
  EXPECT_EQ(Reject(sol), "data.address: expected address (base58), got \"" + kPayer + "\"");
  EXPECT_EQ(Reject(EventWithData("x402.wallet.registered", "address", Q(kSolanaPayer))),
            "data.address: expected address (0x + 40 hex), got \"" + kSolanaPayer + "\"");
}

TEST_F(DecoderTest, SettlementTxHashMayBeAnEvmHashOrASolanaSignature) {
  // payment.settled and payment.failed carry no network: the value's form decides.
  Event evm = Accept(EventWithData("x402.payment.settled", "tx_hash", Q(kTx)));
  EXPECT_EQ(evm.tx_hash, kTxLower);
  Event sol = Accept(EventWithData("x402.payment.settled", "tx_hash", Q(kSolanaSig)));
  EXPECT_EQ(sol.tx_hash, kSolanaSig);
  Event failed = Accept(EventWithData("x402.payment.failed", "tx_hash", Q(kSolanaSig)));
  EXPECT_EQ(failed.tx_hash, kSolanaSig);
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "tx_hash", Q("0x1234"))),
            "data.tx_hash: expected 32-byte hex value (0x + 64 hex), got \"0x1234\"");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "tx_hash", Q("not a hash"))),
            "data.tx_hash: expected a transaction hash (0x + 64 hex, or a base58 Solana "
            "signature), got \"not a hash\"");
}

TEST_F(DecoderTest, DataBeforeTypeIsAccepted) {
  const auto& t = TypeNamed("x402.payment.authorized");
  Fields env = Envelope(t.type);
  const std::string reordered = "{\"data\":" + ObjectJson(t.data) + "," + ObjectJson(env).substr(1);
  ASSERT_EQ(reordered.find("\"data\""), 1u);
  Event e = Accept(reordered);
  EXPECT_EQ(e.type, EventType::kPaymentAuthorized);
  EXPECT_EQ(e.nonce, kNonceLower);
  EXPECT_EQ(e.amount, Amount{1'500'000});
  // ... and its data is still fully checked.
  const std::string bad =
      "{\"data\":" + ObjectJson(With(t.data, "amount", "1.5")) + "," + ObjectJson(env).substr(1);
  EXPECT_EQ(Reject(bad), "data.amount: expected atomic-unit integer string, got 1.5");
}

TEST_F(DecoderTest, UnknownExtraAttributesAndFieldsAreIgnored) {
  Fields env = Envelope("x402.payment.settled");
  env = With(env, "traceparent", Q("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  env = With(env, "Data", "42");  // names are case-sensitive: not `data`
  env = With(env, "partitionkey", "{\"nested\":[1,-2.5e+3,true,false,null,\"s\\n\\u00e9\",{}]}");
  Fields data = TypeNamed("x402.payment.settled").data;
  data = With(data, "facilitator", Q("https://x402.org/facilitator"));
  data = With(data, "network", Q("base"));  // not a field of payment.settled
  data = With(data, "Amount", "1.5");
  Event e = Accept(EventJson(env, data));
  EXPECT_EQ(e.amount, Amount{1'500'000});
  EXPECT_TRUE(e.network.empty());
}

TEST_F(DecoderTest, NumbersInIgnoredFieldsMayBeAnyJsonNumber) {
  Accept(EventWithData("x402.payment.settled", "x",
                       "[0,-0,1e400,-1.5E-7,123456789012345678901234567890]"));
}

TEST_F(DecoderTest, MalformedJsonInAnIgnoredAttributeIsRejected) {
  // simdjson's on-demand API skips unread values without validating them; the decoder must not.
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "ext", "tru")), "ext: invalid JSON");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "ext", "[1,2,]")),
            "ext: invalid JSON");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "ext", "{\"a\":01}")),
            "ext: invalid JSON");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "ext", "\"\\x\"")),
            "ext: invalid JSON");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "x", "[1,2}")), "data.x: invalid JSON");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "x", "nul")), "data.x: invalid JSON");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "x", "1.")), "data.x: invalid JSON");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "x", "-")), "data.x: invalid JSON");
}

TEST_F(DecoderTest, DeeplyNestedIgnoredValueIsRejected) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  Accept(EventWithData("x402.payment.settled", "x", nested(255)));
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "x", nested(300))),
            "data.x: nested deeper than 256 levels");
}

TEST_F(DecoderTest, TokenThatOnlyStartsLikeNullIsNotNull) {
  EXPECT_EQ(Reject(EventWithData("x402.payment.failed", "retryable", "nulx")),
            "data.retryable: expected true or false, got nulx");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "amount", "nul")),
            "data.amount: expected atomic-unit integer string, got nul");
  EXPECT_EQ(Reject(EventWithData("x402.budget.limits_set", "daily_limit", "nullx")),
            "data.daily_limit: expected a decimal USDC string or null, got nullx");
}

TEST_F(DecoderTest, DecoderCanBeReusedWithoutLeakingFields) {
  Event e;
  const std::string auth = EventOf("x402.payment.authorized");
  std::string padded = auth + std::string(EventDecoder::kPadding, ' ');
  ASSERT_TRUE(decoder_.DecodeInto(std::string_view(padded.data(), auth.size()), &e).ok());
  EXPECT_FALSE(e.payer.empty());
  const std::string settled =
      EventOf("x402.payment.settled", {{"payment_id", Q("p2")}, {"tx_hash", Q(kTx)}});
  padded = settled + std::string(EventDecoder::kPadding, ' ');
  Status st = decoder_.DecodeInto(std::string_view(padded.data(), settled.size()), &e);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(e.type, EventType::kPaymentSettled);
  EXPECT_EQ(e.payment_id, "p2");
  EXPECT_TRUE(e.payer.empty());
  EXPECT_TRUE(e.network.empty());
  EXPECT_TRUE(e.nonce.empty());
  EXPECT_FALSE(e.has_amount);
  EXPECT_EQ(e.valid_before, 0);
}

TEST_F(DecoderTest, TrailingWhitespaceAndCrlfAreAccepted) {
  Accept(EventOf("x402.payment.settled") + " \t\r\n");
  Accept("\n  " + EventOf("x402.payment.settled"));
}

// The decoder reads strings and names without escapes in place and only unescapes the others:
// an escape must be found wherever it is (the check works on 16 or 32 bytes at a time).
TEST_F(DecoderTest, EscapesAreFoundAndDecodedAnywhereInAString) {
  for (size_t len = 1; len <= 70; ++len) {
    for (size_t pos : {size_t{0}, len / 2, len - 1}) {
      std::string raw(len, 'a'), expected(len, 'a');
      raw.replace(pos, 1, "\\u0062");
      expected[pos] = 'b';
      Event e = Accept(EventWithData("x402.payment.settled", "payment_id", Q(raw)));
      ASSERT_EQ(e.payment_id, expected) << "length " << len << ", escape at " << pos;
    }
  }
  Event e = Accept(EventWithData("x402.payment.failed", "reason", Q("a \\\"quoted\\\" \\\\")));
  EXPECT_EQ(e.reason, "a \"quoted\" \\");
}

TEST_F(DecoderTest, EscapedNamesAndValuesMeanWhatTheyUnescapeTo) {
  Fields envelope = Envelope("x402.payment.authorized");
  envelope[1].first = "\\u0069d";  // "id"
  Fields data = TypeNamed("x402.payment.authorized").data;
  data[0].first = "p\\u0061yment_id";
  data[4].second = Q("0x\\u0038" + kUsdcBase.substr(3));  // an address with an escaped digit
  std::string json = ObjectJson(With(envelope, "d\\u0061ta", ObjectJson(data)));
  Event e = Accept(json);
  EXPECT_EQ(e.id, "01JD3W6Q1V7M1X9Q8S2A4B5C6D");
  EXPECT_EQ(e.payment_id, "pay_7f3c2a91");
  EXPECT_EQ(e.asset, kUsdcBaseLower);
  // Names are compared after unescaping, so an escaped duplicate is still a duplicate.
  EXPECT_EQ(Reject(EventOf("x402.payment.settled",
                           With(TypeNamed("x402.payment.settled").data, "tx_h\\u0061sh", Q(kTx)))),
            "data.tx_hash: duplicate field");
}

// Names are found fastest in compact JSON ("name":value); whitespace around ':' is JSON too.
TEST_F(DecoderTest, WhitespaceAroundColonsIsAccepted) {
  Event e = Accept(EventOf("x402.payment.settled").replace(1, 0, "\"x\" :  1, "));
  EXPECT_EQ(e.payment_id, "pay_7f3c2a91");
  const std::string registered = EventOf("x402.wallet.registered");
  std::string loose;
  bool in_string = false;
  for (size_t i = 0; i < registered.size(); ++i) {
    const char c = registered[i];
    if (c == '"') in_string = !in_string;
    loose += (!in_string && c == ':') ? std::string("\t:\n ") : std::string(1, c);
  }
  Event r = Accept(loose);
  EXPECT_EQ(r.address, kPayerLower);
  EXPECT_EQ(r.subject, "builder_agent");
}

// --- Envelope rejections -----------------------------------------------------------------

TEST_F(DecoderTest, EachMissingEnvelopeAttributeIsNamed) {
  for (const char* attr : {"specversion", "id", "source", "type", "time", "subject"}) {
    const std::string json = EventJson(Without(Envelope("x402.payment.settled"), attr),
                                       TypeNamed("x402.payment.settled").data);
    EXPECT_EQ(Reject(json), std::string(attr) + ": required attribute missing");
  }
  EXPECT_EQ(Reject(ObjectJson(Envelope("x402.payment.settled"))),
            "data: required attribute missing");
}

TEST_F(DecoderTest, SpecversionMustBeTheString10) {
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "specversion", Q("0.3"))),
            "specversion: expected \"1.0\", got \"0.3\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "specversion", Q("1.0.0"))),
            "specversion: expected \"1.0\", got \"1.0.0\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "specversion", "1.0")),
            "specversion: expected a string, got 1.0");
}

TEST_F(DecoderTest, UnknownTypeIsRejectedNotGuessed) {
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "type", Q("x402.payment.refunded"))),
            "type: unknown event type \"x402.payment.refunded\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "type", Q("X402.Payment.Settled"))),
            "type: unknown event type \"X402.Payment.Settled\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "type", "7")),
            "type: expected a string, got 7");
}

TEST_F(DecoderTest, AttributeNamesAreCaseSensitive) {
  Fields env = Without(Envelope("x402.payment.settled"), "subject");
  env = With(env, "Subject", Q("builder_agent"));
  EXPECT_EQ(Reject(EventJson(env, TypeNamed("x402.payment.settled").data)),
            "subject: required attribute missing");
}

TEST_F(DecoderTest, SubjectWithCharactersOutsideTheAgentIdSetIsRejected) {
  for (const std::string bad : {"builder agent", "builder/agent", "agent\\u00e9", "a,b", "a@b"}) {
    const std::string reason = Reject(EventWithEnvelope("x402.payment.settled", "subject", Q(bad)));
    EXPECT_EQ(reason.rfind("subject: agent id may only contain [A-Za-z0-9_.:-], got \"", 0), 0u)
        << reason;
  }
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "subject", Q("builder agent"))),
            "subject: agent id may only contain [A-Za-z0-9_.:-], got \"builder agent\"");
  Event ok = Accept(EventWithEnvelope("x402.payment.settled", "subject", Q("Agent_01.prod:eu-1")));
  EXPECT_EQ(ok.subject, "Agent_01.prod:eu-1");
}

struct LengthCase {
  const char* attr;
  size_t max;
};

TEST_F(DecoderTest, EnvelopeLengthLimitsAreEnforcedInBytes) {
  for (const LengthCase c :
       {LengthCase{"id", 128}, LengthCase{"source", 256}, LengthCase{"subject", 128}}) {
    Event e = Accept(EventWithEnvelope("x402.payment.settled", c.attr, Q(std::string(c.max, 'a'))));
    const std::string attr = c.attr;
    EXPECT_EQ(attr == "id"       ? e.id
              : attr == "source" ? e.source
                                 : e.subject,
              std::string(c.max, 'a'));
    EXPECT_EQ(
        Reject(EventWithEnvelope("x402.payment.settled", c.attr, Q(std::string(c.max + 1, 'a')))),
        std::string(c.attr) + ": length " + std::to_string(c.max + 1) + " outside 1.." +
            std::to_string(c.max) + " bytes");
    EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", c.attr, Q(""))),
              std::string(c.attr) + ": length 0 outside 1.." + std::to_string(c.max) + " bytes");
  }
  // 64 two-byte characters are 128 bytes; one more is too long.
  std::string two_byte;
  for (int i = 0; i < 65; ++i) two_byte += "\\u00e9";
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "id", Q(two_byte))),
            "id: length 130 outside 1..128 bytes");
}

TEST_F(DecoderTest, IdMustBeAString) {
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "id", "12345")),
            "id: expected a string, got 12345");
}

TEST_F(DecoderTest, BadTimeIsRejectedWithTheReason) {
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "time", Q("2025-11-17T10:00:00"))),
            "time: expected RFC 3339 time (missing 'Z' or offset), got \"2025-11-17T10:00:00\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "time", Q("17/11/2025 10:00"))),
            "time: expected RFC 3339 time (too short), got \"17/11/2025 10:00\"");
  EXPECT_EQ(Reject(EventWithEnvelope("x402.payment.settled", "time", "1763373600")),
            "time: expected a string, got 1763373600");
}

TEST_F(DecoderTest, DataMustBeAnObject) {
  auto with_data = [](const std::string& raw) {
    return ObjectJson(With(Envelope("x402.payment.settled"), "data", raw));
  };
  EXPECT_EQ(Reject(with_data("[]")), "data: expected an object, got an array");
  EXPECT_EQ(Reject(with_data(Q("{}"))), "data: expected an object, got \"{}\"");
  EXPECT_EQ(Reject(with_data("null")), "data: expected an object, got null");
  EXPECT_EQ(Reject(with_data("1.5")), "data: expected an object, got 1.5");
}

TEST_F(DecoderTest, DuplicateAttributeIsRejected) {
  const std::string json = EventOf("x402.payment.settled");
  const std::string dup = "{\"id\":\"other\"," + json.substr(1);
  EXPECT_EQ(Reject(dup), "id: duplicate attribute");
}

TEST_F(DecoderTest, DuplicateDataFieldIsRejected) {
  Fields data = TypeNamed("x402.payment.settled").data;
  data.emplace_back("amount", Q("1400000"));
  EXPECT_EQ(Reject(EventOf("x402.payment.settled", data)), "data.amount: duplicate field");
}

TEST_F(DecoderTest, DuplicateDataFieldIsRejectedEvenAfterANull) {
  Fields data = TypeNamed("x402.payment.failed").data;
  data = With(data, "tx_hash", "null");
  data.emplace_back("tx_hash", Q(kTx));
  EXPECT_EQ(Reject(EventOf("x402.payment.failed", data)), "data.tx_hash: duplicate field");
}

TEST_F(DecoderTest, OversizeEventIsRejectedAndTheLimitIsInclusive) {
  const std::string base = EventOf("x402.payment.settled");
  // base with `,"pad":"xxx"` appended inside the object, padded to an exact size.
  auto of_size = [&](size_t total) {
    const size_t overhead = base.size() + std::string(",\"pad\":\"\"").size();
    return base.substr(0, base.size() - 1) + ",\"pad\":\"" + std::string(total - overhead, 'x') +
           "\"}";
  };
  ASSERT_EQ(of_size(kMaxEventBytes).size(), 65536u);
  Accept(of_size(kMaxEventBytes));
  EXPECT_EQ(Reject(of_size(kMaxEventBytes + 1)), "event: 65537 bytes exceeds the 65536-byte limit");
}

TEST_F(DecoderTest, LargestFieldsFitInOneEvent) {
  const auto& t = TypeNamed("x402.payment.authorized");
  Fields data = With(With(With(t.data, "payment_id", Q(std::string(128, 'p'))), "vendor",
                          Q(std::string(128, 'v'))),
                     "resource", Q("https://x.example/" + std::string(2048 - 18, 'r')));
  Event e = Accept(EventJson(With(With(Envelope(t.type), "id", Q(std::string(128, 'i'))), "source",
                                  Q(std::string(256, 's'))),
                             data));
  EXPECT_EQ(e.resource.size(), 2048u);
}

TEST_F(DecoderTest, NotJsonIsRejected) {
  EXPECT_EQ(Reject("not json"), "event: expected a JSON object");
  EXPECT_EQ(Reject("[1,2]"), "event: expected a JSON object");
  EXPECT_EQ(Reject("\"x402.payment.settled\""), "event: expected a JSON object");
  EXPECT_EQ(Reject("{a:1}"), "event: not JSON (malformed object)");
  EXPECT_EQ(Reject("{'specversion':'1.0'}"), "event: not JSON (malformed object)");
}

TEST_F(DecoderTest, EmptyLineIsRejected) {
  EXPECT_EQ(Reject(""), "event: empty line");
  EXPECT_EQ(Reject(" \t\r\n"), "event: empty line");
}

TEST_F(DecoderTest, UnterminatedObjectIsRejected) {
  const std::string json = EventOf("x402.payment.settled");
  for (size_t cut : {size_t{1}, json.size() / 2, json.size() - 2, json.size() - 1}) {
    const std::string reason = Reject(json.substr(0, cut));
    EXPECT_EQ(reason.rfind("event: not JSON (", 0), 0u) << cut << ": " << reason;
  }
}

TEST_F(DecoderTest, TrailingContentAfterTheObjectIsRejected) {
  const std::string json = EventOf("x402.payment.settled");
  EXPECT_EQ(Reject(json + json), "event: trailing content after the JSON object");
  EXPECT_EQ(Reject(json + "}"), "event: trailing content after the JSON object");
  EXPECT_EQ(Reject(json + " x").rfind("event: not JSON (", 0), 0u);
}

// A value followed by ':' instead of ',' is malformed, wherever it is: it must not be read as
// the next field's name.
TEST_F(DecoderTest, ValueFollowedByAColonIsMalformed) {
  std::string envelope = EventOf("x402.payment.settled");
  envelope.replace(envelope.find("\",\"source\""), 2, "\":");
  EXPECT_EQ(Reject(envelope), "event: not JSON (malformed object)");
  std::string data = EventOf("x402.payment.settled");
  data.replace(data.find("\",\"tx_hash\""), 2, "\":");
  EXPECT_EQ(Reject(data), "data: invalid JSON");
  std::string number = EventOf("x402.chain.transfer");
  number.replace(number.find(",\"block_number\""), 1, ":");
  EXPECT_EQ(Reject(number), "data: invalid JSON");
}

// --- Data rejections ---------------------------------------------------------------------

TEST_F(DecoderTest, EachTypesMissingRequiredFieldIsNamed) {
  for (const auto& t : Types()) {
    for (const auto& field : t.required) {
      EXPECT_EQ(Reject(EventOf(t.type, Without(t.data, field))),
                "data." + field + ": required field missing")
          << t.type;
    }
  }
}

TEST_F(DecoderTest, RequiredFieldCannotBeNull) {
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "nonce", "null")),
            "data.nonce: expected a string, got null");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "amount", "null")),
            "data.amount: expected atomic-unit integer string, got null");
}

TEST_F(DecoderTest, MoneyAsJsonNumberIsRejectedWithFieldName) {
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "amount", "1.5")),
            "data.amount: expected atomic-unit integer string, got 1.5");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "amount", "1500000")),
            "data.amount: expected atomic-unit integer string, got 1500000");
  EXPECT_EQ(Reject(EventWithData("x402.wallet.balance", "balance", "1.5")),
            "data.balance: expected atomic-unit integer string, got 1.5");
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "amount", "1e6")),
            "data.amount: expected atomic-unit integer string, got 1e6");
}

TEST_F(DecoderTest, MoneyStringWithFractionSignOrExponentIsRejected) {
  for (const char* bad : {"1.50", "-1", "+1", "1e6", " 1", "1,500,000", ""}) {
    EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "amount", Q(bad))),
              std::string("data.amount: expected atomic-unit integer string, got \"") + bad + "\"");
  }
}

TEST_F(DecoderTest, MoneyHasAtMost38Digits) {
  Event max = Accept(EventWithData("x402.chain.transfer", "amount", Q(std::string(38, '9'))));
  EXPECT_EQ(ToAtomicString(max.amount), std::string(38, '9'));
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "amount", Q("1" + std::string(38, '0')))),
            "data.amount: amount has 39 digits, at most 38 allowed");
}

TEST_F(DecoderTest, LimitWithSevenDecimalsIsRejectedNotRounded) {
  EXPECT_EQ(Reject(EventWithData("x402.budget.limits_set", "daily_limit", Q("100.0000001"))),
            "data.daily_limit: \"100.0000001\" has 7 decimals, USDC has at most 6");
  EXPECT_EQ(Reject(EventWithData("x402.budget.limits_set", "monthly_limit", "1000")),
            "data.monthly_limit: expected a decimal USDC string or null, got 1000");
  EXPECT_EQ(Reject(EventWithData("x402.budget.limits_set", "per_transaction_max", Q(".5"))),
            "data.per_transaction_max: expected a decimal USDC string such as \"100.00\", got "
            "\".5\"");
}

TEST_F(DecoderTest, BadAddressIsRejectedNamingTheField) {
  for (const char* field : {"asset", "payer", "pay_to"}) {
    EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", field, Q("0x1234"))),
              std::string("data.") + field + ": expected address (0x + 40 hex), got \"0x1234\"");
  }
  for (const char* field : {"from", "to"}) {
    EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", field, Q(kPayer + "00"))),
              std::string("data.") + field + ": expected address (0x + 40 hex), got \"" + kPayer +
                  "00\"");
  }
  EXPECT_EQ(Reject(EventWithData("x402.chain.authorization_used", "authorizer", Q("payer"))),
            "data.authorizer: expected address (0x + 40 hex), got \"payer\"");
  EXPECT_EQ(Reject(EventWithData("x402.wallet.balance", "address", "42")),
            "data.address: expected a string, got 42");
}

TEST_F(DecoderTest, BadNonceAndTxHashAreRejected) {
  const std::string short_nonce = kNonce.substr(0, 65);
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "nonce", Q(short_nonce))),
            "data.nonce: expected 32-byte hex value (0x + 64 hex), got \"" + short_nonce + "\"");
  const std::string not_hex = kTx.substr(0, 64) + "zz";
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "tx_hash", Q(not_hex))),
            "data.tx_hash: expected 32-byte hex value (0x + 64 hex), got \"" + not_hex + "\"");
}

TEST_F(DecoderTest, UnknownNetworkIsRejected) {
  EXPECT_EQ(Reject(EventWithData("x402.wallet.registered", "network", Q("eip155:08453"))),
            "data.network: unknown network \"eip155:08453\" (expected an x402 network name such "
            "as \"base\" or a CAIP-2 id such as \"eip155:8453\")");
  EXPECT_EQ(Reject(EventWithData("x402.wallet.registered", "network", "8453")),
            "data.network: expected a string, got 8453");
}

TEST_F(DecoderTest, IntegersMustBeNonNegativeJsonIntegers) {
  for (const char* bad : {"\"3\"", "-1", "3.0", "1e2", "18446744073709551616", "true", "null"}) {
    EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "log_index", bad)),
              std::string("data.log_index: expected a non-negative integer, got ") + bad);
  }
  // Up to 2^53-1 (schemas/README.md, "Canonical input"); past it, refused with the reason.
  Event max = Accept(EventWithData("x402.chain.transfer", "block_number", "9007199254740991"));
  EXPECT_EQ(max.block_number, 9007199254740991u);
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "block_number", "9007199254740992")),
            "data.block_number: 9007199254740992 is past 2^53-1, beyond any chain's range");
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "log_index", "18446744073709551615")),
            "data.log_index: 18446744073709551615 is past 2^53-1, beyond any chain's range");
  EXPECT_EQ(Reject(EventWithData("x402.wallet.balance", "block_number", "-5")),
            "data.block_number: expected a non-negative integer, got -5");
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "confirmations", "1.5")),
            "data.confirmations: expected a non-negative integer, got 1.5");
}

TEST_F(DecoderTest, BooleansMustBeJsonBooleans) {
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "removed", Q("true"))),
            "data.removed: expected true or false, got \"true\"");
  EXPECT_EQ(Reject(EventWithData("x402.payment.failed", "retryable", "1")),
            "data.retryable: expected true or false, got 1");
}

TEST_F(DecoderTest, UnixSecondsAreIntegerStrings) {
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_after", "1763373540")),
            "data.valid_after: expected unix-seconds integer string, got 1763373540");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_before", Q("1763374200.5"))),
            "data.valid_before: expected unix-seconds integer string, got \"1763374200.5\"");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_after", Q(""))),
            "data.valid_after: expected unix-seconds integer string, got \"\"");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_after", Q("-1"))),
            "data.valid_after: expected unix-seconds integer string, got \"-1\"");
  Event zero = Accept(EventWithData("x402.payment.authorized", "valid_after", Q("0")));
  EXPECT_EQ(zero.valid_after, 0);
}

TEST_F(DecoderTest, ValidBeforeMustBeAfterValidAfter) {
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_before", Q("1763373540"))),
            "data.valid_before: must be after data.valid_after (1763373540 <= 1763373540)");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "valid_before", Q("100"))),
            "data.valid_before: must be after data.valid_after (100 <= 1763373540)");
  Event e = Accept(EventWithData("x402.payment.authorized", "valid_before", Q("1763373541")));
  EXPECT_EQ(e.valid_before, 1'763'373'541);
}

TEST_F(DecoderTest, BlockTimeIsRfc3339) {
  Event e =
      Accept(EventWithData("x402.chain.transfer", "block_time", Q("2025-11-17T12:00:03+02:00")));
  EXPECT_EQ(e.block_time.ms, 1'763'373'603'000);
  EXPECT_EQ(Reject(EventWithData("x402.chain.transfer", "block_time", Q("yesterday"))),
            "data.block_time: expected RFC 3339 time (too short), got \"yesterday\"");
}

TEST_F(DecoderTest, IdentifierLengthLimits) {
  Accept(EventWithData("x402.payment.settled", "payment_id", Q(std::string(128, 'p'))));
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "payment_id", Q(std::string(129, 'p')))),
            "data.payment_id: length 129 outside 1..128 bytes");
  EXPECT_EQ(Reject(EventWithData("x402.payment.settled", "payment_id", Q(""))),
            "data.payment_id: length 0 outside 1..128 bytes");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "vendor", Q(std::string(129, 'v')))),
            "data.vendor: length 129 outside 1..128 bytes");
  EXPECT_EQ(Reject(EventWithData("x402.payment.authorized", "resource", Q(std::string(2049, 'r')))),
            "data.resource: length 2049 outside 1..2048 bytes");
}

// --- The example files -------------------------------------------------------------------

TEST_F(DecoderTest, EveryExampleDecodesAsTheTypeItsFileNameSays) {
  ASSERT_FALSE(SourceDir().empty()) << "X402_SOURCE_DIR is not set";
  const auto files = JsonFilesIn(SourceDir() / "schemas" / "examples");
  std::set<std::string> covered;
  for (const auto& path : files) {
    auto r = decoder_.Decode(ReadFile(path));
    ASSERT_TRUE(r.ok()) << path.filename() << ": " << r.error();
    const std::string name = path.filename().string();
    const std::string type(EventTypeName(r->type));
    EXPECT_TRUE(name == type + ".json" || name.rfind(type + ".", 0) == 0)
        << name << " decodes as " << type;
    covered.insert(type);
  }
  EXPECT_EQ(covered.size(), size_t(kEventTypeCount)) << "every type needs an example";
}

TEST_F(DecoderTest, EveryInvalidExampleGivesTheReasonInItsReasonFile) {
  ASSERT_FALSE(SourceDir().empty()) << "X402_SOURCE_DIR is not set";
  const auto files = JsonFilesIn(SourceDir() / "schemas" / "examples" / "invalid");
  EXPECT_GE(files.size(), 10u);
  for (const auto& path : files) {
    fs::path reason_path = path;
    reason_path.replace_extension(".reason");
    ASSERT_TRUE(fs::exists(reason_path)) << reason_path;
    std::string reason = ReadFile(reason_path);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
    auto r = decoder_.Decode(ReadFile(path));
    ASSERT_FALSE(r.ok()) << path.filename() << " was accepted";
    EXPECT_EQ(r.error(), reason) << path.filename();
  }
}

// The required-field lists above, the decoder's and the JSON Schemas' must all agree.
TEST(DecoderSchemaAgreementTest, RequiredAndKnownDataFieldsMatchTheJsonSchemas) {
  ASSERT_FALSE(SourceDir().empty()) << "X402_SOURCE_DIR is not set";
  simdjson::dom::parser parser;
  for (const auto& t : Types()) {
    const fs::path path = SourceDir() / "schemas" / (t.type + ".schema.json");
    simdjson::dom::element schema;
    ASSERT_EQ(parser.load(path.string()).get(schema), simdjson::SUCCESS) << path;
    simdjson::dom::object data;
    ASSERT_EQ(schema["properties"]["data"].get(data), simdjson::SUCCESS) << path;
    std::set<std::string> required, known;
    simdjson::dom::array req;
    ASSERT_EQ(data["required"].get(req), simdjson::SUCCESS) << path;
    for (auto v : req) required.insert(std::string(v.get_string().value()));
    simdjson::dom::object props;
    ASSERT_EQ(data["properties"].get(props), simdjson::SUCCESS) << path;
    for (auto field : props) known.insert(std::string(field.key));
    EXPECT_EQ(required, std::set<std::string>(t.required.begin(), t.required.end())) << t.type;
    std::set<std::string> ours;
    for (const auto& [name, raw] : t.data) ours.insert(name);
    EXPECT_EQ(known, ours) << t.type << ": the test's valid data should name every field";
  }
}

// --- Per-CPU backends --------------------------------------------------------------------

TEST(DecoderBackendTest, GenericAndHaswellBackendsGiveTheSameAnswers) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2") ||
      !__builtin_cpu_supports("pclmul")) {
    GTEST_SKIP() << "this CPU has no Haswell-class SIMD";
  }
  auto generic = detail::generic::NewBackend();
  auto haswell = detail::haswell::NewBackend();
  std::vector<std::string> inputs = {"", "not json", "{", "{}", "{\"a\":[1,2,}"};
  for (const auto& t : Types()) {
    inputs.push_back(EventOf(t.type));
    for (const auto& f : t.required) inputs.push_back(EventOf(t.type, Without(t.data, f)));
  }
  if (!SourceDir().empty()) {
    for (const auto& dir :
         {SourceDir() / "schemas" / "examples", SourceDir() / "schemas" / "examples" / "invalid"}) {
      for (const auto& p : JsonFilesIn(dir)) inputs.push_back(ReadFile(p));
    }
  }
  for (const auto& in : inputs) {
    const std::string padded = in + std::string(EventDecoder::kPadding, ' ');
    const std::string_view view(padded.data(), in.size());
    Event a, b;
    Status sa = generic->DecodeInto(view, &a);
    Status sb = haswell->DecodeInto(view, &b);
    ASSERT_EQ(sa.ok(), sb.ok()) << in.substr(0, 200);
    if (!sa.ok()) {
      EXPECT_EQ(sa.error(), sb.error());
    } else {
      EXPECT_EQ(a.type, b.type);
      EXPECT_EQ(a.payment_id, b.payment_id);
      EXPECT_EQ(a.amount, b.amount);
      EXPECT_EQ(a.network, b.network);
      EXPECT_EQ(a.tx_hash, b.tx_hash);
      EXPECT_EQ(a.nonce, b.nonce);
    }
  }
}

}  // namespace
}  // namespace x402
