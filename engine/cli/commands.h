// The x402rec subcommands. Each returns the process exit code: 0 success, 1 runtime failure,
// 2 bad usage or configuration (with one line on stderr saying what and where).
#pragma once

namespace x402::cli {

void InstallSignalHandlers();
bool StopRequested();

int RunCommand(int argc, char** argv);
int ReplayCommand(int argc, char** argv);
int GenCommand(int argc, char** argv);
int DemoCommand(int argc, char** argv);

}  // namespace x402::cli
