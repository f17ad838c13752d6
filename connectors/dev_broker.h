// DevBroker: an embedded Kafka broker for demos, tests and development, built on librdkafka's
// mock cluster (rdkafka_mock.h): one broker on 127.0.0.1 with the x402 topics created. It
// speaks the real Kafka protocol, so independent clients (kcat, kafkajs) produce to it and
// consume from it, consumer groups included. Everything is in memory: a restarted broker is
// empty, and each partition keeps only its last 5 MB of (compressed) batches (librdkafka
// 2.0.2's mock log limit): older messages are dropped and the low watermark rises.
//
// librdkafka 2.0.2's mock broker always listens on a random loopback port. When a fixed port
// is requested, a loopback TCP forwarder listens on 127.0.0.1:port and relays each connection
// to the mock broker; clients bootstrap there, and the metadata they receive then points them
// at the mock broker's own port on 127.0.0.1. Nothing listens beyond loopback.
//
// Thread-compatible: Start/Stop from one thread. The broker and forwarder run on their own
// threads until Stop() (or destruction).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "schemas/result.h"

namespace x402 {

inline constexpr const char* kEventsTopic = "x402.events";
inline constexpr const char* kDeadLetterTopic = "x402.deadletter";
inline constexpr const char* kAlertsTopic = "x402.alerts";
// Internal: payment outcomes re-keyed by vendor (engine/vendor_facts.h).
inline constexpr const char* kVendorFactsTopic = "x402.vendor-facts";

class DevBroker {
 public:
  DevBroker() = default;
  ~DevBroker();
  DevBroker(const DevBroker&) = delete;
  DevBroker& operator=(const DevBroker&) = delete;

  // Starts the mock cluster and creates x402.events, x402.deadletter, x402.alerts and
  // x402.vendor-facts with
  // `partitions` partitions each (1..1024). `port` 0: clients use the mock broker's own
  // random port; otherwise 127.0.0.1:port is forwarded to it (error if the port is taken).
  Status Start(int partitions = 8, int port = 0);
  // Stops the forwarder and destroys the cluster (all messages are lost). Idempotent.
  void Stop();

  // Creates another topic (e.g. one per test). Topics a client asks for that do not exist
  // are auto-created with 4 partitions by the mock cluster.
  Status CreateTopic(const std::string& topic, int partitions);

  bool running() const { return mcluster_ != nullptr; }
  // "127.0.0.1:PORT" for bootstrap.servers: the forwarded port if one was requested.
  const std::string& bootstraps() const { return bootstraps_; }
  // The mock broker's own address (what metadata advertises).
  const std::string& broker_address() const { return broker_address_; }
  int partitions() const { return partitions_; }
  // The rd_kafka_mock_cluster_t*, for tests that inject errors or take the broker down.
  // Requests to it (rd_kafka_mock_*) can stall up to 1 s in librdkafka 2.0.2 (a missed
  // wake-up of the mock thread): make them inside WithMock().
  void* mock_cluster() const { return mcluster_; }
  // Runs fn(mock_cluster()) while waking the mock cluster's thread, so rd_kafka_mock_* requests
  // complete in milliseconds instead of up to a second.
  void WithMock(const std::function<void(void*)>& fn);

 private:
  void ForwardLoop(int listen_fd, int target_port);

  void* rk_ = nullptr;        // rd_kafka_t*: the dummy handle that owns the cluster
  void* mcluster_ = nullptr;  // rd_kafka_mock_cluster_t*
  std::string bootstraps_, broker_address_;
  int partitions_ = 0;
  int broker_port_ = 0;  // the mock broker's own listener
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the forwarder to stop
  std::atomic<bool> stop_{false};
  std::thread forwarder_;
};

}  // namespace x402
