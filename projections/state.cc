#include "projections/state.h"

namespace x402 {

std::string_view TableName(Table t) {
  switch (t) {
    case Table::kDedupe:
      return "dedupe";
    case Table::kAgents:
      return "agents";
    case Table::kPayments:
      return "payments";
    case Table::kBuckets:
      return "buckets";
    case Table::kAgentPayments:
      return "agent_payments";
    case Table::kAuths:
      return "auths";
    case Table::kTxHashIndex:
      return "tx_hash_index";
    case Table::kTxs:
      return "txs";
    case Table::kWallets:
      return "wallets";
    case Table::kWalletOut:
      return "wallet_out";
    case Table::kBalances:
      return "balances";
    case Table::kVendors:
      return "vendors";
    case Table::kFindings:
      return "findings";
    case Table::kTimers:
      return "timers";
    case Table::kCount:
      break;
  }
  return "?";
}

bool TableInDigest(Table t) {
  switch (t) {
    case Table::kDedupe:  // empty since state format 3 (engine/dedupe_window.h)
    case Table::kAgentPayments:
    case Table::kTxHashIndex:
    case Table::kWalletOut:
    case Table::kTimers:
    case Table::kFindings:  // open findings are digested separately (canonical fields only)
      return false;
    default:
      return true;
  }
}

}  // namespace x402
