#include "api/api_service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "api/state_reader.h"
#include "engine/batch_state.h"
#include "projections/codec.h"
#include "projections/finding.h"
#include "projections/projections.h"
#include "projections/records.h"
#include "schemas/json_writer.h"

namespace x402 {

namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

ApiResponse Json(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  r.body.push_back('\n');
  return r;
}

ApiResponse HttpError(int status, std::string_view reason) {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("error", reason);
  j.EndObject();
  return Json(status, std::move(out));
}

void Money(JsonWriter& j, std::string_view key, Amount a) {
  j.Key(key).BeginObject();
  j.Field("atomic", ToAtomicString(a));
  j.Field("usdc", ToUsdcString(a));
  j.EndObject();
}

std::string PpmNumber(uint64_t ppm) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%llu.%06llu", (unsigned long long)(ppm / 1000000),
                (unsigned long long)(ppm % 1000000));
  return buf;
}

bool ValidAgentId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
          c == '-'))
      return false;
  }
  return true;
}

std::string Hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

bool Unhex(std::string_view hex, std::string* out) {
  if (hex.size() % 2) return false;
  out->clear();
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = v(hex[i]), lo = v(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

// Parses the query string; rejects parameters not in `allowed` and repeated ones.
Result<Query> ParseQuery(std::string_view qs, std::initializer_list<std::string_view> allowed) {
  Query q;
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k, v;
    if (!PercentDecode(part.substr(0, eq), &k) ||
        !PercentDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1),
                       &v)) {
      return Err("malformed percent-encoding in the query string");
    }
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) return Err("unknown query parameter '" + k + "'");
    for (const auto& [pk, pv] : q)
      if (pk == k) return Err("query parameter '" + k + "' given twice");
    q.emplace_back(std::move(k), std::move(v));
  }
  return q;
}

const std::string* Param(const Query& q, std::string_view k) {
  for (const auto& [pk, pv] : q)
    if (pk == k) return &pv;
  return nullptr;
}

std::string_view ContributionName(Contribution c) {
  switch (c) {
    case Contribution::kReserved:
      return "reserved";
    case Contribution::kCommitted:
      return "committed";
    default:
      return "none";
  }
}

std::string_view MatchName(uint8_t m) {
  switch (m) {
    case kMatchPending:
      return "pending";
    case kMatched:
      return "matched";
    case kDiscrepant:
      return "discrepant";
    default:
      return "none";
  }
}

void ObsJson(JsonWriter& j, std::string_view key, const ChainObs& o, const std::string& tx) {
  j.Key(key);
  if (!o.present) {
    j.Null();
    return;
  }
  j.BeginObject();
  j.Field("tx_hash", tx);
  j.Key("block_number").Uint(o.block_number);
  j.Key("removed").Bool(o.removed);
  j.EndObject();
}

