// FakeEvmNode: a scripted EVM chain served over JSON-RPC by a real HTTP server on 127.0.0.1
// (FakeDiscord's server). Tests mine blocks with logs, switch to another branch (a reorg),
// make the node lag or go back, cap eth_getLogs ranges ("block range too large"), and queue
// faults (429 with Retry-After, 500, malformed JSON, a JSON-RPC error, a dropped
// connection, no answer at all). Answers eth_blockNumber, eth_getBlockByNumber, eth_getLogs
// (address and topic filters with OR lists) and eth_call balanceOf.
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <simdjson.h>

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schemas/json_writer.h"
#include "schemas/sha256.h"
#include "tests/fake_discord.h"

namespace x402::test {

inline const char* kTransferTopic =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
inline const char* kAuthUsedTopic =
    "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5";
inline const char* kAuthCanceledTopic =
    "0x1cdd46ff242716cdaa72d159d339a485b3438398348d68f09d7c8c0a59353d81";

inline std::string Word(const std::string& hex_no_prefix) {
  return "0x" + std::string(64 - hex_no_prefix.size(), '0') + hex_no_prefix;
}
inline std::string AddrTopic(const std::string& addr) { return Word(addr.substr(2)); }
inline std::string U256(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return Word(buf);
}

struct FakeLog {
  std::string address;  // token contract
  std::string tx;
  std::vector<std::string> topics;
  std::string data = "0x";
};

inline FakeLog TransferLog(const std::string& asset, const std::string& tx, const std::string& from,
                           const std::string& to, uint64_t amount) {
  return FakeLog{asset, tx, {kTransferTopic, AddrTopic(from), AddrTopic(to)}, U256(amount)};
}
inline FakeLog AuthUsedLog(const std::string& asset, const std::string& tx,
                           const std::string& authorizer, const std::string& nonce) {
  return FakeLog{asset, tx, {kAuthUsedTopic, AddrTopic(authorizer), nonce}, "0x"};
}

struct FakeBlock {
  uint64_t number = 0;
  std::string hash, parent;
  int64_t time = 0;
  std::vector<FakeLog> logs;
};

struct FakeFault {
  enum Kind { k429, k500, kMalformed, kRpcError, kClose, kHang } kind;
  std::string retry_after;  // k429
};

class FakeEvmNode {
 public:
  // Genesis block 0 at `genesis_time`, one block every 2 s.
  explicit FakeEvmNode(int64_t genesis_time = 1763373600, std::string branch = "a")
      : branch_(std::move(branch)), genesis_time_(genesis_time) {
    chain_.push_back(MakeBlock(0, "0x" + std::string(64, '0'), {}));
    server_.Respond([this](const FakeRequest& r, size_t) { return Handle(r); });
  }

  std::string Url(const std::string& secret = "SECRETKEY123") const {
    return server_.Url("/v2/" + secret);
  }
  FakeDiscord& server() { return server_; }

