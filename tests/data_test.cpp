// data/: IDX parsing (the Debian Fashion-MNIST files and every malformed case), transforms on
// images with known pixels, crop boxes over many seeds and odd sizes, the distributed sampler,
// the loader's determinism across threads and ranks, decode failures, and the IDX -> ImageFolder
// conversion, and JPEG decoding (regions, reduced scales, EXIF orientations) against OpenCV.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/convert.h"
#include "data/decode.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "data/synthetic.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::data {
namespace {

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::vector<uint8_t> idx_header(uint32_t magic, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  };
  put(magic);
  for (auto d : dims) put(d);
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Idx, DebianFashionMnistParses) {
  auto train = IdxDataset::from_folder(kFashion, true);
  auto test = IdxDataset::from_folder(kFashion, false);
  EXPECT_EQ(train->images().sizes(), torch::IntArrayRef({60000, 28, 28}));
  EXPECT_EQ(test->images().sizes(), torch::IntArrayRef({10000, 28, 28}));
  EXPECT_EQ(train->labels().min().item<int64_t>(), 0);
  EXPECT_EQ(train->labels().max().item<int64_t>(), 9);
  EXPECT_EQ(train->num_classes(), 10);
  // Balanced: 6000 per class in train, 1000 in test.
  EXPECT_TRUE(torch::equal(torch::bincount(train->labels()), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_TRUE(torch::equal(torch::bincount(test->labels()), torch::full({10}, 1000, torch::kInt64)));
  Sample s = test->load(0);
  EXPECT_EQ(s.image.rows, 28);
  EXPECT_EQ(s.label, test->labels()[0].item<int64_t>());
}

TEST(Idx, MalformedFilesNameFileAndProblem) {
  fs::path dir = bnx::test::scratch_dir("data_idx");
  auto images_ok = idx_header(0x803, {2, 2, 2});
  images_ok.insert(images_ok.end(), 8, 7);
  auto labels_ok = idx_header(0x801, {2});
  labels_ok.insert(labels_ok.end(), {1, 2});
  write_bytes(dir / "img", images_ok);
  write_bytes(dir / "lab", labels_ok);
  EXPECT_EQ(IdxDataset((dir / "img").string(), (dir / "lab").string()).size(), 2);

  auto bad_magic = images_ok;
  bad_magic[3] = 0x01;
  write_bytes(dir / "bad_magic", bad_magic);
  auto msg = error_of([&] { read_idx_images((dir / "bad_magic").string()); });
  EXPECT_NE(msg.find("bad_magic: bad magic 0x00000801"), std::string::npos) << msg;

  auto truncated = images_ok;
  truncated.resize(truncated.size() - 3);
  write_bytes(dir / "truncated", truncated);
  msg = error_of([&] { read_idx_images((dir / "truncated").string()); });
  EXPECT_NE(msg.find("truncated: truncated: header declares 8 bytes of data, file has 5"), std::string::npos) << msg;

  auto zero_dims = idx_header(0x803, {2, 0, 2});
  write_bytes(dir / "zero_dims", zero_dims);
  msg = error_of([&] { read_idx_images((dir / "zero_dims").string()); });
  EXPECT_NE(msg.find("zero_dims: zero image dimensions"), std::string::npos) << msg;

  auto short_header = idx_header(0x803, {2});
  write_bytes(dir / "short_header", short_header);
  msg = error_of([&] { read_idx_images((dir / "short_header").string()); });
  EXPECT_NE(msg.find("short_header: truncated header"), std::string::npos) << msg;

  auto three_labels = idx_header(0x801, {3});
  three_labels.insert(three_labels.end(), {0, 1, 2});
  write_bytes(dir / "three_labels", three_labels);
  msg = error_of([&] { IdxDataset((dir / "img").string(), (dir / "three_labels").string()); });
  EXPECT_NE(msg.find("has 2 images but"), std::string::npos) << msg;
  EXPECT_NE(msg.find("three_labels has 3 labels"), std::string::npos) << msg;

  msg = error_of([&] { IdxDataset::from_folder((dir / "nowhere").string(), true); });
  EXPECT_NE(msg.find("nowhere/train-"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-ubyte[.gz]: not found"), std::string::npos) << msg;
}

TEST(Transforms, CropBoxesStayInsideOverManySeedsAndOddSizes) {
  TransformOptions o;
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {1, 1000}, {1000, 1}, {5000, 3}, {3, 5000}, {375, 500}, {7, 9}};
  for (auto [h, w] : sizes) {
    for (uint64_t seed = 0; seed < 3000; ++seed) {
      Rng rng({seed});
      CropBox b = random_resized_crop_box(h, w, rng, o);
      ASSERT_GE(b.x, 0);
      ASSERT_GE(b.y, 0);
      ASSERT_GE(b.width, 1);
      ASSERT_GE(b.height, 1);
      ASSERT_LE(b.x + b.width, w) << h << "x" << w << " seed " << seed;
      ASSERT_LE(b.y + b.height, h) << h << "x" << w << " seed " << seed;
    }
  }
  // Area and aspect ranges hold when the first try fits (large square image).
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    Rng rng({seed});
    CropBox b = random_resized_crop_box(1000, 1000, rng, o);
    double area = double(b.width) * b.height / 1e6, aspect = double(b.width) / b.height;
    EXPECT_GE(area, 0.079);
    EXPECT_LE(area, 1.0);
    EXPECT_GE(aspect, 0.74);
    EXPECT_LE(aspect, 1.34);
  }
  // Fallback of a very wide image: ratio clamped to 4/3, centered.
  Rng rng({1});
  CropBox wide = random_resized_crop_box(3, 5000, rng, o);
  EXPECT_EQ(wide.height, 3);
  EXPECT_EQ(wide.width, 4);
  EXPECT_EQ(wide.x, (5000 - 4) / 2);
  CropBox c = center_crop_box(375, 500, 256, 224);  // short side 375 -> 256: crop 224 * 375/256 = 328
  EXPECT_EQ(c.width, 328);
  EXPECT_EQ(c.height, 328);
  EXPECT_EQ(c.x, (500 - 328) / 2);
  EXPECT_EQ(c.y, (375 - 328) / 2);
}

cv::Mat gradient_image(int h, int w) {  // RGB: R = x, G = y, B = 100
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, 100);
  return m;
}

TEST(Transforms, EvalNormalizesKnownPixels) {
  TransformOptions o;
  o.crop_size = 8;
  o.resize = 8;
  Transform t(o, false, 3);
  torch::Tensor out = torch::empty({3, 8, 8});
  Rng rng({0});
  t.apply(gradient_image(8, 8), rng, out.data_ptr());
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      EXPECT_NEAR(out[0][y][x].item<float>(), (x / 255.0 - 0.485) / 0.229, 1e-5);
      EXPECT_NEAR(out[1][y][x].item<float>(), (y / 255.0 - 0.456) / 0.224, 1e-5);
      EXPECT_NEAR(out[2][y][x].item<float>(), (100 / 255.0 - 0.406) / 0.225, 1e-5);
    }
  }
  // uint8 output keeps the raw pixels in CHW.
  torch::Tensor raw = torch::empty({3, 8, 8}, torch::kUInt8);
  t.apply(gradient_image(8, 8), rng, raw.data_ptr(), true);
  EXPECT_EQ(raw[0][2][5].item<int>(), 5);
  EXPECT_EQ(raw[1][2][5].item<int>(), 2);
  // Eval center crop: 16x12 image, resize 8 crop 4 -> the central 6x6 region shrunk to 4x4.
  o.crop_size = 4;
  Transform crop(o, false, 3);
  torch::Tensor small = torch::empty({3, 4, 4}, torch::kUInt8);
  crop.apply(gradient_image(12, 16), rng, small.data_ptr(), true);
  EXPECT_NEAR(small[0].to(torch::kFloat).mean().item<float>(), 7.5, 0.6);  // x centered on 7.5
  EXPECT_NEAR(small[1].to(torch::kFloat).mean().item<float>(), 5.5, 0.6);
}

