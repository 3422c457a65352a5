/*
 * metrics.c — the metrics registry (metrics.h).
 *
 * Layout: a list of families (registration order, for stable output), each
 * with a list of its series (creation order); and a fixed hash table of all
 * series keyed by (family name, label names, label values) for the update
 * path. Series and families are only ever added (until reset), so a pointer
 * found under the read lock stays valid after the lock is dropped; values
 * are updated with atomics outside the lock.
 *
 * Locking: `reg_lock` (rwlock) guards the family list, every series list and
 * the hash table. Updates take it shared for the lookup; creating a series
 * takes it exclusive (and re-checks). Rendering takes it shared.
 *
 * Doubles are kept as their IEEE-754 bits in _Atomic uint64_t and added with
 * a compare-exchange loop. A histogram keeps one non-cumulative counter per
 * bucket plus an overflow bucket; rendering sums them into the cumulative
 * form, and _count is that same sum, so a scrape is always self-consistent
 * even while observations race with it (_sum may lag by in-flight ones).
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define TABLE_SIZE 1024

typedef enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind;
static const char *const kind_names[] = {"counter", "gauge", "histogram"};

typedef struct family {
  char *name, *help;
  kind kind;
  int n_labels;
  char *label_names[CAIRN_METRICS_MAX_LABELS];
  double bounds[CAIRN_METRICS_MAX_BUCKETS];
  size_t n_bounds;
  atomic_bool warned;   /* a mismatched use was logged already */
  struct cairn_metrics_series *first, *last;
  struct family *next;
} family;

struct cairn_metrics_series {
  family *fam;
  char *values[CAIRN_METRICS_MAX_LABELS];
  uint64_t hash;
  _Atomic uint64_t value;   /* counter/gauge: double bits */
  _Atomic uint64_t sum;     /* histogram: double bits */
  _Atomic uint64_t *counts; /* histogram: n_bounds + 1 (last = overflow) */
  struct cairn_metrics_series *next;      /* in family */
  struct cairn_metrics_series *hash_next; /* in table bucket */
};

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static family *families, *families_last;             /* guarded by reg_lock */
static struct cairn_metrics_series *table[TABLE_SIZE]; /* guarded by reg_lock */

static const double latency_bounds[] = {CAIRN_METRICS_LATENCY_BUCKETS};
static const cairn_metrics_buckets latency_buckets = {
    latency_bounds, sizeof latency_bounds / sizeof latency_bounds[0]};

/* The labels of one call, collected from the varargs. */
typedef struct labels {
  int n;
  const char *names[CAIRN_METRICS_MAX_LABELS];
  const char *values[CAIRN_METRICS_MAX_LABELS];
  bool bad; /* odd count, too many, or NULL value */
} labels;

static void collect_labels(labels *l, va_list ap) {
  memset(l, 0, sizeof *l);
  for (const char *n; (n = va_arg(ap, const char *)) != NULL;) {
    const char *v = va_arg(ap, const char *);
    if (v == NULL || l->n == CAIRN_METRICS_MAX_LABELS) {
      l->bad = true;
      return;
    }
    l->names[l->n] = n, l->values[l->n++] = v;
  }
}

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull; /* separator */
}

static uint64_t series_hash(const char *name, const labels *l) {
  uint64_t h = fnv(14695981039346656037ull, name);
  for (int i = 0; i < l->n; i++)
    h = fnv(fnv(h, l->names[i]), l->values[i]);
  return h;
}

static bool series_matches(const struct cairn_metrics_series *s, uint64_t h,
                           const char *name, const labels *l) {
  if (s->hash != h || s->fam->n_labels != l->n || strcmp(s->fam->name, name) != 0)
    return false;
  for (int i = 0; i < l->n; i++)
    if (strcmp(s->fam->label_names[i], l->names[i]) != 0 ||
        strcmp(s->values[i], l->values[i]) != 0)
      return false;
  return true;
}

static struct cairn_metrics_series *find_nolock(uint64_t h, const char *name,
                                                const labels *l) {
  for (struct cairn_metrics_series *s = table[h % TABLE_SIZE]; s; s = s->hash_next)
    if (series_matches(s, h, name, l))
      return s;
  return NULL;
}

