// A child process for the integration tests that run `x402rec` for real: fork + exec with
// stdout and stderr in a log file, killed by the kernel if the test process dies first
// (PR_SET_PDEATHSIG), SIGKILLed and reaped on destruction if still running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace x402::test {

// The x402rec of this build: $X402_BINARY_DIR/x402rec (CMake sets it for every test).
inline std::string X402Binary() {
  const char* dir = std::getenv("X402_BINARY_DIR");
  return std::string(dir && *dir ? dir : ".") + "/x402rec";
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "exit code 2", "signal 9": a waitpid status for a failure message.
inline std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

class ChildProcess {
 public:
  enum class LogMode { kTruncate, kAppend };
  // `argv[0]` is the executable's path.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               LogMode mode = LogMode::kTruncate) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int flags =
        O_WRONLY | O_CREAT | O_CLOEXEC | (mode == LogMode::kAppend ? O_APPEND : O_TRUNC);
    const int fd = ::open(log_path.c_str(), flags, 0644);
    if (fd < 0) return;
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The wait status once the child has exited (reaping it); nullopt while it runs.
  std::optional<int> Poll() {
    if (started() && !status_) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    }
    return status_;
  }
  bool running() { return started() && !Poll(); }
  void Signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  // Waits for the exit; the wait status (-1 if never started).
  int Wait() {
    while (started() && !status_) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, 0);
      if (r == pid_) {
        status_ = st;
      } else if (r < 0 && errno != EINTR) {
        status_ = -1;
      }
    }
    return status_.value_or(-1);
  }
  // Exit code, or -1 if killed by a signal or never started.
  int ExitCode() {
    const int st = Wait();
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace x402::test