void MaskKinds(uint32_t mask, std::vector<std::string>* out) {
  for (int k = 0; k < kFindingKindCount; ++k) {
    if (mask & (1u << k)) {
      std::string n(FindingKindName(FindingKind(k)));
      if (std::find(out->begin(), out->end(), n) == out->end()) out->push_back(n);
    }
  }
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      auto hv = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hv(in[i + 1]), lo = hv(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

ApiService::ApiService(ApiServiceOptions o) : o_(std::move(o)) {
  if (!o_.wall_ms) {
    o_.wall_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

ApiResponse ApiService::Handle(const HttpRequest& req) const {
  if (!o_.token.empty()) {
    // RFC 7235: the scheme is case-insensitive and one or more spaces follow it.
    std::string_view auth = req.authorization;
    const size_t sp = auth.find(' ');
    bool ok = false;
    if (sp == 6) {
      bool bearer = true;
      for (size_t i = 0; i < 6; ++i) bearer = bearer && (auth[i] | 0x20) == "bearer"[i];
      auth.remove_prefix(sp);
      while (auth.starts_with(' ')) auth.remove_prefix(1);
      ok = bearer && ConstantTimeEquals(auth, o_.token);
    }
    if (!ok) {
      ApiResponse r = HttpError(401, "missing or wrong bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
  }
  if (req.method != "GET" && req.method != "HEAD") {
    ApiResponse r =
        HttpError(405, "method " + req.method + " not allowed; the API is read-only (GET)");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  std::string_view target = req.target;
  const size_t qm = target.find('?');
  const std::string_view raw_path = target.substr(0, qm);
  const std::string_view qs =
      qm == std::string_view::npos ? std::string_view() : target.substr(qm + 1);
  // Split the path into decoded segments.
  std::vector<std::string> seg;
  {
    std::string_view p = raw_path;
    if (!p.starts_with('/')) return HttpError(400, "request target must start with '/'");
    p.remove_prefix(1);
    while (true) {
      size_t sl = p.find('/');
      std::string s;
      if (!PercentDecode(p.substr(0, sl), &s))
        return HttpError(400, "malformed percent-encoding in the path");
      seg.push_back(std::move(s));
      if (sl == std::string_view::npos) break;
      p.remove_prefix(sl + 1);
    }
    if (seg.size() > 1 && seg.back().empty()) seg.pop_back();  // trailing slash
  }
  auto no_query = [&]() -> std::optional<ApiResponse> {
    auto q = ParseQuery(qs, {});
    if (!q) return HttpError(400, q.error());
    return std::nullopt;
  };
  if (seg.size() == 1) {
    if (seg[0] == "metrics") {
      if (!o_.metrics) return HttpError(404, "metrics are not enabled");
      ApiResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = o_.metrics->Render();
      return r;
    }
    if (seg[0] == "healthz") return Json(200, "{\"status\":\"ok\"}");
    if (seg[0] == "readyz") return Ready();
  }
  if (seg.size() >= 2 && seg[0] == "v1") {
    if (seg[1] == "agents" && seg.size() == 3) {
      if (auto e = no_query()) return *e;
      return Agent(seg[2]);
    }
    if (seg[1] == "agents" && seg.size() == 4 && seg[3] == "can-spend") {
      auto q = ParseQuery(qs, {"amount", "at"});
      if (!q) return HttpError(400, q.error());
      return CanSpend(seg[2], *q);
    }
    if (seg[1] == "findings" && seg.size() == 2) {
      auto q = ParseQuery(qs, {"status", "kind", "agent", "severity", "limit", "cursor"});
      if (!q) return HttpError(400, q.error());
      return Findings(*q);
    }
    if (seg[1] == "findings" && seg.size() == 3) {
      if (auto e = no_query()) return *e;
      return FindingById(seg[2]);
    }
    if (seg[1] == "payments" && seg.size() == 3) {
      if (auto e = no_query()) return *e;
      return Payment(seg[2]);
    }
    if ((seg[1] == "report" || seg[1] == "report.html") && seg.size() == 2) {
      if (auto e = no_query()) return *e;
      const bool html = seg[1] == "report.html";
      if (!o_.report) return HttpError(503, "the report is not available in this mode");
      auto body = o_.report(html ? ReportFormat::kHtml : ReportFormat::kJson);
      if (!body) return HttpError(503, "the pipeline did not build the report in time; retry");
      ApiResponse r;
      if (html) r.content_type = "text/html; charset=utf-8";
      r.body = std::move(*body);
      return r;
    }
  }
  return HttpError(404, "no such endpoint: " + std::string(raw_path));
}

ApiResponse ApiService::Ready() const {
  Readiness r;
  if (o_.readiness) r = o_.readiness();
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Key("ready").Bool(r.ready);
  j.Key("checks").BeginArray();
  for (const auto& c : r.checks) {
    j.BeginObject();
    j.Field("name", c.name);
    j.Key("ok").Bool(c.ok);
    j.Field("detail", c.detail);
    j.EndObject();
  }
  j.EndArray();
  j.Key("reasons").BeginArray();
  for (const auto& c : r.checks)
    if (!c.ok) j.String(c.name + ": " + c.detail);
  j.EndArray();
  j.EndObject();
  return Json(r.ready ? 200 : 503, std::move(out));
}

namespace {

struct AgentView {
  bool known = false;
  uint32_t shard = 0;
  Limits limits;
  BucketRecord day, month;
  std::string day_bucket, month_bucket;
};

// Limits in force at `at` and the agent's day and month buckets of `at`.
AgentView LoadAgent(StateReader& r, const ProjectionConfig& cfg, const std::string& agent,
                    TimeMs at) {
  AgentView v;
  std::string val;
  AgentRecord rec;
  bool has_rec = false;
  if (r.Find(Table::kAgents, agent, &val, &v.shard)) {
    v.known = true;
    has_rec = AgentRecord::Decode(val, &rec);
  } else {
    // An agent known only from its spend (no limits_set) has buckets.
    for (const auto& [s, wm] : r.watermarks()) {
      auto it = r.Iter(Table::kBuckets);
      const std::string prefix = BatchState::ShardPrefix(s) + agent + "|";
      it->Seek(prefix);
      if (it->Valid() && it->key().starts_with(prefix)) {
        v.known = true;
        v.shard = s;
        break;
      }
    }
  }
  Projections proj(&cfg);
  v.limits = proj.EffectiveLimits(agent, has_rec ? &rec : nullptr, at);
  v.day_bucket = DayBucket(at);
  v.month_bucket = MonthBucket(at);
  if (v.known) {
    if (r.Get(Table::kBuckets, v.shard, Projections::BucketKey(agent, 'D', v.day_bucket), &val))
      BucketRecord::Decode(val, &v.day);
    if (r.Get(Table::kBuckets, v.shard, Projections::BucketKey(agent, 'M', v.month_bucket), &val))
      BucketRecord::Decode(val, &v.month);
  }
  return v;
}

Amount Spent(const BucketRecord& b) { return SaturatingAdd(b.committed, b.reserved); }

}  // namespace

ApiResponse ApiService::Agent(const std::string& id) const {
  if (!ValidAgentId(id))
    return HttpError(400, "agent id: expected 1..128 characters of [A-Za-z0-9_.:-]");
  StateReader r(o_.store);
  const TimeMs at = r.MaxWatermark();
  if (at == kTimeMin) return HttpError(404, "unknown agent '" + id + "'");
  AgentView v = LoadAgent(r, *o_.config, id, at);
  if (!v.known) return HttpError(404, "unknown agent '" + id + "'");
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("agent_id", id);
  j.Field("as_of", FormatRfc3339(at));
  j.Key("limits").BeginObject();
  Money(j, "daily", v.limits.daily);
  Money(j, "monthly", v.limits.monthly);
  Money(j, "per_transaction", v.limits.per_transaction);
  j.EndObject();
  for (auto [name, b, bucket, limit] :
       {std::tuple{"day", &v.day, &v.day_bucket, v.limits.daily},
        std::tuple{"month", &v.month, &v.month_bucket, v.limits.monthly}}) {
    j.Key(name).BeginObject();
    j.Field("bucket", *bucket);
    Money(j, "committed", b->committed);
    Money(j, "reserved", b->reserved);
    const Amount spent = Spent(*b);
    Money(j, "spent", spent);
    Money(j, "limit", limit);
    auto rem = CheckedSub(limit, spent);
    Money(j, "remaining", rem ? *rem : Amount{});
    j.Key("utilization").Raw(PpmNumber(UtilizationPpm(spent, limit)));
    j.EndObject();
  }
  j.EndObject();
  return Json(200, std::move(out));
}

ApiResponse ApiService::CanSpend(const std::string& id, const Query& q) const {
  if (!ValidAgentId(id))
    return HttpError(400, "agent id: expected 1..128 characters of [A-Za-z0-9_.:-]");
  const std::string* amount_s = Param(q, "amount");
  if (!amount_s) return HttpError(400, "amount: required (decimal USDC, e.g. amount=2.50)");
  auto amount = ParseUsdcDecimal(*amount_s, "amount");
  if (!amount) return HttpError(400, amount.error());
  if (amount->is_zero()) return HttpError(400, "amount: must be greater than zero");
  StateReader r(o_.store);
  TimeMs at = r.MaxWatermark();
  if (const std::string* at_s = Param(q, "at")) {
    auto t = ParseRfc3339(*at_s, "at");
    if (!t) return HttpError(400, t.error());
    at = *t;
  } else if (at == kTimeMin) {
    at = TimeMs{o_.wall_ms()};
  }
  AgentView v = LoadAgent(r, *o_.config, id, at);
  std::string out;
  JsonWriter j(&out);
  std::vector<std::string> reasons;
  j.BeginObject();
  j.Field("agent_id", id);
  j.Field("as_of", FormatRfc3339(at));
  j.Key("known_agent").Bool(v.known);
  Money(j, "amount", *amount);
  std::string checks;
  JsonWriter c(&checks);
  c.BeginArray();
  {
    const bool ok = *amount <= v.limits.per_transaction;
    c.BeginObject();
    c.Field("limit", "per_transaction");
    c.Key("ok").Bool(ok);
    Money(c, "limit_amount", v.limits.per_transaction);
    c.EndObject();
    if (!ok)
      reasons.push_back("per_transaction: " + ToUsdcString(*amount) +
                        " USDC exceeds the per-transaction maximum of " +
                        ToUsdcString(v.limits.per_transaction) + " USDC");
  }
  for (auto [name, b, bucket, limit] :
       {std::tuple{"daily", &v.day, &v.day_bucket, v.limits.daily},
        std::tuple{"monthly", &v.month, &v.month_bucket, v.limits.monthly}}) {
    const Amount spent = Spent(*b);
    auto after = CheckedAdd(spent, *amount);
    const bool ok = after && *after <= limit;
    c.BeginObject();
    c.Field("limit", name);
    c.Key("ok").Bool(ok);
    c.Field("bucket", *bucket);
    Money(c, "limit_amount", limit);
    Money(c, "committed", b->committed);
    Money(c, "reserved", b->reserved);
    Money(c, "after", after ? *after : Amount{~u128(0)});
    auto rem = CheckedSub(limit, spent);
    Money(c, "remaining", rem ? *rem : Amount{});
    c.EndObject();
    if (!ok)
      reasons.push_back(std::string(name) + ": " + ToUsdcString(spent) +
                        " USDC spent or reserved in " + *bucket + " + " + ToUsdcString(*amount) +
                        " USDC exceeds the limit of " + ToUsdcString(limit) + " USDC");
  }
  c.EndArray();
  j.Key("allowed").Bool(reasons.empty());
  j.Key("checks").Raw(checks);
  j.Key("reasons").BeginArray();
  for (const auto& s : reasons) j.String(s);
  j.EndArray();
  j.EndObject();
  return Json(200, std::move(out));
}

ApiResponse ApiService::Findings(const Query& q) const {
  std::optional<bool> want_open;
  if (const std::string* s = Param(q, "status")) {
    if (*s == "open") {
      want_open = true;
    } else if (*s == "resolved") {
      want_open = false;
    } else if (*s != "all") {
      return HttpError(400, "status: expected open, resolved or all, got '" + *s + "'");
    }
  }
  std::optional<FindingKind> kind;
  if (const std::string* s = Param(q, "kind")) {
    kind = FindingKindFromName(*s);
    if (!kind) return HttpError(400, "kind: unknown finding kind '" + *s + "'");
  }
  std::optional<Severity> sev;
  if (const std::string* s = Param(q, "severity")) {
    sev = SeverityFromName(*s);
    if (!sev)
      return HttpError(400, "severity: expected info, warning or critical, got '" + *s + "'");
  }
  const std::string* agent = Param(q, "agent");
  if (agent && !ValidAgentId(*agent))
    return HttpError(400, "agent: expected 1..128 characters of [A-Za-z0-9_.:-]");
  uint64_t limit = 100;
  if (const std::string* s = Param(q, "limit")) {
    char* end = nullptr;
    limit = std::strtoull(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0' || !std::isdigit(static_cast<unsigned char>((*s)[0])) ||
        limit < 1 || limit > 1000)
      return HttpError(400, "limit: expected an integer 1..1000, got '" + *s + "'");
  }
  std::string cursor;
  if (const std::string* s = Param(q, "cursor")) {
    if (s->empty() || !Unhex(*s, &cursor) || cursor.size() < 5)
      return HttpError(400, "cursor: not a cursor this API returned");
  }
  StateReader r(o_.store);
  auto it = r.Iter(Table::kFindings);
  if (cursor.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(cursor);
    if (it->Valid() && it->key() == rocksdb::Slice(cursor)) it->Next();
  }
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Key("findings").BeginArray();
  uint64_t n = 0;
  std::string last;
  bool more = false;
  Finding f;
  for (; it->Valid(); it->Next()) {
    if (kind &&
        (it->key().size() < 5 || static_cast<uint8_t>(it->key()[4]) != static_cast<uint8_t>(*kind)))
      continue;
    if (!Finding::Decode(std::string_view(it->value().data(), it->value().size()), &f)) continue;
    if (want_open && f.open != *want_open) continue;
    if (sev && f.severity != *sev) continue;
    if (agent && f.agent_id != *agent) continue;
    if (n == limit) {
      more = true;
      break;
    }
    j.Raw(f.ToJson());
    last = it->key().ToString();
    ++n;
  }
  j.EndArray();
  j.Key("count").Uint(n);
  j.Key("next_cursor");
  if (more) {
    j.String(Hex(last));
  } else {
    j.Null();
  }
  j.EndObject();
  return Json(200, std::move(out));
}

ApiResponse ApiService::FindingById(const std::string& id) const {
  bool hex = id.size() == 64;
  for (char c : id) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) return HttpError(400, "finding id: expected 64 lowercase hex characters");
  StateReader r(o_.store);
  auto it = r.Iter(Table::kFindings);
  Finding f;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!Finding::Decode(std::string_view(it->value().data(), it->value().size()), &f)) continue;
    if (f.finding_id == id) return Json(200, f.ToJson());
  }
  return HttpError(404, "unknown finding '" + id + "'");
}

ApiResponse ApiService::Payment(const std::string& id) const {
  if (id.empty() || id.size() > 256) return HttpError(400, "payment id: expected 1..256 bytes");
  StateReader r(o_.store);
  std::string val;
  uint32_t shard = 0;
  PaymentRecord p;
  if (!r.Find(Table::kPayments, id, &val, &shard) || !PaymentRecord::Decode(val, &p)) {
    return HttpError(404, "unknown payment '" + id + "'");
  }
  const TimeMs wm = r.watermarks().count(shard) ? r.watermarks().at(shard) : kTimeMin;
  AuthRecord auth;
  const bool has_auth_rec = p.has_auth && r.Get(Table::kAuths, shard, p.AuthKey(), &val) &&
                            AuthRecord::Decode(val, &auth);
  std::vector<std::string> open;
  MaskKinds(p.open_mask, &open);
  if (has_auth_rec) MaskKinds(auth.open_mask, &open);
  std::string status = "unknown";
  if (p.settled) {
    status = "settled";
  } else if (p.failed) {
    status = "failed";
  } else if (p.cancelled) {
    status = "cancelled";
  } else if (p.has_auth) {
    const bool expired =
        wm.ms >= p.valid_before * 1000 ||
        (has_auth_rec &&
         (auth.open_mask >> static_cast<int>(FindingKind::kAuthorizationExpired)) & 1);
    status = expired ? "expired" : "authorized";
  }
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("payment_id", id);
  j.Field("agent_id", p.agent);
  j.Field("status", status);
  j.Key("authorization");
  if (p.has_auth) {
    j.BeginObject();
    j.Field("time", FormatRfc3339(p.auth_ref.time));
    j.Field("source", p.auth_ref.source);
    j.Field("event_id", p.auth_ref.id);
    j.Field("vendor", p.vendor);
    j.Field("resource", p.resource);
    j.Field("network", p.network);
    j.Field("asset", p.asset);
    j.Field("payer", p.payer);
    j.Field("pay_to", p.pay_to);
    j.Field("nonce", p.nonce);
    Money(j, "amount", p.amount);
    j.Field("valid_after", FormatRfc3339(TimeMs{p.valid_after * 1000}));
    j.Field("valid_before", FormatRfc3339(TimeMs{p.valid_before * 1000}));
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("settlement");
  if (p.settled) {
    j.BeginObject();
    j.Field("time", FormatRfc3339(p.settle_ref.time));
    j.Field("tx_hash", p.tx_hash);
    Money(j, "amount", p.SettledAmount());
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("failure");
  if (p.failed) {
    j.BeginObject();
    j.Field("time", FormatRfc3339(p.fail_ref.time));
    j.Field("reason", p.fail_reason);
    j.Key("tx_hash");
    if (p.fail_tx_hash.empty()) {
      j.Null();
    } else {
      j.String(p.fail_tx_hash);
    }
    j.Key("failures").Uint(p.Failures());
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("cancellation");
  if (p.cancelled) {
    j.BeginObject();
    j.Field("time", FormatRfc3339(p.cancel_ref.time));
    j.EndObject();
  } else {
    j.Null();
  }
  j.Key("budget").BeginObject();
  j.Field("contribution", ContributionName(p.contribution));
  Money(j, "amount", p.contribution_amount);
  j.EndObject();
  j.Key("chain").BeginObject();
  j.Field("match", MatchName(p.match));
  if (has_auth_rec) {
    ObsJson(j, "authorization_used", auth.used, auth.used_tx);
    ObsJson(j, "authorization_canceled", auth.canceled, auth.canceled_tx);
  } else {
    j.Key("authorization_used").Null();
    j.Key("authorization_canceled").Null();
  }
  j.Key("transfers").BeginArray();
  if (p.settled && p.has_auth) {
    TxRecord tx;
    if (r.Get(Table::kTxs, shard, p.network + "|" + p.tx_hash, &val) &&
        TxRecord::Decode(val, &tx)) {
      for (const auto& l : tx.logs) {
        if (!l.obs.present) continue;
        j.BeginObject();
        j.Key("log_index").Uint(l.log_index);
        j.Field("from", l.from);
        j.Field("to", l.to);
        j.Field("asset", l.asset);
        Money(j, "amount", l.amount);
        j.Key("block_number").Uint(l.obs.block_number);
        j.Field("block_time", FormatRfc3339(l.block_time));
        j.Key("confirmations").Uint(l.obs.confirmations);
        j.Key("removed").Bool(l.obs.removed);
        j.EndObject();
        MaskKinds(l.open_mask, &open);
      }
    }
  }
  j.EndArray();
  j.EndObject();
  j.Key("open_findings").BeginArray();
  for (const auto& k : open) j.String(k);
  j.EndArray();
  j.EndObject();
  return Json(200, std::move(out));
}

}  // namespace x402
