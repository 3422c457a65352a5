/*
 * binlog.c — the segment file container and its three uses: insert logs
 * (one column), delta logs (deleted pks) and stats logs (pk range + bloom).
 *
 * FORMAT (version 1). All integers little-endian; Cairn runs on
 * little-endian hosts only (checked at compile time), so sections are the
 * in-memory buffers of column.h byte for byte.
 *
 *   offset  size  header (64 bytes)
 *   0       8     magic "CRNBLOG1"
 *   8       4     version = 1
 *   12      4     kind: 1 insert, 2 delta, 3 stats
 *   16      4     data type (Milvus number; delta/stats: the pk type)
 *   20      4     element type (Array), else 0
 *   24      8     dim (dense vectors), else 0
 *   32      8     row count n (insert: rows; delta: deletes; stats: pks)
 *   40      8     field id (insert), else 0
 *   48      4     flags: bit 0 has a validity section (nullable column);
 *                        bit 1 has MIN/MAX sections (stats); others 0
 *   52      4     section count s (1..8)
 *   56      8     reserved, 0
 *
 *   then s sections, each starting at an offset that is a multiple of 64
 *   and followed by zero bytes up to the next multiple of 64, in any order;
 *
 *   section table at T (a multiple of 64): s entries of 24 bytes
 *     0 4 section id   4 4 reserved 0   8 8 offset   16 8 length (bytes)
 *
 *   footer (24 bytes, the last of the file):
 *     0 8 T   8 4 s   12 8 magic "CRNBEND1"   20 4 CRC-32C of every byte
 *     of the file before this field.
 *
 * Section ids and contents (n = row count):
 *   1 VALIDITY      ceil(n/8) bytes, bit i%8 of byte i/8 = row i valid;
 *                   bits past n are 0. Present iff flags bit 0.
 *   2 OFFSETS       n+1 uint64, [0] = 0, non-decreasing. VarChar/JSON (and
 *                   VarChar pks of delta logs): byte offsets into DATA,
 *                   [n] = DATA length. Array: element offsets, [n] = element
 *                   count m. Sparse: pair offsets, [n] = pair count m.
 *   3 VALUES        fixed width: n values (Bool 0/1 bytes); dense vectors:
 *                   n rows of row bytes (dim*4, dim*2, dim/8, dim); Array:
 *                   m elements; sparse: m (uint32 index, float value)
 *                   pairs, indices strictly increasing within a row; delta
 *                   logs with Int64 pks: n int64 keys.
 *   4 DATA          VarChar/JSON bytes; VarChar array element bytes.
 *   5 ELEM_OFFSETS  VarChar arrays: m+1 uint64 byte offsets into DATA,
 *                   [0] = 0, non-decreasing, [m] = DATA length.
 *   6 TIMESTAMPS    delta logs: n uint64 hybrid timestamps.
 *   7 BLOOM         stats: the split-block bloom filter, 32-byte blocks
 *                   (eight uint32 words), at least one block.
 *   8 MIN, 9 MAX    stats with n > 0: Int64: 8 bytes; VarChar: the bytes.
 *
 * A file is valid when: its length is at least header + footer; both
 * magics match; version is 1; the CRC matches; T, s and the table fit the
 * file exactly (T + 24*s + 24 = length); every section is known, appears
 * once, starts at a multiple of 64 at or after byte 64, ends at or before
 * T and overlaps no other; exactly the sections its kind and type need are
 * present, each with exactly the length above; offsets obey their rules;
 * Bool values are 0 or 1; sparse rows are sorted; reserved fields are 0.
 * JSON text and UTF-8 are not re-validated on read (writers validated them
 * on the way in; the filter engine treats bad JSON as missing values).
 */
#include "binlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "crc32c.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "binlog files are little-endian; big-endian hosts are not supported"
#endif

#define HEADER_SIZE 64
#define FOOTER_SIZE 24
#define ENTRY_SIZE 24
#define ALIGN 64
#define MAX_SECTIONS 8
#define VERSION 1
#define MAGIC "CRNBLOG1"
#define END_MAGIC "CRNBEND1"
#define FLAG_VALIDITY 1u
#define FLAG_RANGE 2u

enum {
  SEC_VALIDITY = 1,
  SEC_OFFSETS = 2,
  SEC_VALUES = 3,
  SEC_DATA = 4,
  SEC_ELEM_OFFSETS = 5,
  SEC_TIMESTAMPS = 6,
  SEC_BLOOM = 7,
  SEC_MIN = 8,
  SEC_MAX = 9,
  SEC_LAST = 9,
};

static const char *const section_names[] = {
    "?", "validity", "offsets", "values", "data", "elem_offsets",
    "timestamps", "bloom", "min", "max"};

