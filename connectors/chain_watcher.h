// The chain watcher: reads a chain's logs for registered wallets and emits the x402.chain.*
// and x402.wallet.balance events of EVENTS.md, with confirmations, reorgs and a crash-safe
// cursor.
//
//   ChainWatcher        one chain source (EvmChainWatcher here; a Solana source would sit
//                       beside it behind the same interface)
//   ChainEventSink      where events go: FileChainSink (JSONL, fsync) or KafkaChainSink
//                       (idempotent producer, delivery reports); Flush() = acknowledged
//   ChainCursor         what survives a restart, in <data_dir>/chain-cursor.json
//
// Each Step() reads the head, processes the next range of blocks, writes its events to the
// sink, waits for the sink to acknowledge them, and only then moves the cursor (written to a
// temporary file, fsynced, renamed). A crash at any instant repeats events, never loses one;
// repeats carry the same event ids (see EventId), so the engine drops them as duplicates.
//
// Thread-safety: a watcher is driven by one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/evm_rpc.h"
#include "schemas/result.h"

namespace x402 {

class KafkaProducer;

// One output record: key = agent (the Kafka message key), value = the CloudEvent JSON.
struct ChainEvent {
  std::string key;
  std::string json;
};

class ChainEventSink {
 public:
  virtual ~ChainEventSink() = default;
  // Hands events over (they may still be buffered).
  virtual Status Write(const std::vector<ChainEvent>& events) = 0;
  // Returns once every event written so far is durable (file: fsync) or acknowledged (Kafka
  // delivery reports); an error means some may not be.
  virtual Status Flush() = 0;
};

// Appends JSON lines to a file. On open, a torn last line (a crash mid-write, never
// acknowledged) is cut off so the file stays valid JSONL.
class FileChainSink final : public ChainEventSink {
 public:
  static Result<std::unique_ptr<FileChainSink>> Open(const std::string& path);
  ~FileChainSink() override;
  Status Write(const std::vector<ChainEvent>& events) override;
  Status Flush() override;

 private:
  int fd_ = -1;
  std::string path_;
};

// Produces to `topic` with key = agent through an idempotent producer it does not own.
class KafkaChainSink final : public ChainEventSink {
 public:
  KafkaChainSink(KafkaProducer* producer, std::string topic)
      : producer_(producer), topic_(std::move(topic)) {}
  Status Write(const std::vector<ChainEvent>& events) override;
  Status Flush() override;

