// Canonical forms (schemas/network.h): x402 v1 network names and CAIP-2 ids normalise to one
// CAIP-2 id; EVM addresses and 32-byte values are lowercased; Solana base58 values are kept.
#include "schemas/network.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace x402 {
namespace {

const std::string kEvmAddress = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const std::string kEvmAddressLower = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const std::string kSolanaMint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";  // 44 chars
const std::string kSolanaSignature =
    "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW";

// --- CanonicalNetwork --------------------------------------------------------------------

struct NameCase {
  const char* name;
  const char* caip2;
};

class CanonicalNetworkNameTest : public testing::TestWithParam<NameCase> {};

TEST_P(CanonicalNetworkNameTest, NameAndCaip2IdGiveTheSameCanonicalForm) {
  auto by_name = CanonicalNetwork(GetParam().name, "data.network");
  ASSERT_TRUE(by_name.ok()) << by_name.error();
  EXPECT_EQ(*by_name, GetParam().caip2);
  auto by_id = CanonicalNetwork(GetParam().caip2, "data.network");
  ASSERT_TRUE(by_id.ok()) << by_id.error();
  EXPECT_EQ(*by_id, *by_name);
}

// The canonical forms listed in EVENTS.md section 1, plus the other v1 names we accept.
INSTANTIATE_TEST_SUITE_P(
    X402V1Names, CanonicalNetworkNameTest,
    testing::Values(
        NameCase{"base", "eip155:8453"}, NameCase{"base-sepolia", "eip155:84532"},
        NameCase{"ethereum", "eip155:1"}, NameCase{"polygon", "eip155:137"},
        NameCase{"polygon-amoy", "eip155:80002"}, NameCase{"avalanche", "eip155:43114"},
        NameCase{"avalanche-fuji", "eip155:43113"}, NameCase{"arbitrum", "eip155:42161"},
        NameCase{"sei", "eip155:1329"}, NameCase{"iotex", "eip155:4689"},
        NameCase{"solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"},
        NameCase{"solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"},
        NameCase{"ethereum-sepolia", "eip155:11155111"}, NameCase{"sepolia", "eip155:11155111"},
        NameCase{"arbitrum-sepolia", "eip155:421614"}, NameCase{"optimism", "eip155:10"},
        NameCase{"optimism-sepolia", "eip155:11155420"}, NameCase{"sei-testnet", "eip155:1328"},
        NameCase{"peaq", "eip155:3338"}, NameCase{"story", "eip155:1514"},
        NameCase{"educhain", "eip155:41923"}, NameCase{"skale-base-sepolia", "eip155:324705682"}));

TEST(CanonicalNetworkTest, AnyWellFormedCaip2IdOfAKnownNamespaceIsKeptAsGiven) {
  for (const char* id :
       {"eip155:10", "eip155:999999999", "eip155:4294967295", "solana:someOtherCluster"}) {
    auto r = CanonicalNetwork(id, "data.network");
    ASSERT_TRUE(r.ok()) << id << ": " << r.error();
    EXPECT_EQ(*r, id);
  }
  // Namespaces the contract does not know (their addresses cannot be checked) and chain ids
  // past any registered EVM chain are refused (schemas/README.md, "Canonical input").
  for (const char* id :
       {"cosmos:cosmoshub-4", "abc:X_y-Z", "bip122:000000000019d6689c085ae165831e93",
        "eip155:4294967296", "eip155:99999999999999999999"}) {
    EXPECT_FALSE(CanonicalNetwork(id, "data.network").ok()) << id;
  }
}

class CanonicalNetworkRejectionTest : public testing::TestWithParam<std::string> {};

TEST_P(CanonicalNetworkRejectionTest, IsRejectedNamingTheFieldAndTheValue) {
  auto r = CanonicalNetwork(GetParam(), "data.network");
  ASSERT_FALSE(r.ok()) << GetParam() << " accepted as " << *r;
  EXPECT_EQ(r.error(), "data.network: unknown network \"" + GetParam() +
                           "\" (expected an x402 network name such as \"base\" or a CAIP-2 id "
                           "such as \"eip155:8453\")");
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, CanonicalNetworkRejectionTest,
    testing::Values("", "Base", "BASE", "base ", " base", "bitcoin", "base-mainnet",
                    "eip155:08453",  // a leading zero would alias eip155:8453
                    "eip155:0", "eip155:", "eip155:abc", "eip155:-1", "eip155:8453 ", ":8453",
                    "EIP155:8453", "ab:1", "namespace:1",  // namespace 3..8 chars
                    "eip155:8453:1", "solana:" + std::string(33, 'a'), "cosmos:hub/4"));

TEST(CanonicalNetworkTest, Caip2ReferenceOf32CharsIsTheLimit) {
  auto r = CanonicalNetwork("solana:" + std::string(32, 'a'), "n");
  ASSERT_TRUE(r.ok()) << r.error();
}

TEST(IsSolanaTest, OnlySolanaNamespace) {
  EXPECT_TRUE(IsSolana("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"));
  EXPECT_TRUE(IsSolana("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"));
  EXPECT_FALSE(IsSolana("eip155:8453"));
  EXPECT_FALSE(IsSolana("solana"));  // takes canonical forms only
  EXPECT_FALSE(IsSolana(""));
}

TEST(NetworkDisplayNameTest, KnownIdsShowTheirName) {
  EXPECT_EQ(NetworkDisplayName("eip155:8453"), "base");
  EXPECT_EQ(NetworkDisplayName("eip155:1"), "ethereum");
  EXPECT_EQ(NetworkDisplayName("eip155:11155111"), "ethereum-sepolia");
  EXPECT_EQ(NetworkDisplayName("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"), "solana");
}

TEST(NetworkDisplayNameTest, UnknownIdsShowTheId) {
  EXPECT_EQ(NetworkDisplayName("eip155:999999"), "eip155:999999");
  EXPECT_EQ(NetworkDisplayName("cosmos:cosmoshub-4"), "cosmos:cosmoshub-4");
}

// --- CanonicalAddress --------------------------------------------------------------------

TEST(CanonicalAddressTest, EvmAddressIsLowercased) {
  auto r = CanonicalAddress(kEvmAddress, false, "data.asset");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, kEvmAddressLower);
}

