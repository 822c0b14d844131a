#include "core/eal.h"

#include <pthread.h>
#include <sched.h>
#include <rte_eal.h>
#include <rte_errno.h>

namespace pc {

namespace {
EalState g_state = EalState::NOT_INITIALISED;

std::string join_args(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}
}  // namespace

EalState eal_state() { return g_state; }

Status eal_ensure(const std::vector<std::string>& args) {
  if (g_state == EalState::READY) return Status::Ok();
  if (g_state == EalState::GONE)
    return Status::Error("EAL_GONE",
                         "DPDK EAL was cleaned up by a live-mode stop(); it cannot be initialised again in this process");

  // rte_eal_init may keep pointers into argv and reorders it: give it storage that lives forever.
  static std::vector<std::string> storage;
  static std::vector<char*> argv;
  storage.clear();
  storage.push_back("portcullis");
  storage.insert(storage.end(), args.begin(), args.end());
  argv.clear();
  for (auto& s : storage) argv.push_back(&s[0]);
  argv.push_back(nullptr);

  cpu_set_t saved;
  CPU_ZERO(&saved);
  bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;

  int rc = rte_eal_init(static_cast<int>(storage.size()), argv.data());
  int err = rte_errno;

  if (have_saved) pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);

  if (rc < 0)
    return Status::Error("EAL_INIT_FAILED", std::string("rte_eal_init failed: ") + rte_strerror(err) +
                                                " (args: " + join_args(args) + ")");
  g_state = EalState::READY;
  return Status::Ok();
}

void eal_cleanup() {
  if (g_state != EalState::READY) return;
  rte_eal_cleanup();
  g_state = EalState::GONE;
}

}  // namespace pc