static uint64_t round_up(uint64_t v) { return (v + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- bloom filter -------------------------------------------------------- */

#define BLOOM_BITS_PER_KEY 10
#define BLOOM_BLOCK_BYTES 32
#define BLOOM_MAX_BLOCKS ((size_t)1 << 27) /* 4 GiB */

static const uint32_t bloom_salt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU,
                                       0xa2b7289dU, 0x705495c7U, 0x2df1424bU,
                                       0x9efc4947U, 0x5c6bfb31U};

uint64_t cairn_pk_hash_int(int64_t pk) { return XXH3_64bits(&pk, sizeof pk); }

uint64_t cairn_pk_hash_str(const char *pk, size_t len) {
  return XXH3_64bits(pk, len);
}

cairn_status cairn_bloom_init(cairn_bloom *b, size_t n_keys, cairn_error *err) {
  memset(b, 0, sizeof *b);
  size_t blocks = n_keys / (BLOOM_BLOCK_BYTES * 8 / BLOOM_BITS_PER_KEY) + 1;
  if (blocks > BLOOM_MAX_BLOCKS)
    return cairn_error_set(err, CAIRN_TOO_LARGE, "bloom filter for %zu keys "
                                                 "is too large", n_keys);
  b->words = calloc(blocks, BLOOM_BLOCK_BYTES);
  if (b->words == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  b->n_blocks = blocks;
  b->owned = true;
  return CAIRN_OK;
}

void cairn_bloom_destroy(cairn_bloom *b) {
  if (b->owned)
    free(b->words);
  memset(b, 0, sizeof *b);
}

static uint32_t *bloom_block(const cairn_bloom *b, uint64_t hash) {
  uint64_t i = ((hash >> 32) * (uint64_t)b->n_blocks) >> 32;
  return b->words + i * 8;
}

void cairn_bloom_add(cairn_bloom *b, uint64_t hash) {
  uint32_t *w = bloom_block(b, hash);
  for (int i = 0; i < 8; i++)
    w[i] |= 1u << (((uint32_t)hash * bloom_salt[i]) >> 27);
}

bool cairn_bloom_check(const cairn_bloom *b, uint64_t hash) {
  const uint32_t *w = bloom_block(b, hash);
  for (int i = 0; i < 8; i++)
    if ((w[i] & (1u << (((uint32_t)hash * bloom_salt[i]) >> 27))) == 0)
      return false;
  return true;
}

/* ---- emitting files ------------------------------------------------------ */

typedef struct section {
  uint32_t id;
  const void *ptr;     /* may be NULL when len is 0 or `fill` is used */
  uint64_t len;
  int mask_last;       /* validity of a snapshot: keep bits < mask_last */
} section;

typedef struct file_head {
  cairn_binlog_kind kind;
  cairn_data_type type, element_type;
  int64_t dim;
  uint64_t n_rows;
  int64_t field_id;
  uint32_t flags;
} file_head;

typedef struct emitter {
  cairn_binlog_sink sink;
  void *ctx;
  uint32_t crc;
  uint64_t pos;
} emitter;

static cairn_status emit(emitter *e, const void *p, size_t len, cairn_error *err) {
  if (len == 0)
    return CAIRN_OK;
  e->crc = cairn_crc32c_update(e->crc, p, len);
  e->pos += len;
  return e->sink(e->ctx, p, len, err);
}

static cairn_status emit_zeros(emitter *e, size_t len, cairn_error *err) {
  static const uint8_t zeros[ALIGN];
  return emit(e, zeros, len, err);
}

static cairn_status emit_section(emitter *e, const section *s, cairn_error *err) {
  cairn_status st;
  size_t body = (size_t)s->len;
  if (s->mask_last > 0 && body > 0)
    body--; /* the last validity byte goes out masked */
  if (s->ptr == NULL && body > 0) { /* validity of a view without bitmap */
    uint8_t ones[ALIGN];
    memset(ones, 0xff, sizeof ones);
    for (size_t done = 0; done < body; done += sizeof ones)
      if ((st = emit(e, ones, body - done < sizeof ones ? body - done : sizeof ones,
                     err)) != CAIRN_OK)
        return st;
  } else if ((st = emit(e, s->ptr, body, err)) != CAIRN_OK) {
    return st;
  }
  if (s->mask_last > 0 && s->len > 0) {
    uint8_t last = s->ptr ? ((const uint8_t *)s->ptr)[body] : 0xff;
    last &= (uint8_t)((1u << s->mask_last) - 1);
    if ((st = emit(e, &last, 1, err)) != CAIRN_OK)
      return st;
  }
  return emit_zeros(e, (size_t)(round_up(s->len) - s->len), err);
}

static void put_header(uint8_t h[HEADER_SIZE], const file_head *fh, uint32_t n) {
  memset(h, 0, HEADER_SIZE);
  memcpy(h, MAGIC, 8);
  wr32(h + 8, VERSION);
  wr32(h + 12, (uint32_t)fh->kind);
  wr32(h + 16, (uint32_t)fh->type);
  wr32(h + 20, (uint32_t)fh->element_type);
  wr64(h + 24, (uint64_t)fh->dim);
  wr64(h + 32, fh->n_rows);
  wr64(h + 40, (uint64_t)fh->field_id);
  wr32(h + 48, fh->flags);
  wr32(h + 52, n);
}

/* Streams header, sections, table and footer (FORMAT above). */
static cairn_status emit_file(const file_head *fh, const section *secs,
                              uint32_t n, cairn_binlog_sink sink, void *ctx,
                              cairn_error *err) {
  emitter e = {sink, ctx, 0, 0};
  uint8_t buf[HEADER_SIZE];
  put_header(buf, fh, n);
  cairn_status st = emit(&e, buf, HEADER_SIZE, err);
  uint64_t offs[MAX_SECTIONS];
  for (uint32_t i = 0; i < n && st == CAIRN_OK; i++) {
    offs[i] = e.pos;
    st = emit_section(&e, &secs[i], err);
  }
  uint64_t table = e.pos;
  for (uint32_t i = 0; i < n && st == CAIRN_OK; i++) {
    memset(buf, 0, ENTRY_SIZE);
    wr32(buf, secs[i].id);
    wr64(buf + 8, offs[i]);
    wr64(buf + 16, secs[i].len);
    st = emit(&e, buf, ENTRY_SIZE, err);
  }
  if (st != CAIRN_OK)
    return st;
  wr64(buf, table);
  wr32(buf + 8, n);
  memcpy(buf + 12, END_MAGIC, 8);
  if ((st = emit(&e, buf, 20, err)) != CAIRN_OK)
    return st;
  wr32(buf, e.crc);
  return sink(ctx, buf, 4, err);
}

static uint64_t file_size(const section *secs, uint32_t n) {
  uint64_t size = HEADER_SIZE;
  for (uint32_t i = 0; i < n; i++)
    size += round_up(secs[i].len);
  return size + (uint64_t)n * ENTRY_SIZE + FOOTER_SIZE;
}

typedef struct mem_sink {
  uint8_t *buf;
  size_t len, cap;
} mem_sink;

static cairn_status mem_write(void *ctx, const void *data, size_t len,
                              cairn_error *err) {
  mem_sink *m = ctx;
  if (len > m->cap - m->len)
    return cairn_error_set(err, CAIRN_INTERNAL, "binlog size miscomputed");
  memcpy(m->buf + m->len, data, len);
  m->len += len;
  return CAIRN_OK;
}

/* Emits into one malloc'd, 64-byte aligned buffer. */
static cairn_status encode_mem(const file_head *fh, const section *secs,
                               uint32_t n, void **out, size_t *len,
                               cairn_error *err) {
  *out = NULL;
  *len = 0;
  uint64_t size = file_size(secs, n);
  if (size > SIZE_MAX - ALIGN)
    return cairn_error_set(err, CAIRN_TOO_LARGE, "binlog too large");
  mem_sink m = {aligned_alloc(ALIGN, (size_t)round_up(size)), 0, (size_t)size};
  if (m.buf == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = emit_file(fh, secs, n, mem_write, &m, err);
  if (st != CAIRN_OK) {
    free(m.buf);
    return st;
  }
  *out = m.buf;
  *len = m.len;
  return CAIRN_OK;
}

/* ---- insert logs: column view -> sections -------------------------------- */

typedef enum vkind { VK_FIXED, VK_VECTOR, VK_VAR, VK_ARRAY, VK_ARRAY_STR,
                     VK_SPARSE } vkind;

static vkind vkind_of(const cairn_column_type *t) {
  if (cairn_type_width(t->type) != 0)
    return VK_FIXED;
  switch (t->type) {
  case CAIRN_TYPE_VARCHAR: case CAIRN_TYPE_STRING: case CAIRN_TYPE_JSON:
    return VK_VAR;
  case CAIRN_TYPE_ARRAY:
    return t->element_type == CAIRN_TYPE_VARCHAR ? VK_ARRAY_STR : VK_ARRAY;
  case CAIRN_TYPE_SPARSE_FLOAT_VECTOR:
    return VK_SPARSE;
  default:
    return VK_VECTOR;
  }
}

/* Fills the sections of a valid column view; returns their count. */
static uint32_t column_sections(const cairn_colview *v, section *s) {
  uint32_t n = 0;
  size_t rows = v->n_rows;
  const cairn_expr_column *c = &v->col;
  if (v->type.nullable)
    s[n++] = (section){SEC_VALIDITY, c->validity, (rows + 7) / 8, (int)(rows % 8)};
  vkind k = vkind_of(&v->type);
  if (k == VK_FIXED || k == VK_VECTOR) {
    size_t w = k == VK_FIXED ? cairn_type_width(v->type.type)
                             : cairn_vector_row_bytes(v->type.type, v->type.dim);
    s[n++] = (section){SEC_VALUES, c->values, (uint64_t)rows * w, 0};
    return n;
  }
  uint64_t last = c->offsets[rows];
  s[n++] = (section){SEC_OFFSETS, c->offsets, ((uint64_t)rows + 1) * 8, 0};
  if (k == VK_VAR) {
    s[n++] = (section){SEC_DATA, c->data, last, 0};
  } else if (k == VK_ARRAY || k == VK_SPARSE) {
    size_t w = k == VK_ARRAY ? cairn_type_width(v->type.element_type)
                             : sizeof(cairn_sparse_pair);
    s[n++] = (section){SEC_VALUES, c->values, last * w, 0};
  } else {
    s[n++] = (section){SEC_ELEM_OFFSETS, c->elem_offsets, (last + 1) * 8, 0};
    s[n++] = (section){SEC_DATA, c->data, c->elem_offsets[last], 0};
  }
  return n;
}

static file_head column_head(const cairn_colview *v) {
  return (file_head){CAIRN_BINLOG_INSERT, v->type.type, v->type.element_type,
                     v->type.dim, v->n_rows, v->type.field_id,
                     v->type.nullable ? FLAG_VALIDITY : 0};
}

cairn_status cairn_binlog_write(const cairn_colview *v, cairn_binlog_sink sink,
                                void *ctx, cairn_error *err) {
  cairn_status st = cairn_column_type_check(&v->type, err);
  if (st != CAIRN_OK)
    return st;
  section s[MAX_SECTIONS];
  uint32_t n = column_sections(v, s);
  file_head fh = column_head(v);
  return emit_file(&fh, s, n, sink, ctx, err);
}

cairn_status cairn_binlog_encode(const cairn_colview *v, void **out,
                                 size_t *len, cairn_error *err) {
  *out = NULL;
  *len = 0;
  cairn_status st = cairn_column_type_check(&v->type, err);
  if (st != CAIRN_OK)
    return st;
  section s[MAX_SECTIONS];
  uint32_t n = column_sections(v, s);
  file_head fh = column_head(v);
  return encode_mem(&fh, s, n, out, len, err);
}

/* ---- delta and stats logs ------------------------------------------------ */

static bool pk_type_ok(cairn_data_type t) {
  return t == CAIRN_TYPE_INT64 || t == CAIRN_TYPE_VARCHAR;
}

cairn_status cairn_deltalog_encode(const cairn_delta *d, void **out,
                                   size_t *len, cairn_error *err) {
  *out = NULL;
  *len = 0;
  if (!pk_type_ok(d->pk_type))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "delta log primary keys must be Int64 or VarChar");
  section s[3];
  uint32_t n = 0;
  if (d->pk_type == CAIRN_TYPE_INT64) {
    s[n++] = (section){SEC_VALUES, d->int_pks, (uint64_t)d->n * 8, 0};
  } else {
    s[n++] = (section){SEC_OFFSETS, d->str_offsets, ((uint64_t)d->n + 1) * 8, 0};
    s[n++] = (section){SEC_DATA, d->str_data, d->str_offsets[d->n], 0};
  }
  s[n++] = (section){SEC_TIMESTAMPS, d->ts, (uint64_t)d->n * 8, 0};
  file_head fh = {CAIRN_BINLOG_DELTA, d->pk_type, CAIRN_TYPE_NONE, 0, d->n, 0, 0};
  return encode_mem(&fh, s, n, out, len, err);
}

/* Min/max of a pk view: row indexes of the smallest and largest key. */
static void pk_range(const cairn_colview *pk, size_t *lo, size_t *hi) {
  *lo = *hi = 0;
  for (size_t i = 1; i < pk->n_rows; i++) {
    if (pk->type.type == CAIRN_TYPE_INT64) {
      const int64_t *k = pk->col.values;
      if (k[i] < k[*lo]) *lo = i;
      if (k[i] > k[*hi]) *hi = i;
      continue;
    }
    size_t la, lb, lc;
    const char *a = cairn_colview_string(pk, i, &la);
    const char *b = cairn_colview_string(pk, *lo, &lb);
    const char *c = cairn_colview_string(pk, *hi, &lc);
    int x = memcmp(a, b, la < lb ? la : lb);
    if (x < 0 || (x == 0 && la < lb)) *lo = i;
    x = memcmp(a, c, la < lc ? la : lc);
    if (x > 0 || (x == 0 && la > lc)) *hi = i;
  }
}

static uint64_t pk_hash_row(const cairn_colview *pk, size_t row) {
  if (pk->type.type == CAIRN_TYPE_INT64)
    return cairn_pk_hash_int(((const int64_t *)pk->col.values)[row]);
  size_t len;
  const char *s = cairn_colview_string(pk, row, &len);
  return cairn_pk_hash_str(s, len);
}

static section pk_section(const cairn_colview *pk, uint32_t id, size_t row) {
  if (pk->type.type == CAIRN_TYPE_INT64)
    return (section){id, (const int64_t *)pk->col.values + row, 8, 0};
  size_t len;
  const char *s = cairn_colview_string(pk, row, &len);
  return (section){id, s, len, 0};
}

cairn_status cairn_statslog_encode(const cairn_colview *pk, void **out,
                                   size_t *len, cairn_error *err) {
  *out = NULL;
  *len = 0;
  if (!pk_type_ok(pk->type.type) || pk->col.validity != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "stats need an Int64 or VarChar primary key "
                           "column without nulls");
  cairn_bloom bloom;
  cairn_status st = cairn_bloom_init(&bloom, pk->n_rows, err);
  if (st != CAIRN_OK)
    return st;
  for (size_t i = 0; i < pk->n_rows; i++)
    cairn_bloom_add(&bloom, pk_hash_row(pk, i));
  section s[3];
  uint32_t n = 0;
  s[n++] = (section){SEC_BLOOM, bloom.words, bloom.n_blocks * BLOOM_BLOCK_BYTES, 0};
  if (pk->n_rows > 0) {
    size_t lo, hi;
    pk_range(pk, &lo, &hi);
    s[n++] = pk_section(pk, SEC_MIN, lo);
    s[n++] = pk_section(pk, SEC_MAX, hi);
  }
  file_head fh = {CAIRN_BINLOG_STATS, pk->type.type, CAIRN_TYPE_NONE, 0,
                  pk->n_rows, 0, pk->n_rows > 0 ? FLAG_RANGE : 0};
  st = encode_mem(&fh, s, n, out, len, err);
  cairn_bloom_destroy(&bloom);
  return st;
}

/* ---- reading and validation --------------------------------------------- */

struct cairn_binlog {
  cairn_binlog_info info;
  const uint8_t *base;
  size_t len;
  void *owned;    /* malloc'd copy of a misaligned buffer */
  void *map;      /* mmap'ed file */
  const uint8_t *sec[SEC_LAST + 1];
  uint64_t sec_len[SEC_LAST + 1];
  bool has[SEC_LAST + 1];
};

#define CORRUPT(err, ...) cairn_error_set((err), CAIRN_CORRUPT, __VA_ARGS__)

/* Header, footer, CRC and section table. */
static cairn_status parse_frame(cairn_binlog *b, cairn_error *err) {
  const uint8_t *p = b->base;
  size_t len = b->len;
  if (len < HEADER_SIZE + FOOTER_SIZE)
    return CORRUPT(err, "binlog truncated: %zu bytes, the header and footer "
                        "alone take %d", len, HEADER_SIZE + FOOTER_SIZE);
  if (memcmp(p, MAGIC, 8) != 0)
    return CORRUPT(err, "not a binlog: bad magic");
  const uint8_t *f = p + len - FOOTER_SIZE;
  if (memcmp(f + 12, END_MAGIC, 8) != 0)
    return CORRUPT(err, "binlog truncated or corrupt: bad footer magic");
  uint32_t crc = cairn_crc32c_update(0, p, len - 4);
  if (crc != rd32(f + 20))
    return CORRUPT(err, "binlog checksum mismatch (stored %08x, computed %08x)",
                   rd32(f + 20), crc);
  if (rd32(p + 8) != VERSION)
    return CORRUPT(err, "unsupported binlog version %u", rd32(p + 8));
  uint64_t table = rd64(f);
  uint32_t n = rd32(f + 8);
  if (n != rd32(p + 52) || n == 0 || n > MAX_SECTIONS || rd64(p + 56) != 0)
    return CORRUPT(err, "bad binlog section count %u", n);
  if (table % ALIGN != 0 || table < HEADER_SIZE ||
      table + (uint64_t)n * ENTRY_SIZE + FOOTER_SIZE != len)
    return CORRUPT(err, "bad binlog section table offset %" PRIu64, table);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *e = p + table + (size_t)i * ENTRY_SIZE;
    uint32_t id = rd32(e);
    uint64_t off = rd64(e + 8), sl = rd64(e + 16);
    if (id == 0 || id > SEC_LAST || b->has[id] || rd32(e + 4) != 0)
      return CORRUPT(err, "bad or repeated binlog section id %u", id);
    if (off % ALIGN != 0 || off < HEADER_SIZE || off > table ||
        sl > table - off)
      return CORRUPT(err, "binlog section %s out of bounds", section_names[id]);
    b->has[id] = true;
    b->sec[id] = p + off;
    b->sec_len[id] = sl;
  }
  for (int i = 1; i <= SEC_LAST; i++) /* no two sections overlap */
    for (int j = 1; j <= SEC_LAST; j++)
      if (i != j && b->has[i] && b->has[j] && b->sec_len[i] > 0 &&
          b->sec_len[j] > 0 && b->sec[i] < b->sec[j] &&
          (uint64_t)(b->sec[i] - p) + b->sec_len[i] > (uint64_t)(b->sec[j] - p))
        return CORRUPT(err, "binlog sections %s and %s overlap",
                       section_names[i], section_names[j]);
  return CAIRN_OK;
}

/* Exactly the sections in `want` (a bit per id) must be present. */
static cairn_status want_sections(const cairn_binlog *b, unsigned want,
                                  cairn_error *err) {
  for (int id = 1; id <= SEC_LAST; id++) {
    bool need = (want >> id) & 1;
    if (need != b->has[id])
      return CORRUPT(err, "binlog %s section %s", section_names[id],
                     need ? "missing" : "unexpected");
  }
  return CAIRN_OK;
}

static cairn_status want_len(const cairn_binlog *b, int id, uint64_t count,
                             uint64_t width, cairn_error *err) {
  uint64_t want;
  if (__builtin_mul_overflow(count, width, &want) || b->sec_len[id] != want)
    return CORRUPT(err, "binlog %s section has %" PRIu64 " bytes, expected "
                        "%" PRIu64 " x %" PRIu64,
                   section_names[id], b->sec_len[id], count, width);
  return CAIRN_OK;
}

/* An offsets section of count+1 entries: [0] = 0, non-decreasing; the last
 * entry goes to *last. */
static cairn_status check_offsets(const cairn_binlog *b, int id, uint64_t count,
                                  uint64_t *last, cairn_error *err) {
  cairn_status st = want_len(b, id, count + 1, 8, err);
  if (st != CAIRN_OK)
    return st;
  const uint64_t *o = (const uint64_t *)b->sec[id];
  if (o[0] != 0)
    return CORRUPT(err, "binlog %s do not start at 0", section_names[id]);
  for (uint64_t i = 0; i < count; i++)
    if (o[i + 1] < o[i])
      return CORRUPT(err, "binlog %s decrease at entry %" PRIu64,
                     section_names[id], i + 1);
  *last = o[count];
  return CAIRN_OK;
}

static cairn_status check_bools(const uint8_t *v, uint64_t n, cairn_error *err) {
  for (uint64_t i = 0; i < n; i++)
    if (v[i] > 1)
      return CORRUPT(err, "binlog Bool value %u at %" PRIu64 " is not 0 or 1",
                     v[i], i);
  return CAIRN_OK;
}

static cairn_status check_validity(const cairn_binlog *b, uint64_t n,
                                   cairn_error *err) {
  cairn_status st = want_len(b, SEC_VALIDITY, (n + 7) / 8, 1, err);
  if (st != CAIRN_OK || n % 8 == 0)
    return st;
  if (b->sec[SEC_VALIDITY][n / 8] >> (n % 8) != 0)
    return CORRUPT(err, "binlog validity bits set past the last row");
  return CAIRN_OK;
}

static cairn_status check_sparse(const cairn_binlog *b, uint64_t n,
                                 cairn_error *err) {
  const uint64_t *o = (const uint64_t *)b->sec[SEC_OFFSETS];
  const uint8_t *v = b->sec[SEC_VALUES];
  for (uint64_t r = 0; r < n; r++)
    for (uint64_t i = o[r] + 1; i < o[r + 1]; i++)
      if (rd32(v + i * 8) <= rd32(v + (i - 1) * 8))
        return CORRUPT(err, "binlog sparse row %" PRIu64 " is not sorted by "
                            "index", r);
  return CAIRN_OK;
}

/* The value sections of an insert log (validity checked apart). */
static cairn_status check_insert_values(const cairn_binlog *b, vkind k,
                                        cairn_error *err) {
  const cairn_column_type *t = &b->info.type;
  uint64_t n = b->info.n_rows, last = 0, bytes = 0;
  unsigned v = t->nullable ? 1u << SEC_VALIDITY : 0;
  static const unsigned need[] = {
      [VK_FIXED] = 1u << SEC_VALUES, [VK_VECTOR] = 1u << SEC_VALUES,
      [VK_VAR] = 1u << SEC_OFFSETS | 1u << SEC_DATA,
      [VK_ARRAY] = 1u << SEC_OFFSETS | 1u << SEC_VALUES,
      [VK_ARRAY_STR] = 1u << SEC_OFFSETS | 1u << SEC_ELEM_OFFSETS | 1u << SEC_DATA,
      [VK_SPARSE] = 1u << SEC_OFFSETS | 1u << SEC_VALUES};
  cairn_status st = want_sections(b, need[k] | v, err);
  if (st != CAIRN_OK)
    return st;
  switch (k) {
  case VK_FIXED:
    st = want_len(b, SEC_VALUES, n, cairn_type_width(t->type), err);
    if (st == CAIRN_OK && t->type == CAIRN_TYPE_BOOL)
      st = check_bools(b->sec[SEC_VALUES], n, err);
    return st;
  case VK_VECTOR:
    return want_len(b, SEC_VALUES, n, cairn_vector_row_bytes(t->type, t->dim), err);
  case VK_VAR:
    if ((st = check_offsets(b, SEC_OFFSETS, n, &last, err)) != CAIRN_OK)
      return st;
    return want_len(b, SEC_DATA, last, 1, err);
  case VK_ARRAY:
  case VK_SPARSE:
    if ((st = check_offsets(b, SEC_OFFSETS, n, &last, err)) != CAIRN_OK)
      return st;
    if (k == VK_SPARSE) {
      st = want_len(b, SEC_VALUES, last, sizeof(cairn_sparse_pair), err);
      return st == CAIRN_OK ? check_sparse(b, n, err) : st;
    }
    st = want_len(b, SEC_VALUES, last, cairn_type_width(t->element_type), err);
    if (st == CAIRN_OK && t->element_type == CAIRN_TYPE_BOOL)
      st = check_bools(b->sec[SEC_VALUES], last, err);
    return st;
  case VK_ARRAY_STR:
    if ((st = check_offsets(b, SEC_OFFSETS, n, &last, err)) != CAIRN_OK ||
        (st = check_offsets(b, SEC_ELEM_OFFSETS, last, &bytes, err)) != CAIRN_OK)
      return st;
    return want_len(b, SEC_DATA, bytes, 1, err);
  }
  return CAIRN_OK;
}

static cairn_status check_insert(cairn_binlog *b, cairn_error *err) {
  cairn_column_type *t = &b->info.type;
  cairn_error tmp;
  if (cairn_column_type_check(t, &tmp) != CAIRN_OK)
    return CORRUPT(err, "binlog column type invalid: %s", tmp.message);
  if (b->info.flags & ~FLAG_VALIDITY)
    return CORRUPT(err, "binlog has unknown flags %#x", b->info.flags);
  if (vkind_of(t) != VK_VECTOR && t->dim != 0)
    return CORRUPT(err, "binlog dim %lld on a non-vector column",
                   (long long)t->dim);
  if (t->type != CAIRN_TYPE_ARRAY && t->element_type != CAIRN_TYPE_NONE)
    return CORRUPT(err, "binlog element type on a non-array column");
  cairn_status st = check_insert_values(b, vkind_of(t), err);
  if (st == CAIRN_OK && t->nullable)
    st = check_validity(b, b->info.n_rows, err);
  return st;
}

static cairn_status check_delta(cairn_binlog *b, cairn_error *err) {
  uint64_t n = b->info.n_rows, last = 0;
  bool is_int = b->info.type.type == CAIRN_TYPE_INT64;
  unsigned want = 1u << SEC_TIMESTAMPS |
                  (is_int ? 1u << SEC_VALUES : 1u << SEC_OFFSETS | 1u << SEC_DATA);
  cairn_status st = want_sections(b, want, err);
  if (st == CAIRN_OK)
    st = want_len(b, SEC_TIMESTAMPS, n, 8, err);
  if (st != CAIRN_OK)
    return st;
  if (is_int)
    return want_len(b, SEC_VALUES, n, 8, err);
  if ((st = check_offsets(b, SEC_OFFSETS, n, &last, err)) != CAIRN_OK)
    return st;
  return want_len(b, SEC_DATA, last, 1, err);
}

static int pk_cmp_sections(const cairn_binlog *b) {
  if (b->info.type.type == CAIRN_TYPE_INT64) {
    int64_t lo = (int64_t)rd64(b->sec[SEC_MIN]), hi = (int64_t)rd64(b->sec[SEC_MAX]);
    return (lo > hi) - (lo < hi);
  }
  uint64_t la = b->sec_len[SEC_MIN], lb = b->sec_len[SEC_MAX];
  int x = memcmp(b->sec[SEC_MIN], b->sec[SEC_MAX], la < lb ? la : lb);
  return x != 0 ? x : (la > lb) - (la < lb);
}

static cairn_status check_stats(cairn_binlog *b, cairn_error *err) {
  bool range = b->info.n_rows > 0;
  if (b->info.flags != (range ? FLAG_RANGE : 0))
    return CORRUPT(err, "binlog stats flags %#x do not match the row count",
                   b->info.flags);
  unsigned want = 1u << SEC_BLOOM | (range ? 1u << SEC_MIN | 1u << SEC_MAX : 0);
  cairn_status st = want_sections(b, want, err);
  if (st != CAIRN_OK)
    return st;
  uint64_t bl = b->sec_len[SEC_BLOOM];
  if (bl == 0 || bl % BLOOM_BLOCK_BYTES != 0)
    return CORRUPT(err, "binlog bloom filter of %" PRIu64 " bytes", bl);
  if (range && b->info.type.type == CAIRN_TYPE_INT64 &&
      ((st = want_len(b, SEC_MIN, 1, 8, err)) != CAIRN_OK ||
       (st = want_len(b, SEC_MAX, 1, 8, err)) != CAIRN_OK))
    return st;
  if (range && pk_cmp_sections(b) > 0)
    return CORRUPT(err, "binlog stats min is greater than max");
  return CAIRN_OK;
}

/* Header fields, then the per-kind rules. */
static cairn_status check_file(cairn_binlog *b, cairn_error *err) {
  cairn_status st = parse_frame(b, err);
  if (st != CAIRN_OK)
    return st;
  const uint8_t *p = b->base;
  cairn_binlog_info *in = &b->info;
  in->version = rd32(p + 8);
  in->kind = (cairn_binlog_kind)rd32(p + 12);
  in->type.type = (cairn_data_type)rd32(p + 16);
  in->type.element_type = (cairn_data_type)rd32(p + 20);
  in->type.dim = (int64_t)rd64(p + 24);
  in->n_rows = rd64(p + 32);
  in->type.field_id = (int64_t)rd64(p + 40);
  in->flags = rd32(p + 48);
  in->type.nullable = (in->flags & FLAG_VALIDITY) != 0;
  in->file_size = b->len;
  if (in->n_rows > b->len) /* every kind stores at least a byte per row */
    return CORRUPT(err, "binlog row count %" PRIu64 " exceeds the file",
                   in->n_rows);
  if (in->kind == CAIRN_BINLOG_INSERT)
    return check_insert(b, err);
  if (in->kind != CAIRN_BINLOG_DELTA && in->kind != CAIRN_BINLOG_STATS)
    return CORRUPT(err, "unknown binlog kind %u", (unsigned)in->kind);
  if (!pk_type_ok(in->type.type) || in->type.element_type != CAIRN_TYPE_NONE ||
      in->type.dim != 0 || in->type.field_id != 0)
    return CORRUPT(err, "binlog %s header fields invalid (pk type %d)",
                   in->kind == CAIRN_BINLOG_DELTA ? "delta" : "stats",
                   (int)in->type.type);
  if (in->kind == CAIRN_BINLOG_DELTA)
    return in->flags != 0 ? CORRUPT(err, "binlog delta flags %#x", in->flags)
                          : check_delta(b, err);
  return check_stats(b, err);
}

static cairn_status open_common(cairn_binlog *b, cairn_binlog **out,
                                cairn_error *err) {
  cairn_status st = check_file(b, err);
  if (st != CAIRN_OK) {
    cairn_binlog_close(b);
    return st;
  }
  *out = b;
  return CAIRN_OK;
}

cairn_status cairn_binlog_open_buffer(const void *buf, size_t len,
                                      cairn_binlog **out, cairn_error *err) {
  *out = NULL;
  cairn_binlog *b = calloc(1, sizeof *b);
  if (b == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  b->base = buf;
  b->len = len;
  if (((uintptr_t)buf & 7) != 0 && len > 0) {
    b->owned = aligned_alloc(ALIGN, (size_t)round_up(len));
    if (b->owned == NULL) {
      free(b);
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
    memcpy(b->owned, buf, len);
    b->base = b->owned;
  }
  return open_common(b, out, err);
}

cairn_status cairn_binlog_open_file(const char *path, cairn_binlog **out,
                                    cairn_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cairn_error_set(err, errno == ENOENT ? CAIRN_IO_NOT_FOUND : CAIRN_IO,
                           "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
    close(fd);
    return CORRUPT(err, "binlog %s is empty or unreadable", path);
  }
  void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED)
    return cairn_error_set(err, CAIRN_IO, "cannot map %s: %s", path,
                           strerror(errno));
  cairn_binlog *b = calloc(1, sizeof *b);
  if (b == NULL) {
    munmap(map, (size_t)sb.st_size);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  b->base = b->map = map;
  b->len = (size_t)sb.st_size;
  return open_common(b, out, err);
}

void cairn_binlog_close(cairn_binlog *b) {
  if (b == NULL)
    return;
  if (b->map != NULL)
    munmap(b->map, b->len);
  free(b->owned);
  free(b);
}

const cairn_binlog_info *cairn_binlog_get_info(const cairn_binlog *b) {
  return &b->info;
}

cairn_status cairn_binlog_view(const cairn_binlog *b, cairn_colview *out,
                               cairn_error *err) {
  memset(out, 0, sizeof *out);
  if (b->info.kind != CAIRN_BINLOG_INSERT)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "binlog is not an insert log");
  out->type = b->info.type;
  out->n_rows = (size_t)b->info.n_rows;
  out->col.field_id = b->info.type.field_id;
  out->col.validity = b->has[SEC_VALIDITY] ? b->sec[SEC_VALIDITY] : NULL;
  out->col.values = b->has[SEC_VALUES] ? b->sec[SEC_VALUES] : NULL;
  out->col.offsets = (const uint64_t *)(b->has[SEC_OFFSETS] ? b->sec[SEC_OFFSETS] : NULL);
  out->col.data = (const char *)(b->has[SEC_DATA] ? b->sec[SEC_DATA] : NULL);
  out->col.elem_offsets =
      (const uint64_t *)(b->has[SEC_ELEM_OFFSETS] ? b->sec[SEC_ELEM_OFFSETS] : NULL);
  return CAIRN_OK;
}

cairn_status cairn_binlog_delta(const cairn_binlog *b, cairn_delta *out,
                                cairn_error *err) {
  memset(out, 0, sizeof *out);
  if (b->info.kind != CAIRN_BINLOG_DELTA)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "binlog is not a delta log");
  out->pk_type = b->info.type.type;
  out->n = (size_t)b->info.n_rows;
  out->ts = (const uint64_t *)b->sec[SEC_TIMESTAMPS];
  if (out->pk_type == CAIRN_TYPE_INT64) {
    out->int_pks = (const int64_t *)b->sec[SEC_VALUES];
  } else {
    out->str_offsets = (const uint64_t *)b->sec[SEC_OFFSETS];
    out->str_data = (const char *)b->sec[SEC_DATA];
  }
  return CAIRN_OK;
}

cairn_status cairn_binlog_stats(const cairn_binlog *b, cairn_pk_stats *out,
                                cairn_error *err) {
  memset(out, 0, sizeof *out);
  if (b->info.kind != CAIRN_BINLOG_STATS)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "binlog is not a stats log");
  out->pk_type = b->info.type.type;
  out->n_rows = b->info.n_rows;
  out->has_range = b->info.n_rows > 0;
  out->bloom.words = (uint32_t *)b->sec[SEC_BLOOM];
  out->bloom.n_blocks = (size_t)(b->sec_len[SEC_BLOOM] / BLOOM_BLOCK_BYTES);
  if (!out->has_range)
    return CAIRN_OK;
  if (out->pk_type == CAIRN_TYPE_INT64) {
    out->min_int = (int64_t)rd64(b->sec[SEC_MIN]);
    out->max_int = (int64_t)rd64(b->sec[SEC_MAX]);
  } else {
    out->min_str = (const char *)b->sec[SEC_MIN];
    out->min_len = (size_t)b->sec_len[SEC_MIN];
    out->max_str = (const char *)b->sec[SEC_MAX];
    out->max_len = (size_t)b->sec_len[SEC_MAX];
  }
  return CAIRN_OK;
}

