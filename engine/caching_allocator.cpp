#include "engine/caching_allocator.h"

#include <algorithm>

#include "engine/error.h"

namespace wsvis {

namespace {
std::string mib(size_t bytes) {
  return detail::concat(bytes / (1024.0 * 1024.0), " MiB");
}
}  // namespace

CachingAllocator::CachingAllocator(std::unique_ptr<MemoryBackend> backend)
    : backend_(std::move(backend)) {}

CachingAllocator::~CachingAllocator() {
  // Blocks still in use belong to tensors that outlived their context: a bug elsewhere, but
  // freeing them here would turn it into a use-after-free, so they are left to the driver.
  std::lock_guard<std::mutex> lock(mutex_);
  release_cache_locked();
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= kSmallLimit) return (bytes + kRoundSmall - 1) / kRoundSmall * kRoundSmall;
  return (bytes + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
}

bool CachingAllocator::take_cached(size_t size, StreamHandle stream, Block* out) {
  auto lists = free_by_stream_.find(stream);
  if (lists == free_by_stream_.end()) return false;
  FreeList& list = lists->second;
  auto it = list.lower_bound(size);
  if (it == list.end()) return false;
  // Small classes match exactly; a large block may be up to 4/3 of the request.
  const bool fits = size <= kSmallLimit ? it->first == size : it->first * 3 <= size * 4;
  if (!fits) return false;
  *out = std::move(it->second);
  list.erase(it);
  stats_.bytes_cached -= out->size;
  return true;
}

void CachingAllocator::collect_completed() {
  auto done = [&](Block& block) {
    for (EventHandle e : block.pending)
      if (!backend_->event_done(e)) return false;
    for (EventHandle e : block.pending) backend_->destroy_event(e);
    block.pending.clear();
    return true;
  };
  for (size_t i = 0; i < awaiting_events_.size();) {
    if (done(awaiting_events_[i])) {
      Block block = std::move(awaiting_events_[i]);
      awaiting_events_.erase(awaiting_events_.begin() + static_cast<std::ptrdiff_t>(i));
      block.other_streams.clear();
      free_by_stream_[block.stream].emplace(block.size, std::move(block));
    } else {
      ++i;
    }
  }
}

void* CachingAllocator::allocate(size_t bytes, StreamHandle stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t size = round_size(bytes);
  Block block;
  bool found = take_cached(size, stream, &block);
  if (!found && !awaiting_events_.empty()) {
    collect_completed();
    found = take_cached(size, stream, &block);
  }
  if (found) {
    ++stats_.cache_hits;
  } else {
    void* ptr = backend_->raw_alloc(size);
    if (!ptr) {
      // Out of memory: give every cached block back and try once more.
      release_cache_locked();
      ++stats_.cache_releases;
      ptr = backend_->raw_alloc(size);
    }
    if (!ptr) {
      WSVIS_FAIL("out of device memory: asked for ", mib(bytes), " (", bytes,
                 " bytes, rounded to ", size, "); this allocator holds ",
                 mib(stats_.bytes_in_use), " in ", stats_.blocks_in_use,
                 " live blocks (peak ", mib(stats_.peak_bytes_in_use),
                 ") after releasing its cache; ", backend_->describe());
    }
    ++stats_.raw_allocs;
    block.ptr = ptr;
    block.size = size;
  }
  block.stream = stream;
  void* ptr = block.ptr;
  stats_.bytes_in_use += block.size;
  stats_.blocks_in_use += 1;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  in_use_.emplace(ptr, std::move(block));
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  WSVIS_CHECK(it != in_use_.end(), "CachingAllocator::deallocate: pointer ", ptr,
              " was not allocated here (double free?)");
  Block block = std::move(it->second);
  in_use_.erase(it);
  stats_.bytes_in_use -= block.size;
  stats_.blocks_in_use -= 1;
  if (block.other_streams.empty()) {
    stats_.bytes_cached += block.size;
    free_by_stream_[block.stream].emplace(block.size, std::move(block));
    return;
  }
  // Used on other streams: reusable once those streams have passed this point.
  for (StreamHandle s : block.other_streams) block.pending.push_back(backend_->record_event(s));
  stats_.bytes_cached += block.size;
  awaiting_events_.push_back(std::move(block));
}

void CachingAllocator::record_stream(void* ptr, StreamHandle stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  WSVIS_CHECK(it != in_use_.end(), "CachingAllocator::record_stream: unknown pointer ", ptr);
  Block& block = it->second;
  if (stream == block.stream) return;
  if (std::find(block.other_streams.begin(), block.other_streams.end(), stream) ==
      block.other_streams.end())
    block.other_streams.push_back(stream);
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cache_locked();
}

void CachingAllocator::release_cache_locked() {
  if (free_by_stream_.empty() && awaiting_events_.empty()) return;
  backend_->synchronize();  // every pending use is finished after this
  for (Block& block : awaiting_events_) {
    for (EventHandle e : block.pending) backend_->destroy_event(e);
    backend_->raw_free(block.ptr);
  }
  awaiting_events_.clear();
  for (auto& [stream, list] : free_by_stream_)
    for (auto& [size, block] : list) backend_->raw_free(block.ptr);
  free_by_stream_.clear();
  stats_.bytes_cached = 0;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace wsvis
