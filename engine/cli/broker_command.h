// `x402rec broker`: the embedded development Kafka broker (connectors/dev_broker.h) as a
// foreground process.
#pragma once

namespace x402::cli {

// Prints "bootstrap: 127.0.0.1:PORT" and serves until SIGINT/SIGTERM; returns the exit code.
int BrokerCommand(int argc, char** argv);

}  // namespace x402::cli
