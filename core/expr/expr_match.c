/*
 * expr_match.c — constant sets for `in` / array_contains*, LIKE patterns,
 * and the literal helpers the checker uses.
 *
 * Sets: numbers are canonicalised so that 2 and 2.0 are the same member —
 * an integral double that fits in int64 is stored as an int; other doubles
 * (NaN excluded: NaN is never a member) go to a separate double table.
 * Strings are compared byte-wise (no collation, as Milvus). Open addressing
 * with linear probing at load <= 1/2. For up to 8 ints the values are also
 * kept in `small`, which a linear scan beats a hash probe on.
 *
 * LIKE (Milvus semantics): '%' matches any run of characters, '_' exactly
 * one UTF-8 character, '\' escapes the next character (so \% \_ \\ are
 * literals). A pattern is compiled once into the cheapest matcher: exact
 * bytes, prefix ("abc%"), suffix ("%abc"), infix ("%abc%", memmem), or a
 * general glob matcher (iterative, with single-star backtracking, so it runs
 * in O(n*m) worst case and never recurses).
 */
#include "expr_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- literals --------------------------------------------------------- */

void lit_destroy(lit *l) {
  free(l->s);
  for (size_t i = 0; i < l->n_items; i++)
    lit_destroy(&l->items[i]);
  free(l->items);
  memset(l, 0, sizeof *l);
}

int lit_copy(lit *dst, const lit *src) {
  *dst = *src;
  dst->s = NULL;
  dst->items = NULL;
  dst->n_items = 0;
  if (src->s) {
    if ((dst->s = malloc(src->slen + 1)) == NULL)
      return -1;
    memcpy(dst->s, src->s, src->slen + 1);
  }
  if (src->n_items) {
    if ((dst->items = calloc(src->n_items, sizeof *dst->items)) == NULL)
      return -1;
    for (size_t i = 0; i < src->n_items; i++) {
      dst->n_items++;
      if (lit_copy(&dst->items[i], &src->items[i]) != 0)
        return -1;
    }
  }
  return 0;
}

void lit_format(const lit *l, char *buf, size_t cap) {
  switch (l->type) {
  case VT_BOOL: snprintf(buf, cap, "%s", l->b ? "true" : "false"); break;
  case VT_INT: snprintf(buf, cap, "%lld", (long long)l->i); break;
  case VT_FLOAT: snprintf(buf, cap, "%g", l->f); break;
  case VT_STRING:
    snprintf(buf, cap, "\"%.*s%s\"", l->slen > 40 ? 40 : (int)l->slen, l->s,
             l->slen > 40 ? "..." : "");
    break;
  case VT_LIST: {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < l->n_items && o + 8 < cap; i++) {
      if (i)
        o += (size_t)snprintf(buf + o, cap - o, ", ");
      lit_format(&l->items[i], buf + o, cap - o);
      o = strlen(buf);
    }
    if (o + 2 < cap)
      snprintf(buf + o, cap - o, "]");
    break;
  }
  default: snprintf(buf, cap, "?"); break;
  }
}

/* ---- sets ------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)p[i]) * 0x100000001b3ULL;
  return mix64(h);
}

static size_t pow2_at_least(size_t n) {
  size_t c = 8;
  while (c < 2 * n)
    c *= 2;
  return c;
}

/* Integral doubles that fit in int64 are ints for set purposes. */
static bool as_int(double d, int64_t *out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
      d != floor(d))
    return false;
  *out = (int64_t)d;
  return true;
}

static void put_int(valset *s, int64_t v) {
  size_t m = s->int_cap - 1, h = (size_t)mix64((uint64_t)v) & m;
  while (s->int_used[h]) {
    if (s->ints[h] == v)
      return;
    h = (h + 1) & m;
  }
  s->int_used[h] = 1;
  s->ints[h] = v;
  if (s->n_ints < 8)
    s->small[s->n_ints] = v;
  s->n_ints++;
  s->n_small = s->n_ints <= 8 ? s->n_ints : 0;
}

static void put_double(valset *s, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  size_t m = s->dbl_cap - 1, h = (size_t)mix64(bits) & m;
  while (s->dbl_used[h]) {
    if (s->dbls[h] == v)
      return;
    h = (h + 1) & m;
  }
  s->dbl_used[h] = 1;
  s->dbls[h] = v;
  s->n_dbls++;
}

static int put_str(valset *s, const char *p, size_t n) {
  size_t m = s->str_cap - 1, h = (size_t)hash_bytes(p, n) & m;
  while (s->strs[h]) {
    if (s->str_lens[h] == n && memcmp(s->strs[h], p, n) == 0)
      return 0;
    h = (h + 1) & m;
  }
  if ((s->strs[h] = malloc(n + 1)) == NULL)
    return -1;
  memcpy(s->strs[h], p, n);
  s->strs[h][n] = '\0';
  s->str_lens[h] = n;
  s->n_strs++;
  return 0;
}

int valset_build(valset *s, const lit *list) {
  memset(s, 0, sizeof *s);
  size_t cap = pow2_at_least(list->n_items);
  s->int_cap = s->dbl_cap = s->str_cap = cap;
  s->ints = calloc(cap, sizeof *s->ints);
  s->int_used = calloc(cap, 1);
  s->dbls = calloc(cap, sizeof *s->dbls);
  s->dbl_used = calloc(cap, 1);
  s->strs = calloc(cap, sizeof *s->strs);
  s->str_lens = calloc(cap, sizeof *s->str_lens);
  if (!s->ints || !s->int_used || !s->dbls || !s->dbl_used || !s->strs ||
      !s->str_lens)
    return -1;
  for (size_t i = 0; i < list->n_items; i++) {
    const lit *v = &list->items[i];
    int64_t iv;
    if (v->type == VT_INT)
      put_int(s, v->i);
    else if (v->type == VT_FLOAT && as_int(v->f, &iv))
      put_int(s, iv);
    else if (v->type == VT_FLOAT && v->f == v->f)
      put_double(s, v->f);
    else if (v->type == VT_BOOL)
      *(v->b ? &s->has_true : &s->has_false) = true;
    else if (v->type == VT_STRING && put_str(s, v->s, v->slen) != 0)
      return -1;
  }
  return 0;
}