 private:
  KafkaProducer* producer_;
  std::string topic_;
};

// A wallet the watcher follows, and the agent its events name as subject.
struct WatchedWallet {
  std::string address;  // canonical (lowercase 0x + 40 hex)
  std::string agent;
};
// Reads a CSV of "agent,address" lines (a header line "agent,address" and blank or '#'
// lines are skipped). Errors name the line. One address may belong to one agent only.
Result<std::vector<WatchedWallet>> LoadWalletsCsv(const std::string& path);

// The default USDC contract of a canonical EVM network, empty when unknown.
std::string DefaultUsdcAsset(const std::string& canonical_network);

// A log the watcher reported and keeps while its block is in the reorg window.
struct ReportedLog {
  enum class Kind { kTransfer, kAuthorizationUsed, kAuthorizationCanceled };
  Kind kind = Kind::kTransfer;
  uint64_t block_number = 0;
  std::string block_hash;
  int64_t block_time_s = 0;
  std::string tx_hash;
  uint64_t log_index = 0;
  std::string agent;
  std::string from, to, amount;   // kTransfer
  std::string authorizer, nonce;  // the authorization logs
  bool confirmed = false;         // the "confirmed" report was made (or not needed)
};

struct BlockRef {
  std::string hash;
  int64_t time_s = 0;
};

// What survives a restart. Blocks are the hashes of processed blocks in the reorg window
// (all of them near the head; during a deep backfill only those with logs and each range's
// last block).
struct ChainCursor {
  std::string network, asset;
  bool initialized = false;  // false: the first Step picks the start block
  uint64_t start_block = 0;  // where the scan began (new wallets are backfilled from here)
  uint64_t next_block = 0;   // the first block not processed yet
  std::map<uint64_t, BlockRef> blocks;
  std::vector<ReportedLog> logs;
  std::set<std::string> wallets;    // addresses scanned from the start
  std::set<std::string> backfill;   // addresses added later, being backfilled
  uint64_t backfill_next = 0;       // their next block, up to backfill_end
  uint64_t backfill_end = 0;        // exclusive
  uint64_t last_balance_block = 0;  // 0 = none yet
};

// Serialisation of the cursor (JSON, versioned). Save writes <path>.tmp, fsyncs, renames
// and fsyncs the directory.
std::string EncodeCursor(const ChainCursor& c);
Result<ChainCursor> DecodeCursor(const std::string& json);
Status SaveCursorFile(const std::string& path, const ChainCursor& c);
// nullopt when the file does not exist.
Result<std::optional<ChainCursor>> LoadCursorFile(const std::string& path);

// The event id of one report: lowercase hex SHA-256 of
// "x402rec-chain|1|<network>|<what>|<tx>|<log index>|<block hash>|<agent>|<stage>" with stage
// "seen", "confirmed" or "removed"; the same observation always gets the same id.
std::string ChainEventId(const std::string& network, const ReportedLog& log,
                         const std::string& stage);

struct ChainWatchStats {
  uint64_t head = 0;       // the node's head at the last step
  uint64_t processed = 0;  // the last processed block (next_block - 1)
  uint64_t reorgs = 0;     // fork points found
  uint64_t events = 0;     // events acknowledged by the sink
  uint64_t rpc_calls = 0;
  uint64_t range_halvings = 0;
  uint64_t skipped_logs = 0;  // logs that cannot be reported (see EvmWatchOptions::warn)
  bool backfilling = false;   // wallets added since the last run are being backfilled
};

struct StepResult {
  bool progressed = false;  // the cursor moved (blocks processed or a reorg unwound)
  bool caught_up = false;   // nothing left below the head seen in this step
};

struct RunOptions {
  bool until_caught_up = false;  // return once the head seen at the first step is processed
  std::chrono::milliseconds poll_interval{2000};
  std::chrono::milliseconds error_backoff_initial{200};
  std::chrono::milliseconds error_backoff_max{30000};
  const std::atomic<bool>* stop = nullptr;
  // Called with ("warn"|"info", message) for faults and progress; messages hold no secrets.
  std::function<void(const std::string& level, const std::string& message)> log;
  // Called before every step, on the watcher's thread (e.g. to add newly registered wallets).
  std::function<void()> before_step;
  // Called after every step (failed ones with caught_up false), on the watcher's thread.
  std::function<void(const ChainWatchStats& stats, bool caught_up)> on_step;
};

// One chain source.
class ChainWatcher {
 public:
  virtual ~ChainWatcher() = default;
  // Loads (or starts) the cursor.
  virtual Status Open() = 0;
  // One unit of work; an error is a fault to retry (nothing was acknowledged past it).
  virtual Result<StepResult> Step() = 0;
  virtual ChainWatchStats stats() const = 0;
  virtual void Failover() = 0;
};

struct EvmWatchOptions {
  std::string network;  // canonical CAIP-2
  std::string asset;    // token contract, lowercase
  std::vector<WatchedWallet> wallets;
  std::string data_dir;
  std::optional<uint64_t> from_block;  // first start: default the head at that time
  uint64_t confirmations_required = 6;
  uint64_t reorg_window = 128;  // raised to confirmations_required when smaller
  uint64_t max_block_range = 2000;
  size_t max_addresses_per_filter = 100;
  uint64_t balance_interval = 100;  // 0: no balances
  std::string source = "x402rec/chain-watch";
  // Told about a log that can never be reported (a Transfer value above the largest amount
  // EVENTS.md allows): it is skipped, not retried forever. Messages hold no secrets.
  std::function<void(const std::string& message)> warn;
};

// The EVM watcher over JSON-RPC (eth_blockNumber, eth_getBlockByNumber, eth_getLogs,
// eth_call). Follows the asset's Transfer (topic 1 = a wallet), AuthorizationUsed and
// AuthorizationCanceled (authorizer = a wallet) logs in one filter per address chunk.
// Drives `w` until stopped (or caught up with until_caught_up): steps, waits poll_interval
// when idle, backs off after a failed step. Never gives up on faults; returns an error only
// when Open fails.
Status RunChainWatcher(ChainWatcher& w, const RunOptions& options);

class EvmChainWatcher final : public ChainWatcher {
 public:
  // `rpc` and `sink` are not owned and outlive the watcher.
  EvmChainWatcher(EvmWatchOptions options, EvmRpc* rpc, ChainEventSink* sink);
  Status Open() override;
  Result<StepResult> Step() override;
  ChainWatchStats stats() const override;
  void Failover() override { rpc_->Failover(); }
  const ChainCursor& cursor() const { return cursor_; }
  // Follows more wallets from the next step on (after Open). One the cursor did not know is
  // backfilled from the start block up to where the scan is. REQUIRES: after a restart, the
  // wallets followed before are added again before the first Step (else blocks processed
  // meanwhile miss them): read the registrations to their end first.
  void AddWallets(const std::vector<WatchedWallet>& wallets);

 private:
  struct Header {
    uint64_t number = 0;
    std::string hash, parent;
    int64_t time_s = 0;
  };
  struct RawLog;
  Result<uint64_t> BlockNumber();
  // nullopt: the node does not have the block (behind).
  Result<std::optional<Header>> GetHeader(uint64_t n);
  Status GetLogs(uint64_t from, uint64_t to, const std::vector<std::string>& addresses,
                 std::vector<RawLog>* out);
  Status Decode(const RawLog& raw, const std::map<uint64_t, Header>& headers, ReportedLog* out,
                bool* skip);
  Result<StepResult> HandleReorg(uint64_t head, const Header& head_header);
  Result<StepResult> BackfillStep(uint64_t head);
  Status Commit(std::vector<ChainEvent>* events);
  void AddEvent(std::vector<ChainEvent>* out, const ReportedLog& log, const std::string& stage,
                uint64_t confirmations, int64_t time_s) const;
  void ConfirmPending(uint64_t head, int64_t time_s, std::vector<ChainEvent>* out);
  void Prune();
  std::vector<std::string> AllAddresses() const;

  EvmWatchOptions opt_;
  EvmRpc* rpc_;
  ChainEventSink* sink_;
  ChainCursor cursor_;
  std::map<std::string, std::string> agent_of_;  // address -> agent
  std::string cursor_path_;
  uint64_t learned_range_ = 0;  // the block span eth_getLogs accepts now
  uint64_t range_successes_ = 0;
  ChainWatchStats stats_;
};

}  // namespace x402
