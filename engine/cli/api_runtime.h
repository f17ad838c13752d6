// ApiRuntime: wires metrics and the HTTP API into the x402rec commands (run, demo --serve).
//
//   auto api = ApiRuntime::Create(flags, settings, "run");   // flags checked: exit 2 on error
//   eo.observer = (*api)->observer();                         // before Engine::Open
//   (*api)->Start(engine);                                    // binds --http, starts the probe
//   loop: engine.ProcessBatch(...); (*api)->Pump();           // /v1/report on this thread
//         (*api)->UpdateKafka(source);                        // lag, assignment (Kafka mode)
//   (*api)->SetInputConsumed(); if (--serve) (*api)->ServeUntil(StopRequested);
//
// Alert sinks report through sinks() (SinkStatusBoard): run registers the outbox
// dispatcher's per-sink statuses (SinkStatusesOf).
//
// Thread-safety: every method on the pipeline thread; the server and the probe run on their
// own threads and only read RocksDB snapshots and atomics.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/api_service.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/pipeline_queue.h"
#include "api/sink_status.h"
#include "connectors/kafka_source.h"
#include "engine/cli/flags.h"
#include "engine/config_file.h"
#include "engine/engine.h"
#include "engine/outbox_dispatcher.h"

namespace x402::cli {

// --http, --api-token, --metrics-top-n, --ready-max-lag, --probe-interval, the connection
// limits and timeouts --http-max-connections[-per-address], --http-{head,body,idle,write}-
// timeout-ms (and --serve when `serve` is true).
void AddApiFlags(Flags& f, bool serve);

// The outbox dispatcher's per-sink state (the alerts topic, Discord webhooks) as the API's
// sink statuses: register with api->sinks().AddProvider([d] { return SinkStatusesOf(d->Snapshot()); }).
std::vector<SinkStatus> SinkStatusesOf(const DispatcherSnapshot& d);

class ApiRuntime {
 public:
  // Reads the API flags and [http]/[metrics] settings; an error is a usage error (exit 2).
  static Result<std::unique_ptr<ApiRuntime>> Create(const Flags& f, const FileSettings& s);
  ~ApiRuntime();

  EngineObserver* observer() { return &metrics_; }
  SinkStatusBoard& sinks() { return sinks_; }
  Metrics& metrics() { return metrics_; }

  // Binds the API address and starts the server and the state probe. An explicit address
  // that cannot be bound is an error; the default one in use is a warning (API off).
  Status Start(Engine& engine);
  bool serving() const { return server_ != nullptr; }
  uint16_t port() const { return server_ ? server_->port() : 0; }
  // "http://ADDR:PORT" of the running server.
  std::string url() const;

  // Pipeline thread: runs queued report requests.
  void Pump();
  // Pipeline thread (Kafka mode): partition lags and assignment.
  void UpdateKafka(KafkaSource& source);
  // File mode: every input was consumed (ready from now on).
  void SetInputConsumed() { input_consumed_ = true; }
  // Keeps pumping until stop() is true (run --serve, demo --serve).
  void ServeUntil(const std::function<bool()>& stop);
  void Stop();
  bool serve_requested() const { return serve_; }

  Readiness Ready() const;

 private:
  ApiRuntime() = default;
  void ProbeLoop();

  Metrics metrics_;
  SinkStatusBoard sinks_;
  PipelineQueue queue_;
  Engine* engine_ = nullptr;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<HttpServer> server_;
  HttpServerOptions http_;
  std::chrono::milliseconds report_timeout_{10000};  // [http] request_timeout
  bool explicit_address_ = false;
  bool off_ = false;
  bool serve_ = false;
  std::string token_;
  size_t top_n_ = 100;
  int64_t max_lag_ = 10000;
  int64_t probe_interval_s_ = 10;

  std::atomic<bool> kafka_mode_{false}, assigned_{false}, input_consumed_{false};
  std::atomic<int64_t> total_lag_{0};

  std::thread probe_;
  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  bool probe_stop_ = false;
  std::atomic<bool> probe_cancel_{false};
};

}  // namespace x402::cli

namespace x402::cli {
// Stops the runtime's threads when it goes out of scope: declare it after the Engine, so the
// server and probe stop before the Engine (and its store) is destroyed, on every return path.
class ApiScope {
 public:
  explicit ApiScope(ApiRuntime* a) : a_(a) {}
  ~ApiScope() {
    if (a_) a_->Stop();
  }
  ApiScope(const ApiScope&) = delete;
  ApiScope& operator=(const ApiScope&) = delete;

 private:
  ApiRuntime* a_;
};
}  // namespace x402::cli
