#include "engine/cli/api_runtime.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "api/log.h"
#include "replay/report.h"

namespace x402::cli {

namespace {
int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Every session, refusal in flight and RocksDB file is a file descriptor: raise the soft limit
// towards the hard one when it is below what the connection limit needs, else warn (accept
// then pauses while out of descriptors and connections wait in the listen backlog).
void RaiseFileLimit(size_t max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(2 * max_connections + 1024);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    LogJson(LogLevel::kWarn, "api: few file descriptors for --http-max-connections",
            {{"max_connections", std::to_string(max_connections)},
             {"nofile", std::to_string(rl.rlim_cur)},
             {"wanted", std::to_string(want)}});
  }
}

}  // namespace

void AddApiFlags(Flags& f, bool serve) {
  f.Add("http", "ADDR:PORT",
        "HTTP API and /metrics address (default 127.0.0.1:9464; 'off' disables; a non-loopback "
        "address needs "
        "--api-token)");
  f.Add("api-token", "TOKEN",
        "bearer token required on every API request (or the X402_API_TOKEN environment variable, "
        "which keeps it "
        "out of the process list)");
  f.Add("metrics-top-n", "N",
        "per-agent, per-vendor and per-wallet metric series cap (default 100)");
  f.Add("ready-max-lag", "N",
        "/readyz fails when the consumer lag exceeds N events (default 10000)");
  f.Add("probe-interval", "SECONDS",
        "how often state gauges are recomputed from RocksDB (default 10)");
  f.Add("http-max-connections", "N",
        "connections served at once (default 1024); past it a connection is answered 503 with "
        "Retry-After");
  f.Add("http-max-connections-per-address", "N",
        "connections served at once per client address (default 256; 0: no cap); past it 429 "
        "with Retry-After");
  f.Add("http-head-timeout-ms", "MS",
        "deadline for a request's line and headers, from accept or from its first byte on "
        "keep-alive (default 5000)");
  f.Add("http-body-timeout-ms", "MS",
        "deadline for a request body, from the end of its headers (default 10000)");
  f.Add("http-idle-timeout-ms", "MS",
        "an idle keep-alive connection is closed after this (default 5000)");
  f.Add("http-write-timeout-ms", "MS", "deadline for writing a response (default 10000)");
  if (serve)
    f.Add("serve", "", "keep serving the API after the input is processed, until SIGINT/SIGTERM");
}

