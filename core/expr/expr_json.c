/*
 * expr_json.c — a small read-only JSON path reader over the raw text of one
 * row, for JSON fields and the dynamic field.
 *
 * Why not json-c: a filter touches one or two keys of each row's document.
 * json-c would build (malloc) a whole DOM per row and free it again; this
 * reader walks the text once, skipping the members it does not need with a
 * bracket counter (no recursion, no allocation), and returns the value it
 * finds as a view into the text. On typical 100-300 byte documents that is
 * several times faster and cannot run out of stack on hostile nesting.
 *
 * Leniency: it validates only what it reads. Text that is not well-formed
 * where the path goes yields J_MISSING (SQL null) for that row, never an
 * error, so one bad row cannot fail a whole query. Keys compare after
 * unescaping. Numbers without '.', 'e' or 'E' that fit in int64 are J_INT,
 * other numbers J_DOUBLE. Duplicate keys: the first one wins.
 */
#include "expr_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* p at the opening quote; returns the position after the closing quote. */
static const char *scan_string(const char *p, const char *end, bool *escaped) {
  *escaped = false;
  for (p++; p < end; p++) {
    if (*p == '"')
      return p + 1;
    if (*p == '\\') {
      *escaped = true;
      p++;
    }
  }
  return NULL;
}

/* Skips one value of any kind; NULL if malformed. */
static const char *skip_value(const char *p, const char *end) {
  p = skip_ws(p, end);
  if (p >= end)
    return NULL;
  bool esc;
  if (*p == '"')
    return scan_string(p, end, &esc);
  if (*p != '[' && *p != '{') {
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' &&
           *p != '\n' && *p != '\t' && *p != '\r')
      p++;
    return p;
  }
  size_t depth = 0;
  while (p < end) {
    if (*p == '"') {
      p = scan_string(p, end, &esc);
      if (p == NULL)
        return NULL;
      continue;
    }
    if (*p == '[' || *p == '{')
      depth++;
    else if ((*p == ']' || *p == '}') && --depth == 0)
      return p + 1;
    p++;
  }
  return NULL;
}

static bool parse_number(const char *p, const char *q, jval *v) {
  char buf[64];
  size_t n = (size_t)(q - p);
  if (n == 0 || n >= sizeof buf)
    return false;
  memcpy(buf, p, n);
  buf[n] = '\0';
  char *e;
  if (strpbrk(buf, ".eE") == NULL) {
    long long i = strtoll(buf, &e, 10);
    bool overflow = (i == INT64_MAX || i == INT64_MIN) && n > 18;
    if (*e == '\0' && !overflow) {
      v->kind = J_INT;
      v->i = i;
      return true;
    }
  }
  v->f = strtod(buf, &e);
  v->kind = J_DOUBLE;
  return *e == '\0' && (buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9'));
}

/* Reads the value at p into v; returns the end of it or NULL. */
static const char *read_value(const char *p, const char *end, jval *v) {
  memset(v, 0, sizeof *v);
  p = skip_ws(p, end);
  if (p >= end)
    return NULL;
  const char *q;
  if (*p == '"') {
    q = scan_string(p, end, &v->escaped);
    if (q == NULL)
      return NULL;
    v->kind = J_STRING;
    v->p = p + 1;
    v->n = (size_t)(q - p - 2);
    return q;
  }
  if (*p == '[' || *p == '{') {
    if ((q = skip_value(p, end)) == NULL)
      return NULL;
    v->kind = *p == '[' ? J_ARRAY : J_OBJECT;
    v->p = p;
    v->n = (size_t)(q - p);
    return q;
  }
  q = skip_value(p, end);
  size_t n = (size_t)(q - p);
  if (n == 4 && memcmp(p, "true", 4) == 0) {
    v->kind = J_BOOL;
    v->b = true;
  } else if (n == 5 && memcmp(p, "false", 5) == 0) {
    v->kind = J_BOOL;
  } else if (n == 4 && memcmp(p, "null", 4) == 0) {
    v->kind = J_NULL;
  } else if (!parse_number(p, q, v)) {
    return NULL;
  }
  return q;
}

size_t json_unescape(const char *p, size_t n, char *buf, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 4 > cap)
      return (size_t)-1;
    if (p[i] != '\\') {
      buf[o++] = p[i];
      continue;
    }
    if (++i >= n)
      return (size_t)-1;
    static const char in[] = "\"\\/bfnrt", out[] = "\"\\/\b\f\n\r\t";
    const char *hit = strchr(in, p[i]);
    if (p[i] != 'u') {
      if (hit == NULL || p[i] == '\0')
        return (size_t)-1;
      buf[o++] = out[hit - in];
      continue;
    }
    if (i + 4 >= n)
      return (size_t)-1;
    unsigned cp = 0;
    for (int k = 1; k <= 4; k++) {
      char c = p[i + (size_t)k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0)
        return (size_t)-1;
      cp = cp * 16 + (unsigned)d;
    }
    i += 4;
    if (cp < 0x80) {
      buf[o++] = (char)cp;
    } else if (cp < 0x800) {
      buf[o++] = (char)(0xC0 | (cp >> 6));
      buf[o++] = (char)(0x80 | (cp & 0x3F));
    } else { /* surrogates are passed through as 3-byte sequences */
      buf[o++] = (char)(0xE0 | (cp >> 12));
      buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      buf[o++] = (char)(0x80 | (cp & 0x3F));
    }
  }
  return o;
}