TEST(Transforms, FlipMirrorsAndPadCropShifts) {
  TransformOptions o;
  o.crop_size = 6;
  o.random_resized_crop = false;
  o.mean = {0};
  o.std = {1};
  Transform t(o, true, 1);
  cv::Mat image(6, 6, CV_8UC1);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) image.at<uint8_t>(y, x) = static_cast<uint8_t>(10 * x + y);
  int flipped = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Rng rng({seed});
    torch::Tensor out = torch::empty({1, 6, 6}, torch::kUInt8);
    t.apply(image, rng, out.data_ptr(), true);
    bool mirrored = out[0][0][0].item<int>() == 50;
    flipped += mirrored;
    EXPECT_EQ(out[0][3][mirrored ? 5 : 0].item<int>(), 3);
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
  // Padding 2: windows shift by up to 2 pixels, zeros outside.
  o.pad = 2;
  o.flip = false;
  Transform padded(o, true, 1);
  std::set<int> shifts;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng({seed});
    torch::Tensor out = torch::empty({1, 6, 6}, torch::kUInt8);
    padded.apply(image, rng, out.data_ptr(), true);
    int row = 0;  // find where image row 0 / column ... landed via a nonzero pixel
    for (int x = 0; x < 6; ++x) {
      if (out[0][row + 3][x].item<int>() != 0) {
        int v = out[0][row + 3][x].item<int>();
        shifts.insert(x - v / 10);
        break;
      }
    }
  }
  EXPECT_EQ(shifts, (std::set<int>{-2, -1, 0, 1, 2}));
}