  // Appends a block with `logs`; returns its number.
  uint64_t Mine(std::vector<FakeLog> logs = {}) {
    std::lock_guard<std::mutex> l(mu_);
    const uint64_t n = chain_.size();
    chain_.push_back(MakeBlock(n, chain_.back().hash, std::move(logs)));
    return n;
  }
  void MineEmpty(int count) {
    for (int i = 0; i < count; ++i) Mine();
  }
  // Drops blocks >= `from` and continues on branch `branch` (new hashes from there on).
  void Reorg(uint64_t from, const std::string& branch) {
    std::lock_guard<std::mutex> l(mu_);
    chain_.resize(from);
    branch_ = branch;
  }
  uint64_t Head() const {
    std::lock_guard<std::mutex> l(mu_);
    return VisibleHead();
  }
  std::string HashOf(uint64_t n) const {
    std::lock_guard<std::mutex> l(mu_);
    return chain_.at(n).hash;
  }
  int64_t TimeOf(uint64_t n) const {
    std::lock_guard<std::mutex> l(mu_);
    return chain_.at(n).time;
  }
  // The node answers as if its head were `h` (lagging or gone back); nullopt: the real head.
  void CapHead(std::optional<uint64_t> h) {
    std::lock_guard<std::mutex> l(mu_);
    cap_ = h;
  }
  // eth_getLogs over more than `n` blocks fails with "block range too large" (0: no cap).
  void SetMaxRange(uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    max_range_ = n;
  }
  void QueueFault(FakeFault f, int times = 1) {
    std::lock_guard<std::mutex> l(mu_);
    for (int i = 0; i < times; ++i) faults_.push_back(f);
  }
  // Every request fails with `f` until cleared (nullopt).
  void FailAll(std::optional<FakeFault> f) {
    std::lock_guard<std::mutex> l(mu_);
    fail_all_ = f;
  }
  void SetBalance(const std::string& address, uint64_t v) {
    std::lock_guard<std::mutex> l(mu_);
    balances_[address] = v;
  }
  std::map<std::string, int> MethodCounts() const {
    std::lock_guard<std::mutex> l(mu_);
    return counts_;
  }
  size_t RangeErrors() const {
    std::lock_guard<std::mutex> l(mu_);
    return range_errors_;
  }

 private:
  FakeBlock MakeBlock(uint64_t n, const std::string& parent, std::vector<FakeLog> logs) {
    FakeBlock b;
    b.number = n;
    b.parent = parent;
    b.time = genesis_time_ + static_cast<int64_t>(n) * 2;
    b.hash = "0x" + Sha256Hex(branch_ + "|" + std::to_string(n) + "|" + parent);
    b.logs = std::move(logs);
    return b;
  }
  uint64_t VisibleHead() const {
    const uint64_t real = chain_.size() - 1;
    return cap_ ? std::min(*cap_, real) : real;
  }
  static std::string Quantity(uint64_t n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(n));
    return buf;
  }
  static uint64_t ParseQ(std::string_view s) {
    return std::stoull(std::string(s.substr(2)), nullptr, 16);
  }

