// Every invariant of one worker's connection tables, checked record by record and entry
// by entry (tests: after adoption, after a crash, after churn). Slow and thorough: test
// mode only, never on the packet path.
#include <string>
#include <vector>
#include "pipeline/conn/conn_account.h"
#include "pipeline/conn/lport.h"
#include "pipeline/pipeline.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

struct Checker {
  const Worker* w;
  std::vector<std::string>* problems;
  std::string prefix;

  void fail(const std::string& what) {
    if (problems->size() < 64) problems->push_back(prefix + what);  // enough to diagnose, bounded
  }
};

bool slot_names(uint32_t slot, uint32_t* index, Direction* direction) {
  if (slot == 0) return false;
  *index = (slot - 1) >> 1;
  *direction = static_cast<Direction>((slot - 1) & 1);
  return true;
}

void check_index(Checker& k, const ConnTable& t, std::vector<uint8_t>* entries_of) {
  const uint32_t buckets = t.bucket_mask + 1;
  std::vector<uint32_t> spilled(buckets, 0);
  for (uint32_t b = 0; b < buckets; b++) {
    const ConnBucket& bucket = t.buckets[b];
    for (uint32_t i = 0; i < kConnBucketSlots; i++) {
      uint32_t index;
      Direction direction;
      if (!slot_names(bucket.slots[i], &index, &direction)) continue;
      std::string where = "bucket " + std::to_string(b) + " slot " + std::to_string(i) + ": ";
      if (index >= t.capacity) {
        k.fail(where + "names record " + std::to_string(index) + " beyond capacity");
        continue;
      }
      const Conn& c = t.records[index];
      if (c.in_use != kConnCommitted) {
        k.fail(where + "names record " + std::to_string(index) + " that is not committed");
        continue;
      }
      if (direction == Direction::OUTPUT && !conn_has_reply_entry(c)) k.fail(where + "reply entry of a record that has none (one-way or answered one-packet)");
      if (direction == Direction::INPUT && !conn_has_client_entry(c)) k.fail(where + "client entry of a one-packet record");
      FlowKey key = direction == Direction::INPUT ? conn_client_key(c) : conn_reply_key(c);
      ConnHash h = conn_hash(key);
      if (h.tag != bucket.tags[i]) k.fail(where + "tag does not match the record's tuple");
      uint32_t home = h.bucket & t.bucket_mask;
      uint32_t distance = (b - home) & t.bucket_mask;
      if (distance >= kConnMaxProbe) k.fail(where + "entry further than the probe limit from its home bucket");
      for (uint32_t d = home; d != b; d = (d + 1) & t.bucket_mask) spilled[d]++;
      (*entries_of)[index] = static_cast<uint8_t>((*entries_of)[index] + 1);
    }
  }
  for (uint32_t b = 0; b < buckets; b++)
    if (spilled[b] != t.buckets[b].spilled)
      k.fail("bucket " + std::to_string(b) + ": spilled count " + std::to_string(t.buckets[b].spilled) + ", entries past it " +
             std::to_string(spilled[b]));
}

void check_wheel(Checker& k, const ConnTable& t, std::vector<uint8_t>* filed) {
  for (uint32_t slot = 0; slot < kWheelSlots; slot++) {
    uint32_t steps = 0;
    for (uint32_t index = t.wheel[slot]; index != kNoConn; index = t.records[index].wheel_next) {
      if (index >= t.capacity || ++steps > t.capacity) {
        k.fail("wheel slot " + std::to_string(slot) + ": list leaves the table or loops");
        break;
      }
      if (t.records[index].in_use != kConnCommitted) k.fail("wheel slot " + std::to_string(slot) + ": uncommitted record " + std::to_string(index));
      (*filed)[index] = static_cast<uint8_t>((*filed)[index] + 1);
    }
  }
}

}  // namespace

