// The vendor-fact forwarder against the dev broker: facts staged in the store are produced
// and deleted once acknowledged; a fact the producer refuses outright is kept, reported and
// retried, without harming the facts behind it.
#include "engine/vendor_facts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "connectors/dev_broker.h"
#include "tests/testutil.h"

namespace x402 {
namespace {

using test::TempDir;

VendorFact Failure(const std::string& vendor, const std::string& reason, int64_t ms) {
  VendorFact f;
  f.vendor = vendor;
  f.ref.time = TimeMs{ms};
  f.ref.source = "test";
  f.ref.id = "e" + std::to_string(ms);
  f.agent = "agent";
  f.reason = reason;
  return f;
}

class VendorFactForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start(2).ok());
    StoreOptions so;
    so.path = tmp_.path();
    auto store = RocksStore::Open(so);
    ASSERT_TRUE(store) << store.error();
    store_ = std::move(*store);
  }
  // Stages the facts added to `sink` and commits them, as the engine does.
  void Commit(OutboxVendorFactSink& sink) {
    rocksdb::WriteBatch wb;
    sink.Stage(&wb, store_->meta());
    ASSERT_TRUE(store_->Write(&wb).ok());
  }
  std::unique_ptr<VendorFactForwarder> Forwarder(KafkaProps props) {
    props["bootstrap.servers"] = broker_.bootstraps();
    auto producer = KafkaProducer::Open(props);
    EXPECT_TRUE(producer) << producer.error();
    if (!producer) return nullptr;
    return std::make_unique<VendorFactForwarder>(store_.get(), std::move(*producer),
                                                 std::string(kVendorFactsTopic));
  }
  DevBroker broker_;
  TempDir tmp_;
  std::unique_ptr<RocksStore> store_;
};

TEST_F(VendorFactForwarderTest,
       AFactTheProducerRefusesIsKeptAndReportedAndTheForwarderKeepsRunning) {
  // First in the outbox: a fact larger than the producer's message.max.bytes, so every
  // produce of it fails at once (before this was handled, the forwarder read past an empty
  // list of delivered keys and crashed).
  OutboxVendorFactSink sink(2);
  sink.Add(Failure("vendor-a", std::string(3000, 'x'), 1000));
  Commit(sink);
  auto fwd = Forwarder({{"message.max.bytes", "1000"}});
  ASSERT_TRUE(fwd);
  fwd->Start();
  fwd->Notify();
  ASSERT_TRUE(test::WaitFor([&] { return !fwd->last_error().empty(); }, 20)) << "no error reported";
  EXPECT_NE(fwd->last_error().find("kafka produce"), std::string::npos) << fwd->last_error();
  EXPECT_FALSE(fwd->Drained());  // the fact is still there, for a retry

  // Still alive: a later small fact behind it is not delivered past the stuck one (facts
  // keep their order), and stopping is prompt.
  sink.Add(Failure("vendor-b", "timeout", 2000));
  Commit(sink);
  fwd->Notify();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(fwd->Drained());
  const auto t0 = std::chrono::steady_clock::now();
  fwd->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST_F(VendorFactForwarderTest, DeliveredFactsAreDeletedAndTheOutboxDrains) {
  auto fwd = Forwarder({});
  ASSERT_TRUE(fwd);
  fwd->Start();
  OutboxVendorFactSink sink(2);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 500; ++i)
      sink.Add(Failure("vendor-" + std::to_string(i % 7), "timeout", round * 1000 + i));
    Commit(sink);
    fwd->Notify();
    ASSERT_TRUE(test::WaitFor([&] { return fwd->Drained(); }, 20))
        << "round " << round << ": " << fwd->last_error();
  }
  EXPECT_EQ(fwd->last_error(), "");
  fwd->Stop();
}

}  // namespace
}  // namespace x402
