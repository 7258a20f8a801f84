/*
 * Quorate example workload: bzip2 compression, a large branchy real-world C
 * program (libbzip2 1.0.8, whose sources come from the bzip2-wasm npm package
 * at build time; see README.md) behind a small driver.
 *
 *   main.wasm [compress|decompress|roundtrip]   (default: roundtrip)
 *
 * compress:   stdin -> .bz2 stream on stdout (900 kB blocks)
 * decompress: .bz2 stream on stdin -> the original bytes on stdout
 * roundtrip:  compress stdin, decompress the result, check it equals stdin,
 *             and write the compressed stream (the shape of a checked job)
 *
 * Exit status: 0 ok, 1 bad usage, 2 the library reported an error, 3 a
 * round trip that does not give back the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bzlib.h"

/* libbzip2 built with BZ_NO_STDIO calls this on an internal consistency error. */
void bz_internal_error(int code) {
  fprintf(stderr, "bzip2: internal error %d\n", code);
  exit(2);
}

static unsigned char *read_all(unsigned int *size) {
  unsigned int cap = 1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fprintf(stderr, "bzip2: out of memory reading stdin\n");
      exit(2);
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0) {
      fprintf(stderr, "bzip2: cannot read stdin\n");
      exit(2);
    }
    if (n == 0) break;
    len += (unsigned int)n;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  *size = len;
  return buf;
}

static void write_all(const unsigned char *data, unsigned int size) {
  while (size > 0) {
    ssize_t n = write(1, data, size);
    if (n <= 0) {
      fprintf(stderr, "bzip2: cannot write stdout\n");
      exit(2);
    }
    data += n;
    size -= (unsigned int)n;
  }
}

static unsigned char *compress(const unsigned char *in, unsigned int in_size, unsigned int *out_size) {
  /* The documented worst case: 1% larger plus 600 bytes. */
  unsigned int cap = in_size + in_size / 100 + 600;
  unsigned char *out = malloc(cap);
  if (out == NULL) exit(2);
  int rc = BZ2_bzBuffToBuffCompress((char *)out, &cap, (char *)in, in_size, 9, 0, 0);
  if (rc != BZ_OK) {
    fprintf(stderr, "bzip2: compress failed (%d)\n", rc);
    exit(2);
  }
  *out_size = cap;
  return out;
}

static unsigned char *decompress(const unsigned char *in, unsigned int in_size, unsigned int *out_size) {
  unsigned int cap = in_size * 4 + 1024;
  for (;;) {
    unsigned char *out = malloc(cap);
    if (out == NULL) exit(2);
    unsigned int size = cap;
    int rc = BZ2_bzBuffToBuffDecompress((char *)out, &size, (char *)in, in_size, 0, 0);
    if (rc == BZ_OK) {
      *out_size = size;
      return out;
    }
    free(out);
    if (rc != BZ_OUTBUFF_FULL || cap > (1u << 30)) {
      fprintf(stderr, "bzip2: decompress failed (%d)\n", rc);
      exit(2);
    }
    cap *= 2;
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "roundtrip";
  unsigned int in_size, out_size;
  unsigned char *in = read_all(&in_size);
  if (strcmp(mode, "compress") == 0) {
    write_all(compress(in, in_size, &out_size), out_size);
  } else if (strcmp(mode, "decompress") == 0) {
    write_all(decompress(in, in_size, &out_size), out_size);
  } else if (strcmp(mode, "roundtrip") == 0) {
    unsigned char *packed = compress(in, in_size, &out_size);
    unsigned int back_size;
    unsigned char *back = decompress(packed, out_size, &back_size);
    if (back_size != in_size || memcmp(back, in, in_size) != 0) {
      fprintf(stderr, "bzip2: round trip differs from the input\n");
      return 3;
    }
    write_all(packed, out_size);
  } else {
    fprintf(stderr, "usage: bzip2 [compress|decompress|roundtrip] < input\n");
    return 1;
  }
  return 0;
}
