// Word frequencies, map/reduce style.
//
//   map (default, or argv[1] == "map"): stdin is text; words are maximal runs
//     of ASCII letters, digits, apostrophes and any non-ASCII (UTF-8) bytes,
//     with ASCII letters lower-cased.
//   reduce (argv[1] == "reduce"): stdin is the concatenated output of maps
//     (or of other reduces); counts of the same word are summed.
//
// Both write "word\tcount\n" lines sorted by word (byte order), so a reduce
// can itself be reduced, and every replica writes identical bytes.
// Exit status 2 on bad input or usage.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *word; // NUL-terminated, owned
  size_t len;
  uint64_t count;
} Entry;

static Entry *table;
static size_t capacity = 0, used = 0;

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static void die(const char *message) {
  fprintf(stderr, "wordcount: %s\n", message);
  exit(2);
}

static void grow(void) {
  size_t old_capacity = capacity;
  Entry *old = table;
  capacity = capacity ? capacity * 2 : 1024;
  table = calloc(capacity, sizeof(Entry));
  if (table == NULL) die("out of memory");
  for (size_t i = 0; i < old_capacity; i++) {
    if (old[i].word == NULL) continue;
    size_t j = hash(old[i].word, old[i].len) & (capacity - 1);
    while (table[j].word != NULL) j = (j + 1) & (capacity - 1);
    table[j] = old[i];
  }
  free(old);
}

static void add(const char *word, size_t len, uint64_t count) {
  if ((used + 1) * 4 > capacity * 3) grow();
  size_t j = hash(word, len) & (capacity - 1);
  while (table[j].word != NULL) {
    if (table[j].len == len && memcmp(table[j].word, word, len) == 0) {
      table[j].count += count;
      return;
    }
    j = (j + 1) & (capacity - 1);
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) die("out of memory");
  memcpy(copy, word, len);
  copy[len] = '\0';
  table[j] = (Entry){copy, len, count};
  used++;
}

static int is_word_byte(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

static int by_word(const void *a, const void *b) {
  return strcmp(((const Entry *)a)->word, ((const Entry *)b)->word);
}

static char *read_all(size_t *length) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL) die("out of memory");
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (buf == NULL) die("out of memory");
    }
    size_t got = fread(buf + n, 1, cap - n, stdin);
    if (got == 0) break;
    n += got;
  }
  *length = n;
  return buf;
}

static void map(const char *text, size_t n) {
  char word[1024];
  size_t len = 0;
  for (size_t i = 0; i <= n; i++) {
    int c = i < n ? (uint8_t)text[i] : ' ';
    if (is_word_byte(c)) {
      if (len < sizeof word) word[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (len > 0) {
      add(word, len, 1);
      len = 0;
    }
  }
}

static void reduce(char *text, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && text[i] != '\t' && text[i] != '\n') i++;
    if (i >= n || text[i] != '\t' || i == start) die("reduce input must be \"word<TAB>count\" lines");
    size_t len = i - start;
    i++;
    uint64_t count = 0;
    size_t digits = 0;
    while (i < n && text[i] >= '0' && text[i] <= '9') {
      count = count * 10 + (uint64_t)(text[i] - '0');
      i++;
      digits++;
    }
    if (digits == 0 || digits > 18 || i >= n || text[i] != '\n') die("reduce input must be \"word<TAB>count\" lines");
    i++;
    add(text + start, len, count);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "map";
  size_t n;
  char *text = read_all(&n);
  if (strcmp(mode, "map") == 0) {
    map(text, n);
  } else if (strcmp(mode, "reduce") == 0) {
    reduce(text, n);
  } else {
    die("usage: wordcount [map|reduce]");
  }
  Entry *sorted = malloc((used ? used : 1) * sizeof(Entry));
  if (sorted == NULL) die("out of memory");
  size_t k = 0;
  for (size_t i = 0; i < capacity; i++) {
    if (table[i].word != NULL) sorted[k++] = table[i];
  }
  qsort(sorted, used, sizeof(Entry), by_word);
  for (size_t i = 0; i < used; i++) printf("%s\t%llu\n", sorted[i].word, (unsigned long long)sorted[i].count);
  return 0;
}
