#include "connectors/discord_sink.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "schemas/sha256.h"

namespace x402 {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Seconds (fractional) in a header; -1 when absent or malformed.
double HeaderSeconds(const HttpResponse& r, const char* name) {
  std::string v = r.Header(name);
  if (v.empty()) return -1;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || !(d >= 0) || !std::isfinite(d)) return -1;
  return d;
}

milliseconds FromSeconds(double s) {
  if (s > 7 * 86400) s = 7 * 86400;  // never wait more than a week on one answer
  return milliseconds(static_cast<int64_t>(std::ceil(s * 1000.0)));
}

}  // namespace

milliseconds RetryAfterOf(const HttpResponse& r) {
  milliseconds wait{0};
  simdjson::dom::parser parser;
  simdjson::padded_string body(r.body);
  simdjson::dom::element doc;
  double body_s = -1;
  if (!parser.parse(body).get(doc)) {
    double d;
    int64_t i;
    if (!doc["retry_after"].get_double().get(d)) {
      body_s = d;
    } else if (!doc["retry_after"].get_int64().get(i)) {
      body_s = static_cast<double>(i);
    }
  }
  // Discord sends seconds; an implausibly large value is an API that sent milliseconds.
  if (body_s > kImplausibleRetryAfterS) body_s /= 1000.0;
  if (body_s >= 0) wait = std::max(wait, FromSeconds(body_s));
  for (const char* h : {"retry-after", "x-ratelimit-reset-after"}) {
    double s = HeaderSeconds(r, h);
    if (s > kImplausibleRetryAfterS) s /= 1000.0;
    if (s >= 0) wait = std::max(wait, FromSeconds(s));
  }
  if (wait.count() == 0) wait = milliseconds(1000);  // a 429 with no hint: one second
  return wait;
}

std::string DiscordSink::NameFor(const std::string& url, const std::string& label) {
  std::string n = "discord-" + Sha256Hex(url).substr(0, 8);
  if (!label.empty()) n += "-" + label;
  return n;
}

Result<std::unique_ptr<DiscordSink>> DiscordSink::Create(DiscordSinkOptions opts,
                                                         std::unique_ptr<HttpClient> client) {
  auto url = HttpUrl::Parse(opts.url);
  if (!url) return Err("discord webhook: " + url.error());
  HttpUrl u = *url;
  u.target += (u.target.find('?') == std::string::npos ? "?" : "&") + std::string("wait=true");
  if (!client) client = std::make_unique<BeastHttpClient>();
  return std::unique_ptr<DiscordSink>(
      new DiscordSink(std::move(opts), std::move(u), std::move(client)));
}

DiscordSink::DiscordSink(DiscordSinkOptions opts, HttpUrl url, std::unique_ptr<HttpClient> client)
    : opts_(std::move(opts)),
      url_(std::move(url)),
      client_(std::move(client)),
      name_(NameFor(opts_.url, opts_.label)),
      rng_(opts_.jitter_seed ? opts_.jitter_seed : std::random_device{}()) {}

milliseconds DiscordSink::Backoff() {
  const int n = std::min(consecutive_failures_, 30);
  int64_t d = opts_.backoff_base.count();
  for (int i = 1; i < n && d < opts_.backoff_cap.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, opts_.backoff_cap.count());
  // Jitter: uniform in [d/2, d], so many engines do not retry in lockstep.
  std::uniform_int_distribution<int64_t> dist(d / 2, std::max<int64_t>(d / 2, d));
  int64_t wait = dist(rng_);
  if (circuit_open_.load()) wait = std::max<int64_t>(wait, opts_.probe_interval.count());
  return milliseconds(std::max<int64_t>(wait, 1));
}

Result<HttpResponse> DiscordSink::Post(const std::string& body) {
  auto r = client_->Post(url_, body, "application/json", opts_.timeout);
  if (r) last_status_.store(r->status);
  return r;
}

void DiscordSink::NoteRateLimit(const HttpResponse& r) {
  if (r.Header("x-ratelimit-remaining") != "0") return;
  double s = HeaderSeconds(r, "x-ratelimit-reset-after");
  if (s > kImplausibleRetryAfterS) s /= 1000.0;
  if (s > 0) bucket_free_at_ = Clock::now() + FromSeconds(s);
}

SinkAttempt DiscordSink::Deliver(std::span<const AlertRecord> alerts) {
  SinkAttempt out = DeliverOnce(alerts);
  out.circuit_open = circuit_open_.load();
  return out;
}

