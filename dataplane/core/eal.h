// DPDK's EAL lives once per process: initialised by the first start(), reused by
// later test-mode starts, and gone for good after a live-mode cleanup.
#pragma once
#include <string>
#include <vector>
#include "core/status.h"

namespace pc {

enum class EalState { NOT_INITIALISED, READY, GONE };

EalState eal_state();

// Initialises EAL with argv = {"portcullis", args...} unless already READY.
// Restores the calling thread's CPU affinity afterwards (rte_eal_init pins it
// to the main lcore, and every thread Node creates later would inherit that).
// Errors: EAL_INIT_FAILED (with rte_strerror and the arguments), EAL_GONE.
Status eal_ensure(const std::vector<std::string>& args);

// rte_eal_cleanup; afterwards eal_ensure() fails with EAL_GONE.
void eal_cleanup();

}  // namespace pc