void valset_destroy(valset *s) {
  for (size_t i = 0; s->strs && i < s->str_cap; i++)
    free(s->strs[i]);
  free(s->strs);
  free(s->str_lens);
  free(s->ints);
  free(s->int_used);
  free(s->dbls);
  free(s->dbl_used);
  memset(s, 0, sizeof *s);
}

bool valset_has_int(const valset *s, int64_t v) {
  if (s->n_ints == 0)
    return false;
  size_t m = s->int_cap - 1, h = (size_t)mix64((uint64_t)v) & m;
  while (s->int_used[h]) {
    if (s->ints[h] == v)
      return true;
    h = (h + 1) & m;
  }
  return false;
}

bool valset_has_double(const valset *s, double v) {
  int64_t iv;
  if (as_int(v, &iv))
    return valset_has_int(s, iv);
  if (s->n_dbls == 0 || v != v)
    return false;
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  size_t m = s->dbl_cap - 1, h = (size_t)mix64(bits) & m;
  while (s->dbl_used[h]) {
    if (s->dbls[h] == v)
      return true;
    h = (h + 1) & m;
  }
  return false;
}

bool valset_has_str(const valset *s, const char *p, size_t n) {
  if (s->n_strs == 0)
    return false;
  size_t m = s->str_cap - 1, h = (size_t)hash_bytes(p, n) & m;
  while (s->strs[h]) {
    if (s->str_lens[h] == n && memcmp(s->strs[h], p, n) == 0)
      return true;
    h = (h + 1) & m;
  }
  return false;
}

/* ---- LIKE ------------------------------------------------------------- */

enum { OP_LIT = 0, OP_ANY = 1, OP_ONE = 2 };

int like_compile(like_pat *lp, const char *p, size_t n) {
  memset(lp, 0, sizeof *lp);
  lp->pat = malloc(n + 1);
  lp->ops = malloc(n + 1);
  if (!lp->pat || !lp->ops)
    return -1;
  size_t m = 0, n_any = 0, n_one = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t op = OP_LIT;
    char c = p[i];
    if (c == '\\' && i + 1 < n)
      c = p[++i];
    else if (c == '%')
      op = OP_ANY;
    else if (c == '_')
      op = OP_ONE;
    if (op == OP_ANY && m > 0 && lp->ops[m - 1] == OP_ANY)
      continue; /* %% is % */
    n_any += op == OP_ANY;
    n_one += op == OP_ONE;
    lp->pat[m] = c;
    lp->ops[m++] = op;
  }
  lp->pat_len = m;
  /* Pick the specialised matcher when only leading/trailing % occur. */
  bool lead = m > 0 && lp->ops[0] == OP_ANY;
  bool trail = m > (size_t)lead && lp->ops[m - 1] == OP_ANY;
  size_t inner_any = n_any - lead - trail;
  lp->kind = LIKE_GENERAL;
  if (n_one == 0 && inner_any == 0) {
    lp->kind = lead && trail ? LIKE_INFIX
               : lead        ? LIKE_SUFFIX
               : trail       ? LIKE_PREFIX
                             : LIKE_EXACT;
    lp->lit_len = m - lead - trail;
    if ((lp->lit = malloc(lp->lit_len + 1)) == NULL)
      return -1;
    memcpy(lp->lit, lp->pat + lead, lp->lit_len);
  }
  return 0;
}

void like_destroy(like_pat *lp) {
  free(lp->lit);
  free(lp->pat);
  free(lp->ops);
  memset(lp, 0, sizeof *lp);
}

/* Bytes in the UTF-8 character starting at s[0] (1 for invalid bytes). */
static size_t utf8_len(const char *s, size_t n) {
  uint8_t c = (uint8_t)s[0];
  size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  return k <= n ? k : 1;
}

static bool like_general(const like_pat *lp, const char *s, size_t n) {
  size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
  while (si < n) {
    if (pi < lp->pat_len && lp->ops[pi] == OP_ANY) {
      star_p = pi++;
      star_s = si;
    } else if (pi < lp->pat_len && lp->ops[pi] == OP_ONE) {
      si += utf8_len(s + si, n - si);
      pi++;
    } else if (pi < lp->pat_len && lp->pat[pi] == s[si]) {
      si++;
      pi++;
    } else if (star_p != (size_t)-1) {
      pi = star_p + 1;
      star_s += utf8_len(s + star_s, n - star_s);
      si = star_s;
    } else {
      return false;
    }
  }
  while (pi < lp->pat_len && lp->ops[pi] == OP_ANY)
    pi++;
  return pi == lp->pat_len;
}

bool like_match(const like_pat *lp, const char *s, size_t n) {
  size_t k = lp->lit_len;
  switch (lp->kind) {
  case LIKE_EXACT: return n == k && memcmp(s, lp->lit, k) == 0;
  case LIKE_PREFIX: return n >= k && memcmp(s, lp->lit, k) == 0;
  case LIKE_SUFFIX: return n >= k && memcmp(s + n - k, lp->lit, k) == 0;
  case LIKE_INFIX: return k == 0 || (n >= k && memmem(s, n, lp->lit, k));
  default: return like_general(lp, s, n);
  }
}
