#define X402_DECODER_NS generic
#include "schemas/decoder_impl.inc"
