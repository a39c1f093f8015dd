// Image decoding for the loader's hot path. JPEGs go straight through libjpeg-turbo (the library
// OpenCV itself decodes with): RGB output without OpenCV's RGB->BGR->RGB round trip, DCT-domain
// scaling by 1/2, 1/4 or 1/8, and only the rows and columns of a crop decoded. EXIF orientation is
// applied exactly as cv::imdecode does. Other formats (PNG, BMP, ...) and JPEGs libjpeg cannot
// turn into RGB (CMYK) go through cv::imdecode (when bnx is built with OpenCV's image codecs; else
// they are an error naming the file).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace bnx::data {

/// What a JPEG's headers say, read without decoding.
struct JpegInfo {
  int width = 0, height = 0;  // as stored, before EXIF orientation
  int orientation = 1;        // EXIF orientation 1..8 (1 when absent or invalid)
  /// Orientations 5-8 transpose the image: the displayed width is the stored height.
  int display_width() const { return orientation >= 5 ? height : width; }
  int display_height() const { return orientation >= 5 ? width : height; }
};

/// Reads the frame size (SOF) and the EXIF orientation (APP1); false if `bytes` is not a JPEG.
bool read_jpeg_info(const std::vector<uint8_t>& bytes, JpegInfo& info);

/// Decodes `bytes` to (H, W, channels) uint8, RGB when channels == 3, respecting EXIF orientation.
/// `name` (the file) is in the DataError thrown when the bytes do not decode.
cv::Mat decode_image(const std::vector<uint8_t>& bytes, int channels, const std::string& name);

/// Decodes the part of a JPEG that `region` covers, at 1/`reduction` scale (1, 2, 4 or 8).
/// `region` is in displayed (oriented) full-resolution coordinates and must lie inside the image;
/// on return it is the same region in the returned image's coordinates (scaled, clamped inside).
/// For orientation 1 only the region's rows and (iMCU-aligned) columns are decoded. Throws
/// DataError naming `name` for corrupt or truncated data.
cv::Mat decode_jpeg_region(const std::vector<uint8_t>& bytes, const JpegInfo& info, int channels, int reduction,
                           cv::Rect& region, const std::string& name);

}  // namespace bnx::data
