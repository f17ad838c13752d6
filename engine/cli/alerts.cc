#include "engine/cli/alerts.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>

#include "connectors/discord_sink.h"
#include "connectors/http_client.h"
#include "connectors/kafka_alert_sink.h"
#include "schemas/json_writer.h"

namespace x402::cli {
namespace {

std::string SevRange(const DiscordRoute& r) {
  if (r.min_severity == r.max_severity) return std::string(SeverityName(r.min_severity));
  return std::string(SeverityName(r.min_severity)) + ".." +
         std::string(SeverityName(r.max_severity));
}

// One structured log line on stderr (STYLE.md rule 12): never a URL.
void LogLine(const std::string& msg) {
  std::string s;
  JsonWriter j(&s);
  j.BeginObject().Field("level", "warn").Field("component", "alerts").Field("msg", msg).EndObject();
  std::fprintf(stderr, "%s\n", s.c_str());
}

Result<int64_t> ParseSecondsMs(const Flags& f, const std::string& name, double max) {
  auto v = f.Get(name);
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !(d >= 0 && d <= max)) {
    return Err("x402rec " + f.command() + ": --" + name + ": expected seconds 0.." +
               std::to_string((int)max) + ", got '" + *v + "'");
  }
  return static_cast<int64_t>(d * 1000.0 + 0.5);
}

}  // namespace

void AddAlertFlags(Flags& f) {
  f.Add("discord-webhook", "URL",
        "deliver alerts of every severity to this Discord webhook (secret: never logged); also "
        "DISCORD_WEBHOOK_ALERTS (critical) and DISCORD_WEBHOOK_PAYMENTS (warning, info), "
        "[[alerts.discord]]",
        true);
  f.Add(
      "alert-group-window", "SECONDS",
      "batch alerts arriving within this window (default 2; 0 = no grouping, no storm summaries)");
  f.Add("alert-storm-threshold", "N",
        "more than N alerts of one kind in a window become one summary (default 10)");
}

Status ApplyAlertEnvAndFlags(const Flags& f, AlertSettings* a) {
  const std::string cmd = "x402rec " + f.command() + ": ";
  struct EnvRoute {
    const char* var;
    Severity min, max;
    const char* label;
  };
  for (const EnvRoute& e :
       {EnvRoute{"DISCORD_WEBHOOK_ALERTS", Severity::kCritical, Severity::kCritical, "alerts"},
        EnvRoute{"DISCORD_WEBHOOK_PAYMENTS", Severity::kInfo, Severity::kWarning, "payments"}}) {
    const char* v = std::getenv(e.var);
    if (!v || !*v) continue;
    DiscordRoute r;
    r.url = v;
    r.origin = e.var;
    r.label = e.label;
    r.min_severity = e.min;
    r.max_severity = e.max;
    a->discord.push_back(std::move(r));
  }
  int n = 0;
  for (const auto& url : f.GetAll("discord-webhook")) {
    DiscordRoute r;
    r.url = url;
    r.origin = "--discord-webhook";
    r.label = "flag" + std::to_string(++n);
    a->discord.push_back(std::move(r));
  }
  if (f.Has("alert-group-window")) {
    auto ms = ParseSecondsMs(f, "alert-group-window", 3600);
    if (!ms) return Err(ms.error());
    a->group_window_ms = *ms;
  }
  if (f.Has("alert-storm-threshold")) {
    auto v = f.GetUint("alert-storm-threshold", 10, 1, 1000000);
    if (!v) return Err(v.error());
    a->storm_threshold = *v;
  }
  std::set<std::string> urls;
  for (const auto& r : a->discord) {
    auto u = HttpUrl::Parse(r.url);
    if (!u) return Err(cmd + r.origin + ": " + u.error());
    if (!urls.insert(u->Full()).second) {
      return Err(cmd + r.origin + ": webhook " + u->Redacted() + " is configured twice");
    }
  }
  return Status::Ok();
}

