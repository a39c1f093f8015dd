// Image decoding (see decode.h).
#include "data/decode.h"

#ifdef BNX_WITH_IMGCODECS
#include <opencv2/imgcodecs.hpp>
#endif
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>

#include "data/dataset.h"

namespace bnx::data {
namespace {

// Reads a 16- or 32-bit TIFF integer in the byte order of the EXIF block.
uint32_t tiff_int(const uint8_t* p, int bytes, bool big_endian) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint32_t(p[big_endian ? i : bytes - 1 - i]) << (8 * (bytes - 1 - i));
  return v;
}

// The orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload; 1 when absent or malformed.
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* tiff = p + 6;
  const size_t size = n - 6;
  const bool big = tiff[0] == 'M' && tiff[1] == 'M';
  if (!big && !(tiff[0] == 'I' && tiff[1] == 'I')) return 1;
  const uint32_t ifd = tiff_int(tiff + 4, 4, big);
  if (ifd + 2 > size) return 1;
  const uint32_t entries = tiff_int(tiff + ifd, 2, big);
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t at = ifd + 2 + 12 * size_t(e);
    if (at + 12 > size) return 1;
    if (tiff_int(tiff + at, 2, big) == 0x0112 && tiff_int(tiff + at + 2, 2, big) == 3) {  // SHORT
      const int v = static_cast<int>(tiff_int(tiff + at + 8, 2, big));
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

// Turns the stored image into the displayed one, as cv::imdecode and PIL's exif_transpose do.
void apply_orientation(cv::Mat& m, int orientation) {
  if (orientation >= 5) cv::transpose(m, m);
  switch (orientation) {
    case 2: case 6: cv::flip(m, m, 1); break;   // mirror; 6: rotate 90 clockwise
    case 3: case 7: cv::flip(m, m, -1); break;  // rotate 180; 7: transverse
    case 4: case 8: cv::flip(m, m, 0); break;   // flip vertically; 8: rotate 90 counter-clockwise
    default: break;                             // 1: as stored; 5: transpose
  }
}

// libjpeg reports errors through callbacks: error_exit must not return, so it longjmps back into
// run_libjpeg. A premature end of data is only a warning to libjpeg (it pads the image with gray);
// here it is an error, since a truncated file must be counted and replaced, not trained on.
struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool unsupported;  // a valid JPEG libjpeg cannot convert to the requested colors (CMYK)
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  err->unsupported = cinfo->err->msg_code == JERR_CONVERSION_NOTIMPL;
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
  // Other warnings (corrupt but decodable data, as a few ImageNet files have) pass silently.
}

// The part of the 1/reduction-scaled image to decode: rows [y0, y1), columns [x0, x1). run_libjpeg
// moves x0 left to an iMCU boundary; `whole` decodes everything and sets the bounds to it.
struct Window {
  bool whole = false;
  int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
};

// Only plain locals live in this frame, so the longjmp skips no destructor; `out` and `w` belong
// to the caller. Returns false with `err` filled on failure.
bool run_libjpeg(const std::vector<uint8_t>& bytes, int channels, int reduction, Window& w, cv::Mat& out,
                 ErrorManager& err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = on_message;
  err.unsupported = false;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(reduction);
  jpeg_start_decompress(&cinfo);
  if (w.whole) {
    w.x0 = w.y0 = 0;
    w.x1 = static_cast<int>(cinfo.output_width);
    w.y1 = static_cast<int>(cinfo.output_height);
  } else if (w.x1 - w.x0 < static_cast<int>(cinfo.output_width)) {
    JDIMENSION offset = static_cast<JDIMENSION>(w.x0), width = static_cast<JDIMENSION>(w.x1 - w.x0);
    jpeg_crop_scanline(&cinfo, &offset, &width);
    w.x0 = static_cast<int>(offset);
  }
  out.create(w.y1 - w.y0, static_cast<int>(cinfo.output_width), CV_8UC(channels));
  if (w.y0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(w.y0));
  while (static_cast<int>(cinfo.output_scanline) < w.y1) {
    JSAMPROW row = out.ptr<uint8_t>(static_cast<int>(cinfo.output_scanline) - w.y0);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_destroy_decompress(&cinfo);  // the rows below y1 are never decoded
  return true;
}

// Decodes with OpenCV (any format it reads), to RGB or gray.
cv::Mat decode_with_opencv(const std::vector<uint8_t>& bytes, int channels, const std::string& name) {
#ifdef BNX_WITH_IMGCODECS
  cv::Mat m = cv::imdecode(bytes, channels == 3 ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);  // applies EXIF
  if (m.empty()) throw DataError(name + ": cannot decode image");
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return m;
#else
  (void)bytes, (void)channels;
  throw DataError(name + ": not a JPEG that libjpeg-turbo decodes to RGB or gray (PNG, CMYK, ...), and this bnx "
                  "was built without OpenCV's image codecs");
#endif
}

}  // namespace

bool read_jpeg_info(const std::vector<uint8_t>& b, JpegInfo& info) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  info = JpegInfo();
  size_t i = 2;
  while (i + 9 < b.size()) {
    if (b[i] != 0xFF) return false;
    const uint8_t marker = b[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    const size_t length = (size_t(b[i + 2]) << 8) | b[i + 3];
    if (marker == 0xE1 && i + 2 + length <= b.size() && info.orientation == 1) {
      info.orientation = exif_orientation(b.data() + i + 4, length - 2);
    }
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      info.height = (b[i + 5] << 8) | b[i + 6];
      info.width = (b[i + 7] << 8) | b[i + 8];
      return info.width > 0 && info.height > 0;
    }
    if (marker == 0xD9 || marker == 0xDA || length < 2) return false;
    i += 2 + length;
  }
  return false;
}