void worker_check_tables(const Worker* w, std::vector<std::string>* problems) {
  Checker k{w, problems, "worker " + std::to_string(w->params.index) + ": "};
  const ConnTable& t = w->conns;
  std::vector<uint8_t> entries_of(t.capacity, 0), filed(t.capacity, 0), listed_free(t.capacity, 0);
  check_index(k, t, &entries_of);
  if (t.wheel_started) check_wheel(k, t, &filed);

  for (uint32_t f = 0; f < t.free_count; f++) {
    uint32_t index = t.free_stack[f];
    if (index >= t.capacity || listed_free[index]++) k.fail("free list: record " + std::to_string(index) + " out of range or twice");
    else if (t.records[index].in_use) k.fail("free list: record " + std::to_string(index) + " is in use");
  }

  uint64_t committed = 0;
  std::vector<int64_t> active(kMaxServiceId + 1, 0), inactive(kMaxServiceId + 1, 0);
  std::vector<std::vector<uint8_t>> lport_seen(w->lports.pools.size());
  std::vector<uint32_t> lports_held(w->lports.pools.size(), 0);
  for (uint32_t i = 0; i < t.capacity; i++) {
    const Conn& c = t.records[i];
    if (c.in_use == 0) continue;
    std::string rec = "record " + std::to_string(i) + ": ";
    if (c.in_use != kConnCommitted) {
      k.fail(rec + "allocated but not committed outside a packet's processing");
      continue;
    }
    committed++;
    if (i >= *t.high_water) k.fail(rec + "beyond the high-water mark");
    uint8_t want = static_cast<uint8_t>(conn_has_client_entry(c) + conn_has_reply_entry(c));
    if (entries_of[i] != want) k.fail(rec + std::to_string(entries_of[i]) + " index entries, expected " + std::to_string(want));
    uint32_t found;
    Direction direction;
    if (conn_has_client_entry(c) && (!conn_lookup(t, conn_client_key(c), &found, &direction) || found != i || direction != Direction::INPUT))
      k.fail(rec + "its client tuple does not find it");
    if (conn_has_reply_entry(c) && (!conn_lookup(t, conn_reply_key(c), &found, &direction) || found != i || direction != Direction::OUTPUT))
      k.fail(rec + "its reply tuple does not find it");
    if (t.wheel_started && filed[i] != 1) k.fail(rec + "filed " + std::to_string(filed[i]) + " times in the timer wheel");
    // An answered one-packet record holds nothing but itself: no gauge, no lport.
    bool holds = c.state != kStateUdpAnswered;
    // UDP carriage (conn_create.cpp set_udp_carriage): UDP FullNAT within one family only; a
    // UOA countdown only on a UOA connection.
    bool carriage_allowed = c.protocol == IPPROTO_UDP && !(c.flags & (kConnNotFullnat | kConnNat64));
    if (c.udp_carriage != kUdpCarriageNone && !carriage_allowed) k.fail(rec + "client-address carriage on a connection that cannot have it");
    bool uoa = c.udp_carriage == kUdpCarriageUoaIpo || c.udp_carriage == kUdpCarriageUoaOpp;
    if (c.uoa_left != 0 && !uoa) k.fail(rec + "UOA datagrams left on a connection without UOA");
    if (holds && c.service_epoch == w->service_epoch[c.service_id])
      (c.state == kStateEstablished ? active : inactive)[c.service_id]++;
    if (holds && !(c.flags & kConnNotFullnat)) {
      if (c.lport_pool >= w->lports.pools.size() || w->lports.pools[c.lport_pool].local_addr != c.local_addr) {
        k.fail(rec + "lport pool does not hold its LIP");
      } else if (!lport_taken(w->lports, c.lport_pool, c.local_port)) {
        k.fail(rec + "its lport is not marked taken");
      } else {
        lports_held[c.lport_pool]++;
      }
    }
  }
  if (committed != t.capacity - t.free_count)
    k.fail("committed records " + std::to_string(committed) + " + free " + std::to_string(t.free_count) + " != capacity " +
           std::to_string(t.capacity));
  for (size_t p = 0; p < w->lports.pools.size(); p++) {
    const LportPool& pool = w->lports.pools[p];
    uint32_t bits = 0;
    for (uint64_t word : pool.in_use) bits += static_cast<uint32_t>(__builtin_popcountll(word));
    if (bits != pool.used || pool.used != lports_held[p])
      k.fail("lport pool " + std::to_string(p) + ": " + std::to_string(bits) + " bits, used " + std::to_string(pool.used) + ", " +
             std::to_string(lports_held[p]) + " FullNAT records hold one");
  }
  for (uint32_t id : w->present_service_ids) {
    const TrafficCounters& counters = w->counters->services[id];
    if (counters.active_conns != active[id] || counters.inactive_conns != inactive[id])
      k.fail("service " + std::to_string(id) + ": gauges active " + std::to_string(counters.active_conns) + " inactive " +
             std::to_string(counters.inactive_conns) + ", records " + std::to_string(active[id]) + " / " + std::to_string(inactive[id]));
  }
}

}  // namespace pc
