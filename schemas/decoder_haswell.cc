// Compiled with -mavx2 -mbmi -mbmi2 -mpclmul (see CMakeLists.txt).
#define X402_DECODER_NS haswell
#include "schemas/decoder_impl.inc"
