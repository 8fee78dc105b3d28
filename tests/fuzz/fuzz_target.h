// The libFuzzer entry point every *_fuzzer.cc defines (also called by replay_main.cc).
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
