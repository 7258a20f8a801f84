// One tile of the Mandelbrot set, as a binary PPM (P6) image.
//
// stdin: ASCII "WIDTH HEIGHT X Y TILE_W TILE_H MAX_ITER": the full image's
// size, the tile's top-left pixel and size, and the iteration limit. The
// view is fixed: centre (-0.6, 0), 3.2 units wide, square pixels.
// stdout: "P6\n<tile_w> <tile_h>\n255\n" followed by tile_w*tile_h RGB pixels.
// Exit status 2 on bad input. Pure IEEE double arithmetic: WebAssembly has
// no fused multiply-add and Quorate canonicalises NaNs, so every replica
// produces the same bytes.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_SIDE 16384

static int fail(const char *message) {
  fprintf(stderr, "mandelbrot: %s\n", message);
  return 2;
}

static void colour(int iter, int max_iter, uint8_t *rgb) {
  if (iter >= max_iter) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    return;
  }
  // Bernstein polynomials: a smooth palette with no transcendental functions
  // (sqrt is exactly rounded in WebAssembly, so it is deterministic).
  double t = sqrt((double)iter / (double)max_iter);
  double u = 1.0 - t;
  rgb[0] = (uint8_t)(9.0 * u * t * t * t * 255.0);
  rgb[1] = (uint8_t)(15.0 * u * u * t * t * 255.0);
  rgb[2] = (uint8_t)(8.5 * u * u * u * t * 255.0);
}

int main(void) {
  long width, height, x0, y0, tw, th, max_iter;
  if (scanf("%ld %ld %ld %ld %ld %ld %ld", &width, &height, &x0, &y0, &tw, &th, &max_iter) != 7) {
    return fail("expected \"WIDTH HEIGHT X Y TILE_W TILE_H MAX_ITER\" on stdin");
  }
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) return fail("image size out of range");
  if (tw < 1 || th < 1 || x0 < 0 || y0 < 0 || x0 + tw > width || y0 + th > height) {
    return fail("tile does not fit in the image");
  }
  if (max_iter < 1 || max_iter > 1000000) return fail("MAX_ITER out of range");

  size_t row_bytes = (size_t)tw * 3;
  uint8_t *row = malloc(row_bytes);
  if (row == NULL) return fail("out of memory");
  printf("P6\n%ld %ld\n255\n", tw, th);

  const double view_w = 3.2;
  const double scale = view_w / (double)width;
  const double left = -0.6 - view_w / 2.0;
  const double top = (double)height * scale / 2.0;
  for (long py = y0; py < y0 + th; py++) {
    double ci = top - ((double)py + 0.5) * scale;
    for (long px = x0; px < x0 + tw; px++) {
      double cr = left + ((double)px + 0.5) * scale;
      double zr = 0.0, zi = 0.0, zr2 = 0.0, zi2 = 0.0;
      int iter = 0;
      while (iter < max_iter && zr2 + zi2 <= 4.0) {
        zi = 2.0 * zr * zi + ci;
        zr = zr2 - zi2 + cr;
        zr2 = zr * zr;
        zi2 = zi * zi;
        iter++;
      }
      colour(iter, (int)max_iter, row + (px - x0) * 3);
    }
    fwrite(row, 1, row_bytes, stdout);
  }
  free(row);
  return 0;
}
