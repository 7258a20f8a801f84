/*
 * catfiles: copy files to stdout, named one per line on stdin, like `xargs cat`.
 *
 * Ordinary libc code: fopen, fread, strerror. A Quorate task has no file
 * system (no preopened directories), so on Quorate every fopen fails and the
 * program says so in its own words, the same on every replica. The point is
 * that such a program runs at all: wasi-libc links path_open and the preopen
 * look-up into anything that calls fopen.
 *
 * stdout: each file's bytes, or "cannot open NAME: REASON", then a summary.
 * Exit status 0, also when files are missing (a missing file is an answer).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  static char name[4096];
  static char buf[65536];
  int opened = 0;
  int missing = 0;
  while (fgets(name, sizeof name, stdin) != NULL) {
    name[strcspn(name, "\r\n")] = '\0';
    if (name[0] == '\0') continue;
    FILE *file = fopen(name, "r");
    if (file == NULL) {
      printf("cannot open %s: %s\n", name, strerror(errno));
      missing++;
      continue;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, file)) > 0) fwrite(buf, 1, n, stdout);
    fclose(file);
    opened++;
  }
  printf("%d opened, %d missing\n", opened, missing);
  return 0;
}
