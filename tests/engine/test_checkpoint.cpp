// Tests of safetensors read/write (engine/safetensors.h), load_state_dict and training-state
// save/resume (layers/checkpoint.h): round trips of every dtype incl. 0-d and empty tensors,
// the format's layout rules, atomic writes, every malformed-file error one by one, load reports.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "layers/checkpoint.h"
#include "engine/optim/sgd.h"
#include "layers/module.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::tensors_close;

// A scratch directory per test binary run, removed at the end of each test that uses it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wsvis_test_checkpoint_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

uint64_t header_length(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[size_t(i)]);
  return n;
}

// Writes 8-byte length (the header's, or `length`), header, data.
void write_raw(const std::string& path, const std::string& header, const std::string& data,
               std::optional<uint64_t> length = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = length ? *length : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

NamedTensors every_dtype(const ContextPtr& ctx) {
  NamedTensors t;
  t.emplace_back("u8", Tensor::from_vector(std::vector<int>{0, 1, 255}, {3}, ctx, DType::u8));
  t.emplace_back("f32", Tensor::from_vector(std::vector<double>{1.5, -2.25, 3e-39, 1e30, -0.0, 7},
                                            {2, 3}, ctx, DType::f32));
  t.emplace_back("i32", Tensor::from_vector(std::vector<int64_t>{-2147483648LL, 2147483647, 0},
                                            {3, 1}, ctx, DType::i32));
  t.emplace_back("f64", Tensor::from_vector(std::vector<double>{0.1, -1e-300, 1e300}, {1, 3}, ctx,
                                            DType::f64));
  t.emplace_back("i64_scalar", Tensor::from_vector(std::vector<int64_t>{-9007199254740993LL}, {},
                                                   ctx, DType::i64));
  t.emplace_back("f32_scalar", Tensor::from_vector(std::vector<double>{0.3}, {}, ctx, DType::f32));
  t.emplace_back("empty_f64", Tensor::empty({0, 4}, DType::f64, ctx));
  t.emplace_back("empty_u8", Tensor::empty({0}, DType::u8, ctx));
  t.emplace_back("five_d", Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8},
                                               {1, 2, 1, 2, 2}, ctx, DType::f32));
  return t;
}

void expect_same(const NamedTensors& got, const NamedTensors& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.dtype(), want[i].second.dtype()) << want[i].first;
    EXPECT_EQ(got[i].second.shape(), want[i].second.shape()) << want[i].first;
    const Tensor& a = got[i].second;
    const Tensor& b = want[i].second;
    ASSERT_EQ(a.nbytes(), b.nbytes());
    if (a.nbytes() == 0) continue;
    // Bytes, not values: -0.0, subnormals and int64 beyond 2^53 must survive exactly.
    const Tensor ah = a.to(cpu_context()), bh = b.to(cpu_context());
    EXPECT_EQ(0, std::memcmp(ah.raw_data(), bh.raw_data(), a.nbytes())) << want[i].first;
  }
}

// ---- round trip and layout ------------------------------------------------------------------

TEST(Safetensors, RoundTripEveryDtypeInCallerOrder) {
  TempDir dir;
  auto ctx = cpu_context();
  const NamedTensors tensors = every_dtype(ctx);
  const std::string path = dir.file("all.safetensors");
  save_safetensors(path, tensors, {{"step", "12"}, {"note", "héllo \"quoted\""}});
  expect_same(load_safetensors(path, ctx), tensors);
  expect_same(load_safetensors(path, nullptr), tensors);  // null context: the CPU
  const auto meta = load_safetensors_metadata(path);
  EXPECT_EQ(meta.at("step"), "12");
  EXPECT_EQ(meta.at("note"), "héllo \"quoted\"");
  EXPECT_EQ(meta.size(), 2u);
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  TempDir dir;
  auto ctx = cpu_context();
  const NamedTensors tensors = every_dtype(ctx);
  const std::string path = dir.file("layout.safetensors");
  save_safetensors(path, tensors);
  const std::string bytes = read_bytes(path);
  const uint64_t n = header_length(bytes);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}')) << "only spaces after the JSON";
  const auto j = nlohmann::json::parse(header);
  EXPECT_FALSE(j.contains("__metadata__"))
      << "no metadata: no __metadata__ key (as the Rust writer)";
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    const auto& e = j.at(name);
    EXPECT_EQ(e.at("dtype").get<std::string>(), safetensors_dtype_name(t.dtype()));
    EXPECT_EQ(e.at("shape").get<std::vector<int64_t>>(), t.shape());
    const uint64_t begin = e.at("data_offsets")[0], end = e.at("data_offsets")[1];
    EXPECT_EQ(end - begin, t.nbytes()) << name;
    EXPECT_EQ((8 + n + begin) % dtype_size(t.dtype()), 0u)
        << name << " aligned to its element size";
    total += t.nbytes();
  }
  EXPECT_EQ(bytes.size(), 8 + n + total) << "data tiles the rest of the file";
}

