#include "engine/config_file.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <optional>

#include "schemas/network.h"

namespace x402 {
namespace {

std::string Where(const std::string& path, const toml::node& n, const std::string& key) {
  return path + ":" + std::to_string(n.source().begin.line) + ": " + key;
}

Status GetUsdc(const std::string& path, const toml::table& t, const char* table, const char* name,
               Amount* out) {
  const toml::node* n = t.get(name);
  if (!n) return Status::Ok();
  const std::string key = std::string(table) + "." + name;
  if (!n->is_string()) return Err(Where(path, *n, key) + ": expected a decimal USDC string such as \"100.00\"");
  auto r = ParseUsdcDecimal(n->as_string()->get(), key);
  if (!r) return Err(path + ":" + std::to_string(n->source().begin.line) + ": " + r.error());
  *out = *r;
  return Status::Ok();
}

Status GetInt(const std::string& path, const toml::table& t, const char* table, const char* name,
              int64_t min, int64_t max, int64_t* out) {
  const toml::node* n = t.get(name);
  if (!n) return Status::Ok();
  const std::string key = std::string(table) + "." + name;
  if (!n->is_integer()) return Err(Where(path, *n, key) + ": expected an integer");
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    return Err(Where(path, *n, key) + ": " + std::to_string(v) + " outside " + std::to_string(min) + ".." +
               std::to_string(max));
  }
  *out = v;
  return Status::Ok();
}

#define X402_TRY_ST(expr)         \
  do {                            \
    Status _s = (expr);           \
    if (!_s.ok()) return _s;      \
  } while (0)

Status GetSeverity(const std::string& path, const toml::table& t, const std::string& table,
                   const char* name, Severity* out) {
  const toml::node* n = t.get(name);
  if (!n) return Status::Ok();
  std::optional<Severity> s;
  if (n->is_string()) s = SeverityFromName(n->as_string()->get());
  if (!s)
    return Err(Where(path, *n, table + "." + name) +
               ": expected \"info\", \"warning\" or \"critical\"");
  *out = *s;
  return Status::Ok();
}

// Seconds as an integer or a decimal ("0.5"), to milliseconds.
Status GetSecondsMs(const std::string& path, const toml::table& t, const char* name, int64_t max_s,
                    int64_t* out_ms) {
  const toml::node* n = t.get(name);
  if (!n) return Status::Ok();
  const std::string key = std::string("alerts.") + name;
  double v = -1;
  if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
  if (n->is_floating_point()) v = n->as_floating_point()->get();
  if (!(v >= 0 && v <= static_cast<double>(max_s))) {
    return Err(Where(path, *n, key) + ": expected seconds 0.." + std::to_string(max_s));
  }
  *out_ms = static_cast<int64_t>(v * 1000.0 + 0.5);
  return Status::Ok();
}

Status LoadAlerts(const std::string& path, const toml::table& a, AlertSettings* out) {
  for (const auto& [k, v] : a) {
    const std::string key(k.str());
    if (key != "group_window_s" && key != "storm_threshold" && key != "request_timeout_s" &&
        key != "discord") {
      return Err(Where(path, v, "alerts." + key) + ": unknown option");
    }
  }
  X402_TRY_ST(GetSecondsMs(path, a, "group_window_s", 3600, &out->group_window_ms));
  int64_t timeout_ms = out->request_timeout_ms;
  X402_TRY_ST(GetSecondsMs(path, a, "request_timeout_s", 600, &timeout_ms));
  if (timeout_ms < 100)
    return Err(Where(path, *a.get("request_timeout_s"), "alerts.request_timeout_s") +
               ": at least 0.1");
  out->request_timeout_ms = timeout_ms;
  int64_t storm = static_cast<int64_t>(out->storm_threshold);
  X402_TRY_ST(GetInt(path, a, "alerts", "storm_threshold", 0, 1000000, &storm));
  out->storm_threshold = static_cast<uint64_t>(storm);
  const toml::node* d = a.get("discord");
  if (!d) return Status::Ok();
  const toml::array* arr = d->as_array();
  if (!arr) return Err(Where(path, *d, "alerts.discord") + ": expected [[alerts.discord]] tables");
  size_t i = 0;
  for (const auto& e : *arr) {
    ++i;
    const std::string table = "alerts.discord[" + std::to_string(i) + "]";
    const toml::table* t = e.as_table();
    if (!t) return Err(Where(path, e, table) + ": expected a table");
    DiscordRoute r;
    r.origin = path + ":" + std::to_string(e.source().begin.line);
    r.label = std::to_string(i);
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      if (key != "url" && key != "url_env" && key != "label" && key != "min_severity" &&
          key != "max_severity" && key != "kinds") {
        return Err(Where(path, v, table + "." + key) + ": unknown option");
      }
      if ((key == "url" || key == "url_env" || key == "label") && !v.is_string()) {
        return Err(Where(path, v, table + "." + key) + ": expected a string");
      }
    }
    if (auto* u = t->get("url")) r.url = u->as_string()->get();
    if (auto* u = t->get("url_env")) {
      if (!r.url.empty()) return Err(Where(path, *u, table) + ": give url or url_env, not both");
      const std::string var = u->as_string()->get();
      const char* val = std::getenv(var.c_str());
      if (!val || !*val)
        return Err(Where(path, *u, table + ".url_env") + ": environment variable " + var +
                   " is not set");
      r.url = val;
    }
    if (r.url.empty()) return Err(Where(path, e, table) + ": url (or url_env) is required");
    if (auto* l = t->get("label")) {
      r.label = l->as_string()->get();
      if (r.label.empty() || r.label.size() > 32 ||
          r.label.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
              std::string::npos) {
        return Err(Where(path, *l, table + ".label") + ": expected 1..32 of [A-Za-z0-9_-]");
      }
    }
    X402_TRY_ST(GetSeverity(path, *t, table, "min_severity", &r.min_severity));
    X402_TRY_ST(GetSeverity(path, *t, table, "max_severity", &r.max_severity));
    if (r.min_severity > r.max_severity)
      return Err(Where(path, e, table) + ": min_severity is above max_severity");
    if (const toml::node* kn = t->get("kinds")) {
      const toml::array* ka = kn->as_array();
      if (!ka)
        return Err(Where(path, *kn, table + ".kinds") + ": expected an array of finding kinds");
      for (const auto& kv : *ka) {
        std::string kind = kv.is_string() ? std::string(kv.as_string()->get()) : std::string();
        bool ok = FindingKindFromName(kind).has_value();
        if (!ok && kind.size() > 2 && kind.ends_with(".*")) {
          for (int f = 0; f < kFindingKindCount; ++f)
            ok = ok || FindingKindName(FindingKind(f)).starts_with(kind.substr(0, kind.size() - 1));
        }
        if (!ok)
          return Err(Where(path, kv, table + ".kinds") + ": unknown finding kind '" + kind + "'");
        r.kinds.push_back(kind);
      }
    }
    out->discord.push_back(std::move(r));
  }
  return Status::Ok();
}

