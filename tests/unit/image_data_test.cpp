// Image loaders: IDX (gzip or plain) and .npy round trips, layout (H×W×C → C×H×W), padding and
// flips; malformed files refused with messages naming the file and the fault; the real
// Fashion-MNIST from Debian's package.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/data/image_set.h"

namespace carnot {
namespace {

namespace fs = std::filesystem;

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("carnot_image_data_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, const std::vector<std::int32_t>& dims,
                                    const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b = {0, 0, type, std::uint8_t(dims.size())};
  for (std::int32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}

void write_plain(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<std::uint8_t> npy_bytes(const std::string& descr, const std::string& shape, const std::vector<std::uint8_t>& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const std::string magic = "\x93NUMPY\x01";
  std::vector<std::uint8_t> b(magic.begin(), magic.end());
  for (std::uint8_t x : {std::uint8_t(0), std::uint8_t(header.size() & 0xff), std::uint8_t(header.size() >> 8)})
    b.push_back(x);
  for (char ch : header) b.push_back(std::uint8_t(ch));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void expect_refused(const std::function<void()>& load, const std::string& needle) {
  try {
    load();
    ADD_FAILURE() << "accepted; expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    std::printf("refused: %s\n", e.what());
  }
}

TEST(ImageData, IdxRoundTripPaddingAndFlip) {
  const std::vector<std::uint8_t> pixels = {0, 255, 51, 102, 153, 204,  // image 0 (2×3)
                                            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::string images = scratch("imgs.gz"), labels = scratch("labels");
  write_gz(images, idx_bytes(0x08, {3, 2, 3}, pixels));
  write_plain(labels, idx_bytes(0x08, {3}, {0, 4, 1}));  // plain IDX: zlib reads it as it is
  const ImageSet s = load_idx_images(images, labels);
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.height, 2);
  EXPECT_EQ(s.width, 3);
  EXPECT_EQ(s.num_classes, 5);
  EXPECT_EQ(s.labels, (std::vector<std::int64_t>{0, 4, 1}));
  std::vector<float> img(4 * 4);
  s.image(0, 4, false, img.data());  // centred: row offset 1, column offset 0
  EXPECT_FLOAT_EQ(img[0], -1.0f);
  EXPECT_FLOAT_EQ(img[4 + 0], -1.0f);               // pixel 0 → −1
  EXPECT_FLOAT_EQ(img[4 + 1], 1.0f);                // 255 → 1
  EXPECT_FLOAT_EQ(img[8 + 2], 204 * 2.0f / 255 - 1);
  EXPECT_FLOAT_EQ(img[4 + 3], -1.0f);               // padding
  s.image(0, 4, true, img.data());
  EXPECT_FLOAT_EQ(img[4 + 0], 51 * 2.0f / 255 - 1);  // mirrored
}

TEST(ImageData, MalformedIdxIsRefused) {
  const std::string p = scratch("bad.idx"), l = scratch("bad_labels.idx");
  write_plain(p, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_refused([&] { load_idx_images(p, ""); }, "is not an IDX file");
  write_gz(p, idx_bytes(0x08, {2, 2, 2}, {1, 2, 3}));
  expect_refused([&] { load_idx_images(p, ""); }, "is truncated: its dimensions promise 8 bytes, it holds 3");
  write_gz(p, idx_bytes(0x0D, {1, 1, 1}, {0, 0, 0, 0}));
  expect_refused([&] { load_idx_images(p, ""); }, "only unsigned bytes");
  write_gz(p, idx_bytes(0x08, {3, 1, 1}, {1, 2, 3}));
  write_gz(l, idx_bytes(0x08, {2}, {0, 1}));
  expect_refused([&] { load_idx_images(p, l); }, "holds 2 labels for 3 images");
  write_gz(p, idx_bytes(0x08, {3}, {1, 2, 3}));
  expect_refused([&] { load_idx_images(p, ""); }, "IDX images are N×H×W");
  expect_refused([&] { load_idx_images(scratch("missing.gz"), ""); }, "cannot read");
}

TEST(ImageData, NpyChannelsLastBecomesChannelsFirst) {
  const std::string p = scratch("hwc.npy"), l = scratch("labels.npy");
  // One 1×2 image with 3 channels, stored H×W×C: pixel (0,0) = (10, 20, 30), (0,1) = (40, 50, 60).
  write_plain(p, npy_bytes("|u1", "1, 1, 2, 3", {10, 20, 30, 40, 50, 60}));
  std::vector<std::uint8_t> label(8, 0);
  label[0] = 7;
  write_plain(l, npy_bytes("<i8", "1,", label));
  const ImageSet s = load_npy_images(p, l);
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(s.u8, (std::vector<std::uint8_t>{10, 40, 20, 50, 30, 60}));
  EXPECT_EQ(s.labels, (std::vector<std::int64_t>{7}));
  EXPECT_EQ(s.num_classes, 8);
}

TEST(ImageData, MalformedNpyIsRefused) {
  const std::string p = scratch("bad.npy");
  write_plain(p, npy_bytes("<i4", "1, 1, 1", {0, 0, 0, 0}));
  expect_refused([&] { load_npy_images(p, ""); }, "elements of type '<i4'");
  write_plain(p, npy_bytes("|u1", "2, 2, 2", {1, 2, 3}));
  expect_refused([&] { load_npy_images(p, ""); }, "is truncated");
  write_plain(p, npy_bytes("|u1", "2, 2", {1, 2, 3, 4}));
  expect_refused([&] { load_npy_images(p, ""); }, "images are N×H×W or N×H×W×C");
  write_plain(p, {'n', 'o', 't', ' ', 'n', 'p', 'y', 0, 0, 0, 0});
  expect_refused([&] { load_npy_images(p, ""); }, "is not a version-1 .npy file");
}

TEST(ImageData, FashionMnistFromDebiansPackage) {
  const std::string folder = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(folder + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << folder << " is missing (launch/deps.sh installs dataset-fashion-mnist)";
  const ImageSet train = load_fashion_mnist(folder, "train"), test = load_fashion_mnist(folder, "test");
  EXPECT_EQ(train.n, 60000);
  EXPECT_EQ(test.n, 10000);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  EXPECT_EQ(train.num_classes, 10);
  std::vector<std::int64_t> per_class(10, 0);
  for (std::int64_t y : train.labels) ++per_class[std::size_t(y)];
  for (std::int64_t c : per_class) EXPECT_EQ(c, 6000);  // Fashion-MNIST is balanced
  expect_refused([&] { load_fashion_mnist(folder, "valid"); }, "is not train or test");
}

}  // namespace
}  // namespace carnot