TEST(Safetensors, AtomicWriteLeavesNoTempAndReplaces) {
  TempDir dir;
  auto ctx = cpu_context();
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"a", Tensor::ones({2}, DType::f32, ctx)}});
  save_safetensors(path, {{"b", Tensor::zeros({3}, DType::i64, ctx)}});
  const auto back = load_safetensors(path, ctx);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, "b");
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0) << "the temp file was renamed away";
  // An unwritable destination: InputError naming it, and nothing left behind.
  const std::string bad = dir.file("no/such/dir/x.safetensors");
  try {
    save_safetensors(bad, {{"a", Tensor::ones({2}, DType::f32, ctx)}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST(Safetensors, WriterRejectsBadArguments) {
  TempDir dir;
  auto ctx = cpu_context();
  const Tensor t = Tensor::ones({1}, DType::f32, ctx);
  EXPECT_THROW(save_safetensors(dir.file("x"), {{"a", t}, {"a", t}}), Error);
  EXPECT_THROW(save_safetensors(dir.file("x"), {{"", t}}), Error);
  EXPECT_THROW(save_safetensors(dir.file("x"), {{"__metadata__", t}}), Error);
  EXPECT_THROW(save_safetensors(dir.file("x"), {{"u", Tensor()}}), Error);
  EXPECT_NE(access(dir.file("x").c_str(), F_OK), 0);
}

// ---- malformed files, one by one --------------------------------------------------------------

struct Malformed {
  const char* name;
  std::string header;
  std::string data;
  std::optional<uint64_t> length;  // overrides the header length field
  const char* message;             // a piece of the expected error
};

// F32 (2): 8 bytes of data.
const std::string kGood8 = std::string(8, '\x01');

std::vector<Malformed> malformed_cases() {
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  return {
      {"invalid_json", R"({"a":{"dtype":"F32",)", kGood8, std::nullopt, "invalid header JSON"},
      {"not_an_object", R"([1,2,3])", "", std::nullopt, "does not start with '{'"},
      {"missing_dtype", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", kGood8, std::nullopt,
       "has no \"dtype\""},
      {"missing_shape", R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", kGood8, std::nullopt,
       "has no \"shape\""},
      {"missing_offsets", R"({"a":{"dtype":"F32","shape":[2]}})", kGood8, std::nullopt,
       "has no \"data_offsets\""},
      {"entry_not_object", R"({"a":[1]})", "", std::nullopt, "expected an object"},
      {"dtype_not_string", R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "must be a string"},
      {"negative_shape", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "non-negative integers"},
      {"float_shape", R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "non-negative integers"},
      {"too_many_dims", R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,2],"data_offsets":[0,8]}})",
       kGood8, std::nullopt, "dimensions"},
      {"offsets_one_number", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", kGood8,
       std::nullopt, "[begin, end]"},
      {"offsets_reversed", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", kGood8,
       std::nullopt, "end before they begin"},
      {"offsets_vs_shape", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "needs 12"},
      {"offsets_out_of_range", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kGood8,
       std::nullopt, "beyond the data section"},
      {"overlapping", "{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       std::string(12, 'x'), std::nullopt, "overlaps tensor 'a'"},
      {"gap", "{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
       std::string(20, 'x'), std::nullopt, "belong to no tensor"},
      {"trailing_bytes", "{" + a + "}", kGood8 + "xyz", std::nullopt, "trailing bytes"},
      {"unknown_dtype", R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "unknown dtype \"Q7\""},
      {"unsupported_bf16", R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", kGood8,
       std::nullopt, "BF16, which wsvis does not support"},
      {"duplicate_name", "{" + a + "," + a + "}", kGood8, std::nullopt, "'a' appears twice"},
      {"metadata_not_strings", R"({"__metadata__":{"k":3}})", "", std::nullopt, "is not a string"},
      {"header_length_beyond_file", "{}", "", uint64_t(1000), "runs beyond the end of the file"},
      {"header_length_huge", "{}", "", uint64_t(1) << 62, "runs beyond the end of the file"},
  };
}