Status LoadChain(const std::string& path, const toml::table& c, ChainSettings* out) {
  static const char* kStrings[] = {"network", "asset",   "data_dir", "wallets",
                                   "out",     "brokers", "topic"};
  static const char* kInts[] = {"from_block", "max_block_range", "balance_interval", "reorg_window",
                                "poll_interval_ms"};
  for (const auto& [k, v] : c) {
    const std::string key(k.str());
    bool known = key == "rpc" || key == "rpc_env";
    for (const char* n : kStrings) known = known || key == n;
    for (const char* n : kInts) known = known || key == n;
    if (!known) return Err(Where(path, v, "chain." + key) + ": unknown option");
  }
  std::string* strings[] = {&out->network, &out->asset,   &out->data_dir, &out->wallets,
                            &out->out,     &out->brokers, &out->topic};
  for (size_t i = 0; i < std::size(kStrings); ++i) {
    if (const toml::node* n = c.get(kStrings[i])) {
      if (!n->is_string())
        return Err(Where(path, *n, std::string("chain.") + kStrings[i]) + ": expected a string");
      *strings[i] = n->as_string()->get();
    }
  }
  std::optional<int64_t>* ints[] = {&out->from_block, &out->max_block_range, &out->balance_interval,
                                    &out->reorg_window, &out->poll_interval_ms};
  for (size_t i = 0; i < std::size(kInts); ++i) {
    if (c.get(kInts[i])) {
      int64_t v = 0;
      X402_TRY_ST(GetInt(path, c, "chain", kInts[i], 0, INT64_MAX / 2, &v));
      *ints[i] = v;
    }
  }
  for (const char* key : {"rpc", "rpc_env"}) {
    const toml::node* n = c.get(key);
    if (!n) continue;
    const toml::array* arr = n->as_array();
    if (!arr)
      return Err(Where(path, *n, std::string("chain.") + key) + ": expected an array of strings");
    for (const auto& e : *arr) {
      if (!e.is_string())
        return Err(Where(path, *n, std::string("chain.") + key) + ": expected an array of strings");
      std::string v = e.as_string()->get();
      if (std::string(key) == "rpc_env") {
        const char* env = std::getenv(v.c_str());
        if (!env || !*env)
          return Err(Where(path, e, "chain.rpc_env") + ": environment variable " + v +
                     " is not set");
        v = env;
      }
      out->rpc.push_back(v);
    }
  }
  return Status::Ok();
}

}  // namespace