TEST(CanonicalAddressTest, UppercaseEvmPrefixIsAcceptedAndLowercased) {
  std::string upper = "0X833589FCD6EDB6E08F4C7C32D4F71B54BDA02913";
  auto r = CanonicalAddress(upper, false, "data.asset");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, kEvmAddressLower);
}

TEST(CanonicalAddressTest, MixedCaseSpellingsOfOneAddressAreEqual) {
  auto a = CanonicalAddress(kEvmAddress, false, "a");
  auto b = CanonicalAddress(kEvmAddressLower, false, "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

class CanonicalEvmAddressRejectionTest : public testing::TestWithParam<std::string> {};

TEST_P(CanonicalEvmAddressRejectionTest, IsRejectedNamingTheField) {
  auto r = CanonicalAddress(GetParam(), false, "data.pay_to");
  ASSERT_FALSE(r.ok()) << GetParam();
  EXPECT_EQ(r.error(), "data.pay_to: expected address (0x + 40 hex), got \"" + GetParam() + "\"");
}

INSTANTIATE_TEST_SUITE_P(Malformed, CanonicalEvmAddressRejectionTest,
                         testing::Values("", "0x", kEvmAddress.substr(0, 41),  // 39 hex
                                         kEvmAddress + "0",                    // 41 hex
                                         kEvmAddress.substr(2) + "00",         // no 0x
                                         "0y" + kEvmAddress.substr(2),
                                         kEvmAddress.substr(0, 41) + "g", " " + kEvmAddress,
                                         kSolanaMint));

TEST(CanonicalAddressTest, SolanaAddressIsKeptAsGiven) {
  auto r = CanonicalAddress(kSolanaMint, true, "data.asset");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, kSolanaMint);
  auto shortest = CanonicalAddress(std::string(32, '1'), true, "data.asset");
  EXPECT_TRUE(shortest.ok());
}

TEST(CanonicalAddressTest, SolanaAddressOutsideBase58OrLengthIsRejected) {
  for (const std::string& bad :
       {std::string(31, '1'), std::string(45, '1'), kSolanaMint.substr(0, 43) + "0",
        kSolanaMint.substr(0, 43) + "O", kSolanaMint.substr(0, 43) + "I",
        kSolanaMint.substr(0, 43) + "l", kEvmAddress}) {
    auto r = CanonicalAddress(bad, true, "data.payer");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error(), "data.payer: expected address (base58), got \"" + bad + "\"");
  }
}

// --- CanonicalHash32 ---------------------------------------------------------------------

TEST(CanonicalHash32Test, EvmHashIsLowercased) {
  const std::string hash = "0x" + std::string(32, 'A') + std::string(32, 'f');
  auto r = CanonicalHash32(hash, false, "data.tx_hash");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, "0x" + std::string(32, 'a') + std::string(32, 'f'));
}

TEST(CanonicalHash32Test, EvmHashOfWrongLengthIsRejected) {
  for (const std::string& bad : {"0x" + std::string(63, 'a'), "0x" + std::string(65, 'a'),
                                 "0x" + std::string(40, 'a'), std::string(66, 'a')}) {
    auto r = CanonicalHash32(bad, false, "data.nonce");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error(),
              "data.nonce: expected 32-byte hex value (0x + 64 hex), got \"" + bad + "\"");
  }
}

TEST(CanonicalHash32Test, LongBadValueIsClippedInTheMessage) {
  const std::string bad(150, 'z');
  auto r = CanonicalHash32(bad, false, "data.nonce");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "data.nonce: expected 32-byte hex value (0x + 64 hex), got \"" +
                           std::string(100, 'z') + "…\"");
}

