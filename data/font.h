// A small embedded bitmap font for labels drawn on frames (data/draw.h).
//
// The project's own design: printable ASCII (32..126) as 5x8 glyphs, written out as pixel
// art in data/font.cpp. Each glyph is 5 columns by 8 rows; capitals and digits use rows 0-6
// (row 6 is the baseline row), lower-case letters have a 5-row x-height (rows 2-6) and
// g j p q y descend into row 7. Characters are laid out on a 6 x 8 advance (one blank column
// between glyphs); a line of n characters at scale s is (6n - 1)s wide and 8s tall.
// Any other byte (control characters, the bytes of UTF-8 sequences) is drawn as a hollow box.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace wsvis::data {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;
constexpr int kGlyphAdvance = kGlyphWidth + 1;  // one blank column between characters

// Row bits of one glyph: bit (kGlyphWidth - 1 - x) of rows[y] is the pixel at column x.
using Glyph = std::array<uint8_t, kGlyphHeight>;

// The glyph of byte c (the hollow box outside 32..126).
const Glyph& font_glyph(char c);
inline bool glyph_pixel(const Glyph& g, int x, int y) {
  return (g[static_cast<size_t>(y)] >> (kGlyphWidth - 1 - x)) & 1;
}

// Width and height in pixels of one line of text at an integer scale >= 1:
// ((6 * size - 1) * scale, 8 * scale); (0, 0) for the empty string.
std::array<int, 2> text_extent(const std::string& text, int scale = 1);

}  // namespace wsvis::data
