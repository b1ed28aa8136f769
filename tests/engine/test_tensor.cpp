// Tensor construction, views, copies, dtype conversion and the errors misuse raises.
#include <gtest/gtest.h>

#include "engine/tensor.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;

TEST(Tensor, FactoriesFillValues) {
  auto ctx = cpu_context();
  Tensor z = Tensor::zeros({2, 3}, DType::f32, ctx);
  Tensor o = Tensor::ones({4}, DType::i64, ctx);
  Tensor f = Tensor::full({2, 2}, 2.5, DType::f64, ctx);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(o.to_vector<int64_t>(), std::vector<int64_t>(4, 1));
  EXPECT_EQ(f.to_vector<double>(), std::vector<double>(4, 2.5));
  EXPECT_EQ(f.describe(), "f64 (2, 2) on cpu");
}

TEST(Tensor, ZeroDimAndEmptyTensors) {
  auto ctx = cpu_context();
  Tensor scalar = Tensor::full({}, 3.0, DType::f32, ctx);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.item<double>(), 3.0);
  Tensor empty = Tensor::empty({0, 5}, DType::f32, ctx);
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.to_vector<float>().empty());
}

TEST(Tensor, FromVectorRoundTripsAndConverts) {
  auto ctx = cpu_context();
  Tensor t = Tensor::from_vector<double>({1.5, -2.0, 3.25}, {3}, ctx, DType::f32);
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.f, 3.25f}));
  Tensor i = t.to_dtype(DType::i32);
  EXPECT_EQ(i.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
  Tensor u = Tensor::from_vector<int>({0, 255, 7}, {3}, ctx, DType::u8);
  EXPECT_EQ(u.to_dtype(DType::f64).to_vector<double>(), (std::vector<double>{0, 255, 7}));
}

TEST(Tensor, ViewsShareStorage) {
  auto ctx = cpu_context();
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {3, 2}, ctx);
  Tensor v = t.view({2, -1});
  EXPECT_EQ(v.shape(), (Shape{2, 3}));
  EXPECT_TRUE(v.same_storage(t));
  Tensor rows = t.narrow0(1, 2);
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{2, 3, 4, 5}));
  rows.fill_(9);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 9, 9, 9, 9}));
  Tensor c = t.clone();
  c.fill_(0);
  EXPECT_EQ(t.to_vector<float>()[0], 0.f);
  EXPECT_EQ(t.to_vector<float>()[2], 9.f);
  EXPECT_FALSE(c.same_storage(t));
}

TEST(Tensor, RandomDrawsFollowTheGenerator) {
  auto ctx = cpu_context();
  Generator g1(42), g2(42), g3(43);
  Tensor a = Tensor::randn({16}, g1, ctx);
  Tensor b = Tensor::randn({16}, g2, ctx);
  Tensor c = Tensor::randn({16}, g3, ctx);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  Tensor u = Tensor::uniform({1000}, 2.0, 3.0, g1, ctx, DType::f64);
  for (double v : u.to_vector<double>()) {
    EXPECT_GE(v, 2.0);
    EXPECT_LT(v, 3.0);
  }
}

TEST(Tensor, MisuseThrowsErrorsNamingTheShapes) {
  auto ctx = cpu_context();
  Tensor t = Tensor::zeros({2, 3}, DType::f32, ctx);
  auto expect_message = [](auto&& fn, const std::string& needle) {
    try {
      fn();
      FAIL() << "expected wsvis::Error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_message([&] { t.view({4, 2}); }, "cannot view (2, 3)");
  expect_message([&] { t.data<double>(); }, "on a tensor of dtype f32");
  expect_message([&] { t.item<float>(); }, "shape (2, 3)");
  expect_message([&] { t.narrow0(1, 2); }, "out of range for shape (2, 3)");
  expect_message([&] { t.size(2); }, "out of range for shape (2, 3)");
  expect_message([&] { Tensor::zeros({1, 1, 1, 1, 1, 1}, DType::f32, ctx); }, "more than 5");
  expect_message([&] { Tensor::zeros({2, -1}, DType::f32, ctx); }, "negative size");
  expect_message([&] { Tensor::from_vector<float>({1, 2, 3}, {2, 2}, ctx); }, "3 values for shape (2, 2)");
  Tensor other = Tensor::zeros({3, 2}, DType::f32, ctx);
  expect_message([&] { t.copy_from(other); }, "does not match destination");
  Tensor ints = Tensor::zeros({2}, DType::i64, ctx);
  expect_message([&] { ints.set_requires_grad(true); }, "only floating tensors");
  Tensor undefined;
  expect_message([&] { (void)undefined.shape(); }, "undefined tensor");
}

TEST(Tensor, CudaContextWithoutGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present; this checks the no-GPU message";
  try {
    Context::create(Device::cuda(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

TEST(TensorCuda, CopiesRoundTripThroughTheDevice) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  Generator gen(3);
  for (int64_t n : {0, 1, 7, 1000, 4097}) {
    Tensor h = Tensor::randn({n}, gen, cpu);
    Tensor d = h.to(gpu);
    EXPECT_EQ(d.device(), Device::cuda(0));
    EXPECT_EQ(d.to_vector<float>(), h.to_vector<float>());
    Tensor di = d.to_dtype(DType::i32);
    EXPECT_EQ(di.to_vector<int32_t>(), h.to_dtype(DType::i32).to_vector<int32_t>());
    Tensor f = Tensor::full({n}, -1.25, DType::f32, gpu);
    for (float v : f.to_vector<float>()) EXPECT_EQ(v, -1.25f);
  }
  AllocatorStats stats = gpu->allocator_stats();
  EXPECT_GT(stats.raw_allocs, 0u);
}

TEST(TensorCuda, Tf32SwitchAndWorkspace) {
  WSVIS_REQUIRE_CUDA();
  auto gpu = Context::create(Device::cuda(0));
  EXPECT_TRUE(gpu->tf32());
#if WSVIS_WITH_CUDA  // a build without the CUDA backend has skipped above
  (void)gpu->cublas();
#endif
  gpu->set_tf32(false);
  EXPECT_FALSE(gpu->tf32());
  void* w1 = gpu->workspace(1 << 20);
  void* w2 = gpu->workspace(1 << 10);
  EXPECT_EQ(w1, w2);  // a smaller request reuses the workspace
  gpu->synchronize();
}

}  // namespace
}  // namespace wsvis
