// A caching allocator for device memory, in the spirit of PyTorch's CUDA caching allocator but
// much smaller: requests are rounded to size classes, freed blocks are kept per stream and
// reused by later requests on the same stream (stream order makes that safe without events),
// and blocks used on other streams become reusable only after events recorded at free time
// complete. When the backend cannot allocate, the cache is released and the request retried
// once; a second failure throws an Error that says what was asked and what is held.
//
// The raw memory and event operations go through a MemoryBackend so the caching logic is
// tested on the CPU with a fake backend (tests/engine/test_caching_allocator.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace wsvis {

using StreamHandle = void*;  // cudaStream_t on the CUDA backend
using EventHandle = void*;   // cudaEvent_t on the CUDA backend

class MemoryBackend {
 public:
  virtual ~MemoryBackend() = default;
  virtual void* raw_alloc(size_t bytes) = 0;  // nullptr when out of memory
  virtual void raw_free(void* ptr) = 0;
  virtual void synchronize() = 0;             // wait for all streams before freeing the cache
  virtual EventHandle record_event(StreamHandle stream) = 0;
  virtual bool event_done(EventHandle event) = 0;
  virtual void destroy_event(EventHandle event) = 0;
  virtual std::string describe() const = 0;   // device name and free/total memory for errors
};

struct AllocatorStats {
  size_t bytes_in_use = 0;     // handed out and not yet freed
  size_t bytes_cached = 0;     // held in free lists, reusable
  size_t peak_bytes_in_use = 0;
  size_t blocks_in_use = 0;
  size_t raw_allocs = 0;       // calls that reached the backend
  size_t cache_hits = 0;
  size_t cache_releases = 0;   // times the cache was emptied to satisfy a request
};

class CachingAllocator {
 public:
  // Size classes: every request is rounded up to a multiple of kRoundSmall; requests above
  // kSmallLimit are rounded up to a multiple of kRoundLarge, so big tensors of nearby sizes
  // share blocks. A cached large block serves a request only while it wastes at most a
  // quarter of the block (a 1 GiB block never serves a 4 MiB request).
  static constexpr size_t kRoundSmall = 512;
  static constexpr size_t kSmallLimit = size_t(1) << 20;
  static constexpr size_t kRoundLarge = size_t(2) << 20;

  explicit CachingAllocator(std::unique_ptr<MemoryBackend> backend);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes, StreamHandle stream);
  void deallocate(void* ptr);
  // Marks a block as used by another stream: on free, the block waits for that stream.
  void record_stream(void* ptr, StreamHandle stream);
  // Returns every cached (free) block to the backend.
  void release_cache();
  AllocatorStats stats() const;

  static size_t round_size(size_t bytes);

 private:
  struct Block {
    void* ptr = nullptr;
    size_t size = 0;
    StreamHandle stream = nullptr;
    std::vector<StreamHandle> other_streams;  // streams that used the block besides its own
    std::vector<EventHandle> pending;          // events to wait for before reuse
  };
  using FreeList = std::multimap<size_t, Block>;  // by size

  bool take_cached(size_t size, StreamHandle stream, Block* out);
  void collect_completed();
  void release_cache_locked();

  std::unique_ptr<MemoryBackend> backend_;
  mutable std::mutex mutex_;
  std::map<StreamHandle, FreeList> free_by_stream_;
  std::vector<Block> awaiting_events_;
  std::unordered_map<void*, Block> in_use_;
  AllocatorStats stats_;
};

}  // namespace wsvis
