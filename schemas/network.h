// Canonical forms of EVENTS.md section 1: networks as CAIP-2 ids, EVM addresses / tx hashes /
// nonces as lowercase 0x-hex. Solana networks carry base58 addresses and signatures, which
// are case-sensitive and kept as given. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "schemas/result.h"

namespace x402 {

// "base" -> "eip155:8453"; "eip155:8453" -> "eip155:8453"; any well-formed CAIP-2 id is kept.
Result<std::string> CanonicalNetwork(std::string_view text, std::string_view field);
// True for "solana:*" networks.
bool IsSolana(std::string_view canonical_network);
// Short human name for output ("eip155:8453" -> "base"); the CAIP-2 id when unknown.
std::string NetworkDisplayName(std::string_view canonical_network);

// An EVM address (0x + 40 hex, lowercased) or, on Solana, a base58 public key (32..44 chars).
Result<std::string> CanonicalAddress(std::string_view text, bool solana, std::string_view field);
// A 32-byte hash / nonce (0x + 64 hex, lowercased) or, on Solana, a base58 value (32..88).
Result<std::string> CanonicalHash32(std::string_view text, bool solana, std::string_view field);

// The same three, writing the canonical form into `*out` (reusing its capacity, so a caller that
// keeps its strings allocates nothing) and building a message only on error: the hot-path forms
// the decoder uses. Errors are the same as above, byte for byte. On error `*out` is unspecified.
// REQUIRES: `text` does not overlap `*out`.
Status CanonicalNetworkTo(std::string_view text, std::string_view field, std::string* out);
Status CanonicalAddressTo(std::string_view text, bool solana, std::string_view field,
                          std::string* out);
Status CanonicalHash32To(std::string_view text, bool solana, std::string_view field,
                         std::string* out);

}  // namespace x402
