#include "connectors/chain_watcher.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "connectors/kafka_producer.h"
#include "schemas/json_writer.h"
#include "schemas/money.h"
#include "schemas/network.h"
#include "schemas/sha256.h"
#include "schemas/time.h"

namespace x402 {

namespace {

constexpr const char* kTransferTopic =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
constexpr const char* kAuthorizationUsedTopic =
    "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5";
constexpr const char* kAuthorizationCanceledTopic =
    "0x1cdd46ff242716cdaa72d159d339a485b3438398348d68f09d7c8c0a59353d81";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// A 32-byte word "0x" + 64 hex as an amount: exact, and an error above the largest amount
// EVENTS.md allows (38 decimal digits).
Result<Amount> ParseUint256(std::string_view word, std::string_view what) {
  if (!word.starts_with("0x") || word.size() != 66 || !IsHex(word.substr(2)))
    return Err(std::string(what) + ": expected a 32-byte hex word");
  for (char c : word.substr(2, 32)) {
    if (c != '0') return Err(std::string(what) + ": value above the largest amount (38 digits)");
  }
  u128 v = 0;
  for (char c : word.substr(34)) {
    const int d = c <= '9' ? c - '0' : (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    v = v * 16 + static_cast<u128>(d);
  }
  u128 limit = 1;
  for (int i = 0; i < 38; ++i) limit *= 10;
  if (v >= limit) return Err(std::string(what) + ": value above the largest amount (38 digits)");
  return Amount{v};
}

// An address in an indexed topic: 12 zero bytes then 20 bytes.
Result<std::string> TopicAddress(std::string_view topic, std::string_view what) {
  if (topic.size() != 66 || !topic.starts_with("0x") || !IsHex(topic.substr(2)) ||
      topic.substr(2, 24) != "000000000000000000000000")
    return Err(std::string(what) + ": expected an address topic");
  return Lower("0x" + std::string(topic.substr(26)));
}

std::string AddressTopic(const std::string& address) {
  return "0x000000000000000000000000" + address.substr(2);
}

const char* KindName(ReportedLog::Kind k) {
  switch (k) {
    case ReportedLog::Kind::kTransfer:
      return "transfer";
    case ReportedLog::Kind::kAuthorizationUsed:
      return "authorization_used";
    case ReportedLog::Kind::kAuthorizationCanceled:
      return "authorization_canceled";
  }
  return "?";
}

bool ValidAgent(std::string_view a) {
  if (a.empty() || a.size() > 128) return false;
  return std::all_of(a.begin(), a.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
           c == '-';
  });
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Err("open " + dir + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Err("fsync " + dir + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Sinks

Result<std::unique_ptr<FileChainSink>> FileChainSink::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Err("open " + path + ": " + std::strerror(errno));
  // Cut a torn last line: scan back from the end to the last newline.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Err("stat " + path + ": " + std::strerror(errno));
  }
  off_t end = st.st_size, keep = 0;
  char buf[4096];
  while (end > 0) {
    const off_t start =
        end > static_cast<off_t>(sizeof buf) ? end - static_cast<off_t>(sizeof buf) : 0;
    const ssize_t n = ::pread(fd, buf, static_cast<size_t>(end - start), start);
    if (n != end - start) {
      ::close(fd);
      return Err("read " + path + ": " + std::strerror(errno));
    }
    bool found = false;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buf[i] == '\n') {
        keep = start + i + 1;
        found = true;
        break;
      }
    }
    if (found) break;
    end = start;
  }
  if (keep != st.st_size && ::ftruncate(fd, keep) != 0) {
    ::close(fd);
    return Err("truncate " + path + ": " + std::strerror(errno));
  }
  auto sink = std::unique_ptr<FileChainSink>(new FileChainSink());
  sink->fd_ = fd;
  sink->path_ = path;
  return sink;
}

FileChainSink::~FileChainSink() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileChainSink::Write(const std::vector<ChainEvent>& events) {
  std::string buf;
  for (const auto& e : events) {
    buf += e.json;
    buf += '\n';
  }
  size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(fd_, buf.data() + off, buf.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err("write " + path_ + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FileChainSink::Flush() {
  if (::fsync(fd_) != 0) return Err("fsync " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status KafkaChainSink::Write(const std::vector<ChainEvent>& events) {
  for (const auto& e : events) {
    if (Status st = producer_->Produce(topic_, e.key, e.json); !st.ok()) return st;
  }
  return Status::Ok();
}

Status KafkaChainSink::Flush() { return producer_->FlushUntilDelivered(); }

// ---------------------------------------------------------------------------------------
// Wallets, assets, ids

Result<std::vector<WatchedWallet>> LoadWalletsCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(path + ": cannot open");
  std::vector<WatchedWallet> out;
  std::map<std::string, std::string> seen;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t comma = line.find(',');
    const std::string where = path + ":" + std::to_string(n);
    if (comma == std::string::npos) return Err(where + ": expected agent,address");
    auto trim = [](std::string s) {
      const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
      return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
    };
    std::string agent = trim(line.substr(0, comma)), address = trim(line.substr(comma + 1));
    if (n == 1 && agent == "agent" && address == "address") continue;
    if (!ValidAgent(agent)) return Err(where + ": agent: expected 1..128 of [A-Za-z0-9_.:-]");
    auto addr = CanonicalAddress(address, false, "address");
    if (!addr) return Err(where + ": " + addr.error());
    auto [it, inserted] = seen.emplace(*addr, agent);
    if (!inserted) {
      if (it->second != agent)
        return Err(where + ": address " + *addr + " already belongs to agent " + it->second);
      continue;
    }
    out.push_back({*addr, agent});
  }
  return out;
}

std::string DefaultUsdcAsset(const std::string& network) {
  static const std::map<std::string, std::string> kUsdc = {
      {"eip155:8453", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"},
      {"eip155:84532", "0x036cbd53842c5426634e7929541ec2318f3dcf7e"},
      {"eip155:137", "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359"},
      {"eip155:1", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"},
      {"eip155:42161", "0xaf88d065e77c8cc2239327c5edb3a432268e5831"},
      {"eip155:43114", "0xb97ef9ef8734c71904d8002f8b6bc66dd9c48a6e"},
  };
  auto it = kUsdc.find(network);
  return it == kUsdc.end() ? std::string() : it->second;
}

std::string ChainEventId(const std::string& network, const ReportedLog& log,
                         const std::string& stage) {
  return Sha256Hex("x402rec-chain|1|" + network + "|" + KindName(log.kind) + "|" + log.tx_hash +
                   "|" + std::to_string(log.log_index) + "|" + log.block_hash + "|" + log.agent +
                   "|" + stage);
}

// ---------------------------------------------------------------------------------------
// Cursor

std::string EncodeCursor(const ChainCursor& c) {
  std::string s;
  JsonWriter j(&s);
  j.BeginObject().FieldInt("version", 1).Field("network", c.network).Field("asset", c.asset);
  j.Key("initialized").Bool(c.initialized);
  j.Key("start_block").Uint(c.start_block);
  j.Key("next_block").Uint(c.next_block);
  j.Key("last_balance_block").Uint(c.last_balance_block);
  j.Key("backfill_next").Uint(c.backfill_next);
  j.Key("backfill_end").Uint(c.backfill_end);
  j.Key("wallets").BeginArray();
  for (const auto& w : c.wallets) j.String(w);
  j.EndArray();
  j.Key("backfill").BeginArray();
  for (const auto& w : c.backfill) j.String(w);
  j.EndArray();
  j.Key("blocks").BeginArray();
  for (const auto& [n, b] : c.blocks) {
    j.BeginArray().Uint(n).String(b.hash).Int(b.time_s).EndArray();
  }
  j.EndArray();
  j.Key("logs").BeginArray();
  for (const auto& l : c.logs) {
    j.BeginObject().Field("kind", KindName(l.kind));
    j.Key("block").Uint(l.block_number);
    j.Field("block_hash", l.block_hash);
    j.Key("block_time").Int(l.block_time_s);
    j.Field("tx", l.tx_hash);
    j.Key("log_index").Uint(l.log_index);
    j.Field("agent", l.agent).Field("from", l.from).Field("to", l.to).Field("amount", l.amount);
    j.Field("authorizer", l.authorizer).Field("nonce", l.nonce);
    j.Key("confirmed").Bool(l.confirmed);
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return s;
}

Result<ChainCursor> DecodeCursor(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) return Err("cursor: not JSON");
  ChainCursor c;
  int64_t version = 0;
  std::string_view sv;
  auto str = [&](simdjson::dom::element e, const char* k, std::string* out) -> bool {
    if (e[k].get_string().get(sv)) return false;
    *out = std::string(sv);
    return true;
  };
  auto u64 = [&](simdjson::dom::element e, const char* k, uint64_t* out) -> bool {
    return !e[k].get_uint64().get(*out);
  };
  if (doc["version"].get_int64().get(version) || version != 1)
    return Err("cursor: unknown version");
  bool ok = str(doc, "network", &c.network) && str(doc, "asset", &c.asset) &&
            !doc["initialized"].get_bool().get(c.initialized) &&
            u64(doc, "start_block", &c.start_block) && u64(doc, "next_block", &c.next_block) &&
            u64(doc, "last_balance_block", &c.last_balance_block) &&
            u64(doc, "backfill_next", &c.backfill_next) &&
            u64(doc, "backfill_end", &c.backfill_end);
  if (!ok) return Err("cursor: missing or malformed field");
  for (const char* name : {"wallets", "backfill"}) {
    simdjson::dom::array arr;
    if (doc[name].get_array().get(arr)) return Err(std::string("cursor: ") + name);
    for (auto e : arr) {
      if (e.get_string().get(sv)) return Err(std::string("cursor: ") + name);
      (std::string(name) == "wallets" ? c.wallets : c.backfill).insert(std::string(sv));
    }
  }
  simdjson::dom::array blocks, logs;
  if (doc["blocks"].get_array().get(blocks) || doc["logs"].get_array().get(logs))
    return Err("cursor: blocks / logs");
  for (auto b : blocks) {
    simdjson::dom::array a;
    uint64_t n = 0;
    int64_t t = 0;
    if (b.get_array().get(a) || a.size() != 3 || a.at(0).get_uint64().get(n) ||
        a.at(1).get_string().get(sv) || a.at(2).get_int64().get(t))
      return Err("cursor: block entry");
    c.blocks[n] = BlockRef{std::string(sv), t};
  }
  for (auto e : logs) {
    ReportedLog l;
    std::string kind;
    ok = str(e, "kind", &kind) && u64(e, "block", &l.block_number) &&
         str(e, "block_hash", &l.block_hash) && !e["block_time"].get_int64().get(l.block_time_s) &&
         str(e, "tx", &l.tx_hash) && u64(e, "log_index", &l.log_index) &&
         str(e, "agent", &l.agent) && str(e, "from", &l.from) && str(e, "to", &l.to) &&
         str(e, "amount", &l.amount) && str(e, "authorizer", &l.authorizer) &&
         str(e, "nonce", &l.nonce) && !e["confirmed"].get_bool().get(l.confirmed);
    if (!ok) return Err("cursor: log entry");
    if (kind == "transfer")
      l.kind = ReportedLog::Kind::kTransfer;
    else if (kind == "authorization_used")
      l.kind = ReportedLog::Kind::kAuthorizationUsed;
    else if (kind == "authorization_canceled")
      l.kind = ReportedLog::Kind::kAuthorizationCanceled;
    else
      return Err("cursor: log kind");
    c.logs.push_back(std::move(l));
  }
  return c;
}

Status SaveCursorFile(const std::string& path, const ChainCursor& c) {
  const std::string tmp = path + ".tmp";
  const std::string data = EncodeCursor(c);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Err("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string e = std::strerror(errno);
      ::close(fd);
      return Err("write " + tmp + ": " + e);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string e = std::strerror(errno);
    ::close(fd);
    return Err("fsync " + tmp + ": " + e);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Err("rename " + tmp + ": " + std::strerror(errno));
  return FsyncDir(std::filesystem::path(path).parent_path().string());
}

Result<std::optional<ChainCursor>> LoadCursorFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<ChainCursor>();
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto c = DecodeCursor(data);
  if (!c) return Err(path + ": " + c.error());
  return std::optional<ChainCursor>(std::move(*c));
}

// ---------------------------------------------------------------------------------------
// The EVM watcher

struct EvmChainWatcher::RawLog {
  uint64_t block_number = 0, log_index = 0;
  std::string block_hash, tx_hash, data;
  std::vector<std::string> topics;
};

EvmChainWatcher::EvmChainWatcher(EvmWatchOptions options, EvmRpc* rpc, ChainEventSink* sink)
    : opt_(std::move(options)), rpc_(rpc), sink_(sink) {
  if (opt_.reorg_window < opt_.confirmations_required)
    opt_.reorg_window = opt_.confirmations_required;
  if (opt_.reorg_window == 0) opt_.reorg_window = 1;
  if (opt_.max_block_range == 0) opt_.max_block_range = 1;
  if (opt_.max_addresses_per_filter == 0) opt_.max_addresses_per_filter = 1;
  learned_range_ = opt_.max_block_range;
  for (const auto& w : opt_.wallets) agent_of_[w.address] = w.agent;
}

Status EvmChainWatcher::Open() {
  std::error_code ec;
  std::filesystem::create_directories(opt_.data_dir, ec);
  if (ec) return Err("--data-dir " + opt_.data_dir + ": " + ec.message());
  cursor_path_ = opt_.data_dir + "/chain-cursor.json";
  auto loaded = LoadCursorFile(cursor_path_);
  if (!loaded) return Err(loaded.error());
  if (!loaded->has_value()) {
    cursor_ = ChainCursor{};
    cursor_.network = opt_.network;
    cursor_.asset = opt_.asset;
    for (const auto& w : opt_.wallets) cursor_.wallets.insert(w.address);
    return Status::Ok();
  }
  cursor_ = std::move(**loaded);
  if (cursor_.network != opt_.network || cursor_.asset != opt_.asset) {
    return Err(cursor_path_ + ": this data directory follows " + cursor_.asset + " on " +
               cursor_.network + ", not " + opt_.asset + " on " + opt_.network);
  }
  // Wallets added since the last run: backfill them from the start block up to where the
  // scan is (the scan itself covers them from there on).
  bool added = false;
  for (const auto& w : opt_.wallets) {
    if (!cursor_.wallets.count(w.address) && !cursor_.backfill.count(w.address)) {
      cursor_.backfill.insert(w.address);
      added = true;
    }
  }
  if (added && cursor_.initialized) {
    cursor_.backfill_next =
        opt_.from_block ? std::min(*opt_.from_block, cursor_.start_block) : cursor_.start_block;
    cursor_.backfill_end = cursor_.next_block;
  }
  if (!cursor_.initialized) {
    for (const auto& a : cursor_.backfill) cursor_.wallets.insert(a);
    cursor_.backfill.clear();
  }
  return Status::Ok();
}

void EvmChainWatcher::AddWallets(const std::vector<WatchedWallet>& wallets) {
  bool added = false;
  for (const auto& w : wallets) {
    if (!agent_of_.emplace(w.address, w.agent).second) continue;
    opt_.wallets.push_back(w);
    if (!cursor_.initialized) {
      cursor_.wallets.insert(w.address);
    } else if (!cursor_.wallets.count(w.address) && cursor_.backfill.insert(w.address).second) {
      added = true;
    }
  }
  if (added) {
    cursor_.backfill_next =
        opt_.from_block ? std::min(*opt_.from_block, cursor_.start_block) : cursor_.start_block;
    cursor_.backfill_end = cursor_.next_block;
  }
}

ChainWatchStats EvmChainWatcher::stats() const {
  ChainWatchStats s = stats_;
  s.rpc_calls = rpc_->calls();
  s.processed = cursor_.next_block > 0 ? cursor_.next_block - 1 : 0;
  s.backfilling = !cursor_.backfill.empty();
  return s;
}

std::vector<std::string> EvmChainWatcher::AllAddresses() const {
  std::vector<std::string> out;
  for (const auto& w : opt_.wallets) out.push_back(w.address);
  std::sort(out.begin(), out.end());
  return out;
}

Result<uint64_t> EvmChainWatcher::BlockNumber() {
  RpcReply r = rpc_->Call("eth_blockNumber", "[]");
  if (!r.ok()) return Err(r.error);
  if (r.result.size() < 2 || r.result.front() != '"') {
    rpc_->Failover();
    return Err(rpc_->current_endpoint() + ": eth_blockNumber: malformed result");
  }
  auto n = ParseQuantity(std::string_view(r.result).substr(1, r.result.size() - 2));
  if (!n) {
    rpc_->Failover();
    return Err("eth_blockNumber: " + n.error());
  }
  return *n;
}

Result<std::optional<EvmChainWatcher::Header>> EvmChainWatcher::GetHeader(uint64_t n) {
  RpcReply r = rpc_->Call("eth_getBlockByNumber", "[\"" + ToQuantity(n) + "\",false]");
  if (!r.ok()) return Err(r.error);
  if (r.result == "null") return std::optional<Header>();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(r.result);
  simdjson::dom::element doc;
  std::string_view num, hash, parent, ts;
  Header h;
  bool ok = !parser.parse(padded).get(doc) && !doc["number"].get_string().get(num) &&
            !doc["hash"].get_string().get(hash) && !doc["parentHash"].get_string().get(parent) &&
            !doc["timestamp"].get_string().get(ts);
  auto number = ok ? ParseQuantity(num) : Result<uint64_t>(Err(""));
  auto time = ok ? ParseQuantity(ts) : Result<uint64_t>(Err(""));
  auto hh = ok ? CanonicalHash32(hash, false, "hash") : Result<std::string>(Err(""));
  auto ph = ok ? CanonicalHash32(parent, false, "parentHash") : Result<std::string>(Err(""));
  if (!ok || !number || !time || !hh || !ph || *number != n || *time > (1ull << 40)) {
    rpc_->Failover();
    return Err("eth_getBlockByNumber " + std::to_string(n) + ": malformed block header");
  }
  h.number = n;
  h.hash = *hh;
  h.parent = *ph;
  h.time_s = static_cast<int64_t>(*time);
  return std::optional<Header>(std::move(h));
}

Status EvmChainWatcher::GetLogs(uint64_t from, uint64_t to,
                                const std::vector<std::string>& addresses,
                                std::vector<RawLog>* out) {
  for (size_t chunk = 0; chunk < addresses.size(); chunk += opt_.max_addresses_per_filter) {
    std::string topics = "[[\"" + std::string(kTransferTopic) + "\",\"" + kAuthorizationUsedTopic +
                         "\",\"" + kAuthorizationCanceledTopic + "\"],[";
    const size_t end = std::min(addresses.size(), chunk + opt_.max_addresses_per_filter);
    for (size_t i = chunk; i < end; ++i) {
      if (i > chunk) topics += ",";
      topics += "\"" + AddressTopic(addresses[i]) + "\"";
    }
    topics += "]]";
    uint64_t a = from;
    while (a <= to) {
      const uint64_t span = std::min(learned_range_, to - a + 1);
      const uint64_t b = a + span - 1;
      const std::string params = "[{\"fromBlock\":\"" + ToQuantity(a) + "\",\"toBlock\":\"" +
                                 ToQuantity(b) + "\",\"address\":\"" + opt_.asset +
                                 "\",\"topics\":" + topics + "}]";
      RpcReply r = rpc_->Call("eth_getLogs", params);
      if (r.code == RpcErrc::kRangeTooLarge) {
        if (span == 1) return Err("eth_getLogs refuses even one block: " + r.error);
        learned_range_ = std::max<uint64_t>(1, span / 2);
        range_successes_ = 0;
        ++stats_.range_halvings;
        continue;
      }
      if (!r.ok()) return Err(r.error);
      simdjson::dom::parser parser;
      simdjson::padded_string padded(r.result);
      simdjson::dom::array arr;
      if (parser.parse(padded).get_array().get(arr)) {
        rpc_->Failover();
        return Err("eth_getLogs: result is not an array");
      }
      for (auto e : arr) {
        RawLog l;
        std::string_view address, bn, bh, tx, li, data;
        simdjson::dom::array topics_arr;
        bool removed = false;
        bool ok = !e["address"].get_string().get(address) &&
                  !e["blockNumber"].get_string().get(bn) && !e["blockHash"].get_string().get(bh) &&
                  !e["transactionHash"].get_string().get(tx) &&
                  !e["logIndex"].get_string().get(li) && !e["data"].get_string().get(data) &&
                  !e["topics"].get_array().get(topics_arr);
        if (ok && e["removed"].get_bool().get(removed)) removed = false;  // absent: live
        auto n = ok ? ParseQuantity(bn) : Result<uint64_t>(Err(""));
        auto idx = ok ? ParseQuantity(li) : Result<uint64_t>(Err(""));
        auto hh = ok ? CanonicalHash32(bh, false, "blockHash") : Result<std::string>(Err(""));
        auto th = ok ? CanonicalHash32(tx, false, "transactionHash") : Result<std::string>(Err(""));
        if (!ok || !n || !idx || !hh || !th || *n < a || *n > b || Lower(address) != opt_.asset) {
          rpc_->Failover();
          return Err("eth_getLogs " + std::to_string(a) + ".." + std::to_string(b) +
                     ": malformed or out-of-filter log");
        }
        if (removed) continue;  // only live logs; reorgs are found through block hashes
        for (auto t : topics_arr) {
          std::string_view ts;
          if (t.get_string().get(ts)) {
            rpc_->Failover();
            return Err("eth_getLogs: malformed topic");
          }
          l.topics.push_back(Lower(ts));
        }
        l.block_number = *n;
        l.log_index = *idx;
        l.block_hash = *hh;
        l.tx_hash = *th;
        l.data = Lower(data);
        out->push_back(std::move(l));
      }
      a = b + 1;
      if (++range_successes_ >= 8 && learned_range_ < opt_.max_block_range) {
        learned_range_ = std::min(opt_.max_block_range, learned_range_ * 2);
        range_successes_ = 0;
      }
    }
  }
  return Status::Ok();
}

Status EvmChainWatcher::Decode(const RawLog& raw, const std::map<uint64_t, Header>& headers,
                               ReportedLog* out, bool* skip) {
  *skip = false;
  auto h = headers.find(raw.block_number);
  if (h == headers.end() || h->second.hash != raw.block_hash) {
    return Err("block " + std::to_string(raw.block_number) +
               " changed while it was read (log from another branch); reading it again");
  }
  ReportedLog l;
  l.block_number = raw.block_number;
  l.block_hash = raw.block_hash;
  l.block_time_s = h->second.time_s;
  l.tx_hash = raw.tx_hash;
  l.log_index = raw.log_index;
  const std::string where = "log " + raw.tx_hash + "/" + std::to_string(raw.log_index);
  if (raw.topics.size() != 3) return Err(where + ": expected 3 topics");
  auto first = TopicAddress(raw.topics[1], where + " topic 1");
  if (!first) return Err(first.error());
  auto agent = agent_of_.find(*first);
  if (agent == agent_of_.end()) return Err(where + ": topic 1 is not a watched wallet");
  l.agent = agent->second;
  if (raw.topics[0] == kTransferTopic) {
    l.kind = ReportedLog::Kind::kTransfer;
    auto to = TopicAddress(raw.topics[2], where + " topic 2");
    if (!to) return Err(to.error());
    if (raw.data.size() != 66 || !raw.data.starts_with("0x") || !IsHex(raw.data.substr(2)))
      return Err(where + ": expected a 32-byte value");
    auto amount = ParseUint256(raw.data, where + " value");
    if (!amount) {  // a well-formed value no event can carry: skip it, loudly
      *skip = true;
      if (opt_.warn) opt_.warn(amount.error() + "; not reported");
      return Status::Ok();
    }
    l.from = *first;
    l.to = *to;
    l.amount = ToAtomicString(*amount);
  } else if (raw.topics[0] == kAuthorizationUsedTopic ||
             raw.topics[0] == kAuthorizationCanceledTopic) {
    l.kind = raw.topics[0] == kAuthorizationUsedTopic ? ReportedLog::Kind::kAuthorizationUsed
                                                      : ReportedLog::Kind::kAuthorizationCanceled;
    auto nonce = CanonicalHash32(raw.topics[2], false, "nonce");
    if (!nonce) return Err(where + ": " + nonce.error());
    l.authorizer = *first;
    l.nonce = *nonce;
  } else {
    return Err(where + ": unexpected topic 0");
  }
  *out = std::move(l);
  return Status::Ok();
}

void EvmChainWatcher::AddEvent(std::vector<ChainEvent>* out, const ReportedLog& l,
                               const std::string& stage, uint64_t confirmations,
                               int64_t time_s) const {
  const bool removed = stage == "removed";
  std::string s;
  JsonWriter j(&s);
  j.BeginObject()
      .Field("specversion", "1.0")
      .Field("id", ChainEventId(opt_.network, l, stage))
      .Field("source", opt_.source)
      .Field("type", std::string("x402.chain.") + KindName(l.kind))
      .Field("time", FormatRfc3339(TimeMs{time_s * 1000}))
      .Field("subject", l.agent)
      .Field("datacontenttype", "application/json");
  j.Key("data").BeginObject().Field("network", opt_.network);
  if (l.kind == ReportedLog::Kind::kTransfer) {
    j.Field("tx_hash", l.tx_hash);
    j.Key("log_index").Uint(l.log_index);
    j.Key("block_number").Uint(l.block_number);
    j.Field("block_time", FormatRfc3339(TimeMs{l.block_time_s * 1000}))
        .Field("asset", opt_.asset)
        .Field("from", l.from)
        .Field("to", l.to)
        .Field("amount", l.amount);
    j.Key("confirmations").Uint(confirmations);
  } else {
    j.Field("asset", opt_.asset)
        .Field("authorizer", l.authorizer)
        .Field("nonce", l.nonce)
        .Field("tx_hash", l.tx_hash);
    j.Key("block_number").Uint(l.block_number);
  }
  j.Key("removed").Bool(removed);
  j.Field("block_hash", l.block_hash);
  j.EndObject();
  j.EndObject();
  out->push_back(ChainEvent{l.agent, std::move(s)});
}

void EvmChainWatcher::ConfirmPending(uint64_t head, int64_t time_s, std::vector<ChainEvent>* out) {
  for (auto& l : cursor_.logs) {
    if (l.confirmed || head < l.block_number) continue;
    const uint64_t conf = head - l.block_number + 1;
    if (conf < opt_.confirmations_required) continue;
    AddEvent(out, l, "confirmed", conf, std::max(time_s, l.block_time_s));
    l.confirmed = true;
  }
}

void EvmChainWatcher::Prune() {
  if (cursor_.next_block <= opt_.reorg_window) return;
  const uint64_t floor = cursor_.next_block - opt_.reorg_window;
  cursor_.blocks.erase(cursor_.blocks.begin(), cursor_.blocks.lower_bound(floor));
  std::erase_if(cursor_.logs,
                [&](const ReportedLog& l) { return l.block_number < floor && l.confirmed; });
}

Status EvmChainWatcher::Commit(std::vector<ChainEvent>* events) {
  if (!events->empty()) {
    if (Status st = sink_->Write(*events); !st.ok()) return Err("output: " + st.error());
    if (Status st = sink_->Flush(); !st.ok()) return Err("output: " + st.error());
  }
  if (Status st = SaveCursorFile(cursor_path_, cursor_); !st.ok())
    return Err("cursor: " + st.error());
  stats_.events += events->size();
  return Status::Ok();
}

Result<StepResult> EvmChainWatcher::HandleReorg(uint64_t head, const Header& head_header) {
  std::set<uint64_t> orphaned;
  std::optional<uint64_t> fork;
  for (auto it = cursor_.blocks.rbegin(); it != cursor_.blocks.rend(); ++it) {
    const uint64_t k = it->first;
    if (k > head) {  // the node's chain does not reach it: not on the node's branch
      orphaned.insert(k);
      continue;
    }
    std::optional<Header> h;
    if (k == head_header.number) {
      h = head_header;
    } else {
      auto got = GetHeader(k);
      if (!got) return Err(got.error());
      if (!got->has_value())
        return Err("block " + std::to_string(k) + " missing while unwinding a reorg");
      h = **got;
    }
    if (h->hash == it->second.hash) {
      fork = k;
      break;
    }
    orphaned.insert(k);
  }
  if (orphaned.empty()) return StepResult{};
  std::vector<ChainEvent> events;
  std::vector<ReportedLog> kept;
  for (auto& l : cursor_.logs) {
    auto b = cursor_.blocks.find(l.block_number);
    if (orphaned.count(l.block_number) && b != cursor_.blocks.end() &&
        b->second.hash == l.block_hash) {
      AddEvent(&events, l, "removed", 0, std::max(head_header.time_s, l.block_time_s));
    } else {
      kept.push_back(l);
    }
  }
  cursor_.logs = std::move(kept);
  for (uint64_t k : orphaned) cursor_.blocks.erase(k);
  cursor_.next_block = fork ? *fork + 1 : *orphaned.begin();
  if (cursor_.last_balance_block >= cursor_.next_block) cursor_.last_balance_block = 0;
  if (cursor_.backfill_end > cursor_.next_block) cursor_.backfill_end = cursor_.next_block;
  ++stats_.reorgs;
  if (Status st = Commit(&events); !st.ok()) return Err(st.error());
  return StepResult{true, false};
}

Result<StepResult> EvmChainWatcher::BackfillStep(uint64_t head) {
  const uint64_t from = cursor_.backfill_next;
  const uint64_t to = std::min(cursor_.backfill_end - 1, from + opt_.max_block_range - 1);
  std::vector<std::string> addresses(cursor_.backfill.begin(), cursor_.backfill.end());
  std::vector<RawLog> raw;
  if (Status st = GetLogs(from, to, addresses, &raw); !st.ok()) return Err(st.error());
  std::map<uint64_t, Header> headers;
  for (const auto& r : raw) {
    if (headers.count(r.block_number)) continue;
    auto h = GetHeader(r.block_number);
    if (!h) return Err(h.error());
    if (!h->has_value())
      return Err("block " + std::to_string(r.block_number) + " missing on the node");
    auto stored = cursor_.blocks.find(r.block_number);
    if (stored != cursor_.blocks.end() && stored->second.hash != (*h)->hash)
      return Err("block " + std::to_string(r.block_number) + " changed: a reorg is pending");
    headers[r.block_number] = **h;
  }
  std::vector<ChainEvent> events;
  std::vector<ReportedLog> logs;
  for (const auto& r : raw) {
    ReportedLog l;
    bool skip = false;
    if (Status st = Decode(r, headers, &l, &skip); !st.ok()) return Err(st.error());
    if (skip) {
      ++stats_.skipped_logs;
      continue;
    }
    logs.push_back(std::move(l));
  }
  std::sort(logs.begin(), logs.end(), [](const ReportedLog& x, const ReportedLog& y) {
    return std::tie(x.block_number, x.log_index) < std::tie(y.block_number, y.log_index);
  });
  for (auto& l : logs) {
    const uint64_t conf = head >= l.block_number ? head - l.block_number + 1 : 0;
    l.confirmed = l.kind != ReportedLog::Kind::kTransfer || conf >= opt_.confirmations_required;
    AddEvent(&events, l,
             l.kind == ReportedLog::Kind::kTransfer && l.confirmed ? "confirmed" : "seen", conf,
             l.block_time_s);
    cursor_.blocks[l.block_number] = BlockRef{l.block_hash, l.block_time_s};
    // A backfill restarted for a newly added wallet reads its older wallets' logs again.
    const bool known =
        std::any_of(cursor_.logs.begin(), cursor_.logs.end(), [&](const ReportedLog& k) {
          return k.kind == l.kind && k.tx_hash == l.tx_hash && k.log_index == l.log_index &&
                 k.block_hash == l.block_hash && k.agent == l.agent;
        });
    if (!known) cursor_.logs.push_back(l);
  }
  cursor_.backfill_next = to + 1;
  if (cursor_.backfill_next >= cursor_.backfill_end) {
    for (const auto& a : cursor_.backfill) cursor_.wallets.insert(a);
    cursor_.backfill.clear();
  }
  Prune();
  if (Status st = Commit(&events); !st.ok()) return Err(st.error());
  return StepResult{true, false};
}

Result<StepResult> EvmChainWatcher::Step() {
  // Work on the cursor in place; any failure puts the last committed one back.
  const ChainCursor saved = cursor_;
  auto result = [&]() -> Result<StepResult> {
    auto head = BlockNumber();
    if (!head) return Err(head.error());
    const uint64_t H = *head;
    stats_.head = H;
    if (!cursor_.initialized) {
      cursor_.initialized = true;
      cursor_.start_block = opt_.from_block.value_or(H);
      cursor_.next_block = cursor_.start_block;
    }
    if (!cursor_.backfill.empty() && cursor_.backfill_next < cursor_.backfill_end) {
      return BackfillStep(H);
    }
    if (!cursor_.backfill.empty()) {  // nothing to backfill (scan had not moved yet)
      for (const auto& a : cursor_.backfill) cursor_.wallets.insert(a);
      cursor_.backfill.clear();
    }
    const uint64_t from = cursor_.next_block;
    if (H + 1 < from) {
      // The node is behind our cursor, or went back. If it disagrees about a block we hold,
      // that is a reorg to a shorter branch; otherwise wait for it (or another node).
      auto stored = cursor_.blocks.upper_bound(H);
      if (stored != cursor_.blocks.begin()) {
        --stored;
        auto h = GetHeader(stored->first);
        if (!h) return Err(h.error());
        if (h->has_value() && (*h)->hash != stored->second.hash) return HandleReorg(H, **h);
      }
      rpc_->Failover();
      return Err("the node's head " + std::to_string(H) + " is behind the last processed block " +
                 std::to_string(from - 1) + "; waiting");
    }
    if (H + 1 == from) return StepResult{false, true};

    const bool deep = from + opt_.reorg_window <= H;
    uint64_t to = std::min(H, from + opt_.max_block_range - 1);
    if (deep) to = std::min(to, H - opt_.reorg_window);
    std::map<uint64_t, Header> headers;
    auto fetch = [&](uint64_t k) -> Status {
      if (headers.count(k)) return Status::Ok();
      auto h = GetHeader(k);
      if (!h) return Err(h.error());
      if (!h->has_value()) {
        rpc_->Failover();
        return Err("block " + std::to_string(k) + " is missing on the node (head " +
                   std::to_string(H) + ")");
      }
      headers[k] = **h;
      return Status::Ok();
    };
    if (!deep) {
      for (uint64_t k = from; k <= to; ++k) {
        if (Status st = fetch(k); !st.ok()) return Err(st.error());
        const Header& h = headers[k];
        if (k == from) {
          auto prev = cursor_.blocks.find(from - 1);
          if (from > 0 && prev != cursor_.blocks.end() && prev->second.hash != h.parent) {
            return HandleReorg(H, h);
          }
        } else if (headers[k - 1].hash != h.parent) {
          return Err("block " + std::to_string(k) + " changed while it was read; reading it again");
        }
      }
    }
    std::vector<RawLog> raw;
    if (Status st = GetLogs(from, to, AllAddresses(), &raw); !st.ok()) return Err(st.error());
    for (const auto& r : raw) {
      if (Status st = fetch(r.block_number); !st.ok()) return Err(st.error());
    }
    if (Status st = fetch(to); !st.ok()) return Err(st.error());
    std::vector<ReportedLog> logs;
    for (const auto& r : raw) {
      ReportedLog l;
      bool skip = false;
      if (Status st = Decode(r, headers, &l, &skip); !st.ok()) return Err(st.error());
      if (skip) {
        ++stats_.skipped_logs;
        continue;
      }
      logs.push_back(std::move(l));
    }
    std::sort(logs.begin(), logs.end(), [](const ReportedLog& x, const ReportedLog& y) {
      return std::tie(x.block_number, x.log_index) < std::tie(y.block_number, y.log_index);
    });
    std::vector<ChainEvent> events;
    // Logs reported earlier that reach their confirmations now, then the new ones.
    ConfirmPending(H, headers[to].time_s, &events);
    for (auto& l : logs) {
      const uint64_t conf = H - l.block_number + 1;
      l.confirmed = l.kind != ReportedLog::Kind::kTransfer || conf >= opt_.confirmations_required;
      AddEvent(&events, l,
               l.kind == ReportedLog::Kind::kTransfer && l.confirmed ? "confirmed" : "seen", conf,
               l.block_time_s);
      cursor_.logs.push_back(l);
    }
    // Balances near the head only (a pruned node has no state for old blocks).
    if (opt_.balance_interval > 0 && !deep &&
        (cursor_.last_balance_block == 0 ||
         to / opt_.balance_interval > cursor_.last_balance_block / opt_.balance_interval)) {
      const std::string tag = ToQuantity(to);
      for (const auto& w : opt_.wallets) {
        RpcReply r =
            rpc_->Call("eth_call", "[{\"to\":\"" + opt_.asset + "\",\"data\":\"0x70a08231" +
                                       AddressTopic(w.address).substr(2) + "\"},\"" + tag + "\"]");
        if (!r.ok()) return Err(r.error);
        if (r.result.size() < 2 || r.result.front() != '"')
          return Err("eth_call balanceOf: malformed result");
        auto bal = ParseUint256(std::string_view(r.result).substr(1, r.result.size() - 2),
                                "balanceOf(" + w.address + ")");
        if (!bal) {
          rpc_->Failover();
          return Err(bal.error());
        }
        std::string s;
        JsonWriter j(&s);
        j.BeginObject()
            .Field("specversion", "1.0")
            .Field("id", Sha256Hex("x402rec-chain|1|" + opt_.network + "|balance|" + opt_.asset +
                                   "|" + w.address + "|" + std::to_string(to) + "|" +
                                   headers[to].hash + "|" + w.agent))
            .Field("source", opt_.source)
            .Field("type", "x402.wallet.balance")
            .Field("time", FormatRfc3339(TimeMs{headers[to].time_s * 1000}))
            .Field("subject", w.agent)
            .Field("datacontenttype", "application/json");
        j.Key("data").BeginObject().Field("network", opt_.network).Field("address", w.address);
        j.Field("asset", opt_.asset).Field("balance", ToAtomicString(*bal));
        j.Key("block_number").Uint(to);
        j.EndObject().EndObject();
        events.push_back(ChainEvent{w.agent, std::move(s)});
      }
      cursor_.last_balance_block = to;
    }
    for (const auto& [k, h] : headers) cursor_.blocks[k] = BlockRef{h.hash, h.time_s};
    cursor_.next_block = to + 1;
    Prune();
    if (Status st = Commit(&events); !st.ok()) return Err(st.error());
    return StepResult{true, to >= H};
  }();
  if (!result) cursor_ = saved;
  return result;
}

// ---------------------------------------------------------------------------------------

Status RunChainWatcher(ChainWatcher& w, const RunOptions& o) {
  if (Status st = w.Open(); !st.ok()) return st;
  auto stopped = [&] { return o.stop && o.stop->load(); };
  auto sleep = [&](std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (!stopped() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  std::optional<uint64_t> target;
  int failures = 0;
  while (!stopped()) {
    if (o.before_step) o.before_step();
    auto r = w.Step();
    if (!r) {
      ++failures;
      if (o.log) o.log("warn", r.error());
      if (o.on_step) o.on_step(w.stats(), false);
      std::chrono::milliseconds wait =
          o.error_backoff_initial * (1LL << std::min(failures - 1, 16));
      sleep(std::min(wait, o.error_backoff_max));
      continue;
    }
    failures = 0;
    const ChainWatchStats s = w.stats();
    if (o.on_step) o.on_step(s, r->caught_up);
    if (!target) target = s.head;
    if (o.until_caught_up && s.processed >= *target && !s.backfilling) return Status::Ok();
    if (!r->progressed) sleep(o.poll_interval);
  }
  return Status::Ok();
}

}  // namespace x402