bool cairn_pk_stats_may_contain_int(const cairn_pk_stats *s, int64_t pk) {
  if (s->pk_type != CAIRN_TYPE_INT64 || !s->has_range)
    return false;
  if (pk < s->min_int || pk > s->max_int)
    return false;
  return cairn_bloom_check(&s->bloom, cairn_pk_hash_int(pk));
}

static int str_cmp(const char *a, size_t la, const char *b, size_t lb) {
  int x = memcmp(a, b, la < lb ? la : lb);
  return x != 0 ? x : (la > lb) - (la < lb);
}

bool cairn_pk_stats_may_contain_str(const cairn_pk_stats *s, const char *pk,
                                    size_t len) {
  if (s->pk_type != CAIRN_TYPE_VARCHAR || !s->has_range)
    return false;
  if (str_cmp(pk, len, s->min_str, s->min_len) < 0 ||
      str_cmp(pk, len, s->max_str, s->max_len) > 0)
    return false;
  return cairn_bloom_check(&s->bloom, cairn_pk_hash_str(pk, len));
}

/* ---- dump ------------------------------------------------------------------ */

#define DUMP_ROWS 5

static void dump_raw(const uint8_t *p, size_t len, FILE *out) {
  if (len < HEADER_SIZE) {
    fprintf(out, "  (shorter than the %d-byte header)\n", HEADER_SIZE);
    return;
  }
  fprintf(out, "  magic %.8s version %u kind %u type %u (%s) element %u dim %"
               PRId64 "\n  rows %" PRIu64 " field %" PRId64 " flags %#x "
               "sections %u\n",
          (const char *)p, rd32(p + 8), rd32(p + 12), rd32(p + 16),
          cairn_type_name((cairn_data_type)rd32(p + 16))
              ? cairn_type_name((cairn_data_type)rd32(p + 16)) : "?",
          rd32(p + 20), (int64_t)rd64(p + 24), rd64(p + 32),
          (int64_t)rd64(p + 40), rd32(p + 48), rd32(p + 52));
  if (len < HEADER_SIZE + FOOTER_SIZE)
    return;
  const uint8_t *f = p + len - FOOTER_SIZE;
  uint64_t table = rd64(f);
  uint32_t n = rd32(f + 8);
  fprintf(out, "  table at %" PRIu64 ", %u sections, crc %08x\n", table, n,
          rd32(f + 20));
  for (uint32_t i = 0; i < n && i < MAX_SECTIONS; i++) {
    if (table > len || (uint64_t)(i + 1) * ENTRY_SIZE > len - table)
      break;
    const uint8_t *e = p + table + (size_t)i * ENTRY_SIZE;
    uint32_t id = rd32(e);
    fprintf(out, "    section %-12s offset %10" PRIu64 " length %10" PRIu64 "\n",
            id >= 1 && id <= SEC_LAST ? section_names[id] : "?", rd64(e + 8),
            rd64(e + 16));
  }
}

