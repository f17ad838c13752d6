// DiscordSink: delivers alerts to one Discord webhook (AlertSink). Messages are built by
// discord_format.h (grouped, storm summaries) and POSTed with `?wait=true` through an
// HttpClient (BeastHttpClient by default). Policy, per attempt:
//   2xx      the message's alerts are delivered; X-RateLimit-Remaining: 0 with
//            X-RateLimit-Reset-After makes the next request wait for the bucket to refill.
//   429      wait the longest of the body's retry_after (seconds, fractional; a value above
//            kImplausibleRetryAfterS is taken as milliseconds), Retry-After and
//            X-RateLimit-Reset-After; not counted as a failure.
//   5xx, network error, timeout
//            retry with exponential backoff and jitter (base 1 s, cap 60 s) forever; after
//            `breaker_failures` consecutive failures the circuit opens: attempts are spaced by
//            at least `probe_interval` and carry one message only (a probe) until one succeeds.
//   404/401/403
//            the webhook is gone or not ours: the sink disables itself for good (status()).
//   400      the message broke a limit (must not happen): each of its alerts is retried once
//            alone in a minimal message; if that is refused too, the alert is dead-lettered
//            (the `dead_letter` callback gets the alert and Discord's answer).
//
// Thread-safety: one thread drives a sink; status() may be read from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "connectors/alert_sink.h"
#include "connectors/discord_format.h"
#include "connectors/http_client.h"

namespace x402 {

inline constexpr double kImplausibleRetryAfterS = 3600;

struct DiscordSinkOptions {
  std::string url;    // webhook URL: a secret, never logged
  std::string label;  // optional human label for name() ("alerts", "payments"); no secrets
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds backoff_base{1000}, backoff_cap{60000};
  int breaker_failures = 5;
  std::chrono::milliseconds probe_interval{30000};
  DiscordFormatOptions format;
  // Called for an alert Discord refused twice (400): the alert and Discord's response body.
  // Returns false if the dead letter could not be stored: the alert is then not acknowledged.
  std::function<bool(const AlertRecord&, int status, const std::string& body)> dead_letter;
  uint64_t jitter_seed = 0;  // 0: random
};

class DiscordSink final : public AlertSink {
 public:
  // Validates the URL (https, or http to 127.0.0.1/localhost). `client` null: BeastHttpClient.
  static Result<std::unique_ptr<DiscordSink>> Create(DiscordSinkOptions opts,
                                                     std::unique_ptr<HttpClient> client = nullptr);
  const std::string& name() const override { return name_; }
  SinkAttempt Deliver(std::span<const AlertRecord> alerts) override;

  bool disabled() const { return disabled_.load(); }
  bool circuit_open() const { return circuit_open_.load(); }
  int last_status() const { return last_status_.load(); }
  // "discord-<8 hex of SHA-256(url)>[-label]": stable across runs for the same URL.
  static std::string NameFor(const std::string& url, const std::string& label);

 private:
  DiscordSink(DiscordSinkOptions opts, HttpUrl url, std::unique_ptr<HttpClient> client);
  SinkAttempt DeliverOnce(std::span<const AlertRecord> alerts);
  std::chrono::milliseconds Backoff();
  Result<HttpResponse> Post(const std::string& body);
  void NoteRateLimit(const HttpResponse& r);

  DiscordSinkOptions opts_;
  HttpUrl url_;
  std::unique_ptr<HttpClient> client_;
  std::string name_;
  std::mt19937_64 rng_;
  int consecutive_failures_ = 0;
  std::chrono::steady_clock::time_point bucket_free_at_{};
  std::atomic<bool> disabled_{false}, circuit_open_{false};
  std::atomic<int> last_status_{0};
};

// The wait a 429 answer asks for, in milliseconds (exposed for tests).
std::chrono::milliseconds RetryAfterOf(const HttpResponse& r);

}  // namespace x402
