// The connection region: one file, mapped shared, holding every worker's connection
// tables (pipeline/conn_store.h) so they outlive the process. On tmpfs (/dev/shm)
// or hugetlbfs (/dev/hugepages) the memory stays while the file exists; a process only
// maps it. A header says what made it, so a process refuses what it cannot read.
//
//   [ header, 4 KiB ][ worker 0 slice ][ worker 1 slice ] ...
//
// Ownership is an exclusive flock() on the file: the kernel drops it when the owner
// exits, however it exits, so kill -9 needs no clean-up, and a second daemon pointed at
// the same region is refused (EBUSY) instead of corrupting it. A takeover maps the region
// first (without the lock) and takes the lock once the old owner let it go.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "core/status.h"
#include "pipeline/conn_store.h"

namespace pc {

constexpr char kRegionMagic[8] = {'P', 'C', 'C', 'O', 'N', 'N', 'S', '1'};
constexpr uint32_t kRegionLayoutVersion = 1;
constexpr size_t kRegionHeaderBytes = 4096;

enum class RegionState : uint32_t { OWNED = 1, STOPPED = 2, HANDED_OVER = 3 };

struct RegionHeader {
  char magic[8];
  uint32_t layout_version;
  uint32_t workers;
  uint32_t capacity;
  uint32_t state;       // RegionState, informational (the lock is what counts)
  uint64_t compat_hash;  // conn_store_compat_hash(capacity, workers)
  uint64_t slice_bytes;  // one worker's slice
  uint64_t total_bytes;  // the mapped length
  uint64_t created_unix;
  uint32_t owner_pid;
  uint32_t reserved;
  uint64_t checksum;     // of every field above (torn or foreign headers are refused)
};

enum class RegionOutcome { NONE, HELD, CREATED, ADOPTED };

class ConnRegion {
 public:
  ~ConnRegion() { close(); }

  // Maps path for workers × capacity. An existing compatible region is kept for adoption
  // (adopting() true); an incompatible or corrupt one is renamed aside and a new one made.
  // take_lock false (takeover): the old owner still runs; lock() later. Then the region must
  // exist and be compatible (EINVAL otherwise: nothing renamed, the old owner undisturbed).
  // EBUSY when take_lock and another process holds it; NOMEM/EINVAL on system errors.
  Status open(const std::string& path, uint16_t workers, uint32_t capacity, bool take_lock);
  Status lock();     // EBUSY while another process holds it
  void unlock();     // handOver: the next owner may take it
  // Marks the header (stopped / handed over) and unmaps; keeps the file.
  void close(RegionState final_state = RegionState::STOPPED);

  bool mapped() const { return base_ != nullptr; }
  bool locked() const { return locked_; }
  bool adopting() const { return adopting_; }
  const std::string& path() const { return path_; }
  const std::string& rejected_reason() const { return rejected_reason_; }
  const std::string& rejected_path() const { return rejected_path_; }
  // Worker w's tables (adopt set when the region holds an earlier process's).
  ConnStore store(uint16_t worker, bool live) const;

 private:
  Status create_fresh(uint16_t workers, uint32_t capacity);
  // "" when header matches; else why not.
  std::string incompatibility(const RegionHeader& h, uint64_t file_bytes, uint16_t workers, uint32_t capacity) const;

  std::string path_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  size_t length_ = 0;
  bool locked_ = false;
  bool adopting_ = false;
  ConnStoreLayout layout_{};
  std::string rejected_reason_, rejected_path_;
};

}  // namespace pc