SinkAttempt DiscordSink::DeliverOnce(std::span<const AlertRecord> alerts) {
  SinkAttempt out;
  if (disabled_.load()) {
    out.disabled = true;
    out.error = name_ + ": disabled";
    return out;
  }
  const auto now = Clock::now();
  if (now < bucket_free_at_) {
    out.retry_after =
        std::chrono::duration_cast<milliseconds>(bucket_free_at_ - now) + milliseconds(1);
    out.error = name_ + ": rate-limit bucket empty";
    return out;
  }
  std::vector<char> done(alerts.size(), 0);
  auto finish = [&]() {
    while (out.handled < alerts.size() && done[out.handled]) ++out.handled;
    return out;
  };
  // Parse; an alert that is not valid alert JSON can never be formatted: dead-letter it.
  std::vector<AlertView> views;
  std::vector<size_t> index;  // views[i] is alerts[index[i]]
  for (size_t i = 0; i < alerts.size(); ++i) {
    auto v = ParseAlertJson(alerts[i].json);
    if (!v) {
      // Acknowledged only once it is written down: a failed dead-letter write retries it.
      if (opts_.dead_letter && !opts_.dead_letter(alerts[i], 0, v.error())) {
        out.error = name_ + ": cannot write the alert dead letter";
        return finish();
      }
      done[i] = 1;
      ++out.dead_lettered;
      continue;
    }
    views.push_back(std::move(*v));
    index.push_back(i);
  }
  auto messages = BuildDiscordMessages(views, opts_.format);
  if (circuit_open_.load() && messages.size() > 1) messages.resize(1);  // half-open: one probe
  auto fail = [&](const std::string& why) {
    ++consecutive_failures_;
    if (consecutive_failures_ >= opts_.breaker_failures) circuit_open_.store(true);
    out.failed = true;
    out.retry_after = Backoff();
    out.error = name_ + ": " + why;
    return finish();
  };
  for (size_t m = 0; m < messages.size(); ++m) {
    if (m > 0 && Clock::now() < bucket_free_at_) {
      out.retry_after = std::chrono::duration_cast<milliseconds>(bucket_free_at_ - Clock::now()) +
                        milliseconds(1);
      out.error = name_ + ": rate-limit bucket empty";
      return finish();
    }
    auto r = Post(messages[m].json);
    if (!r) return fail(r.error());
    const int st = r->status;
    if (st >= 200 && st < 300) {
      consecutive_failures_ = 0;
      circuit_open_.store(false);
      for (size_t v : messages[m].alerts) done[index[v]] = 1;
      out.delivered += messages[m].alerts.size();
      NoteRateLimit(*r);
      continue;
    }
    if (st == 429) {
      out.retry_after = RetryAfterOf(*r);
      bucket_free_at_ = Clock::now() + out.retry_after;
      out.error = name_ + ": rate limited (429), retry in " +
                  std::to_string(out.retry_after.count()) + " ms";
      return finish();
    }
    if (st == 401 || st == 403 || st == 404) {
      disabled_.store(true);
      out.disabled = true;
      out.error = name_ + ": webhook answered " + std::to_string(st) +
                  "; sink disabled (fix the URL and restart)";
      return finish();
    }
    if (st == 400) {
      // Shrink: each alert alone, minimal; refused again -> dead letter.
      for (size_t v : messages[m].alerts) {
        auto r2 = Post(BuildMinimalDiscordMessage(views[v]).json);
        if (!r2) return fail(r2.error());
        if (r2->status >= 200 && r2->status < 300) {
          done[index[v]] = 1;
          ++out.delivered;
          NoteRateLimit(*r2);
        } else if (r2->status == 400) {
          if (opts_.dead_letter && !opts_.dead_letter(alerts[index[v]], r2->status, r2->body)) {
            return fail("refused (HTTP 400) and the alert dead letter cannot be written");
          }
          done[index[v]] = 1;
          ++out.dead_lettered;
        } else if (r2->status == 429) {
          out.retry_after = RetryAfterOf(*r2);
          bucket_free_at_ = Clock::now() + out.retry_after;
          out.error = name_ + ": rate limited (429)";
          return finish();
        } else {
          return fail("HTTP " + std::to_string(r2->status) + " on the shrunk retry");
        }
      }
      continue;
    }
    return fail("HTTP " + std::to_string(st));
  }
  finish();
  if (out.handled < alerts.size()) {
    // Only when the circuit was half-open and sent just the probe: go on right away.
    out.retry_after = milliseconds(0);
    out.error = name_ + ": probe succeeded, circuit closed";
  }
  return out;
}

}  // namespace x402
