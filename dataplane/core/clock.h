// Worker clock in microseconds from the TSC. Live workers use this; test mode
// uses an injected clock instead so timers are deterministic.
#pragma once
#include <cstdint>
#include <rte_cycles.h>

namespace pc {

struct TscClock {
  uint64_t cycles_per_us = 1;

  void init() {
    uint64_t hz = rte_get_tsc_hz();
    cycles_per_us = hz >= 1000000 ? hz / 1000000 : 1;
  }
  uint64_t us_from_cycles(uint64_t cycles) const { return cycles / cycles_per_us; }
  uint64_t cycles_from_us(uint64_t us) const { return us * cycles_per_us; }
};

}  // namespace pc