TEST(Transforms, ReducedJpegDecodeMatchesFullDecode) {
  cv::Mat big = gradient_image(800, 1000);
  cv::GaussianBlur(big, big, cv::Size(0, 0), 3);
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", big, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  JpegInfo info;
  ASSERT_TRUE(read_jpeg_info(jpeg, info));
  EXPECT_EQ(info.width, 1000);
  EXPECT_EQ(info.height, 800);
  TransformOptions o;
  o.crop_size = 64;
  Transform fast(o, false, 3);
  o.reduced_decode = false;
  Transform full(o, false, 3);
  torch::Tensor a = torch::empty({3, 64, 64}), b = torch::empty({3, 64, 64});
  Rng r1({3}), r2({3});
  fast.apply_encoded(jpeg, "big.jpg", r1, a.data_ptr());
  full.apply_encoded(jpeg, "big.jpg", r2, b.data_ptr());
  EXPECT_LT((a - b).abs().mean().item<float>(), 0.05);  // normalized units: ~1% of the range
  std::vector<uint8_t> garbage(100, 0x42);
  EXPECT_THROW(fast.apply_encoded(garbage, "garbage.jpg", r1, a.data_ptr()), DataError);
}

TEST(Sampler, SlicesPartitionEveryGlobalBatchAtAnyWorldSize) {
  const int64_t n = 2000, batch = 840;  // 840 is divisible by 1..8
  DistributedSampler one(n, batch, 0, 1, 42);
  for (int w = 1; w <= 8; ++w) {
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      for (int64_t step = 0; step < one.steps_per_epoch(); ++step) {
        std::vector<int64_t> joined;
        for (int r = 0; r < w; ++r) {
          auto part = DistributedSampler(n, batch, r, w, 42).local_indices(epoch, step);
          EXPECT_EQ(static_cast<int64_t>(part.size()), batch / w);
          joined.insert(joined.end(), part.begin(), part.end());
        }
        EXPECT_EQ(joined, one.global_indices(epoch, step)) << "W " << w;
        EXPECT_EQ(std::set<int64_t>(joined.begin(), joined.end()).size(), joined.size());  // disjoint
      }
    }
  }
  // An epoch covers each example at most once (exactly once but the dropped remainder).
  DistributedSampler s(1000, 100, 0, 1, 7);
  auto perm = s.permutation(3);
  EXPECT_EQ(std::set<int64_t>(perm.begin(), perm.end()).size(), 1000u);
  EXPECT_NE(perm, s.permutation(4));
  // Resume: the batches from step k equal the tail of the full epoch.
  DistributedSampler r1(1000, 100, 1, 4, 7);
  auto full = r1.local_epoch(2, 0), tail = r1.local_epoch(2, 6);
  EXPECT_EQ(std::vector<std::vector<int64_t>>(full.begin() + 6, full.end()), tail);
  // Uneven shards: B = 100 over W = 3 is 34, 33, 33, contiguous, covering the global batch; W > B
  // leaves the last ranks empty.
  std::vector<int64_t> joined;
  for (int r = 0; r < 3; ++r) {
    DistributedSampler u(1000, 100, r, 3, 7);
    EXPECT_EQ(u.local_batch(), r == 0 ? 34 : 33);
    auto part = u.local_indices(1, 4);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  EXPECT_EQ(joined, DistributedSampler(1000, 100, 0, 3, 7).global_indices(1, 4));
  EXPECT_EQ(DistributedSampler(1000, 3, 3, 4, 7).local_batch(), 0);
  EXPECT_EQ(DistributedSampler(1000, 3, 2, 4, 7).local_batch(), 1);
  EXPECT_THROW(DistributedSampler(10, 100, 0, 3, 7), DataError);
  // Evaluation shards: every example exactly once, for uneven splits too.
  for (int w = 1; w <= 8; ++w) {
    int64_t covered = 0, last_end = 0;
    for (int r = 0; r < w; ++r) {
      auto [b, e] = eval_shard(10007, r, w);
      EXPECT_EQ(b, last_end);
      covered += e - b;
      last_end = e;
    }
    EXPECT_EQ(covered, 10007);
  }
}