Status LoadConfigFile(const std::string& path, FileSettings* s) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Err(path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  static const char* kTables[] = {"budget",  "engine",  "authorizations", "recon",
                                  "vendors", "wallets", "kafka",          "alerts",
                                  "discord", "http",    "metrics",        "chain"};
  for (const auto& [k, v] : root) {
    bool known = false;
    for (const char* t : kTables) known = known || k.str() == t;
    if (!known) return Err(Where(path, v, std::string(k.str())) + ": unknown section");
    if (!v.is_table()) return Err(Where(path, v, std::string(k.str())) + ": expected a [table]");
  }
  ProjectionConfig& p = s->projections;
  if (auto* b = root["budget"].as_table()) {
    X402_TRY_ST(GetUsdc(path, *b, "budget", "daily_limit", &p.default_limits.daily));
    X402_TRY_ST(GetUsdc(path, *b, "budget", "monthly_limit", &p.default_limits.monthly));
    X402_TRY_ST(GetUsdc(path, *b, "budget", "per_transaction_max", &p.default_limits.per_transaction));
    if (const toml::node* n = b->get("thresholds_pct")) {
      const toml::array* arr = n->as_array();
      if (!arr || arr->empty()) return Err(Where(path, *n, "budget.thresholds_pct") + ": expected an array of percentages");
      p.budget_thresholds_pct.clear();
      for (const auto& e : *arr) {
        if (!e.is_integer() || e.as_integer()->get() < 1 || e.as_integer()->get() > 100) {
          return Err(Where(path, *n, "budget.thresholds_pct") + ": each threshold is an integer 1..100");
        }
        p.budget_thresholds_pct.push_back(static_cast<uint32_t>(e.as_integer()->get()));
      }
    }
    int64_t crit = p.budget_critical_pct;
    X402_TRY_ST(GetInt(path, *b, "budget", "critical_pct", 1, 100, &crit));
    p.budget_critical_pct = static_cast<uint32_t>(crit);
  }
  auto secs = [&](const toml::table& t, const char* table, const char* name, int64_t* out) {
    return GetInt(path, t, table, name, 0, 365LL * 86400, out);
  };
  if (auto* a = root["authorizations"].as_table()) {
    X402_TRY_ST(secs(*a, "authorizations", "stale_after_s", &p.stale_after_s));
  }
  if (auto* r = root["recon"].as_table()) {
    X402_TRY_ST(secs(*r, "recon", "chain_grace_s", &p.chain_grace_s));
    X402_TRY_ST(secs(*r, "recon", "confirmation_timeout_s", &p.confirmation_timeout_s));
    int64_t bps = p.amount_tolerance_bps, def = static_cast<int64_t>(p.default_confirmations_required);
    X402_TRY_ST(GetInt(path, *r, "recon", "amount_tolerance_bps", 0, 10000, &bps));
    X402_TRY_ST(GetInt(path, *r, "recon", "default_confirmations_required", 0, 100000, &def));
    p.amount_tolerance_bps = static_cast<uint32_t>(bps);
    p.default_confirmations_required = static_cast<uint64_t>(def);
    if (const toml::node* n = r->get("confirmations_required")) {
      const toml::table* t = n->as_table();
      if (!t) return Err(Where(path, *n, "recon.confirmations_required") + ": expected a table of network = count");
      for (const auto& [k, v] : *t) {
        auto net = CanonicalNetwork(k.str(), "recon.confirmations_required." + std::string(k.str()));
        if (!net) return Err(Where(path, v, "recon.confirmations_required") + ": " + net.error());
        if (!v.is_integer() || v.as_integer()->get() < 0) {
          return Err(Where(path, v, "recon.confirmations_required." + std::string(k.str())) + ": expected a count");
        }
        p.confirmations_required[*net] = static_cast<uint64_t>(v.as_integer()->get());
      }
    }
  }
  if (auto* v = root["vendors"].as_table()) {
    int64_t w = p.vendor_streak_warning, c = p.vendor_streak_critical;
    X402_TRY_ST(GetInt(path, *v, "vendors", "streak_warning", 1, 1000000, &w));
    X402_TRY_ST(GetInt(path, *v, "vendors", "streak_critical", 1, 1000000, &c));
    p.vendor_streak_warning = static_cast<uint32_t>(w);
    p.vendor_streak_critical = static_cast<uint32_t>(c);
  }
  if (auto* w = root["wallets"].as_table()) {
    X402_TRY_ST(GetUsdc(path, *w, "wallets", "low_warning", &p.wallet_low_warning));
    X402_TRY_ST(GetUsdc(path, *w, "wallets", "low_critical", &p.wallet_low_critical));
  }
  if (auto* k = root["kafka"].as_table()) {
    for (const auto& [key, v] : *k) {
      if (v.is_string()) {
        s->kafka[std::string(key.str())] = v.as_string()->get();
      } else if (v.is_integer()) {
        s->kafka[std::string(key.str())] = std::to_string(v.as_integer()->get());
      } else if (v.is_boolean()) {
        s->kafka[std::string(key.str())] = v.as_boolean()->get() ? "true" : "false";
      } else {
        return Err(Where(path, v, "kafka." + std::string(key.str())) + ": expected a string, integer or boolean");
      }
    }
  }
  if (auto* a = root["alerts"].as_table()) X402_TRY_ST(LoadAlerts(path, *a, &s->alerts));
  if (auto* h = root["http"].as_table()) {
    for (const auto& [k, v] : *h) {
      static const char* kKeys[] = {"listen",
                                    "request_timeout",
                                    "max_request_bytes",
                                    "max_connections",
                                    "max_connections_per_address",
                                    "head_timeout_ms",
                                    "body_timeout_ms",
                                    "idle_timeout_ms",
                                    "write_timeout_ms",
                                    "retry_after_s"};
      bool known = false;
      for (const char* key : kKeys) known = known || k.str() == key;
      if (!known) return Err(Where(path, v, "http." + std::string(k.str())) + ": unknown option");
    }
    if (const toml::node* n = h->get("listen")) {
      if (!n->is_string()) return Err(Where(path, *n, "http.listen") + ": expected \"ADDR:PORT\"");
      s->http_listen = n->as_string()->get();
      s->http_listen_set = true;
    }
    X402_TRY_ST(GetInt(path, *h, "http", "request_timeout", 1, 3600, &s->http_request_timeout_s));
    X402_TRY_ST(
        GetInt(path, *h, "http", "max_request_bytes", 1024, 1 << 20, &s->http_max_request_bytes));
    X402_TRY_ST(GetInt(path, *h, "http", "max_connections", 1, 1000000, &s->http_max_connections));
    X402_TRY_ST(GetInt(path, *h, "http", "max_connections_per_address", 0, 1000000,
                       &s->http_max_connections_per_address));
    X402_TRY_ST(GetInt(path, *h, "http", "head_timeout_ms", 100, 600000, &s->http_head_timeout_ms));
    X402_TRY_ST(GetInt(path, *h, "http", "body_timeout_ms", 100, 600000, &s->http_body_timeout_ms));
    X402_TRY_ST(GetInt(path, *h, "http", "idle_timeout_ms", 100, 600000, &s->http_idle_timeout_ms));
    X402_TRY_ST(
        GetInt(path, *h, "http", "write_timeout_ms", 100, 600000, &s->http_write_timeout_ms));
    X402_TRY_ST(GetInt(path, *h, "http", "retry_after_s", 1, 3600, &s->http_retry_after_s));
  }
  if (auto* m = root["metrics"].as_table()) {
    X402_TRY_ST(GetInt(path, *m, "metrics", "top_n", 1, 100000, &s->metrics_top_n));
    X402_TRY_ST(
        GetInt(path, *m, "metrics", "probe_interval", 1, 3600, &s->metrics_probe_interval_s));
    X402_TRY_ST(GetInt(path, *m, "metrics", "ready_max_lag", 0, INT64_MAX / 2, &s->ready_max_lag));
  }
  if (auto* c = root["chain"].as_table()) X402_TRY_ST(LoadChain(path, *c, &s->chain));
  if (auto* e = root["engine"].as_table()) {
    int64_t bs = static_cast<int64_t>(s->batch_size), ce = static_cast<int64_t>(s->cache_entries);
    X402_TRY_ST(GetInt(path, *e, "engine", "batch_size", 1, 1000000, &bs));
    X402_TRY_ST(GetInt(path, *e, "engine", "cache_entries", 1000, 100000000, &ce));
    X402_TRY_ST(GetInt(path, *e, "engine", "dedupe_horizon", 0, 365LL * 86400, &s->projections.dedupe_horizon_s));
    int64_t mb = static_cast<int64_t>(s->state_cache_mb);
    X402_TRY_ST(GetInt(path, *e, "engine", "state_cache_mb", 8, 1 << 20, &mb));
    s->state_cache_mb = static_cast<size_t>(mb);
    s->batch_size = static_cast<size_t>(bs);
    s->cache_entries = static_cast<size_t>(ce);
  }
  return Status::Ok();
}

}  // namespace x402