std::string DescribeAlerts(const AlertSettings& a, const std::string& kafka_topic) {
  std::string s = "Effective alert delivery (webhook URLs redacted):\n";
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "  group window %.3g s%s, storm threshold %llu, request timeout %.3g s\n",
                static_cast<double>(a.group_window_ms) / 1000.0,
                a.group_window_ms == 0 ? " (grouping and storm summaries off)" : "",
                static_cast<unsigned long long>(a.storm_threshold),
                static_cast<double>(a.request_timeout_ms) / 1000.0);
  s += buf;
  if (!kafka_topic.empty())
    s += "  kafka topic " + kafka_topic + " (with --brokers): every alert\n";
  if (a.discord.empty()) s += "  no Discord webhook configured\n";
  for (const auto& r : a.discord) {
    s += "  " + DiscordSink::NameFor(r.url, r.label) + " " + RedactUrl(r.url) + " severities " +
         SevRange(r);
    if (!r.kinds.empty()) {
      s += " kinds";
      for (const auto& k : r.kinds) s += " " + k;
    }
    s += " (from " + r.origin + ")\n";
  }
  return s;
}

Result<std::unique_ptr<OutboxDispatcher>> StartAlertDelivery(const AlertSettings& a,
                                                             RocksStore* store,
                                                             const AlertDeliveryOptions& o) {
  std::vector<DispatcherSinkConfig> sinks;
  if (o.kafka) {
    auto k = KafkaAlertSink::Open(*o.kafka, o.kafka_topic);
    if (!k) return Err(k.error());
    sinks.push_back({std::move(*k), nullptr, /*immediate=*/true});
  }
  auto dead_mu = std::make_shared<std::mutex>();
  const std::string dead_path = o.data_dir + "/alerts-deadletter.jsonl";
  for (const auto& r : a.discord) {
    DiscordSinkOptions d;
    d.url = r.url;
    d.label = r.label;
    d.timeout = std::chrono::milliseconds(a.request_timeout_ms);
    d.format.storm_threshold = a.group_window_ms > 0 ? a.storm_threshold : 0;
    const std::string sink_name = DiscordSink::NameFor(r.url, r.label);
    d.dead_letter = [dead_mu, dead_path, sink_name](const AlertRecord& rec, int status,
                                                    const std::string& body) {
      std::string line;
      JsonWriter j(&line);
      j.BeginObject()
          .Field("sink", sink_name)
          .Field("alert_id", rec.alert_id)
          .Key("status")
          .Int(status)
          .Field("response", body)
          .Key("alert")
          .Raw(rec.json)
          .EndObject();
      std::lock_guard<std::mutex> l(*dead_mu);
      bool ok = false;
      if (std::FILE* fp = std::fopen(dead_path.c_str(), "ab")) {
        ok = std::fprintf(fp, "%s\n", line.c_str()) >= 0;
        ok = std::fflush(fp) == 0 && ok;
        ok = ::fsync(fileno(fp)) == 0 && ok;
        ok = std::fclose(fp) == 0 && ok;
      }
      if (!ok) {
        LogLine(sink_name + ": alert " + rec.alert_id + " refused (HTTP " + std::to_string(status) +
                ") and " + dead_path + " cannot be written: kept in the outbox, retried");
        return false;
      }
      LogLine(sink_name + ": alert " + rec.alert_id + " refused twice (HTTP " +
              std::to_string(status) + "); dead-lettered to alerts-deadletter.jsonl");
      return true;
    };
    auto sink = DiscordSink::Create(std::move(d));
    if (!sink) return Err(r.origin + ": " + sink.error());
    DiscordRoute route = r;
    route.url.clear();  // the predicate needs no secret
    sinks.push_back({std::move(*sink),
                     [route](const OutboxEntry& e) { return route.Matches(e.kind, e.severity); }});
  }
  if (sinks.empty()) return std::unique_ptr<OutboxDispatcher>();
  DispatcherOptions opts;
  opts.group_window = std::chrono::milliseconds(a.group_window_ms);
  opts.log = LogLine;
  auto d = std::make_unique<OutboxDispatcher>(store, std::move(sinks), std::move(opts));
  d->Start();
  return d;
}

std::string DescribeDelivery(const DispatcherSnapshot& s) {
  std::string out;
  for (const auto& k : s.sinks) {
    if (!out.empty()) out += "; ";
    out += std::to_string(k.delivered) + " delivered";
    if (k.dead_lettered) out += ", " + std::to_string(k.dead_lettered) + " dead-lettered";
    out += " to " + k.name;
    if (k.disabled) out += " (DISABLED: " + k.last_error + ")";
  }
  return out;
}

}  // namespace x402::cli