// GCC 12 reports the snapshot's (initialised) bool members as maybe-uninitialized here at -O2.
// Clang has no such warning (and -Werror rejects an unknown one), so the pragma is GCC's alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
std::vector<SinkStatus> SinkStatusesOf(const DispatcherSnapshot& d) {
  std::vector<SinkStatus> out;
  for (const auto& w : d.sinks) {
    SinkStatus s{};
    s.name = w.name;
    s.delivered = w.delivered;
    // Attempts that failed (and will be retried) plus alerts given up for this sink.
    s.failed = w.failed_attempts + w.dead_lettered;
    s.pending = w.pending;
    s.disabled = w.disabled;
    s.reason = w.last_error;
    out.push_back(std::move(s));
  }
  return out;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Result<std::unique_ptr<ApiRuntime>> ApiRuntime::Create(const Flags& f, const FileSettings& s) {
  std::unique_ptr<ApiRuntime> rt(new ApiRuntime());
  const std::string cmd = "x402rec " + f.command() + ": ";
  std::string listen = s.http_listen;
  rt->explicit_address_ = s.http_listen_set;
  if (auto h = f.Get("http")) {
    listen = *h;
    rt->explicit_address_ = true;
  }
  if (listen == "off") {
    rt->off_ = true;
  } else {
    Status st = ParseListenAddress(listen, &rt->http_.address, &rt->http_.port);
    if (!st.ok()) return Err(cmd + (f.Has("http") ? "--http: " : "[http] listen: ") + st.error());
  }
  if (auto t = f.Get("api-token")) {
    rt->token_ = *t;
  } else if (const char* e = std::getenv("X402_API_TOKEN"); e && *e) {
    rt->token_ = e;
  }
  if (f.Has("api-token") && rt->token_.size() < 16) {
    return Err(cmd + "--api-token: at least 16 characters");
  }
  if (!rt->off_ && !IsLoopbackAddress(rt->http_.address) && rt->token_.empty()) {
    return Err(cmd + "--http " + listen +
               ": a non-loopback address needs --api-token (or X402_API_TOKEN)");
  }
  auto top = f.GetUint("metrics-top-n", static_cast<uint64_t>(s.metrics_top_n), 1, 100000);
  auto lag = f.GetUint("ready-max-lag", static_cast<uint64_t>(s.ready_max_lag), 0, INT64_MAX / 2);
  auto probe =
      f.GetUint("probe-interval", static_cast<uint64_t>(s.metrics_probe_interval_s), 1, 3600);
  for (const auto* r : {&top, &lag, &probe})
    if (!*r) return Err(r->error());
  rt->top_n_ = *top;
  rt->max_lag_ = static_cast<int64_t>(*lag);
  rt->probe_interval_s_ = static_cast<int64_t>(*probe);
  auto conns =
      f.GetUint("http-max-connections", static_cast<uint64_t>(s.http_max_connections), 1, 1000000);
  auto per_address =
      f.GetUint("http-max-connections-per-address",
                static_cast<uint64_t>(s.http_max_connections_per_address), 0, 1000000);
  auto head =
      f.GetUint("http-head-timeout-ms", static_cast<uint64_t>(s.http_head_timeout_ms), 100, 600000);
  auto body =
      f.GetUint("http-body-timeout-ms", static_cast<uint64_t>(s.http_body_timeout_ms), 100, 600000);
  auto idle =
      f.GetUint("http-idle-timeout-ms", static_cast<uint64_t>(s.http_idle_timeout_ms), 100, 600000);
  auto write = f.GetUint("http-write-timeout-ms", static_cast<uint64_t>(s.http_write_timeout_ms),
                         100, 600000);
  for (const auto* r : {&conns, &per_address, &head, &body, &idle, &write})
    if (!*r) return Err(r->error());
  rt->http_.max_connections = static_cast<size_t>(*conns);
  rt->http_.max_connections_per_address = static_cast<size_t>(*per_address);
  rt->http_.head_timeout = std::chrono::milliseconds(*head);
  rt->http_.body_timeout = std::chrono::milliseconds(*body);
  rt->http_.idle_timeout = std::chrono::milliseconds(*idle);
  rt->http_.write_timeout = std::chrono::milliseconds(*write);
  rt->http_.retry_after = std::chrono::seconds(s.http_retry_after_s);
  rt->http_.probe = &rt->metrics_.http();
  rt->report_timeout_ = std::chrono::milliseconds(s.http_request_timeout_s * 1000);
  rt->http_.max_request_bytes = static_cast<size_t>(s.http_max_request_bytes);
  rt->serve_ = f.Has("serve");
  rt->metrics_.SetSinkBoard(&rt->sinks_);
  rt->metrics_.SetReadiness([p = rt.get()] { return p->Ready().ready; });
  return rt;
}

ApiRuntime::~ApiRuntime() { Stop(); }

Status ApiRuntime::Start(Engine& engine) {
  engine_ = &engine;
  if (off_) return Status::Ok();  // no server: nobody would read the probe's gauges
  ApiServiceOptions o;
  o.store = engine.store();
  o.config = &engine.config();
  o.metrics = &metrics_;
  o.readiness = [this] { return Ready(); };
  o.report = [this](ReportFormat format) -> std::optional<std::string> {
    return queue_.Run(
        [this, format] {
          TimeMs wm{0};
          for (const auto& [s, t] : engine_->watermarks()) wm = std::max(wm, t);
          Report r = BuildReport(*engine_, wm, nullptr);
          return format == ReportFormat::kHtml ? r.ToHtml() : r.ToJson();
        },
        report_timeout_);  // never hold an I/O thread longer than a request may take
  };
  o.token = token_;
  service_ = std::make_unique<ApiService>(std::move(o));
  auto server = HttpServer::Start(
      http_, [svc = service_.get()](const HttpRequest& r) { return svc->Handle(r); });
  if (!server) {
    if (!explicit_address_) {
      LogJson(LogLevel::kWarn,
              "api disabled: the default address is not available; pass --http ADDR:PORT",
              {{"address", http_.address + ":" + std::to_string(http_.port)},
               {"error", server.error()}});
      return Status::Ok();
    }
    return Err("--http " + http_.address + ":" + std::to_string(http_.port) + ": " +
               server.error());
  }
  server_ = std::move(*server);
  RaiseFileLimit(http_.max_connections);
  probe_ = std::thread([this] { ProbeLoop(); });  // state gauges, for the server only
  LogJson(LogLevel::kInfo, "api listening",
          {{"address", http_.address},
           {"port", std::to_string(server_->port())},
           {"auth", token_.empty() ? "none" : "bearer"}});
  return Status::Ok();
}

void ApiRuntime::ProbeLoop() {
  std::unique_lock<std::mutex> l(probe_mu_);
  while (!probe_stop_) {
    l.unlock();
    ProbeSummary s;
    auto families =
        ProbeState(engine_->store(), engine_->config(), top_n_, WallMs(), &s, &probe_cancel_);
    if (probe_cancel_) break;
    metrics_.SetProbeFamilies(std::move(families));
    l.lock();
    probe_cv_.wait_for(l, std::chrono::seconds(probe_interval_s_), [this] { return probe_stop_; });
  }
}

void ApiRuntime::Pump() { queue_.Drain(); }

std::string ApiRuntime::url() const {
  const bool v6 = http_.address.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + http_.address + "]" : http_.address) + ":" +
         std::to_string(port());
}