TEST(CanonicalHash32Test, SolanaSignatureIsKeptAsGiven) {
  ASSERT_EQ(kSolanaSignature.size(), 88u);
  auto r = CanonicalHash32(kSolanaSignature, true, "data.tx_hash");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, kSolanaSignature);
  EXPECT_TRUE(CanonicalHash32(std::string(32, 'z'), true, "n").ok());
}

TEST(CanonicalHash32Test, SolanaValueOutsideBase58OrLengthIsRejected) {
  for (const std::string& bad :
       {kSolanaSignature + "1", std::string(31, 'z'), "0x" + std::string(64, 'a'),
        kSolanaSignature.substr(0, 87) + "0"}) {
    auto r = CanonicalHash32(bad, true, "data.tx_hash");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error(), "data.tx_hash: expected hash (base58), got \"" + bad + "\"");
  }
}

// --- The *To forms (in place, for the decoder) -------------------------------------------

// Every input through both forms: the same verdict, the same canonical value, the same reason.
TEST(CanonicalToFormsTest, AgreeWithTheResultFormsOnValidAndInvalidInput) {
  const std::vector<std::string> networks = {
      "base",   "solana", "eip155:8453",  "cosmos:cosmoshub-4",
      "",       "Base",   "eip155:08453", "solana:" + std::string(33, 'a'),
      "bitcoin"};
  for (const std::string& n : networks) {
    auto r = CanonicalNetwork(n, "data.network");
    std::string out = "leftover from an earlier event";
    Status st = CanonicalNetworkTo(n, "data.network", &out);
    ASSERT_EQ(st.ok(), r.ok()) << n;
    if (r.ok()) {
      EXPECT_EQ(out, *r) << n;
    } else {
      EXPECT_EQ(st.error(), r.error()) << n;
    }
  }
  const std::vector<std::string> values = {kEvmAddress,
                                           kEvmAddressLower,
                                           "0X833589FCD6EDB6E08F4C7C32D4F71B54BDA02913",
                                           kSolanaMint,
                                           kSolanaSignature,
                                           "0x" + std::string(64, 'F'),
                                           "0x" + std::string(63, 'a') + "g",
                                           "",
                                           "0x",
                                           std::string(150, 'z'),
                                           kEvmAddress.substr(0, 41) + "\xff",
                                           std::string(32, '1')};
  for (const std::string& v : values) {
    for (bool solana : {false, true}) {
      auto a = CanonicalAddress(v, solana, "data.payer");
      std::string out = "leftover";
      Status st = CanonicalAddressTo(v, solana, "data.payer", &out);
      ASSERT_EQ(st.ok(), a.ok()) << v << " solana=" << solana;
      if (a.ok()) {
        EXPECT_EQ(out, *a) << v;
      } else {
        EXPECT_EQ(st.error(), a.error()) << v;
      }
      auto h = CanonicalHash32(v, solana, "data.nonce");
      st = CanonicalHash32To(v, solana, "data.nonce", &out);
      ASSERT_EQ(st.ok(), h.ok()) << v << " solana=" << solana;
      if (h.ok()) {
        EXPECT_EQ(out, *h) << v;
      } else {
        EXPECT_EQ(st.error(), h.error()) << v;
      }
    }
  }
}

// The hex check works on 16 and 8 bytes at a time, then byte by byte: put every byte value at
// every position of an address and of a hash, and compare with the plain definition.
TEST(CanonicalToFormsTest, EveryByteAtEveryPositionIsCheckedAndLowercased) {
  auto is_hex = [](int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  std::string out;
  for (size_t hex_len : {size_t{40}, size_t{64}}) {
    const std::string base = "0x" + std::string(hex_len, 'A');
    for (size_t pos = 2; pos < base.size(); ++pos) {
      for (int c = 0; c < 256; ++c) {
        std::string text = base;
        text[pos] = static_cast<char>(c);
        Status st = hex_len == 40 ? CanonicalAddressTo(text, false, "f", &out)
                                  : CanonicalHash32To(text, false, "f", &out);
        ASSERT_EQ(st.ok(), is_hex(c)) << "byte " << c << " at " << pos << " of " << hex_len;
        if (!st.ok()) continue;
        std::string expected = "0x" + std::string(hex_len, 'a');
        expected[pos] = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        ASSERT_EQ(out, expected);
      }
    }
  }
}

// The decoder keeps one Event and refills it: canonical values go into its strings without
// giving up their buffers.
TEST(CanonicalToFormsTest, OutputStringKeepsItsBuffer) {
  std::string out;
  out.reserve(128);
  const char* buffer = out.data();
  ASSERT_TRUE(CanonicalAddressTo(kEvmAddress, false, "a", &out).ok());
  ASSERT_TRUE(CanonicalHash32To("0x" + std::string(64, 'B'), false, "h", &out).ok());
  ASSERT_TRUE(CanonicalHash32To(kSolanaSignature, true, "h", &out).ok());
  ASSERT_TRUE(CanonicalNetworkTo("solana-devnet", "n", &out).ok());
  EXPECT_EQ(out, "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
  EXPECT_EQ(out.data(), buffer);
}

}  // namespace
}  // namespace x402