TEST(SafetensorsMalformed, EveryCaseIsAnInputErrorNamingTheFile) {
  TempDir dir;
  for (const Malformed& m : malformed_cases()) {
    const std::string path = dir.file(std::string(m.name) + ".safetensors");
    write_raw(path, m.header, m.data, m.length);
    for (int api = 0; api < 2; ++api) {
      try {
        if (api == 0)
          load_safetensors(path, nullptr);
        else
          load_safetensors_metadata(path);
        ADD_FAILURE() << m.name << ": no error";
      } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << m.name << ": " << msg;
        EXPECT_NE(msg.find(m.message), std::string::npos) << m.name << ": " << msg;
      }
    }
  }
}

TEST(SafetensorsMalformed, TruncatedLengthAndMissingFile) {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  std::ofstream(path, std::ios::binary) << "abcde";
  for (const auto& [p, piece] :
       {std::pair<std::string, std::string>{path, "less than the 8-byte header length"},
        {dir.file("absent.safetensors"), "cannot open"}}) {
    try {
      load_safetensors(p, nullptr);
      ADD_FAILURE() << p << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(piece), std::string::npos) << e.what();
    }
  }
}

// A valid file written by hand with zero-size tensors at shared offsets and spaces after the
// JSON loads (what the Rust validator accepts, we accept).
TEST(SafetensorsMalformed, HandWrittenValidFileLoads) {
  TempDir dir;
  const std::string path = dir.file("ok.safetensors");
  const std::string header =
      R"({"e":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}   )";
  float v[2] = {1.5f, -2.0f};
  write_raw(path, header, std::string(reinterpret_cast<const char*>(v), 8));
  const auto t = load_safetensors(path, nullptr);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].first, "e");
  EXPECT_EQ(t[0].second.shape(), (Shape{0, 3}));
  EXPECT_EQ(t[1].second.to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
}

// ---- load_state_dict ---------------------------------------------------------------------------

class Block : public layers::Module {
 public:
  explicit Block(const ContextPtr& ctx) {
    register_parameter("weight", Tensor::zeros({3, 4}, DType::f32, ctx));
    register_parameter("bias", Tensor::zeros({4}, DType::f32, ctx));
    register_buffer("running_mean", Tensor::zeros({4}, DType::f32, ctx));
    register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64, ctx));
  }
};

class Net : public layers::Module {
 public:
  explicit Net(const ContextPtr& ctx) {
    register_parameter("scale", Tensor::ones({}, DType::f32, ctx));
    register_module("body", std::make_shared<Block>(ctx));
    register_module("fc", std::make_shared<Block>(ctx));
  }
};

NamedTensors filled_state(const ContextPtr& ctx, double base) {
  Net reference(ctx);
  NamedTensors out;
  double v = base;
  for (auto& [name, t] : reference.state_dict()) {
    Tensor c = Tensor::empty(t.shape(), t.dtype(), ctx);
    c.fill_(v);
    v += 1;
    out.emplace_back(name, c);
  }
  return out;
}

TEST(LoadStateDict, ExactMatchCopiesEverythingInPlace) {
  auto ctx = cpu_context();
  Net net(ctx);
  net.pack_parameters();
  const NamedTensors file = filled_state(ctx, 2);
  const LoadReport r = load_state_dict(net, file);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.str(), "all tensors matched");
  const NamedTensors now = net.state_dict();
  for (size_t i = 0; i < file.size(); ++i)
    EXPECT_TRUE(tensors_close(now[i].second, file[i].second, 0, 0)) << file[i].first;
  // Still packed: the flat buffer holds the loaded values (scale = 2 comes first).
  EXPECT_EQ(net.flat_parameters().to_vector<float>()[0], 2.0f);
  EXPECT_TRUE(net.named_parameters()[1].second.same_storage(net.flat_parameters()));
}