/* ---- creation (slow path, exclusive lock) ------------------------------- */

static bool valid_name(const char *s, bool colon) {
  if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
      return false;
  return true;
}

static family *family_find_nolock(const char *name) {
  for (family *f = families; f; f = f->next)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

static void family_free(family *f) {
  for (int i = 0; i < f->n_labels; i++)
    free(f->label_names[i]);
  free(f->name);
  free(f->help);
  free(f);
}

static family *family_new_nolock(const char *name, const char *help, kind k,
                                 const labels *l, const cairn_metrics_buckets *b) {
  family *f = calloc(1, sizeof *f);
  if (f == NULL || (f->name = strdup(name)) == NULL ||
      (f->help = strdup(help ? help : "")) == NULL) {
    if (f)
      free(f->name), free(f);
    return NULL;
  }
  f->kind = k;
  for (int i = 0; i < l->n; i++, f->n_labels++)
    if ((f->label_names[i] = strdup(l->names[i])) == NULL) {
      family_free(f);
      return NULL;
    }
  if (k == KIND_HISTOGRAM) {
    f->n_bounds = b->count;
    memcpy(f->bounds, b->bounds, b->count * sizeof *b->bounds);
  }
  if (families_last)
    families_last->next = f;
  else
    families = f;
  families_last = f;
  return f;
}

static bool buckets_valid(const cairn_metrics_buckets *b) {
  if (b->bounds == NULL || b->count == 0 || b->count > CAIRN_METRICS_MAX_BUCKETS)
    return false;
  for (size_t i = 1; i < b->count; i++)
    if (!(b->bounds[i] > b->bounds[i - 1]))
      return false;
  return true;
}

/* Log a rejected use once per family (or always when there is none). */
static void reject(family *f, const char *name, const char *why) {
  if (f != NULL && atomic_exchange(&f->warned, true))
    return;
  cairn_log_error("metrics: dropping update of '%s': %s", name ? name : "(null)", why);
}

/* Check that an existing family fits this call. */
static bool family_fits(family *f, kind k, const labels *l) {
  if (f->kind != k) {
    reject(f, f->name, "used with another metric type");
    return false;
  }
  bool same = f->n_labels == l->n;
  for (int i = 0; same && i < l->n; i++)
    same = strcmp(f->label_names[i], l->names[i]) == 0;
  if (!same)
    reject(f, f->name, "label names differ from its first use");
  return same;
}

static struct cairn_metrics_series *series_new_nolock(family *f, uint64_t h,
                                                      const labels *l) {
  struct cairn_metrics_series *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->fam = f, s->hash = h;
  bool ok = true;
  for (int i = 0; i < l->n && ok; i++)
    ok = (s->values[i] = strdup(l->values[i])) != NULL;
  if (ok && f->kind == KIND_HISTOGRAM)
    ok = (s->counts = calloc(f->n_bounds + 1, sizeof *s->counts)) != NULL;
  if (!ok) {
    for (int i = 0; i < l->n; i++)
      free(s->values[i]);
    free(s);
    return NULL;
  }
  if (f->last)
    f->last->next = s;
  else
    f->first = s;
  f->last = s;
  s->hash_next = table[h % TABLE_SIZE];
  table[h % TABLE_SIZE] = s;
  return s;
}

static struct cairn_metrics_series *create(const char *name, const char *help,
                                           kind k, const labels *l,
                                           const cairn_metrics_buckets *b,
                                           uint64_t h) {
  for (int i = 0; i < l->n; i++)
    if (!valid_name(l->names[i], false) || strcmp(l->names[i], "le") == 0) {
      reject(NULL, name, "invalid label name");
      return NULL;
    }
  if (k == KIND_HISTOGRAM && !buckets_valid(b)) {
    reject(NULL, name, "invalid buckets");
    return NULL;
  }
  pthread_rwlock_wrlock(&reg_lock);
  struct cairn_metrics_series *s = find_nolock(h, name, l);
  family *f = s ? s->fam : family_find_nolock(name);
  if (s == NULL && f == NULL)
    f = family_new_nolock(name, help, k, l, b);
  if (f != NULL && !family_fits(f, k, l))
    s = NULL;
  else if (s == NULL && f != NULL)
    s = series_new_nolock(f, h, l);
  pthread_rwlock_unlock(&reg_lock);
  return s;
}

/* Find or create the series for (name, labels) of kind k. */
static struct cairn_metrics_series *lookup(const char *name, const char *help,
                                           kind k, const labels *l,
                                           const cairn_metrics_buckets *b) {
  if (l->bad || !valid_name(name, true)) {
    reject(NULL, name, "invalid metric name or label pairs");
    return NULL;
  }
  uint64_t h = series_hash(name, l);
  pthread_rwlock_rdlock(&reg_lock);
  struct cairn_metrics_series *s = find_nolock(h, name, l);
  pthread_rwlock_unlock(&reg_lock);
  if (s != NULL)
    return s->fam->kind == k ? s : (reject(s->fam, name, "used with another metric type"), NULL);
  return create(name, help, k, l, b ? b : &latency_buckets, h);
}

/* ---- updates ------------------------------------------------------------ */

static uint64_t d2u(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}
static double u2d(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v) {
  uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(p, &old, d2u(u2d(old) + v),
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

void cairn_metrics_series_add(cairn_metrics_series *s, double value) {
  if (s == NULL || s->fam->kind == KIND_HISTOGRAM)
    return;
  if (s->fam->kind == KIND_COUNTER && !(value >= 0)) /* counters only go up */
    return;
  atomic_add_double(&s->value, value);
}

void cairn_metrics_series_observe(cairn_metrics_series *s, double value) {
  if (s == NULL || s->fam->kind != KIND_HISTOGRAM || value != value)
    return;
  size_t i = 0;
  while (i < s->fam->n_bounds && value > s->fam->bounds[i])
    i++;
  atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
  atomic_add_double(&s->sum, value);
}

#define WITH_LABELS(last, l)                                                   \
  labels l;                                                                    \
  do {                                                                         \
    va_list ap;                                                                \
    va_start(ap, last);                                                        \
    collect_labels(&l, ap);                                                    \
    va_end(ap);                                                                \
  } while (0)

void cairn_metrics_counter_add(const char *name, const char *help, double value,
                               ...) {
  WITH_LABELS(value, l);
  cairn_metrics_series_add(lookup(name, help, KIND_COUNTER, &l, NULL), value);
}

void cairn_metrics_gauge_add(const char *name, const char *help, double delta,
                             ...) {
  WITH_LABELS(delta, l);
  cairn_metrics_series_add(lookup(name, help, KIND_GAUGE, &l, NULL), delta);
}

void cairn_metrics_gauge_set(const char *name, const char *help, double value,
                             ...) {
  WITH_LABELS(value, l);
  struct cairn_metrics_series *s = lookup(name, help, KIND_GAUGE, &l, NULL);
  if (s != NULL)
    atomic_store_explicit(&s->value, d2u(value), memory_order_relaxed);
}

void cairn_metrics_observe(const char *name, const char *help,
                           const cairn_metrics_buckets *buckets, double value,
                           ...) {
  WITH_LABELS(value, l);
  cairn_metrics_series_observe(lookup(name, help, KIND_HISTOGRAM, &l, buckets),
                               value);
}

cairn_metrics_series *cairn_metrics_counter(const char *name, const char *help,
                                            ...) {
  WITH_LABELS(help, l);
  return lookup(name, help, KIND_COUNTER, &l, NULL);
}

cairn_metrics_series *cairn_metrics_histogram(const char *name, const char *help,
                                              const cairn_metrics_buckets *buckets,
                                              ...) {
  WITH_LABELS(buckets, l);
  return lookup(name, help, KIND_HISTOGRAM, &l, buckets);
}

void cairn_metrics_rpc_observe(const char *method, int code, double seconds) {
  char c[16];
  snprintf(c, sizeof c, "%d", code);
  cairn_metrics_counter_add("cairn_rpc_requests_total",
                            "RPC requests served, by method and status code", 1,
                            "method", method, "code", c, NULL);
  cairn_metrics_observe("cairn_rpc_latency_seconds", "RPC latency in seconds",
                        NULL, seconds, "method", method, NULL);
}

/* ---- rendering ---------------------------------------------------------- */

/* Shortest of %.15g / %.17g that reads back exactly; +Inf/-Inf/NaN. */
static void put_number(FILE *o, double v) {
  if (v != v) {
    fputs("NaN", o);
    return;
  }
  if (v > 1.7e308 || v < -1.7e308) {
    fputs(v > 0 ? "+Inf" : "-Inf", o);
    return;
  }
  char buf[40];
  snprintf(buf, sizeof buf, "%.15g", v);
  if (strtod(buf, NULL) != v)
    snprintf(buf, sizeof buf, "%.17g", v);
  fputs(buf, o);
}

static void put_escaped(FILE *o, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\\\", o);
    else if (*s == '\n')
      fputs("\\n", o);
    else if (quote && *s == '"')
      fputs("\\\"", o);
    else
      fputc(*s, o);
  }
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void put_labels(FILE *o, const struct cairn_metrics_series *s,
                       const double *le) {
  const family *f = s->fam;
  if (f->n_labels == 0 && le == NULL)
    return;
  fputc('{', o);
  for (int i = 0; i < f->n_labels; i++) {
    fprintf(o, "%s%s=\"", i ? "," : "", f->label_names[i]);
    put_escaped(o, s->values[i], true);
    fputc('"', o);
  }
  if (le != NULL) {
    fprintf(o, "%sle=\"", f->n_labels ? "," : "");
    put_number(o, *le);
    fputc('"', o);
  }
  fputc('}', o);
}

static void render_histogram(FILE *o, const struct cairn_metrics_series *s) {
  const family *f = s->fam;
  uint64_t cum = 0;
  for (size_t i = 0; i <= f->n_bounds; i++) {
    cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    double le = i < f->n_bounds ? f->bounds[i] : INFINITY;
    fprintf(o, "%s_bucket", f->name);
    put_labels(o, s, &le);
    fprintf(o, " %llu\n", (unsigned long long)cum);
  }
  fprintf(o, "%s_sum", f->name);
  put_labels(o, s, NULL);
  fputc(' ', o);
  put_number(o, u2d(atomic_load_explicit(&s->sum, memory_order_relaxed)));
  fprintf(o, "\n%s_count", f->name);
  put_labels(o, s, NULL);
  fprintf(o, " %llu\n", (unsigned long long)cum);
}

static void render_family(FILE *o, const family *f) {
  fprintf(o, "# HELP %s ", f->name);
  put_escaped(o, f->help, false);
  fprintf(o, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
  for (const struct cairn_metrics_series *s = f->first; s; s = s->next) {
    if (f->kind == KIND_HISTOGRAM) {
      render_histogram(o, s);
      continue;
    }
    fputs(f->name, o);
    put_labels(o, s, NULL);
    fputc(' ', o);
    put_number(o, u2d(atomic_load_explicit(&s->value, memory_order_relaxed)));
    fputc('\n', o);
  }
}

cairn_status cairn_metrics_render(char **out, size_t *len, cairn_error *err) {
  *out = NULL;
  size_t n = 0;
  FILE *o = open_memstream(out, &n);
  if (o == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "metrics render: out of memory");
  pthread_rwlock_rdlock(&reg_lock);
  for (const family *f = families; f; f = f->next)
    render_family(o, f);
  pthread_rwlock_unlock(&reg_lock);
  if (fclose(o) != 0 || *out == NULL) {
    free(*out);
    *out = NULL;
    return cairn_error_set(err, CAIRN_NOMEM, "metrics render: out of memory");
  }
  if (len != NULL)
    *len = n;
  return CAIRN_OK;
}

void cairn_metrics_reset(void) {
  pthread_rwlock_wrlock(&reg_lock);
  for (family *f = families, *nf; f; f = nf) {
    nf = f->next;
    for (struct cairn_metrics_series *s = f->first, *ns; s; s = ns) {
      ns = s->next;
      for (int i = 0; i < f->n_labels; i++)
        free(s->values[i]);
      free((void *)s->counts);
      free(s);
    }
    family_free(f);
  }
  families = families_last = NULL;
  memset(table, 0, sizeof table);
  pthread_rwlock_unlock(&reg_lock);
}