static void dump_value(const cairn_colview *v, size_t r, FILE *out) {
  const void *p = v->col.values;
  switch (v->type.type) {
  case CAIRN_TYPE_BOOL: fprintf(out, "%s", ((const uint8_t *)p)[r] ? "true" : "false"); return;
  case CAIRN_TYPE_INT8: fprintf(out, "%d", ((const int8_t *)p)[r]); return;
  case CAIRN_TYPE_INT16: fprintf(out, "%d", ((const int16_t *)p)[r]); return;
  case CAIRN_TYPE_INT32: fprintf(out, "%d", ((const int32_t *)p)[r]); return;
  case CAIRN_TYPE_INT64: fprintf(out, "%" PRId64, ((const int64_t *)p)[r]); return;
  case CAIRN_TYPE_FLOAT: fprintf(out, "%g", ((const float *)p)[r]); return;
  case CAIRN_TYPE_DOUBLE: fprintf(out, "%g", ((const double *)p)[r]); return;
  case CAIRN_TYPE_VARCHAR: case CAIRN_TYPE_STRING: case CAIRN_TYPE_JSON: {
    size_t len;
    const char *s = cairn_colview_string(v, r, &len);
    fprintf(out, "\"%.*s\"%s", (int)(len > 60 ? 60 : len), s, len > 60 ? "..." : "");
    return;
  }
  case CAIRN_TYPE_ARRAY:
    fprintf(out, "[%" PRIu64 " elements]", v->col.offsets[r + 1] - v->col.offsets[r]);
    return;
  case CAIRN_TYPE_SPARSE_FLOAT_VECTOR: {
    size_t n;
    const cairn_sparse_pair *sp = cairn_colview_sparse(v, r, &n);
    fprintf(out, "{");
    for (size_t i = 0; i < n && i < 4; i++)
      fprintf(out, "%s%u: %g", i ? ", " : "", sp[i].index, sp[i].value);
    fprintf(out, "%s}", n > 4 ? ", ..." : "");
    return;
  }
  case CAIRN_TYPE_FLOAT_VECTOR: {
    const float *f = cairn_colview_vector(v, r);
    fprintf(out, "[");
    for (int64_t i = 0; i < v->type.dim && i < 4; i++)
      fprintf(out, "%s%g", i ? ", " : "", f[i]);
    fprintf(out, "%s]", v->type.dim > 4 ? ", ..." : "");
    return;
  }
  default: {
    const uint8_t *b = cairn_colview_vector(v, r);
    fprintf(out, "0x");
    for (size_t i = 0; i < 8 && i < cairn_vector_row_bytes(v->type.type, v->type.dim); i++)
      fprintf(out, "%02x", b[i]);
    return;
  }
  }
}