std::vector<torch::Tensor> load_all(std::shared_ptr<const Dataset> ds, const TransformOptions& o, int threads,
                                    std::vector<std::vector<int64_t>> batches) {
  auto t = std::make_shared<Transform>(o, true, ds->channels());
  Loader loader(ds, t, {threads, 3}, std::move(batches), 9, 1);
  std::vector<torch::Tensor> out;
  while (auto b = loader.next()) out.push_back(b->images);
  return out;
}

TEST(Loader, AugmentationIdenticalForThreadsAndRanks) {
  auto ds = std::make_shared<SyntheticDataset>(64, 5, 40, 3, 1);
  TransformOptions o;
  o.crop_size = 24;
  DistributedSampler one(64, 16, 0, 1, 5);
  auto a = load_all(ds, o, 1, one.local_epoch(0, 0));
  auto b = load_all(ds, o, 4, one.local_epoch(0, 0));
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  // Two ranks: the concatenation of their slices equals the one-rank batch.
  auto r0 = load_all(ds, o, 2, DistributedSampler(64, 16, 0, 2, 5).local_epoch(0, 0));
  auto r1 = load_all(ds, o, 3, DistributedSampler(64, 16, 1, 2, 5).local_epoch(0, 0));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(torch::cat({r0[i], r1[i]}), a[i]));
}

TEST(Loader, StopsCleanlyAndPropagatesErrors) {
  auto ds = std::make_shared<SyntheticDataset>(64, 5, 16, 1, 1);
  TransformOptions o;
  o.crop_size = 8;
  o.mean = {0.5};
  o.std = {0.5};
  std::vector<std::vector<int64_t>> many(50, std::vector<int64_t>{1, 2, 3, 4});
  {
    Loader loader(ds, std::make_shared<Transform>(o, true, 1), {3, 2}, many, 1, 0);
    ASSERT_TRUE(loader.next().has_value());
  }  // destroyed with workers blocked on a full queue: must join, not hang
  std::vector<std::vector<int64_t>> bad = {{1, 2}, {3, 999}};  // 999 is out of range
  Loader loader(ds, std::make_shared<Transform>(o, true, 1), {2, 2}, bad, 1, 0);
  EXPECT_TRUE(loader.next().has_value());
  EXPECT_ANY_THROW(loader.next());
}

