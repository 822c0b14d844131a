// A worker's random source for the randomised schedulers (twos). One per worker, touched
// only by its thread, so no atomics. splitmix64: a few multiplies per draw, and the same
// seed always gives the same draws, which lets the golden tests (test mode seeds from the
// worker index) expect exact picks. Not secret: it spreads load, it guards nothing.
#pragma once
#include <cstdint>

namespace pc {

struct SchedRandom {
  uint64_t state = 0;

  void seed(uint64_t value) { state = value; }

  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound) for bound >= 1: the high half of a 64x64-bit product (no
  // division; the bias is below bound / 2^64).
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
};

// The seed a worker uses when none is given (test mode): fixed per worker index, so each
// worker draws its own sequence and a test run repeats exactly.
inline uint64_t sched_random_default_seed(uint16_t worker_index) {
  return 0x5052544355534C53ull ^ (static_cast<uint64_t>(worker_index) << 32);
}

}  // namespace pc
