// A bounded single-producer single-consumer ring of plain records between a worker and
// the control thread (ownership export: worker → control; foreign flows: control →
// worker). Fixed storage, no allocation after init, one acquire/release pair per side.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>

namespace pc {

template <typename T>
class SpscRing {
 public:
  // capacity: a power of two; false when out of memory (the ring stays empty and refuses all).
  bool init(uint32_t capacity) {
    slots_.reset(new (std::nothrow) T[capacity]);
    mask_ = slots_ ? capacity - 1 : 0;
    return slots_ != nullptr;
  }
  // Producer side. False when full (the caller counts it).
  bool push(const T& item) {
    uint32_t head = head_.load(std::memory_order_relaxed);
    if (!slots_ || head - tail_.load(std::memory_order_acquire) > mask_) return false;
    slots_[head & mask_] = item;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }
  // Consumer side: up to max items into out; returns how many.
  uint32_t pop(T* out, uint32_t max) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    uint32_t available = head_.load(std::memory_order_acquire) - tail;  // 0 while not ready
    uint32_t n = available < max ? available : max;
    for (uint32_t i = 0; i < n; i++) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }
  // Storage allocated (init succeeded). Before that, push refuses and pop finds nothing.
  bool ready() const { return slots_ != nullptr; }
  // Consumer side: one relaxed load when there is nothing.
  bool empty() const { return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed); }
  // Producer side: room for n more.
  bool has_room(uint32_t n) const {
    return slots_ && head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire) + n <= mask_ + 1;
  }

 private:
  std::unique_ptr<T[]> slots_;
  uint32_t mask_ = 0;
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
};

}  // namespace pc
