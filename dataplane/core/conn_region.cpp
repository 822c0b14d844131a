#include "core/conn_region.h"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace pc {

namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

uint64_t header_checksum(const RegionHeader& h) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&h);
  uint64_t x = 0xcbf29ce484222325ull;  // FNV-1a over every field before the checksum
  for (size_t i = 0; i < offsetof(RegionHeader, checksum); i++) x = (x ^ bytes[i]) * 0x100000001b3ull;
  return x;
}

std::string errno_text(const char* call, const std::string& path) {
  return std::string(call) + "(" + path + "): " + std::strerror(errno);
}

// What one mapping needs: the header page, then every worker's slice; on hugetlbfs the
// length must be whole huge pages.
size_t region_bytes(int fd, const ConnStoreLayout& layout, uint16_t workers) {
  size_t bytes = kRegionHeaderBytes + layout.bytes * workers;
  struct statfs fs {};
  if (fstatfs(fd, &fs) == 0 && static_cast<long>(fs.f_type) == kHugetlbfsMagic && fs.f_bsize > 0) {
    size_t page = static_cast<size_t>(fs.f_bsize);
    bytes = (bytes + page - 1) / page * page;
  }
  return bytes;
}

RegionHeader* header_of(uint8_t* base) { return reinterpret_cast<RegionHeader*>(base); }

void mark(uint8_t* base, RegionState state) {
  RegionHeader* h = header_of(base);
  h->state = static_cast<uint32_t>(state);
  h->owner_pid = state == RegionState::OWNED ? static_cast<uint32_t>(getpid()) : 0;
  h->checksum = header_checksum(*h);
}

}  // namespace

std::string ConnRegion::incompatibility(const RegionHeader& h, uint64_t file_bytes, uint16_t workers,
                                        uint32_t capacity) const {
  if (std::memcmp(h.magic, kRegionMagic, sizeof kRegionMagic) != 0) return "not a Portcullis connection region (bad magic)";
  if (h.checksum != header_checksum(h)) return "header checksum mismatch (corrupt)";
  if (h.layout_version != kRegionLayoutVersion)
    return "layout version " + std::to_string(h.layout_version) + ", this build reads " + std::to_string(kRegionLayoutVersion);
  if (h.workers != workers) return "made for " + std::to_string(h.workers) + " workers, now " + std::to_string(workers);
  if (h.capacity != capacity)
    return "made for conn_capacity " + std::to_string(h.capacity) + ", now " + std::to_string(capacity);
  if (h.compat_hash != conn_store_compat_hash(capacity, workers)) return "record layout differs (another build)";
  if (h.slice_bytes != layout_.bytes || h.total_bytes != file_bytes) return "size does not match its header (truncated?)";
  return "";
}

Status ConnRegion::open(const std::string& path, uint16_t workers, uint32_t capacity, bool take_lock) {
  close();
  path_ = path;
  layout_ = conn_store_layout(capacity);
  rejected_reason_.clear();
  rejected_path_.clear();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::Error("EINVAL", "connection region: " + errno_text("open", path));
  if (take_lock) {
    Status st = lock();
    if (!st.ok()) {
      ::close(fd_);
      fd_ = -1;
      return st;
    }
  }
  struct stat info {};
  if (fstat(fd_, &info) != 0) return Status::Error("EINVAL", "connection region: " + errno_text("fstat", path));
  if (info.st_size == 0 && !take_lock) {
    // A takeover with nothing to take: the running daemon keeps its tables elsewhere (another
    // conn_region) or has none. Going on would drop every connection it holds.
    ::close(fd_);
    fd_ = -1;
    unlink(path.c_str());
    return Status::Error("EINVAL", "connection region " + path +
                                       ": no tables to take over there (is the running daemon's conn_region the same?)");
  }
  if (info.st_size == 0) return create_fresh(workers, capacity);

  RegionHeader h{};
  ssize_t got = pread(fd_, &h, sizeof h, 0);
  std::string why = got == static_cast<ssize_t>(sizeof h)
                        ? incompatibility(h, static_cast<uint64_t>(info.st_size), workers, capacity)
                        : "shorter than its header";
  if (why.empty()) {
    length_ = static_cast<size_t>(info.st_size);
    void* base = mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (base == MAP_FAILED) return Status::Error("NOMEM", "connection region: " + errno_text("mmap", path));
    base_ = static_cast<uint8_t*>(base);
    adopting_ = true;
    if (locked_) mark(base_, RegionState::OWNED);
    return Status::Ok();
  }
  if (!take_lock) {
    // A takeover is refused before it stops anything: the running daemon keeps its tables.
    ::close(fd_);
    fd_ = -1;
    return Status::Error("EINVAL", "connection region " + path + " cannot be taken over: " + why +
                                       " (stop the running daemon and start this one normally)");
  }
  // Never reuse what we cannot read: move it aside (for a post-mortem) and start empty.
  rejected_reason_ = why;
  rejected_path_ = path + ".rejected-" + std::to_string(static_cast<long long>(time(nullptr)));
  if (rename(path.c_str(), rejected_path_.c_str()) != 0)
    return Status::Error("EINVAL", "connection region: " + why + "; cannot set it aside: " +
                                       errno_text("rename", rejected_path_));
  ::close(fd_);  // the old file's lock (if any) goes with it; the new file is ours at once
  locked_ = false;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::Error("EINVAL", "connection region: " + errno_text("open", path));
  Status st = lock();
  if (!st.ok()) return st;
  return create_fresh(workers, capacity);
}

