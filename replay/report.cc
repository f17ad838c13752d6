#include "replay/report.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <memory>

#include "connectors/discord_format.h"
#include "connectors/file_source.h"
#include "projections/codec.h"
#include "projections/records.h"
#include "schemas/json_writer.h"

namespace x402 {

namespace {

std::string Thousands(uint64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

void AddSettled(ReconSummary* s, uint8_t match, Amount a) {
  ++s->payments_settled;
  s->amount_settled = SaturatingAdd(s->amount_settled, a);
  if (match == kMatched) {
    ++s->matched;
    s->amount_matched = SaturatingAdd(s->amount_matched, a);
  } else if (match == kDiscrepant) {
    ++s->discrepant;
    s->amount_discrepant = SaturatingAdd(s->amount_discrepant, a);
  } else {
    ++s->pending;
    s->amount_pending = SaturatingAdd(s->amount_pending, a);
  }
}

void AddUnrecorded(ReconSummary* s, Amount a) {
  ++s->unrecorded;
  s->amount_unrecorded = SaturatingAdd(s->amount_unrecorded, a);
}

}  // namespace

std::vector<ReadPosition> DescribePositions(const Positions& positions) {
  std::vector<ReadPosition> out;
  for (const auto& [key, value] : positions) {
    if (key.starts_with("pos|file|")) {
      auto pos = FilePosition::Decode(value);
      if (!pos) continue;
      out.push_back({"file " + key.substr(9), Thousands(pos->line_no - 1) + " lines (" +
                                                  Thousands(pos->offset) + " bytes)"});
    } else if (key.starts_with("pos|kafka|")) {
      const std::string rest = key.substr(10);
      const size_t bar = rest.rfind('|');
      if (bar == std::string::npos) continue;
      uint64_t next = 0;
      try {
        next = std::stoull(value);
      } catch (...) {
        continue;
      }
      out.push_back(
          {"kafka topic " + rest.substr(0, bar) + " partition " + rest.substr(bar + 1),
           next == 0 ? "nothing read"
                     : "offsets 0 to " + Thousands(next - 1) + " (next " + Thousands(next) + ")"});
    }
  }
  return out;
}

namespace {

// The input positions committed with the state (meta keys "pos|file|PATH" and
// "pos|kafka|TOPIC|PARTITION"): what the state was built from.
std::vector<ReadPosition> ReadPositions(Engine& engine) {
  Positions positions;
  RocksStore* store = engine.store();
  if (store == nullptr) return {};
  std::unique_ptr<rocksdb::Iterator> it(
      store->db()->NewIterator(rocksdb::ReadOptions(), store->meta()));
  for (it->Seek("pos|"); it->Valid() && it->key().starts_with("pos|"); it->Next())
    positions.emplace_back(it->key().ToString(), it->value().ToString());
  return DescribePositions(positions);
}

}  // namespace

Report BuildReport(Engine& engine, TimeMs as_of, const MemoryDeadLetterSink* dls) {
  Report r;
  r.as_of = as_of;
  r.state_digest = engine.Digest();
  r.stats = engine.stats();
  r.config = engine.config();
  r.read = ReadPositions(engine);
  if (dls) r.dead_letters = dls->kept();
  Projections proj(&engine.config());
  std::map<std::string, AgentRecord> records;
  {
    AgentRecord a;
    engine.ForEachEntry(Table::kAgents, [&](std::string_view k, std::string_view v) {
      std::string agent(k.substr(4));
      if (!AgentRecord::Decode(v, &a)) {
        r.agents[agent].limits = proj.EffectiveLimits(agent, nullptr, as_of);
        return;
      }
      r.agents[agent].limits = proj.EffectiveLimits(agent, &a, as_of);
      records[agent] = a;
    });
  }
  {
    BucketRecord b;
    engine.ForEachEntry(Table::kBuckets, [&](std::string_view k, std::string_view v) {
      std::string key(k.substr(4));
      size_t bar = key.find('|');
      if (bar == std::string::npos || bar + 3 > key.size()) return;
      if (!BucketRecord::Decode(v, &b)) return;
      std::string agent = key.substr(0, bar);
      auto ins = r.agents.try_emplace(agent);
      if (ins.second) ins.first->second.limits = proj.EffectiveLimits(agent, nullptr, as_of);
      const bool day = key[bar + 1] == 'D';
      auto& m = day ? ins.first->second.days : ins.first->second.months;
      // The limit in force at the bucket's last instant (or at as_of, when that is earlier).
      auto rec = records.find(agent);
      const TimeMs at = std::min(as_of, TimeMs{b.end.ms - 1});
      const Limits l =
          proj.EffectiveLimits(agent, rec == records.end() ? nullptr : &rec->second, at);
      m[key.substr(bar + 3)] = AgentSpend{b.committed, b.reserved, day ? l.daily : l.monthly};
    });
  }
  {
    PaymentRecord p;
    engine.ForEachEntry(Table::kPayments, [&](std::string_view, std::string_view v) {
      if (!PaymentRecord::Decode(v, &p) || !p.settled) return;
      const Amount a = p.SettledAmount();
      AddSettled(&r.recon, p.match, a);
      AddSettled(&r.recon_by_network[p.network], p.match, a);
    });
  }
  engine.ForEachFinding([&](const Finding& f) { r.findings.push_back(f); });
  for (const Finding& f : r.findings) {
    if (!f.open || f.kind != FindingKind::kReconUnrecordedTransfer) continue;
    Amount a;
    for (const auto& [k, v] : f.evidence)
      if (k == "observed_amount") (void)TryParseAtomic(v, &a);
    AddUnrecorded(&r.recon, a);
    AddUnrecorded(&r.recon_by_network[EvidenceNetwork(f.key, f.evidence)], a);
  }
  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.open != b.open) return a.open;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.key < b.key;
  });
  return r;
}