static bool key_equals(const char *p, size_t n, bool escaped,
                       const jpath_step *step) {
  if (!escaped)
    return n == step->key_len && memcmp(p, step->key, n) == 0;
  char buf[256];
  size_t m = json_unescape(p, n, buf, sizeof buf);
  return m == step->key_len && memcmp(buf, step->key, m) == 0;
}

/* Member `step` of the object at p; J_MISSING if absent. */
static jval object_member(const char *p, const char *end,
                          const jpath_step *step) {
  jval v = {.kind = J_MISSING};
  p = skip_ws(p + 1, end);
  while (p < end && *p == '"') {
    bool esc;
    const char *q = scan_string(p, end, &esc);
    if (q == NULL)
      break;
    bool hit = key_equals(p + 1, (size_t)(q - p - 2), esc, step);
    p = skip_ws(q, end);
    if (p >= end || *p != ':')
      break;
    if (hit) {
      if (read_value(p + 1, end, &v) == NULL)
        v.kind = J_MISSING;
      return v;
    }
    if ((p = skip_value(p + 1, end)) == NULL)
      break;
    p = skip_ws(p, end);
    if (p < end && *p == ',')
      p = skip_ws(p + 1, end);
  }
  v.kind = J_MISSING;
  return v;
}

bool json_array_next(const jval *arr, size_t *cursor, jval *elem) {
  const char *p = arr->p + (*cursor ? *cursor : 1), *end = arr->p + arr->n;
  p = skip_ws(p, end);
  if (p >= end || *p == ']')
    return false;
  const char *q = read_value(p, end, elem);
  if (q == NULL)
    return false;
  q = skip_ws(q, end);
  if (q < end && *q == ',')
    q++;
  else if (q >= end || *q != ']')
    return false;
  *cursor = (size_t)(q - arr->p);
  return true;
}

size_t json_array_length(const jval *arr) {
  size_t cursor = 0, n = 0;
  jval e;
  while (json_array_next(arr, &cursor, &e))
    n++;
  return n;
}

jval json_lookup(const char *text, size_t len, const jpath_step *path,
                 size_t n_path) {
  jval v;
  const char *end = text + len;
  if (read_value(text, end, &v) == NULL)
    v.kind = J_MISSING;
  for (size_t i = 0; i < n_path && v.kind != J_MISSING; i++) {
    if (path[i].is_index) {
      size_t cursor = 0;
      jval e = {.kind = J_MISSING};
      bool found = v.kind == J_ARRAY && path[i].index >= 0;
      for (int64_t k = 0; found && k <= path[i].index; k++)
        found = json_array_next(&v, &cursor, &e);
      v = found ? e : (jval){.kind = J_MISSING};
    } else if (v.kind == J_OBJECT) {
      v = object_member(v.p, v.p + v.n, &path[i]);
    } else {
      v.kind = J_MISSING;
    }
  }
  return v;
}
