/*
 * index_io.c — the index file container: writer, reader, CRC32C, and the
 * top-level serialize / load of any index.
 *
 * FILE FORMAT (version 1). All integers little-endian; floats IEEE-754
 * binary32 little-endian.
 *
 *   offset size  field
 *   0      8     magic "CAIRNIX1"
 *   8      4     format version (1)
 *   12     4     header size (64)
 *   16     4     index type (cairn_index_type)
 *   20     4     metric (cairn_metric)
 *   24     4     field data type (Milvus schema.DataType number)
 *   28     4     dim (values per row; bits for binary; 0 for sparse)
 *   32     8     row count n
 *   40     8     payload length P (bytes after the header)
 *   48     4     CRC32C of the payload (bytes 64 .. 64+P)
 *   52     4     flags (0)
 *   56     4     reserved (0)
 *   60     4     CRC32C of header bytes 0..59
 *   64     P     payload
 *
 * Payload: the build parameters (M, efConstruction, ef, nlist, nprobe, m,
 * nbits as u32; drop_ratio_build, drop_ratio_search as f32), a u32
 * "trained" flag, then the ids section (n int64), then the type's own
 * sections in the order its *_io code writes them (documented there).
 *
 * Section: u64 byte length L, zero padding up to the next multiple of 64
 * (counted from the start of the file), L bytes of data. So every array
 * in a file starts 64-byte aligned and can be used in place from an mmap.
 *
 * Validity rule: a file is accepted only when its length is exactly
 * 64 + P, the magic, version and header size match, both CRCs match, the
 * type/metric/data type/dim pass the same validation as cairn_index_new,
 * every section lies inside the payload with a length consistent with n
 * and dim, and the type's own structural checks pass (neighbour ids < n,
 * list sizes summing to n, ...). Anything else is CAIRN_CORRUPT.
 *
 * XXX: load copies every section into malloc'd memory; the aligned layout
 * allows a zero-copy mmap load later without a format change.
 */
#include "index_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_impl.h"

#define MAGIC "CAIRNIX1"
#define FORMAT_VERSION 1
#define HEADER_SIZE 64

/* ---- CRC32C (Castagnoli), table-driven; SSE4.2 instruction when present */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int j = 0; j < 8; j++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
  __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c,
                                                          const uint8_t *p,
                                                          size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
  }
  c = (uint32_t)c64;
  for (; n > 0; n--, p++)
    c = _mm_crc32_u8(c, *p);
  return c;
}
#endif

uint32_t cairn_crc32c(uint32_t crc, const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t c = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2"))
    return ~crc_hw(c, p, len);
#endif
  if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
    crc_init_table();
  for (size_t i = 0; i < len; i++)
    c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

/* ---- writer ------------------------------------------------------------- */

void cairn_writer_init(cairn_writer *w) { memset(w, 0, sizeof *w); }

void cairn_writer_destroy(cairn_writer *w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}

void cairn_writer_put(cairn_writer *w, const void *data, size_t len) {
  if (w->failed || len == 0)
    return;
  if (w->len + len > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + len)
      cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (nb == NULL) {
      w->failed = true;
      return;
    }
    w->buf = nb;
    w->cap = cap;
  }
  if (data != NULL)
    memcpy(w->buf + w->len, data, len);
  else
    memset(w->buf + w->len, 0, len);
  w->len += len;
}

void cairn_writer_u32(cairn_writer *w, uint32_t v) { cairn_writer_put(w, &v, 4); }
void cairn_writer_u64(cairn_writer *w, uint64_t v) { cairn_writer_put(w, &v, 8); }
void cairn_writer_f32(cairn_writer *w, float v) { cairn_writer_put(w, &v, 4); }

void cairn_writer_section(cairn_writer *w, const void *data, size_t len) {
  cairn_writer_u64(w, len);
  size_t pad = (CAIRN_IO_ALIGN - w->len % CAIRN_IO_ALIGN) % CAIRN_IO_ALIGN;
  cairn_writer_put(w, NULL, pad);
  cairn_writer_put(w, data, len);
}

/* ---- reader ------------------------------------------------------------- */

static bool reader_take(cairn_reader *r, void *out, size_t n) {
  if (r->len - r->off < n)
    return false;
  memcpy(out, r->buf + r->off, n);
  r->off += n;
  return true;
}

bool cairn_reader_u32(cairn_reader *r, uint32_t *v) { return reader_take(r, v, 4); }
bool cairn_reader_u64(cairn_reader *r, uint64_t *v) { return reader_take(r, v, 8); }
bool cairn_reader_f32(cairn_reader *r, float *v) { return reader_take(r, v, 4); }

