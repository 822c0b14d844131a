// Per-service caps on new connections (IPVS -x style, for the whole service):
// a rate (token bucket, the service's rate split between workers) and a
// concurrent count (each worker enforces ceil(max / workers) on its own table).
// Declared in defend.h as defend_admit_connection(); this file implements it.
#pragma once
#include "pipeline/defend/defend.h"