TEST(LoadStateDict, ReportsMissingUnexpectedMismatched) {
  auto ctx = cpu_context();
  Net net(ctx);
  NamedTensors file = filled_state(ctx, 2);
  // Drop body.bias (missing), add extra.weight (unexpected), reshape fc.weight (mis-shaped),
  // make scale an integer (mis-typed).
  NamedTensors edited;
  for (auto& [name, t] : file) {
    if (name == "body.bias") continue;
    if (name == "fc.weight")
      edited.emplace_back(name, Tensor::zeros({3, 3}, DType::f32, ctx));
    else if (name == "scale")
      edited.emplace_back(name, Tensor::zeros({}, DType::i64, ctx));
    else
      edited.emplace_back(name, t);
  }
  edited.emplace_back("extra.weight", Tensor::zeros({1}, DType::f32, ctx));
  try {
    load_state_dict(net, edited);
    FAIL() << "strict load accepted a mismatching file";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const char* piece :
         {"missing (1): body.bias", "unexpected (1): extra.weight",
          "fc.weight: file (3, 3) vs model (3, 4)", "scale: file i64 () vs model f32 ()"})
      EXPECT_NE(msg.find(piece), std::string::npos) << piece << " in " << msg;
  }
  // Strict failure copied nothing.
  EXPECT_EQ(net.state_dict()[1].second.to_vector<float>()[0], 0.0f) << "body.weight untouched";
  const LoadReport r = load_state_dict(net, edited, /*strict=*/false);
  EXPECT_EQ(r.missing, (std::vector<std::string>{"body.bias"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"extra.weight"}));
  ASSERT_EQ(r.mismatched.size(), 2u);
  EXPECT_FALSE(r.ok());
  // Non-strict copied the rest: body.weight is 3 (scale 2, then body.weight 3).
  EXPECT_EQ(net.state_dict()[1].second.to_vector<float>()[0], 3.0f);
}

TEST(LoadStateDict, IgnoreListPrefixesAndSuffixes) {
  auto ctx = cpu_context();
  Net net(ctx);
  NamedTensors file;
  for (auto& [name, t] : filled_state(ctx, 2))
    if (name.rfind("fc.", 0) != 0 && name.find("num_batches_tracked") == std::string::npos)
      file.emplace_back(name, t);
  file.emplace_back("classifier.num_batches_tracked", Tensor::zeros({}, DType::i64, ctx));
  const LoadReport r = load_state_dict(net, file, true, {"fc.", "num_batches_tracked"});
  EXPECT_TRUE(r.ok()) << r.str();
  // Without the ignore list the same file is not ok.
  EXPECT_FALSE(load_state_dict(net, file, false).ok());
  // "ale" is neither the whole name, a '.'-prefix, nor a '.'-suffix of "scale".
  file.erase(file.begin());
  EXPECT_EQ(load_state_dict(net, file, false, {"ale", "fc.", "num_batches_tracked"}).missing,
            (std::vector<std::string>{"scale"}));
}

