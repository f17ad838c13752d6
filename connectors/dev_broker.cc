#include "connectors/dev_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <string>
#include <vector>

namespace x402 {
namespace {

constexpr size_t kMaxBuffered = 1 << 20;  // per direction; stop reading while this much is pending

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// One relayed connection: client <-> mock broker.
struct Pipe {
  int fd[2];             // 0: accepted client, 1: upstream (mock broker)
  std::string out[2];    // bytes waiting to be written to fd[i]
  bool closing = false;  // one side hung up: flush what is pending, then close both
};

// Reads what is available from `from` into `to_buf`. False on EOF or error.
bool Pump(int from, std::string* to_buf) {
  char buf[65536];
  while (to_buf->size() < kMaxBuffered) {
    ssize_t n = ::recv(from, buf, sizeof buf, 0);
    if (n > 0) {
      to_buf->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

// Writes as much of `buf` to `to` as the socket takes. False on error.
bool Drain(int to, std::string* buf) {
  while (!buf->empty()) {
    ssize_t n = ::send(to, buf->data(), buf->size(), MSG_NOSIGNAL);
    if (n > 0) {
      buf->erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

// Runs `fn` (a synchronous request to the mock cluster's thread) while waking that thread
// every few milliseconds. librdkafka 2.0.2's mock thread sometimes misses the wake-up for a
// request on its ops queue and serves it only when its 1 s poll times out. A Kafka request on
// a connection of our own wakes the poll, and pending requests are served right after it.
// (New connections as wake-ups would work too, but make the cluster's destruction slower.)
template <typename Fn>
auto WithWakeups(int broker_port, Fn fn) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Loopback(broker_port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    fd = -1;
  }
  std::atomic<bool> done{false};
  std::thread kicker;
  if (fd >= 0) {
    SetNonBlocking(fd);
    kicker = std::thread([fd, &done] {
      // ApiVersions v0, correlation id 0, client id "w": answered at once by the broker.
      static const unsigned char kRequest[] = {0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 0, 0, 1, 'w'};
      char sink[4096];
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        while (::recv(fd, sink, sizeof sink, 0) > 0) {
        }
        if (::send(fd, kRequest, sizeof kRequest, MSG_NOSIGNAL) != sizeof kRequest) break;
      }
    });
  }
  struct Join {
    std::atomic<bool>& done;
    std::thread& t;
    int fd;
    ~Join() {
      done.store(true);
      if (t.joinable()) t.join();
      if (fd >= 0) ::close(fd);
    }
  } join{done, kicker, fd};
  return fn();
}

int PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
}

}  // namespace

DevBroker::~DevBroker() { Stop(); }

Status DevBroker::Start(int partitions, int port) {
  if (running()) return Err("dev broker: already running on " + bootstraps_);
  if (partitions < 1 || partitions > 1024)
    return Err("dev broker: partitions must be 1..1024, got " + std::to_string(partitions));
  if (port < 0 || port > 65535)
    return Err("dev broker: port must be 0..65535, got " + std::to_string(port));

  // Bind the requested port first, so a port in use fails before anything else starts.
  int lfd = -1;
  if (port != 0) {
    lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) return Err(std::string("dev broker: socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = Loopback(port);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 128) != 0) {
      std::string e = std::strerror(errno);
      ::close(lfd);
      return Err("dev broker: 127.0.0.1:" + std::to_string(port) + ": " + e);
    }
    SetNonBlocking(lfd);
  }

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; it never connects anywhere. Quiet its
  // "no bootstrap.servers" notice.
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);
  rd_kafka_conf_set(conf, "client.id", "x402rec-dev-broker", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    if (lfd >= 0) ::close(lfd);
    return Err(std::string("dev broker: ") + err);
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) {
    rd_kafka_destroy(rk);
    if (lfd >= 0) ::close(lfd);
    return Err("dev broker: cannot create the mock cluster");
  }
  rk_ = rk;
  mcluster_ = mc;
  partitions_ = partitions;
  broker_address_ = rd_kafka_mock_cluster_bootstraps(mc);
  bootstraps_ = broker_address_;

  broker_port_ = PortOf(broker_address_);
  if (broker_port_ <= 0) {
    if (lfd >= 0) ::close(lfd);
    Stop();
    return Err("dev broker: unexpected mock broker address '" + broker_address_ + "'");
  }

  for (const char* topic : {kEventsTopic, kDeadLetterTopic, kAlertsTopic, kVendorFactsTopic}) {
    if (Status st = CreateTopic(topic, partitions); !st.ok()) {
      if (lfd >= 0) ::close(lfd);
      Stop();
      return st;
    }
  }

  if (lfd >= 0) {
    int target = broker_port_;
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      ::close(lfd);
      Stop();
      return Err(std::string("dev broker: eventfd: ") + std::strerror(errno));
    }
    listen_fd_ = lfd;
    stop_.store(false);
    forwarder_ = std::thread([this, lfd, target] { ForwardLoop(lfd, target); });
    bootstraps_ = "127.0.0.1:" + std::to_string(port);
  }
  return Status::Ok();
}

void DevBroker::Stop() {
  if (forwarder_.joinable()) {
    stop_.store(true);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    forwarder_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  if (mcluster_) {
    auto* mc = static_cast<rd_kafka_mock_cluster_t*>(mcluster_);
    WithWakeups(broker_port_, [mc] { rd_kafka_mock_cluster_destroy(mc); });
  }
  if (rk_) rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
  mcluster_ = rk_ = nullptr;
  bootstraps_.clear();
  broker_address_.clear();
  partitions_ = 0;
  broker_port_ = 0;
}

Status DevBroker::CreateTopic(const std::string& topic, int partitions) {
  if (!mcluster_) return Err("dev broker: not running");
  if (topic.empty() || partitions < 1 || partitions > 1024)
    return Err("dev broker: create topic '" + topic + "': need a name and 1..1024 partitions");
  auto* mc = static_cast<rd_kafka_mock_cluster_t*>(mcluster_);
  rd_kafka_resp_err_t e = WithWakeups(
      broker_port_, [&] { return rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, 1); });
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Err("dev broker: create topic " + topic + ": " + rd_kafka_err2str(e));
  return Status::Ok();
}

void DevBroker::WithMock(const std::function<void(void*)>& fn) {
  if (!mcluster_) return;
  WithWakeups(broker_port_, [&] { fn(mcluster_); });
}

void DevBroker::ForwardLoop(int listen_fd, int target_port) {
  std::list<Pipe> pipes;
  auto close_pipe = [](Pipe& p) {
    ::close(p.fd[0]);
    ::close(p.fd[1]);
  };
  std::vector<pollfd> pfds;
  std::vector<Pipe*> owners;  // pfds[i] for i >= 2 belongs to owners[(i - 2) / 2]
  while (!stop_.load()) {
    pfds.clear();
    owners.clear();
    pfds.push_back({wake_fd_, POLLIN, 0});
    pfds.push_back({listen_fd, POLLIN, 0});
    for (Pipe& p : pipes) {
      owners.push_back(&p);
      for (int i = 0; i < 2; ++i) {
        short ev = 0;
        if (!p.closing && p.out[1 - i].size() < kMaxBuffered) ev |= POLLIN;
        if (!p.out[i].empty()) ev |= POLLOUT;
        pfds.push_back({p.fd[i], ev, 0});
      }
    }
    int n = ::poll(pfds.data(), pfds.size(), 1000);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (pfds[0].revents) break;
    if (pfds[1].revents & POLLIN) {
      for (;;) {
        int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = Loopback(target_port);
        if (u < 0 || ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          if (u >= 0) ::close(u);
          ::close(c);  // the broker is gone: the client sees a closed connection and retries
          continue;
        }
        SetNonBlocking(u);
        SetNoDelay(c);
        SetNoDelay(u);
        pipes.push_back(Pipe{{c, u}, {}, false});
      }
    }
    for (size_t k = 0; k < owners.size(); ++k) {
      Pipe& p = *owners[k];
      bool ok = true;
      for (int i = 0; i < 2 && ok; ++i) {
        short re = pfds[2 + 2 * k + i].revents;
        if (re & (POLLIN | POLLHUP | POLLERR)) {
          if (!Pump(p.fd[i], &p.out[1 - i])) p.closing = true;
        }
      }
      for (int i = 0; i < 2 && ok; ++i) ok = Drain(p.fd[i], &p.out[i]);
      if (!ok || (p.closing && p.out[0].empty() && p.out[1].empty())) {
        close_pipe(p);
        p.fd[0] = p.fd[1] = -1;
      }
    }
    pipes.remove_if([](const Pipe& p) { return p.fd[0] < 0; });
  }
  for (Pipe& p : pipes) close_pipe(p);
}

}  // namespace x402
