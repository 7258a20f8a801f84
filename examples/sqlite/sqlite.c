/*
 * Quorate example workload: SQLite, a large branchy real-world C program
 * (its bytecode interpreter is one big function, a loop around a large
 * switch), run on an in-memory database. The amalgamation comes from the
 * better-sqlite3 npm package at build time (see README.md); this file is
 * the driver.
 *
 *   stdin:  an SQL script
 *   stdout: every result row, columns separated by tabs, NULL as "NULL"
 *
 * Exit status: 0 ok, 2 an SQL error (the message goes to stderr).
 *
 * SQLite is built with SQLITE_OS_OTHER: there are no files, and the
 * operating-system layer below is a minimal one of this driver's, with a
 * fixed clock and fixed "random" bytes, so a script gives the same output
 * on every machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite3.h"

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
  (void)vfs, (void)name, (void)flags, (void)out_flags;
  file->pMethods = NULL;
  return SQLITE_CANTOPEN;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs, (void)name, (void)sync_dir;
  return SQLITE_IOERR_DELETE;
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *result) {
  (void)vfs, (void)name, (void)flags;
  *result = 0;
  return SQLITE_OK;
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
  (void)vfs;
  sqlite3_snprintf(size, out, "%s", name);
  return SQLITE_OK;
}

static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs;
  for (int i = 0; i < size; i++) out[i] = (char)(i * 131 + 7);
  return size;
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return microseconds;
}

/* 2024-01-01T00:00:00Z as a Julian day number times 86,400,000. */
static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
  (void)vfs;
  *now = (sqlite3_int64)2460310.5 * 86400000 + 43200000;
  return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *vfs, double *now) {
  sqlite3_int64 ms;
  vfs_current_time_int64(vfs, &ms);
  *now = ms / 86400000.0;
  return SQLITE_OK;
}

static int vfs_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs, (void)size, (void)out;
  return 0;
}

static sqlite3_vfs memory_only = {
    2,    sizeof(sqlite3_file), 512,  NULL, "memory-only", NULL,
    vfs_open, vfs_delete, vfs_access, vfs_full_pathname, NULL, NULL,
    NULL, NULL, vfs_randomness, vfs_sleep, vfs_current_time, vfs_get_last_error,
    vfs_current_time_int64, NULL, NULL, NULL,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&memory_only, 1); }
int sqlite3_os_end(void) { return SQLITE_OK; }

static char *read_all(void) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) exit(2);
    ssize_t n = read(0, buf + len, cap - len - 1);
    if (n < 0) exit(2);
    if (n == 0) break;
    len += (size_t)n;
    if (len + 1 == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  buf[len] = '\0';
  return buf;
}

static int print_row(void *unused, int columns, char **values, char **names) {
  (void)unused, (void)names;
  for (int i = 0; i < columns; i++) {
    if (i > 0) fputc('\t', stdout);
    fputs(values[i] == NULL ? "NULL" : values[i], stdout);
  }
  fputc('\n', stdout);
  return 0;
}

int main(void) {
  char *script = read_all();
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    fprintf(stderr, "sqlite: cannot open an in-memory database\n");
    return 2;
  }
  char *error = NULL;
  if (sqlite3_exec(db, script, print_row, NULL, &error) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", error == NULL ? "error" : error);
    return 2;
  }
  sqlite3_close(db);
  return 0;
}