TEST(ImageFolder, ConvertedFashionMnistLoadsWithMatchingLabels) {
  fs::path root = bnx::test::scratch_dir("data_folder");
  auto train = IdxDataset::from_folder(kFashion, true);
  auto test = IdxDataset::from_folder(kFashion, false);
  ConvertOptions co;
  co.limit = 60;
  co.size = 32;
  EXPECT_EQ(write_image_folder(*train, *test, root.string(), co), 120);
  auto folder_train = ImageFolder::open(root.string(), true);
  auto folder_val = ImageFolder::open(root.string(), false);
  EXPECT_EQ(folder_train->size(), 60);
  EXPECT_EQ(folder_val->size(), 60);
  EXPECT_EQ(folder_train->num_classes(), 10);
  for (int64_t i = 0; i < folder_train->size(); ++i) {
    // train_<index>.JPEG under the class folder of its IDX label.
    const std::string& path = folder_train->entries()[i].path;
    int64_t idx = std::stoll(path.substr(path.size() - 13, 8));
    EXPECT_EQ(folder_train->label(i), train->label(idx)) << path;
  }
  for (int64_t i = 0; i < folder_val->size(); ++i) EXPECT_EQ(folder_val->label(i), test->label(i));
  // The decoded JPEG is close to the IDX pixels (upscaled, lossy).
  Sample s = folder_val->load(0);
  EXPECT_EQ(s.image.rows, 32);
  EXPECT_EQ(s.image.channels(), 3);

  // A truncated file: one warning, replaced by the next example, counted.
  fs::path victim = folder_train->entries()[3].path;
  fs::resize_file(victim, 20);
  TransformOptions o;
  o.crop_size = 16;
  auto t = std::make_shared<Transform>(o, true, 3);
  auto reopened = ImageFolder::open(root.string(), true);
  Loader loader(reopened, t, {1, 2, 0.5}, {{2, 3}}, 1, 0);
  auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->indices, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(batch->labels[1].item<int64_t>(), reopened->label(4));
  EXPECT_EQ(loader.failures(), 1);
  // Over the failure limit: an error naming the file.
  Loader strict(reopened, t, {1, 2, 0.001}, {{3}}, 1, 0);
  try {
    strict.next();
    FAIL() << "expected too many failures";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(victim.filename().string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bnx::data

namespace bnx::data {
namespace {

// An 800x400 JPEG, left half red and right half blue, whose EXIF orientation (6) says "rotate 90
// degrees clockwise": displayed, it is 400x800 with red on top (as PIL-based pipelines see it).
TEST(Transforms, RespectsExifOrientationWithReducedDecode) {
  std::ifstream in(test::test_data("exif_orientation_6.jpg"), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  JpegInfo info;
  ASSERT_TRUE(read_jpeg_info(bytes, info));
  EXPECT_EQ(info.width, 800);  // the header has the stored orientation
  EXPECT_EQ(info.orientation, 6);
  EXPECT_EQ(info.display_width(), 400);
  TransformOptions o;
  o.crop_size = 64;
  o.resize = 64;  // center square of the displayed image -> 64x64 (decoded at 1/4)
  Transform t(o, false, 3);
  torch::Tensor out = torch::empty({3, 64, 64}, torch::kUInt8);
  Rng rng({0});
  t.apply_encoded(bytes, "exif", rng, out.data_ptr(), true);
  // Top rows red, bottom rows blue, left and right columns alike.
  EXPECT_GT(out[0][4][32].item<int>(), 180);
  EXPECT_LT(out[2][4][32].item<int>(), 80);
  EXPECT_GT(out[2][60][32].item<int>(), 180);
  EXPECT_LT(out[0][60][32].item<int>(), 80);
  EXPECT_EQ(out[0][4][2].item<int>() > 180, out[0][4][61].item<int>() > 180);
}

}  // namespace
}  // namespace bnx::data

namespace bnx::data {
namespace {

// Ten crops of a 12x8 gradient image (R = x, G = y), resize 8 (no-op), crop 4: corners, center,
// then the same five mirrored.
TEST(Transforms, TenCropCornersCenterAndMirrors) {
  cv::Mat m(8, 12, CV_8UC3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 12; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, 7);
  TransformOptions o;
  o.crop_size = 4;
  o.resize = 8;
  Transform t(o, false, 3);
  torch::Tensor out = torch::empty({10, 3, 4, 4}, torch::kUInt8);
  t.apply_ten_crop(m, out.data_ptr(), true);
  const int x0[5] = {0, 8, 0, 8, 4}, y0[5] = {0, 0, 4, 4, 2};
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(out[k][0][0][0].item<int>(), x0[k]) << k;  // R at the crop's top-left = its x
    EXPECT_EQ(out[k][1][0][0].item<int>(), y0[k]) << k;  // G = its y
    EXPECT_EQ(out[k + 5][0][0][0].item<int>(), x0[k] + 3) << k;  // mirrored: the crop's right edge first
    EXPECT_TRUE(torch::equal(out[k + 5], out[k].flip({2}))) << k;
  }
}

}  // namespace
}  // namespace bnx::data

namespace bnx::data {
namespace {

// A photo-like 333x517 RGB image (smooth color fields plus noise), JPEG q90 with 4:2:0 chroma.
std::vector<uint8_t> photo_jpeg(int h = 333, int w = 517) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG noise(7);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b((x * 255) / w, (y * 255) / h, ((x + y) * 3) % 256);
  cv::Mat n(h, w, CV_8UC3);
  noise.fill(n, cv::RNG::UNIFORM, 0, 40);
  m += n;
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", m, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  return jpeg;
}

// The same JPEG with an APP1 EXIF block (big-endian TIFF, one IFD0 entry) giving `orientation`.
std::vector<uint8_t> with_orientation(const std::vector<uint8_t>& jpeg, int orientation) {
  const std::vector<uint8_t> payload = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,  // header, IFD0 at 8
                                        0, 1,                                                     // one entry
                                        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, uint8_t(orientation), 0, 0,
                                        0, 0, 0, 0};  // no next IFD
  const size_t length = payload.size() + 2;
  std::vector<uint8_t> out = {0xFF, 0xD8, 0xFF, 0xE1, uint8_t(length >> 8), uint8_t(length & 0xFF)};
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

cv::Mat opencv_rgb(const std::vector<uint8_t>& bytes, int flags = cv::IMREAD_COLOR) {
  cv::Mat m = cv::imdecode(bytes, flags);
  cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return m;
}

double max_difference(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return 1e9;
  return cv::norm(a, b, cv::NORM_INF);
}

// Decoding only a region, at full or reduced scale, gives the pixels of the same region of
// OpenCV's (libjpeg's) full decode at that scale: edges, corners, single pixels and odd offsets.
TEST(Decode, JpegRegionEqualsRegionOfFullDecode) {
  const auto jpeg = photo_jpeg();
  JpegInfo info;
  ASSERT_TRUE(read_jpeg_info(jpeg, info));
  EXPECT_EQ(info.width, 517);
  EXPECT_EQ(info.height, 333);
  EXPECT_EQ(info.orientation, 1);
  const std::vector<cv::Rect> regions = {{0, 0, 517, 333}, {0, 0, 1, 1},     {516, 332, 1, 1}, {37, 101, 250, 180},
                                         {261, 5, 256, 328}, {17, 17, 17, 17}, {100, 0, 300, 333}};
  const std::map<int, int> reduced = {{1, cv::IMREAD_COLOR}, {2, cv::IMREAD_REDUCED_COLOR_2},
                                      {4, cv::IMREAD_REDUCED_COLOR_4}, {8, cv::IMREAD_REDUCED_COLOR_8}};
  for (const auto& [r, flags] : reduced) {
    const cv::Mat full = opencv_rgb(jpeg, flags);
    for (cv::Rect region : regions) {
      const cv::Rect asked = region;
      cv::Mat part = decode_jpeg_region(jpeg, info, 3, r, region, "photo.jpg");
      // The region in the scaled image: origin and size floor-divided, at least one pixel, inside.
      cv::Rect expect(asked.x / r, asked.y / r, std::max(1, asked.width / r), std::max(1, asked.height / r));
      expect &= cv::Rect(0, 0, full.cols, full.rows);
      ASSERT_EQ(region.size(), expect.size()) << "r=" << r << " " << asked;
      EXPECT_EQ(max_difference(part(region), full(expect)), 0) << "r=" << r << " " << asked;
    }
  }
  // Gray output equals OpenCV's gray decode.
  cv::Rect region(40, 30, 200, 100);
  cv::Mat gray = decode_jpeg_region(jpeg, info, 1, 1, region, "photo.jpg");
  EXPECT_EQ(max_difference(gray(region), cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE)(cv::Rect(40, 30, 200, 100))), 0);
}

// All eight EXIF orientations: the header reader finds the tag, and the decoded pixels equal
// cv::imdecode's (which applies the orientation as PIL's exif_transpose does), whole and in part.
TEST(Decode, ExifOrientationsMatchOpenCV) {
  const auto plain = photo_jpeg(60, 90);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const auto jpeg = with_orientation(plain, orientation);
    JpegInfo info;
    ASSERT_TRUE(read_jpeg_info(jpeg, info));
    EXPECT_EQ(info.orientation, orientation);
    const cv::Mat reference = opencv_rgb(jpeg);
    EXPECT_EQ(reference.cols, info.display_width()) << orientation;
    EXPECT_EQ(reference.rows, info.display_height()) << orientation;
    EXPECT_EQ(max_difference(decode_image(jpeg, 3, "o.jpg"), reference), 0) << orientation;
    cv::Rect region(10, 20, 25, 30);
    cv::Mat part = decode_jpeg_region(jpeg, info, 3, 1, region, "o.jpg");
    EXPECT_EQ(max_difference(part(region), reference(cv::Rect(10, 20, 25, 30))), 0) << orientation;
  }
}

// Truncated or corrupt JPEGs are errors naming the file (libjpeg alone would pad a truncated scan
// with gray); PNGs decode through OpenCV, to RGB.
TEST(Decode, BadJpegsThrowAndOtherFormatsDecode) {
  auto jpeg = photo_jpeg();
  jpeg.resize(jpeg.size() / 2);
  EXPECT_NE(error_of([&] { decode_image(jpeg, 3, "half.jpg"); }).find("half.jpg: cannot decode JPEG: Premature end"),
            std::string::npos)
      << error_of([&] { decode_image(jpeg, 3, "half.jpg"); });
  auto garbled = photo_jpeg();
  std::fill(garbled.begin() + 200, garbled.begin() + 400, 0xFF);
  garbled.resize(garbled.size() - 100);
  EXPECT_NE(error_of([&] { decode_image(garbled, 3, "garbled.jpg"); }).find("garbled.jpg"), std::string::npos);
  cv::Mat bgr = cv::imdecode(photo_jpeg(), cv::IMREAD_COLOR);
  std::vector<uint8_t> png;
  cv::imencode(".png", bgr, png);
  JpegInfo info;
  EXPECT_FALSE(read_jpeg_info(png, info));
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  EXPECT_EQ(max_difference(decode_image(png, 3, "p.png"), rgb), 0);
  EXPECT_NE(error_of([&] { decode_image(std::vector<uint8_t>(50, 7), 3, "junk.png"); }).find("junk.png: cannot decode"),
            std::string::npos);
}

}  // namespace
}  // namespace bnx::data