bool cairn_reader_section(cairn_reader *r, size_t elem, size_t want,
                          const void **data, size_t *len) {
  uint64_t n;
  if (!cairn_reader_u64(r, &n))
    return false;
  size_t pad = (CAIRN_IO_ALIGN - r->off % CAIRN_IO_ALIGN) % CAIRN_IO_ALIGN;
  if (r->len - r->off < pad)
    return false;
  r->off += pad;
  if (n > r->len - r->off || (elem > 1 && n % elem != 0))
    return false;
  if (want != SIZE_MAX && n != want)
    return false;
  *data = r->buf + r->off;
  *len = (size_t)n;
  r->off += (size_t)n;
  return true;
}

bool cairn_reader_section_copy(cairn_reader *r, size_t elem, size_t want,
                               void **out, size_t *len) {
  const void *p;
  *out = NULL;
  if (!cairn_reader_section(r, elem, want, &p, len))
    return false;
  if (*len == 0)
    return true;
  *out = malloc(*len);
  if (*out == NULL)
    return false;
  memcpy(*out, p, *len);
  return true;
}

/* ---- top level ---------------------------------------------------------- */

static void write_common(const cairn_index *ix, cairn_writer *w) {
  const cairn_index_params *p = &ix->params;
  cairn_writer_u32(w, (uint32_t)p->M);
  cairn_writer_u32(w, (uint32_t)p->efConstruction);
  cairn_writer_u32(w, (uint32_t)p->ef);
  cairn_writer_u32(w, (uint32_t)p->nlist);
  cairn_writer_u32(w, (uint32_t)p->nprobe);
  cairn_writer_u32(w, (uint32_t)p->m);
  cairn_writer_u32(w, (uint32_t)p->nbits);
  cairn_writer_f32(w, p->drop_ratio_build);
  cairn_writer_f32(w, p->drop_ratio_search);
  cairn_writer_u32(w, ix->trained ? 1 : 0);
  cairn_writer_section(w, ix->ids, ix->n * sizeof(int64_t));
}

cairn_status cairn_index_serialize(const cairn_index *ix, uint8_t **buf,
                                   size_t *len, cairn_error *err) {
  *buf = NULL;
  *len = 0;
  cairn_writer w;
  cairn_writer_init(&w);
  cairn_writer_put(&w, NULL, HEADER_SIZE);
  write_common(ix, &w);
  cairn_status st = ix->ops->save(ix, &w, err);
  if (st != CAIRN_OK) {
    cairn_writer_destroy(&w);
    return st;
  }
  if (w.failed) {
    cairn_writer_destroy(&w);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory serializing index");
  }
  uint8_t *h = w.buf;
  uint64_t payload = w.len - HEADER_SIZE, n = ix->n;
  uint32_t v[6] = {FORMAT_VERSION, HEADER_SIZE, (uint32_t)ix->type,
                   (uint32_t)ix->metric, (uint32_t)ix->dtype, ix->dim};
  memcpy(h, MAGIC, 8);
  memcpy(h + 8, v, sizeof v);
  memcpy(h + 32, &n, 8);
  memcpy(h + 40, &payload, 8);
  uint32_t pcrc = cairn_crc32c(0, h + HEADER_SIZE, payload), zero = 0;
  memcpy(h + 48, &pcrc, 4);
  memcpy(h + 52, &zero, 4);
  memcpy(h + 56, &zero, 4);
  uint32_t hcrc = cairn_crc32c(0, h, 60);
  memcpy(h + 60, &hcrc, 4);
  *buf = w.buf;
  *len = w.len;
  return CAIRN_OK;
}

cairn_status cairn_index_save(const cairn_index *ix, const char *path,
                              cairn_error *err) {
  uint8_t *buf;
  size_t len;
  cairn_status st = cairn_index_serialize(ix, &buf, &len, err);
  if (st != CAIRN_OK)
    return st;
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    free(buf);
    return cairn_error_set(err, CAIRN_IO, "cannot create index file %s: %s",
                           path, strerror(errno));
  }
  size_t wrote = fwrite(buf, 1, len, f);
  int rc = fclose(f);
  free(buf);
  if (wrote != len || rc != 0)
    return cairn_error_set(err, CAIRN_IO, "cannot write index file %s", path);
  return CAIRN_OK;
}