  FakeReply Result(uint64_t id, const std::string& result_json) {
    FakeReply r;
    r.status = 200;
    r.body =
        "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"result\":" + result_json + "}";
    return r;
  }
  FakeReply RpcError(uint64_t id, int code, const std::string& msg) {
    FakeReply r;
    r.status = 200;
    r.body = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) +
             ",\"error\":{\"code\":" + std::to_string(code) + ",\"message\":\"" + msg + "\"}}";
    return r;
  }

  FakeReply Handle(const FakeRequest& req) {
    std::lock_guard<std::mutex> l(mu_);
    simdjson::dom::parser parser;
    simdjson::padded_string padded(req.body);
    simdjson::dom::element doc;
    std::string_view method;
    uint64_t id = 0;
    if (parser.parse(padded).get(doc) || doc["method"].get_string().get(method) ||
        doc["id"].get_uint64().get(id)) {
      FakeReply r;
      r.status = 400;
      return r;
    }
    ++counts_[std::string(method)];
    std::optional<FakeFault> fault = fail_all_;
    if (!fault && !faults_.empty()) {
      fault = faults_.front();
      faults_.pop_front();
    }
    if (fault) {
      FakeReply r;
      switch (fault->kind) {
        case FakeFault::k429:
          r.status = 429;
          if (!fault->retry_after.empty()) r.headers["Retry-After"] = fault->retry_after;
          return r;
        case FakeFault::k500:
          r.status = 500;
          return r;
        case FakeFault::kMalformed:
          r.status = 200;
          r.body = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"result\":[{\"oops";
          return r;
        case FakeFault::kRpcError:
          return RpcError(id, -32000, "header not found");
        case FakeFault::kHang:  // never answers (until the server stops)
          r.hang = true;
          return r;
        case FakeFault::kClose:
          r.close = true;
          return r;
      }
    }
    simdjson::dom::array params;
    if (doc["params"].get_array().get(params)) {
    }
    const uint64_t head = VisibleHead();
    if (method == "eth_blockNumber") return Result(id, "\"" + Quantity(head) + "\"");
    if (method == "eth_getBlockByNumber") {
      std::string_view q;
      if (params.at(0).get_string().get(q)) return RpcError(id, -32602, "bad params");
      const uint64_t n = ParseQ(q);
      if (n > head) return Result(id, "null");
      const FakeBlock& b = chain_[n];
      return Result(id, "{\"number\":\"" + Quantity(n) + "\",\"hash\":\"" + b.hash +
                            "\",\"parentHash\":\"" + b.parent + "\",\"timestamp\":\"" +
                            Quantity(static_cast<uint64_t>(b.time)) + "\",\"transactions\":[]}");
    }
    if (method == "eth_getLogs") {
      simdjson::dom::element f = params.at(0);
      std::string_view fb, tb, address;
      if (f["fromBlock"].get_string().get(fb)) {
      }
      if (f["toBlock"].get_string().get(tb)) {
      }
      if (f["address"].get_string().get(address)) {
      }
      const uint64_t from = ParseQ(fb), to = ParseQ(tb);
      if (max_range_ && to - from + 1 > max_range_) {
        ++range_errors_;
        return RpcError(id, -32600, "block range too large; max 3 blocks");
      }
      std::vector<std::vector<std::string>> topic_sets;
      simdjson::dom::array topics;
      if (!f["topics"].get_array().get(topics)) {
        for (auto t : topics) {
          std::vector<std::string> set;
          std::string_view one;
          simdjson::dom::array many;
          if (!t.get_string().get(one))
            set.emplace_back(one);
          else if (!t.get_array().get(many))
            for (auto m : many) set.emplace_back(std::string_view(m.get_string().value()));
          topic_sets.push_back(set);  // empty = any (null)
        }
      }
      std::string out = "[";
      bool first = true;
      for (uint64_t n = from; n <= std::min(to, head); ++n) {
        const FakeBlock& b = chain_[n];
        for (size_t i = 0; i < b.logs.size(); ++i) {
          const FakeLog& lg = b.logs[i];
          if (!address.empty() && lg.address != address) continue;
          bool match = true;
          for (size_t k = 0; k < topic_sets.size() && match; ++k) {
            if (topic_sets[k].empty()) continue;
            match = k < lg.topics.size() && std::find(topic_sets[k].begin(), topic_sets[k].end(),
                                                      lg.topics[k]) != topic_sets[k].end();
          }
          if (!match) continue;
          std::string s;
          JsonWriter j(&s);
          j.BeginObject()
              .Field("address", lg.address)
              .Field("blockNumber", Quantity(n))
              .Field("blockHash", b.hash)
              .Field("transactionHash", lg.tx)
              .Field("logIndex", Quantity(i))
              .Field("data", lg.data);
          j.Key("removed").Bool(false);
          j.Key("topics").BeginArray();
          for (const auto& t : lg.topics) j.String(t);
          j.EndArray().EndObject();
          if (!first) out += ",";
          first = false;
          out += s;
        }
      }
      return Result(id, out + "]");
    }
    if (method == "eth_call") {
      std::string_view data;
      if (params.at(0)["data"].get_string().get(data)) {
      }
      const std::string addr = "0x" + std::string(data.substr(data.size() - 40));
      auto it = balances_.find(addr);
      return Result(id, "\"" + U256(it == balances_.end() ? 0 : it->second) + "\"");
    }
    return RpcError(id, -32601, "method not found");
  }

  mutable std::mutex mu_;
  std::string branch_;
  int64_t genesis_time_;
  std::vector<FakeBlock> chain_;
  std::optional<uint64_t> cap_;
  uint64_t max_range_ = 0;
  size_t range_errors_ = 0;
  std::deque<FakeFault> faults_;
  std::optional<FakeFault> fail_all_;
  std::map<std::string, uint64_t> balances_;
  std::map<std::string, int> counts_;
  FakeDiscord server_;  // last: stopped first, while the chain is still alive
};

}  // namespace x402::test