std::string Report::ToJson() const {
  std::string out;
  JsonWriter j(&out);
  j.BeginObject();
  j.Field("as_of", FormatRfc3339(as_of));
  j.Field("state_digest", state_digest);
  j.Key("events").BeginObject();
  j.Key("applied").Uint(stats.applied_total());
  j.Key("by_type").BeginObject();
  for (int i = 0; i < kEventTypeCount; ++i)
    j.Key(EventTypeName(EventType(i))).Uint(stats.applied[i]);
  j.EndObject();
  j.Key("duplicates").Uint(stats.duplicates);
  j.Key("dead_letters").Uint(stats.dead_letters);
  j.Key("skipped_after_as_of").Uint(stats.skipped_after_as_of);
  j.EndObject();
  j.Key("dead_letters").BeginArray();
  for (const auto& d : dead_letters) {
    j.BeginObject();
    j.Field("origin", d.origin);
    j.Key(d.is_file ? "line" : "partition").Uint(d.index);
    j.Key("offset").Uint(d.offset);
    j.Field("reason", d.reason);
    j.EndObject();
  }
  j.EndArray();
  j.Key("agents").BeginObject();
  for (const auto& [agent, a] : agents) {
    j.Key(agent).BeginObject();
    j.Key("limits").BeginObject();
    j.Field("daily", ToAtomicString(a.limits.daily));
    j.Field("monthly", ToAtomicString(a.limits.monthly));
    j.Field("per_transaction", ToAtomicString(a.limits.per_transaction));
    j.EndObject();
    for (const auto* period : {&a.days, &a.months}) {
      j.Key(period == &a.days ? "days" : "months").BeginObject();
      for (const auto& [bucket, s] : *period) {
        j.Key(bucket).BeginObject();
        j.Field("committed", ToAtomicString(s.committed));
        j.Field("reserved", ToAtomicString(s.reserved));
        j.Field("limit", ToAtomicString(s.limit));
        j.EndObject();
      }
      j.EndObject();
    }
    j.EndObject();
  }
  j.EndObject();
  auto recon_fields = [&j](const ReconSummary& s) {
    j.Key("payments_settled").Uint(s.payments_settled);
    j.Key("matched").Uint(s.matched);
    j.Key("pending").Uint(s.pending);
    j.Key("discrepant").Uint(s.discrepant);
    j.Key("unrecorded").Uint(s.unrecorded);
    j.Field("amount_settled", ToAtomicString(s.amount_settled));
    j.Field("amount_matched", ToAtomicString(s.amount_matched));
    j.Field("amount_pending", ToAtomicString(s.amount_pending));
    j.Field("amount_discrepant", ToAtomicString(s.amount_discrepant));
    j.Field("amount_unrecorded", ToAtomicString(s.amount_unrecorded));
  };
  j.Key("reconciliation").BeginObject();
  recon_fields(recon);
  j.Key("by_network").BeginObject();
  for (const auto& [network, s] : recon_by_network) {
    j.Key(network).BeginObject();
    recon_fields(s);
    j.EndObject();
  }
  j.EndObject();
  j.EndObject();
  j.Key("read").BeginArray();
  for (const auto& p : read)
    j.BeginObject().Field("origin", p.origin).Field("detail", p.detail).EndObject();
  j.EndArray();
  std::map<std::string_view, std::pair<uint64_t, uint64_t>> by_kind;
  for (int i = 0; i < kFindingKindCount; ++i) by_kind[FindingKindName(FindingKind(i))] = {0, 0};
  for (const auto& f : findings) {
    auto& c = by_kind[FindingKindName(f.kind)];
    (f.open ? c.first : c.second) += 1;
  }
  j.Key("findings_summary").BeginObject();
  for (const auto& [kind, c] : by_kind) {
    j.Key(kind).BeginObject();
    j.Key("open").Uint(c.first);
    j.Key("resolved").Uint(c.second);
    j.EndObject();
  }
  j.EndObject();
  j.Key("findings").BeginArray();
  for (const auto& f : findings) j.Raw(f.ToJson());
  j.EndArray();
  j.EndObject();
  out.push_back('\n');
  return out;
}

