// The caching allocator's logic, driven through a fake backend on the CPU: size classes,
// stream-ordered reuse, cross-stream events, release-and-retry on out-of-memory, and the
// error that says what was asked and what is held.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "engine/caching_allocator.h"
#include "engine/error.h"

namespace wsvis {
namespace {

// Host memory with a byte budget; events complete when the test says so.
class FakeBackend : public MemoryBackend {
 public:
  explicit FakeBackend(size_t budget, int* raw_frees) : budget_(budget), raw_frees_(raw_frees) {}
  void* raw_alloc(size_t bytes) override {
    if (used_ + bytes > budget_) return nullptr;
    used_ += bytes;
    void* p = std::malloc(bytes);
    sizes_[p] = bytes;
    return p;
  }
  void raw_free(void* ptr) override {
    used_ -= sizes_.at(ptr);
    sizes_.erase(ptr);
    std::free(ptr);
    ++*raw_frees_;
  }
  void synchronize() override { events_done = true; }
  EventHandle record_event(StreamHandle) override { return reinterpret_cast<EventHandle>(++events_); }
  bool event_done(EventHandle) override { return events_done; }
  void destroy_event(EventHandle) override {}
  std::string describe() const override { return "fake device with a budget"; }

  bool events_done = false;

 private:
  size_t budget_;
  size_t used_ = 0;
  int* raw_frees_;
  intptr_t events_ = 0;
  std::map<void*, size_t> sizes_;
};

StreamHandle stream(int i) { return reinterpret_cast<StreamHandle>(static_cast<intptr_t>(i)); }

struct Fixture {
  int raw_frees = 0;
  FakeBackend* backend;
  CachingAllocator allocator;
  explicit Fixture(size_t budget)
      : backend(new FakeBackend(budget, &raw_frees)),
        allocator(std::unique_ptr<MemoryBackend>(backend)) {}
};

TEST(CachingAllocator, RoundsToSizeClasses) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(1 << 20), size_t(1) << 20);
  EXPECT_EQ(CachingAllocator::round_size((1 << 20) + 1), size_t(2) << 20);
  EXPECT_EQ(CachingAllocator::round_size((5 << 20) + 7), size_t(6) << 20);
}

TEST(CachingAllocator, ReusesFreedBlockOnTheSameStream) {
  Fixture f(64 << 20);
  void* a = f.allocator.allocate(1000, stream(1));
  f.allocator.deallocate(a);
  void* b = f.allocator.allocate(900, stream(1));  // same 1024-byte class
  EXPECT_EQ(a, b);
  AllocatorStats s = f.allocator.stats();
  EXPECT_EQ(s.raw_allocs, 1u);
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.bytes_in_use, 1024u);
  f.allocator.deallocate(b);
}

TEST(CachingAllocator, DoesNotHandABlockToAnotherStream) {
  Fixture f(64 << 20);
  void* a = f.allocator.allocate(4096, stream(1));
  f.allocator.deallocate(a);
  void* b = f.allocator.allocate(4096, stream(2));
  EXPECT_NE(a, b);
  EXPECT_EQ(f.allocator.stats().raw_allocs, 2u);
  f.allocator.deallocate(b);
}

TEST(CachingAllocator, LargeBlockDoesNotServeAMuchSmallerRequest) {
  Fixture f(256 << 20);
  void* big = f.allocator.allocate(64 << 20, stream(1));
  f.allocator.deallocate(big);
  void* small = f.allocator.allocate(4 << 20, stream(1));
  EXPECT_NE(big, small);
  void* near = f.allocator.allocate(60 << 20, stream(1));  // within 4/3 of the cached block
  EXPECT_EQ(big, near);
  f.allocator.deallocate(small);
  f.allocator.deallocate(near);
}

TEST(CachingAllocator, CrossStreamBlockWaitsForItsEvents) {
  Fixture f(64 << 20);
  void* a = f.allocator.allocate(2048, stream(1));
  f.allocator.record_stream(a, stream(2));
  f.allocator.deallocate(a);
  void* b = f.allocator.allocate(2048, stream(1));
  EXPECT_NE(a, b) << "block reused before the other stream's event completed";
  f.backend->events_done = true;
  void* c = f.allocator.allocate(2048, stream(1));
  EXPECT_EQ(a, c);
  f.allocator.deallocate(b);
  f.allocator.deallocate(c);
}

TEST(CachingAllocator, ReleasesCacheAndRetriesWhenOutOfMemory) {
  Fixture f(8 << 20);
  void* a = f.allocator.allocate(6 << 20, stream(1));
  f.allocator.deallocate(a);  // cached, holds 6 MiB of the 8 MiB budget
  void* b = f.allocator.allocate(4 << 20, stream(2));  // needs the cache released
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(f.raw_frees, 1);
  EXPECT_EQ(f.allocator.stats().cache_releases, 1u);
  EXPECT_EQ(f.allocator.stats().bytes_cached, 0u);
  f.allocator.deallocate(b);
}

TEST(CachingAllocator, OutOfMemoryErrorSaysWhatWasAskedAndHeld) {
  Fixture f(8 << 20);
  void* held = f.allocator.allocate(6 << 20, stream(1));
  try {
    f.allocator.allocate(4 << 20, stream(1));
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("asked for 4 MiB"), std::string::npos) << msg;
    EXPECT_NE(msg.find("holds 6 MiB in 1 live blocks"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fake device"), std::string::npos) << msg;
  }
  f.allocator.deallocate(held);
}

TEST(CachingAllocator, DoubleFreeIsAnError) {
  Fixture f(1 << 20);
  void* a = f.allocator.allocate(100, stream(1));
  f.allocator.deallocate(a);
  EXPECT_THROW(f.allocator.deallocate(a), Error);
}

TEST(CachingAllocator, TracksPeakAndDistinctLiveBlocks) {
  Fixture f(64 << 20);
  std::set<void*> live;
  for (int i = 0; i < 10; ++i) live.insert(f.allocator.allocate(3000, stream(1)));
  EXPECT_EQ(live.size(), 10u);
  EXPECT_EQ(f.allocator.stats().peak_bytes_in_use, 10u * 3072);
  for (void* p : live) f.allocator.deallocate(p);
  EXPECT_EQ(f.allocator.stats().bytes_in_use, 0u);
  EXPECT_EQ(f.allocator.stats().bytes_cached, 10u * 3072);
  f.allocator.release_cache();
  EXPECT_EQ(f.raw_frees, 10);
}

}  // namespace
}  // namespace wsvis
