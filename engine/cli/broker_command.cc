#include "engine/cli/broker_command.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "connectors/dev_broker.h"
#include "engine/cli/commands.h"
#include "engine/cli/flags.h"

namespace x402::cli {

int BrokerCommand(int argc, char** argv) {
  Flags f("broker",
          "Usage: x402rec broker [--port P] [--partitions N]\n\n"
          "Runs an embedded Kafka broker for development and demos (librdkafka's mock cluster)\n"
          "on 127.0.0.1 with the topics x402.events, x402.deadletter and x402.alerts, prints\n"
          "\"bootstrap: 127.0.0.1:PORT\" and serves until interrupted (SIGINT/SIGTERM). Any Kafka\n"
          "client can use it (kcat, kafkajs, x402rec run/gen). Everything is kept in memory: a\n"
          "restarted broker is empty. With --port, clients bootstrap on that port and are then\n"
          "directed to the broker's own (random) port on 127.0.0.1.");
  f.Add("port", "P", "bootstrap port on 127.0.0.1 (default: a random free port)");
  f.Add("partitions", "N", "partitions per topic (default 8)");
  if (Status st = f.Parse(argc, argv); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.error().c_str());
    return 2;
  }
  if (f.Has("help")) {
    std::fputs(f.Help().c_str(), stdout);
    return 0;
  }
  auto port = f.GetUint("port", 0, 0, 65535);
  auto partitions = f.GetUint("partitions", 8, 1, 1024);
  for (const auto* r : {&port, &partitions}) {
    if (!*r) {
      std::fprintf(stderr, "%s\n", r->error().c_str());
      return 2;
    }
  }
  DevBroker broker;
  if (Status st = broker.Start(static_cast<int>(*partitions), static_cast<int>(*port)); !st.ok()) {
    std::fprintf(stderr, "x402rec broker: %s\n", st.error().c_str());
    return 1;
  }
  std::printf("bootstrap: %s\n", broker.bootstraps().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "x402rec broker: topics %s, %s, %s, %s with %d partitions each; broker %s; "
               "Ctrl-C stops (all data is lost)\n",
               kEventsTopic, kDeadLetterTopic, kAlertsTopic, kVendorFactsTopic, broker.partitions(),
               broker.broker_address().c_str());
  while (!StopRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  broker.Stop();
  return 0;
}

}  // namespace x402::cli