cv::Mat decode_image(const std::vector<uint8_t>& bytes, int channels, const std::string& name) {
  JpegInfo info;
  if (!read_jpeg_info(bytes, info)) return decode_with_opencv(bytes, channels, name);
  cv::Rect all(0, 0, info.display_width(), info.display_height());
  return decode_jpeg_region(bytes, info, channels, 1, all, name);
}

cv::Mat decode_jpeg_region(const std::vector<uint8_t>& bytes, const JpegInfo& info, int channels, int reduction,
                           cv::Rect& region, const std::string& name) {
  if (reduction != 1 && reduction != 2 && reduction != 4 && reduction != 8) {
    throw DataError(name + ": JPEG reduction must be 1, 2, 4 or 8, not " + std::to_string(reduction));
  }
  // The scaled image is ceil(size / reduction); the region keeps its floor-scaled origin and size.
  const int scaled_w = (info.display_width() + reduction - 1) / reduction;
  const int scaled_h = (info.display_height() + reduction - 1) / reduction;
  cv::Rect r(region.x / reduction, region.y / reduction, region.width / reduction, region.height / reduction);
  r.x = std::clamp(r.x, 0, scaled_w - 1);
  r.y = std::clamp(r.y, 0, scaled_h - 1);
  r.width = std::clamp(r.width, 1, scaled_w - r.x);
  r.height = std::clamp(r.height, 1, scaled_h - r.y);

  cv::Mat out;
  ErrorManager err;
  bool ok;
  if (info.orientation == 1) {
    // Two spare columns each side keep libjpeg's simplified upsampling at a partial row's edges
    // out of the region.
    Window w;
    w.x0 = std::max(0, r.x - 2);
    w.x1 = std::min(scaled_w, r.x + r.width + 2);
    w.y0 = r.y;
    w.y1 = r.y + r.height;
    ok = run_libjpeg(bytes, channels, reduction, w, out, err);
    if (ok) r = cv::Rect(r.x - w.x0, 0, r.width, r.height);
  } else {
    Window w;
    w.whole = true;
    ok = run_libjpeg(bytes, channels, reduction, w, out, err);
    if (ok) apply_orientation(out, info.orientation);
  }
  if (!ok) {
    if (!err.unsupported) throw DataError(name + ": cannot decode JPEG: " + err.message);
    // CMYK and other color spaces libjpeg does not turn into RGB: OpenCV converts them.
    out = decode_with_opencv(bytes, channels, name);
    if (reduction > 1) cv::resize(out, out, cv::Size(scaled_w, scaled_h), 0, 0, cv::INTER_AREA);
    r = r & cv::Rect(0, 0, out.cols, out.rows);
  }
  region = r;
  return out;
}

}  // namespace bnx::data