/* Reads the header; fills the fields the factory needs. */
static cairn_status parse_header(const uint8_t *buf, size_t len, uint32_t *hv,
                                 uint64_t *n, cairn_error *err) {
  if (len < HEADER_SIZE || memcmp(buf, MAGIC, 8) != 0)
    return cairn_error_set(err, CAIRN_CORRUPT, "not a Cairn index file");
  uint32_t hcrc;
  memcpy(&hcrc, buf + 60, 4);
#ifndef CAIRN_FUZZ_NO_CRC /* fuzz builds only: reach the structural checks */
  if (cairn_crc32c(0, buf, 60) != hcrc)
    return cairn_error_set(err, CAIRN_CORRUPT, "index header checksum mismatch");
#endif
  memcpy(hv, buf + 8, 24);
  uint64_t payload;
  memcpy(n, buf + 32, 8);
  memcpy(&payload, buf + 40, 8);
  if (hv[0] != FORMAT_VERSION || hv[1] != HEADER_SIZE)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "unsupported index format version %u", hv[0]);
  if (payload != len - HEADER_SIZE)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "index file truncated: payload %llu bytes, have %zu",
                           (unsigned long long)payload, len - HEADER_SIZE);
  uint32_t pcrc;
  memcpy(&pcrc, buf + 48, 4);
#ifndef CAIRN_FUZZ_NO_CRC
  if (cairn_crc32c(0, buf + HEADER_SIZE, payload) != pcrc)
    return cairn_error_set(err, CAIRN_CORRUPT, "index payload checksum mismatch");
#endif
  return CAIRN_OK;
}

static bool read_common(cairn_index *ix, cairn_reader *r, uint64_t n) {
  uint32_t u[7], trained;
  for (int i = 0; i < 7; i++)
    if (!cairn_reader_u32(r, &u[i]) || u[i] > (1u << 30))
      return false;
  cairn_index_params *p = &ix->params;
  p->M = (int)u[0];
  p->efConstruction = (int)u[1];
  p->ef = (int)u[2];
  p->nlist = (int)u[3];
  p->nprobe = (int)u[4];
  p->m = (int)u[5];
  p->nbits = (int)u[6];
  if (!cairn_reader_f32(r, &p->drop_ratio_build) ||
      !cairn_reader_f32(r, &p->drop_ratio_search) ||
      !cairn_reader_u32(r, &trained) || trained > 1)
    return false;
  ix->trained = trained == 1;
  if (n > UINT32_MAX)
    return false;
  void *ids;
  size_t len;
  if (!cairn_reader_section_copy(r, 8, n * 8, &ids, &len))
    return false;
  ix->ids = ids;
  ix->n = ix->cap_ids = n;
  return true;
}

cairn_status cairn_index_deserialize(const uint8_t *buf, size_t len,
                                     cairn_index **out, cairn_error *err) {
  *out = NULL;
  uint32_t hv[6] = {0};
  uint64_t n = 0;
  cairn_status st = parse_header(buf, len, hv, &n, err);
  if (st != CAIRN_OK)
    return st;
  cairn_reader r = {.buf = buf, .len = len, .off = HEADER_SIZE};
  cairn_index tmp = {0};
  if (!read_common(&tmp, &r, n)) {
    free(tmp.ids);
    return cairn_error_set(err, CAIRN_CORRUPT, "index parameters or ids malformed");
  }
  cairn_index *ix;
  st = cairn_index__new_raw((cairn_index_type)hv[2], (cairn_metric)hv[3],
                            (cairn_data_type)hv[4], hv[5], &tmp.params, &ix, err);
  if (st != CAIRN_OK) {
    free(tmp.ids);
    return cairn_error_set(err, CAIRN_CORRUPT, "index header invalid: %s",
                           err ? err->message : "");
  }
  free(ix->ids);
  ix->ids = tmp.ids;
  ix->n = ix->cap_ids = tmp.n;
  ix->trained = tmp.trained;
  st = ix->ops->load(ix, &r, err);
  if (st == CAIRN_OK && r.off != r.len)
    st = cairn_error_set(err, CAIRN_CORRUPT, "trailing bytes in index file");
  if (st != CAIRN_OK) {
    cairn_index_free(ix);
    if (st != CAIRN_CORRUPT && st != CAIRN_NOMEM)
      st = cairn_error_set(err, CAIRN_CORRUPT, "index file malformed");
    return st;
  }
  *out = ix;
  return CAIRN_OK;
}

cairn_status cairn_index_load(const char *path, cairn_index **out,
                              cairn_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cairn_error_set(err, errno == ENOENT ? CAIRN_IO_NOT_FOUND : CAIRN_IO,
                           "cannot open index file %s: %s", path,
                           strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || sb.st_size < HEADER_SIZE) {
    close(fd);
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "index file %s too short or unreadable", path);
  }
  size_t len = (size_t)sb.st_size;
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED)
    return cairn_error_set(err, CAIRN_IO, "cannot map index file %s: %s", path,
                           strerror(errno));
  cairn_status st = cairn_index_deserialize(map, len, out, err);
  munmap(map, len);
  return st;
}