TEST(LoadStateDict, ConvertsFloatingDtypesAndNamesTheFile) {
  TempDir dir;
  auto ctx = cpu_context();
  Net net(ctx);
  NamedTensors file;
  for (auto& [name, t] : filled_state(ctx, 2))
    file.emplace_back(name, is_floating(t.dtype()) ? t.to_dtype(DType::f64) : t);
  const std::string path = dir.file("f64.safetensors");
  save_safetensors(path, file);
  EXPECT_TRUE(load_state_dict_file(net, path).ok());
  EXPECT_EQ(net.state_dict()[0].second.item<float>(), 2.0f);
  file.pop_back();
  save_safetensors(path, file);
  try {
    load_state_dict_file(net, path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing (1): fc.num_batches_tracked"), std::string::npos)
        << e.what();
  }
}

// ---- training state --------------------------------------------------------------------------

TEST(TrainingState, SaveAndResumeRestoresModelOptimizerAndStep) {
  TempDir dir;
  auto ctx = cpu_context();
  Net net(ctx);
  net.pack_parameters();
  optim::SgdOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  const auto params = net.parameters();
  optim::SGD opt({optim::ParamGroup{"", {params[0], params[1]}, 1.0, std::nullopt},
                  optim::ParamGroup{"", {params[2], params[3], params[4]}, 10.0, 0.0}},
                 o);
  Generator gen(1);
  auto fill_grads = [&](layers::Module& m) {
    for (const Tensor& p : m.parameters()) {
      Tensor g = Tensor::uniform(p.shape(), -1, 1, gen, ctx);
      Tensor(p.grad()).copy_from(g);
    }
  };
  for (int s = 0; s < 3; ++s) {
    fill_grads(net);
    opt.step();
  }
  opt.set_lr(0.0123456789012345678);
  const std::string path = dir.file("state.safetensors");
  save_training_state(path, net, opt, 3, {{"config", "demo"}});

  Net fresh(ctx);
  fresh.pack_parameters();
  const auto fp = fresh.parameters();
  optim::SGD fresh_opt({optim::ParamGroup{"", {fp[0], fp[1]}, 1.0, std::nullopt},
                        optim::ParamGroup{"", {fp[2], fp[3], fp[4]}, 10.0, 0.0}},
                       o);
  const TrainingState st = load_training_state(path, fresh, fresh_opt);
  EXPECT_EQ(st.step, 3);
  EXPECT_EQ(st.metadata, (std::map<std::string, std::string>{{"config", "demo"}}));
  EXPECT_EQ(fresh_opt.step_count(), 3);
  EXPECT_EQ(fresh_opt.lr(), opt.lr());
  const NamedTensors a = net.state_dict(), b = fresh.state_dict();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(tensors_close(b[i].second, a[i].second, 0, 0)) << a[i].first;
  for (size_t g = 0; g < 2; ++g)
    for (size_t i = 0; i < opt.group(g).params.size(); ++i)
      EXPECT_TRUE(tensors_close(fresh_opt.momentum_buffer(g, i), opt.momentum_buffer(g, i), 0, 0));
  // One more identical step on both: identical parameters.
  Generator g1(99), g2(99);
  for (auto [m, gen_ptr] : {std::pair<Net*, Generator*>{&net, &g1}, {&fresh, &g2}})
    for (const Tensor& p : m->parameters())
      Tensor(p.grad()).copy_from(Tensor::uniform(p.shape(), -1, 1, *gen_ptr, ctx));
  opt.step();
  fresh_opt.step();
  const auto pa = net.parameters(), pb = fresh.parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(tensors_close(pb[i], pa[i], 0, 0)) << i;
}

TEST(TrainingState, RejectsFilesThatDoNotFit) {
  TempDir dir;
  auto ctx = cpu_context();
  Net net(ctx);
  optim::SgdOptions o;
  o.momentum = 0.9;
  optim::SGD opt(net.parameters(), o);
  const std::string plain = dir.file("weights.safetensors");
  save_safetensors(plain, net.state_dict());
  EXPECT_THROW(load_training_state(plain, net, opt), InputError);
  const std::string path = dir.file("state.safetensors");
  save_training_state(path, net, opt, 0);
  const auto ps = net.parameters();
  optim::SGD other({optim::ParamGroup{"", {ps[0]}, 1.0, std::nullopt},
                    optim::ParamGroup{"", {ps[1], ps[2], ps[3], ps[4]}, 1.0, std::nullopt}},
                   o);
  try {
    load_training_state(path, net, other);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("group"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(save_training_state(path, net, opt, 0, {{"wsvis.step", "1"}}), Error);
}

// ---- CUDA ------------------------------------------------------------------------------------

TEST(SafetensorsCuda, RoundTripThroughTheGpu) {
  WSVIS_REQUIRE_CUDA();
  TempDir dir;
  auto gpu = Context::create(Device::cuda(0));
  NamedTensors on_gpu;
  for (auto& [name, t] : every_dtype(cpu_context())) on_gpu.emplace_back(name, t.to(gpu));
  const std::string path = dir.file("gpu.safetensors");
  save_safetensors(path, on_gpu);
  const auto back = load_safetensors(path, gpu);
  for (const auto& [name, t] : back) EXPECT_TRUE(t.device().is_cuda()) << name;
  expect_same(back, on_gpu);
}

}  // namespace
}  // namespace wsvis