std::string Report::ToMarkdown() const {
  std::string md;
  md += "# x402rec report\n\n";
  md += "As of **" + FormatRfc3339(as_of) + "** (event time). State digest `" + state_digest +
        "`.\n\n";
  md += "## Events\n\n";
  md +=
      "| applied | duplicates dropped | dead letters | after as-of (skipped) "
      "|\n|---:|---:|---:|---:|\n";
  md += "| " + std::to_string(stats.applied_total()) + " | " + std::to_string(stats.duplicates) +
        " | " + std::to_string(stats.dead_letters) + " | " +
        std::to_string(stats.skipped_after_as_of) + " |\n\n";
  md += "| event type | applied |\n|---|---:|\n";
  for (int i = 0; i < kEventTypeCount; ++i) {
    md += "| `" + std::string(EventTypeName(EventType(i))) + "` | " +
          std::to_string(stats.applied[i]) + " |\n";
  }
  // Top agents by spend this month (the month of as_of).
  const std::string month = MonthBucket(as_of), day = DayBucket(as_of);
  struct Row {
    std::string agent;
    Amount month_spend, day_spend;
    Limits limits;
  };
  std::vector<Row> rows;
  for (const auto& [agent, a] : agents) {
    Row row{agent, {}, {}, a.limits};
    if (auto it = a.months.find(month); it != a.months.end())
      row.month_spend = SaturatingAdd(it->second.committed, it->second.reserved);
    if (auto it = a.days.find(day); it != a.days.end())
      row.day_spend = SaturatingAdd(it->second.committed, it->second.reserved);
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.month_spend != b.month_spend) return a.month_spend > b.month_spend;
    return a.agent < b.agent;
  });
  md += "\n## Agents (" + std::to_string(agents.size()) + "), top by spend in " + month + "\n\n";
  md += "| agent | spent " + day + " (USDC) | daily limit | spent " + month +
        " (USDC) | monthly limit | per-transaction max |\n|---|---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < rows.size() && i < 20; ++i) {
    const Row& r = rows[i];
    md += "| " + r.agent + " | " + ToUsdcString(r.day_spend) + " | " +
          ToUsdcString(r.limits.daily) + " | " + ToUsdcString(r.month_spend) + " | " +
          ToUsdcString(r.limits.monthly) + " | " + ToUsdcString(r.limits.per_transaction) + " |\n";
  }
  md += "\n## Ledger versus chain\n\n";
  md +=
      "| settled payments | matched on chain | pending (within grace) | discrepant "
      "|\n|---:|---:|---:|---:|\n";
  md += "| " + std::to_string(recon.payments_settled) + " (" + ToUsdcString(recon.amount_settled) +
        " USDC) | " + std::to_string(recon.matched) + " (" + ToUsdcString(recon.amount_matched) +
        " USDC) | " + std::to_string(recon.pending) + " (" + ToUsdcString(recon.amount_pending) +
        " USDC) | " + std::to_string(recon.discrepant) + " (" +
        ToUsdcString(recon.amount_discrepant) + " USDC) |\n";
  std::map<std::string_view, std::pair<uint64_t, uint64_t>> kinds;
  for (const auto& f : findings) {
    auto& c = kinds[FindingKindName(f.kind)];
    (f.open ? c.first : c.second) += 1;
  }
  md += "\n## Findings by kind\n\n| kind | open | resolved |\n|---|---:|---:|\n";
  for (const auto& [k, c] : kinds) {
    md += "| `" + std::string(k) + "` | " + std::to_string(c.first) + " | " +
          std::to_string(c.second) + " |\n";
  }
  size_t open = 0;
  for (const auto& f : findings) open += f.open;
  md += "\n## Open findings (" + std::to_string(open) + ")\n\n";
  for (Severity sev : {Severity::kCritical, Severity::kWarning, Severity::kInfo}) {
    std::vector<const Finding*> list;
    for (const auto& f : findings)
      if (f.open && f.severity == sev) list.push_back(&f);
    if (list.empty()) continue;
    md += "### " + std::string(SeverityName(sev)) + " (" + std::to_string(list.size()) + ")\n\n";
    size_t shown = 0;
    for (const Finding* f : list) {
      if (++shown > 200) {
        md += "- … and " + std::to_string(list.size() - 200) + " more (see the JSON report)\n";
        break;
      }
      md += "- **" + std::string(FindingKindName(f->kind)) + "** since " +
            FormatRfc3339(f->opened_at) + ": " + f->message + "\n";
    }
    md += "\n";
  }
  size_t resolved = findings.size() - open;
  md += "## Resolved findings: " + std::to_string(resolved) + "\n\n";
  if (!dead_letters.empty()) {
    md += "## Dead letters (" + std::to_string(stats.dead_letters) + ")\n\n";
    for (size_t i = 0; i < dead_letters.size() && i < 50; ++i) {
      const auto& d = dead_letters[i];
      md += "- " + d.origin + (d.is_file ? ":" : "/") + std::to_string(d.index) + ": " + d.reason +
            "\n";
    }
  }
  return md;
}

}  // namespace x402