void ApiRuntime::UpdateKafka(KafkaSource& source) {
  kafka_mode_ = true;
  assigned_ = source.assigned();
  std::vector<ConsumerLag> lags;
  int64_t total = 0;
  for (const auto& p : source.PartitionLags()) {
    lags.push_back({p.topic, p.partition, p.lag});
    total += p.lag;
  }
  total_lag_ = total;
  metrics_.SetConsumerLags(std::move(lags));
}

void ApiRuntime::ServeUntil(const std::function<bool()>& stop) {
  if (!server_) return;
  LogJson(LogLevel::kInfo, "serving until SIGINT or SIGTERM",
          {{"port", std::to_string(server_->port())}});
  while (!stop()) {
    Pump();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ApiRuntime::Stop() {
  queue_.Close();
  if (server_) {
    server_->Stop();
    server_.reset();
    LogJson(LogLevel::kInfo, "api stopped");
  }
  probe_cancel_ = true;
  {
    std::lock_guard<std::mutex> l(probe_mu_);
    probe_stop_ = true;
  }
  probe_cv_.notify_all();
  if (probe_.joinable()) probe_.join();
}

Readiness ApiRuntime::Ready() const {
  Readiness r;
  if (kafka_mode_) {
    r.checks.push_back({"consumer_assigned", assigned_.load(),
                        assigned_.load() ? "partitions assigned" : "no partitions assigned yet"});
    const int64_t lag = total_lag_.load();
    r.checks.push_back(
        {"consumer_lag", lag <= max_lag_,
         std::to_string(lag) + " events behind (threshold " + std::to_string(max_lag_) + ")"});
  } else {
    r.checks.push_back(
        {"input", input_consumed_.load(),
         input_consumed_.load() ? "every input file consumed" : "still processing the input"});
  }
  std::string disabled;
  for (const auto& s : sinks_.Snapshot()) {
    if (s.disabled)
      disabled +=
          (disabled.empty() ? "" : ", ") + s.name + (s.reason.empty() ? "" : " (" + s.reason + ")");
  }
  r.checks.push_back({"alert_sinks", disabled.empty(),
                      disabled.empty() ? "no sink disabled" : "disabled: " + disabled});
  for (const auto& c : r.checks) r.ready = r.ready && c.ok;
  return r;
}

}  // namespace x402::cli