static void dump_contents(const cairn_binlog *b, FILE *out) {
  cairn_colview v;
  cairn_delta d;
  cairn_pk_stats s;
  if (cairn_binlog_view(b, &v, NULL) == CAIRN_OK) {
    for (size_t r = 0; r < v.n_rows && r < DUMP_ROWS; r++) {
      fprintf(out, "  row %zu: ", r);
      if (!cairn_colview_valid(&v, r))
        fprintf(out, "null");
      else
        dump_value(&v, r, out);
      fprintf(out, "\n");
    }
  } else if (cairn_binlog_delta(b, &d, NULL) == CAIRN_OK) {
    for (size_t r = 0; r < d.n && r < DUMP_ROWS; r++) {
      if (d.pk_type == CAIRN_TYPE_INT64)
        fprintf(out, "  delete pk %" PRId64, d.int_pks[r]);
      else
        fprintf(out, "  delete pk \"%.*s\"", (int)(d.str_offsets[r + 1] - d.str_offsets[r]),
                d.str_data + d.str_offsets[r]);
      fprintf(out, " at ts %" PRIu64 "\n", d.ts[r]);
    }
  } else if (cairn_binlog_stats(b, &s, NULL) == CAIRN_OK) {
    fprintf(out, "  bloom %zu blocks\n", s.bloom.n_blocks);
    if (s.has_range && s.pk_type == CAIRN_TYPE_INT64)
      fprintf(out, "  pk range [%" PRId64 ", %" PRId64 "]\n", s.min_int, s.max_int);
    else if (s.has_range)
      fprintf(out, "  pk range [\"%.*s\", \"%.*s\"]\n", (int)s.min_len, s.min_str,
              (int)s.max_len, s.max_str);
  }
}

cairn_status cairn_binlog_dump_buffer(const void *buf, size_t len,
                                      const char *name, FILE *out) {
  fprintf(out, "%s: %zu bytes\n", name, len);
  cairn_binlog *b = NULL;
  cairn_error err;
  cairn_status st = cairn_binlog_open_buffer(buf, len, &b, &err);
  dump_raw(b ? b->base : buf, len, out);
  if (st != CAIRN_OK) {
    fprintf(out, "  INVALID: %s\n", err.message);
    return st;
  }
  fprintf(out, "  valid\n");
  dump_contents(b, out);
  cairn_binlog_close(b);
  return CAIRN_OK;
}

cairn_status cairn_binlog_dump(const char *path, FILE *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    fprintf(out, "%s: cannot open: %s\n", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return CAIRN_IO;
  }
  size_t len = (size_t)sb.st_size;
  void *map = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  close(fd);
  if (map == MAP_FAILED) {
    fprintf(out, "%s: cannot map: %s\n", path, strerror(errno));
    return CAIRN_IO;
  }
  static const uint8_t empty[8];
  cairn_status st = cairn_binlog_dump_buffer(map ? map : empty, len, path, out);
  if (map != NULL)
    munmap(map, len);
  return st;
}