Status ConnRegion::create_fresh(uint16_t workers, uint32_t capacity) {
  length_ = region_bytes(fd_, layout_, workers);
  // A sparse file: pages are allocated as records are first written.
  if (ftruncate(fd_, 0) != 0 || ftruncate(fd_, static_cast<off_t>(length_)) != 0)
    return Status::Error("NOMEM", "connection region: " + errno_text("ftruncate", path_) + " (" +
                                      std::to_string(length_ >> 20) + " MiB)");
  void* base = mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (base == MAP_FAILED) {
    Status failed = Status::Error("NOMEM", "connection region: " + errno_text("mmap", path_) + " (" +
                                               std::to_string(length_ >> 20) +
                                               " MiB; on hugetlbfs it needs that many free huge pages)");
    unlink(path_.c_str());  // an empty region must not be found (and fail again) by the next start
    return failed;
  }
  base_ = static_cast<uint8_t*>(base);
  adopting_ = false;
  RegionHeader* h = header_of(base_);
  std::memcpy(h->magic, kRegionMagic, sizeof kRegionMagic);
  h->layout_version = kRegionLayoutVersion;
  h->workers = workers;
  h->capacity = capacity;
  h->compat_hash = conn_store_compat_hash(capacity, workers);
  h->slice_bytes = layout_.bytes;
  h->total_bytes = length_;
  h->created_unix = static_cast<uint64_t>(time(nullptr));
  mark(base_, locked_ ? RegionState::OWNED : RegionState::STOPPED);
  return Status::Ok();
}

Status ConnRegion::lock() {
  if (locked_) return Status::Ok();
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::Error("EINVAL", "connection region: " + errno_text("flock", path_));
    RegionHeader h{};
    std::string owner;
    if (pread(fd_, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h) && h.owner_pid)
      owner = " (pid " + std::to_string(h.owner_pid) + ")";
    return Status::Error("EBUSY", "connection region " + path_ + " is in use by another process" + owner +
                                      ": stop it first, or start this one as its takeover");
  }
  locked_ = true;
  if (base_) mark(base_, RegionState::OWNED);
  return Status::Ok();
}

void ConnRegion::unlock() {
  if (!locked_) return;
  if (base_) mark(base_, RegionState::HANDED_OVER);
  flock(fd_, LOCK_UN);
  locked_ = false;
}

void ConnRegion::close(RegionState final_state) {
  if (base_) {
    if (locked_) mark(base_, final_state);
    munmap(base_, length_);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  base_ = nullptr;
  length_ = 0;
  locked_ = false;
  adopting_ = false;
}

ConnStore ConnRegion::store(uint16_t worker, bool live) const {
  ConnStore s = conn_store_at(base_ + kRegionHeaderBytes + layout_.bytes * worker, layout_);
  s.adopt = adopting_;
  s.live = live;
  return s;
}

}  // namespace pc
