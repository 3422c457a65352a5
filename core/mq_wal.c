/*
 * mq_wal.c — the "embedded" log backend (mq.h): per channel, a directory of
 * segmented append-only WAL files of CRC-framed records, written with
 * group-commit fdatasync, read by consumers that block on a condition
 * variable. docs/storage.md repeats the format for readers of the docs.
 *
 * ---- Directory layout (the location given to cairn_mq_open) -------------
 *   LOCK                 empty; flock(LOCK_EX|LOCK_NB) while a handle is open.
 *   ch_<channel>/        one directory per channel. The prefix keeps the valid
 *                        channel names "." and ".." from meaning anything.
 *     <base>.wal         a segment; <base> is the position of its first record
 *                        in 20 zero-padded decimal digits (name order = position
 *                        order).
 *     FIRST              optional: the first kept position (truncation).
 *     .tmp-*             a file being created; never valid; removed on open.
 *     <base>.wal.corrupt a segment whose header failed validation at open,
 *                        set aside for a person to look at; never read.
 *
 * ---- Segment file (all integers little-endian) ---------------------------
 * Header, 32 bytes:
 *   offset size
 *    0      8   magic "CAIRNWAL"
 *    8      4   format version, 1
 *   12      4   header size, 32
 *   16      8   base: position of the first record (int64 >= 0; equals the
 *               file name)
 *   24      4   reserved, 0
 *   28      4   CRC32C (crc32c.h) of bytes 0..27
 * Then records ("frames") back to back from offset 32, no padding:
 *    0      4   payload length L (uint32, at most CAIRN_MQ_MAX_MESSAGE)
 *    4      4   CRC32C of (payload || L as 4 bytes || position as 8 bytes)
 *    8      L   payload
 * A record's position is not stored: it is base + its index in the file. It
 * is covered by the CRC, so a frame that lands at another position (a stale
 * copy, a file renamed to another base) does not validate. The payload comes
 * first in the CRC so a producer can checksum its payload before it knows
 * its position; the leader extends that CRC over the 12 trailing bytes.
 *
 * Validity rule. A header is valid when magic, version, size, reserved and
 * CRC match and base equals the file name's. The record at offset o (the
 * first at 32) is valid when the record before it is valid, o + 8 <= file
 * size, L <= CAIRN_MQ_MAX_MESSAGE, o + 8 + L <= file size, and the CRC
 * matches. A segment's log is its longest prefix of valid records; anything
 * after it is a torn tail (a batch cut short by a crash before its
 * fdatasync) or damage.
 *
 * FIRST, 20 bytes: magic "CAIRNFST" | first kept position (int64) | CRC32C of
 * bytes 0..15. The channel's first kept position is max(FIRST, base of the
 * oldest segment). A FIRST that fails its CRC is ignored with a warning: that
 * can only expose messages that were truncated, never lose any.
 *
 * ---- Recovery (chan_recover) ---------------------------------------------
 * On open, for every channel: remove .tmp-* files; list segments; scan the
 * LAST segment (cairn_mq_wal_scan) and cut it (ftruncate + fdatasync) at the
 * end of its valid prefix; appending continues there, so the next position
 * is base + valid records. If the last segment's header is invalid, the file
 * is renamed to .corrupt and the next position is its file-name base (all its
 * records count as after the damage; positions are never reused). Segments
 * before the last were complete and fdatasync'ed before the next one was
 * created, so they are trusted: segment i holds base(i+1) - base(i) records;
 * a record there that breaks the rule is reported CAIRN_CORRUPT to the
 * consumer that reads it (the log refuses to guess past damage in the middle).
 *
 * ---- Durability ----------------------------------------------------------
 *   - A segment is written as .tmp-<base> with its header, fdatasync'ed,
 *     renamed, and the directory fsync'ed: a file under a final name always
 *     has a complete header. A new channel directory is fsync'ed into the
 *     root likewise.
 *   - A produce returns after the fdatasync that covers its frame.
 *   - Truncate makes FIRST durable (tmp + fsync + rename + fsync dir) before
 *     it unlinks any segment; the active (last) segment is never unlinked.
 *
 * ---- Group commit (leader/follower) --------------------------------------
 * A producer checksums its payload with no lock held, then under the channel
 * mutex queues a request that lives on its own stack (payload pointer, no
 * copy: the producer does not return before the write is done). If no leader
 * is flushing, it becomes the leader: it takes the whole queue, releases the
 * mutex, assigns positions, writes the frames with pwritev straight from the
 * producers' buffers, fdatasyncs once, and under the mutex publishes the new
 * durable end, marks the requests done, signals each one's own condition
 * variable and broadcasts to consumers. Then it hands the leader role to the
 * oldest waiting request (signals it), so while one batch is on its way to
 * the disk the next one gathers. Each waiter sleeps on its own condition
 * variable: a batch wakes exactly its producers plus the next leader, not
 * every waiter (a shared one made 32 producers spend their time in futex).
 * A batch is split only where a segment rolls over.
 * Positions are assigned by the leader at write time, so a run of frames that
 * fails (ENOSPC, EIO) consumes no positions: the leader cuts the file back to
 * the durable end and those requests fail with CAIRN_IO. If the cut itself
 * fails, or fdatasync failed (the page cache state is then unknown), the
 * channel is marked broken and refuses produces until the log is reopened;
 * recovery then restores a consistent state.
 *
 * ---- Threading -----------------------------------------------------------
 * mq->mu guards the channel table (a sorted array; channels live until
 * close). ch->mu guards the channel fields marked [mu]; fields marked
 * [leader] belong to the thread that set ch->flushing (they change only under
 * mu as well, so readers holding mu see them consistent). ch->trunc_mu
 * serialises truncations' file work. Lock order: mq->mu, trunc_mu, ch->mu;
 * mq->mu is never held across file I/O after open. A consumer owns its fd and
 * buffers and reads only records below the durable end it read under ch->mu,
 * and bytes below the durable size of the active segment, so it never sees a
 * partial batch. cairn_mq_close must not race with any other call.
 *
 * XXX: fdatasync on a growing file also commits its size to the ext4 journal;
 * zero-filled preallocated segments would save that at the cost of writing
 * every byte twice. Not done (see the throughput figures in docs/storage.md).
 * XXX: a consumer opening at position p reads from the start of p's segment
 * (at most segment_bytes); a sparse offset index would make that O(1).
 */
#include "clock.h"
#include "crc32c.h"
#include "log.h"
#include "mq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WAL_MAGIC "CAIRNWAL"
#define WAL_VERSION 1
#define WAL_HEADER 32
#define WAL_FRAME 8
#define WAL_MIN_SEGMENT 4096
#define WAL_FIRST_MAGIC "CAIRNFST"
#define WAL_FIRST_SIZE 20
#define WAL_TMP_PREFIX ".tmp-"
#define WAL_DIR_PREFIX "ch_"
#define WAL_SEG_SUFFIX ".wal"
#define WAL_SEG_DIGITS 20
#define WAL_READ_CHUNK (1u << 20) /* consumer / scanner read-ahead */
#define WAL_IOV 1024              /* iovecs per pwritev (<= IOV_MAX) */
#define WAL_PATH 4096

/* ---- little-endian helpers ---------------------------------------------- */

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}
static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* CRC of a frame from the CRC of its payload (see the format above). */
static uint32_t frame_crc(uint32_t payload_crc, uint32_t len, int64_t pos) {
  uint8_t trailer[12];
  put_le32(trailer, len);
  put_le64(trailer + 4, (uint64_t)pos);
  return cairn_crc32c_update(payload_crc, trailer, sizeof trailer);
}

static void header_build(uint8_t h[WAL_HEADER], int64_t base) {
  memset(h, 0, WAL_HEADER);
  memcpy(h, WAL_MAGIC, 8);
  put_le32(h + 8, WAL_VERSION);
  put_le32(h + 12, WAL_HEADER);
  put_le64(h + 16, (uint64_t)base);
  put_le32(h + 28, cairn_crc32c_update(0, h, 28));
}

/* Valid header (rule above, except the file-name check) -> its base. */
static bool header_parse(const uint8_t h[WAL_HEADER], int64_t *base) {
  if (memcmp(h, WAL_MAGIC, 8) != 0 || get_le32(h + 8) != WAL_VERSION ||
      get_le32(h + 12) != WAL_HEADER || get_le32(h + 24) != 0 ||
      get_le32(h + 28) != cairn_crc32c_update(0, h, 28))
    return false;
  uint64_t b = get_le64(h + 16);
  if (b > (uint64_t)INT64_MAX / 2) /* base + records can never overflow */
    return false;
  *base = (int64_t)b;
  return true;
}

/* ---- file helpers ------------------------------------------------------- */

static cairn_status io_error(cairn_error *err, const char *what,
                             const char *path) {
  return cairn_error_set(err, CAIRN_IO, "log: %s '%s': %s", what, path,
                         strerror(errno));
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t k = pwrite(fd, p, n, (off_t)off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k, n -= (size_t)k, off += (uint64_t)k;
  }
  return 0;
}

/* Write every byte of iov[0..cnt) at off; iov is consumed (modified). */
static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off) {
  while (cnt > 0) {
    ssize_t k = pwritev(fd, iov, cnt, (off_t)off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    off += (uint64_t)k;
    while (cnt > 0 && (size_t)k >= iov->iov_len)
      k -= (ssize_t)iov->iov_len, iov++, cnt--;
    if (cnt > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + k;
      iov->iov_len -= (size_t)k;
    }
  }
  return 0;
}

static int mkdir_p(const char *path) {
  char tmp[WAL_PATH];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- buffered reader (scanner and consumers) ---------------------------- */

typedef struct wal_reader {
  int fd;
  uint8_t *buf;     /* WAL_READ_CHUNK bytes of read-ahead, lazily allocated */
  uint64_t buf_off; /* file offset of buf[0] */
  size_t buf_len;   /* valid bytes in buf */
  uint8_t *big;     /* for frames larger than the read-ahead */
  size_t big_cap;
} wal_reader;

static void reader_reset(wal_reader *r, int fd) {
  r->fd = fd;
  r->buf_off = 0;
  r->buf_len = 0;
}

static void reader_free(wal_reader *r) {
  free(r->buf);
  free(r->big);
  memset(r, 0, sizeof *r);
  r->fd = -1;
}

static int read_full(int fd, uint8_t *dst, size_t want, uint64_t off,
                     size_t *got) {
  *got = 0;
  while (*got < want) {
    ssize_t k = pread(fd, dst + *got, want - *got, (off_t)(off + *got));
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return -1;
    if (k == 0)
      break;
    *got += (size_t)k;
  }
  return 0;
}

/* Make bytes [off, off+n) available, reading nothing at or past limit.
 * Returns 1 with *out pointing at them (valid until the next call), 0 when
 * they are not all there (end of file or limit), -1 on a read error or no
 * memory (errno set). */
static int reader_get(wal_reader *r, uint64_t off, size_t n, uint64_t limit,
                      const uint8_t **out) {
  static const uint8_t empty[1];
  if (off > limit || n > limit - off)
    return 0;
  if (n == 0) {
    *out = empty;
    return 1;
  }
  if (off >= r->buf_off && off - r->buf_off + n <= r->buf_len) {
    *out = r->buf + (off - r->buf_off);
    return 1;
  }
  size_t got;
  if (n > WAL_READ_CHUNK) { /* one big frame: check the size before malloc */
    struct stat st;
    if (fstat(r->fd, &st) != 0)
      return -1;
    if (off > (uint64_t)st.st_size || n > (uint64_t)st.st_size - off)
      return 0;
    if (n > r->big_cap) {
      uint8_t *nb = realloc(r->big, n);
      if (nb == NULL)
        return -1;
      r->big = nb, r->big_cap = n;
    }
    if (read_full(r->fd, r->big, n, off, &got) != 0)
      return -1;
    *out = r->big;
    return got == n ? 1 : 0;
  }
  if (r->buf == NULL && (r->buf = malloc(WAL_READ_CHUNK)) == NULL)
    return -1;
  uint64_t want = limit - off < WAL_READ_CHUNK ? limit - off : WAL_READ_CHUNK;
  r->buf_len = 0;
  if (read_full(r->fd, r->buf, (size_t)want, off, &got) != 0)
    return -1;
  r->buf_off = off, r->buf_len = got;
  *out = r->buf;
  return got >= n ? 1 : 0;
}

/* ---- the scanner (validity rule above) ---------------------------------- */

/* Check the frame at off; 1 valid (*len = its payload length), 0 invalid
 * (res->why says why), -1 read error. */
static int scan_frame(wal_reader *r, cairn_mq_wal_scan_result *res,
                      uint64_t off, uint32_t *len) {
  uint64_t size = res->file_size;
  const uint8_t *p;
  if (size - off < WAL_FRAME) {
    snprintf(res->why, sizeof res->why, "partial frame header at offset %" PRIu64,
             off);
    return 0;
  }
  int rc = reader_get(r, off, WAL_FRAME, size, &p);
  if (rc <= 0)
    return rc < 0 ? -1 : 0;
  uint32_t l = get_le32(p), crc = get_le32(p + 4);
  if (l > CAIRN_MQ_MAX_MESSAGE || l > size - off - WAL_FRAME) {
    snprintf(res->why, sizeof res->why,
             "frame at offset %" PRIu64 ": length %" PRIu32 " runs past the end",
             off, l);
    return 0;
  }
  rc = reader_get(r, off + WAL_FRAME, l, size, &p);
  if (rc <= 0)
    return rc < 0 ? -1 : 0;
  int64_t pos = res->base + res->records;
  if (frame_crc(cairn_crc32c_update(0, p, l), l, pos) != crc) {
    snprintf(res->why, sizeof res->why,
             "frame at offset %" PRIu64 " (position %" PRId64 "): CRC mismatch",
             off, pos);
    return 0;
  }
  *len = l;
  return 1;
}

static cairn_status scan_with(wal_reader *r, cairn_mq_wal_scan_result *res,
                              cairn_error *err) {
  memset(res, 0, sizeof *res);
  struct stat st;
  if (fstat(r->fd, &st) != 0)
    return cairn_error_set(err, CAIRN_IO, "log scan: fstat: %s", strerror(errno));
  res->file_size = (uint64_t)st.st_size;
  const uint8_t *h;
  int rc = reader_get(r, 0, WAL_HEADER, res->file_size, &h);
  if (rc < 0)
    return cairn_error_set(err, CAIRN_IO, "log scan: read: %s", strerror(errno));
  if (rc == 0 || !header_parse(h, &res->base)) {
    snprintf(res->why, sizeof res->why, "%s segment header",
             rc == 0 ? "short" : "invalid");
    return CAIRN_OK;
  }
  res->header_ok = 1;
  uint64_t off = WAL_HEADER;
  while (off < res->file_size) {
    uint32_t len;
    rc = scan_frame(r, res, off, &len);
    if (rc < 0)
      return cairn_error_set(err, CAIRN_IO, "log scan: read: %s",
                             strerror(errno));
    if (rc == 0)
      break;
    off += WAL_FRAME + (uint64_t)len;
    res->records++;
  }
  res->valid_end = off;
  return CAIRN_OK;
}

cairn_status cairn_mq_wal_scan(int fd, cairn_mq_wal_scan_result *out,
                               cairn_error *err) {
  cairn_mq_wal_scan_result local;
  if (out == NULL)
    out = &local;
  memset(out, 0, sizeof *out);
  if (fd < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log scan: bad fd");
  wal_reader r = {0};
  reader_reset(&r, fd);
  cairn_status st = scan_with(&r, out, err);
  reader_free(&r);
  return st;
}

/* ---- handles ------------------------------------------------------------ */

/* A producer's request; lives on the producer's stack until done. */
typedef struct wal_request {
  const uint8_t *payload;
  uint32_t len;
  uint32_t payload_crc;
  uint8_t frame[WAL_FRAME]; /* filled by the leader */
  int64_t position;         /* set by the leader */
  cairn_status status;      /* set by the leader; read once done */
  cairn_error *err;         /* the producer's (may be NULL) */
  bool done;                /* [mu] */
  pthread_cond_t cv;        /* signalled when done, or to make it leader */
  struct wal_request *next; /* [mu] queue link */
} wal_request;

typedef struct wal_channel {
  char *name;
  char *dir;                /* <root>/ch_<name> */
  pthread_mutex_t trunc_mu; /* serialises truncate (before mu) */
  pthread_mutex_t mu;
  pthread_cond_t cv;        /* [mu] broadcast to consumers: durable end moved */
  bool on_disk;             /* [mu] the directory exists */
  int64_t first;            /* [mu] first kept position */
  int64_t next;             /* [mu] durable end: every position < next is fsync'ed */
  int64_t *bases;           /* [mu] segment bases, ascending */
  size_t n_bases, cap_bases;
  int64_t active_base;      /* [mu][leader] base of the segment fd writes, -1 */
  uint64_t active_size;     /* [mu][leader] its durable size in bytes */
  int fd;                   /* [mu][leader] the active segment, -1 none */
  wal_request *queue, *queue_tail; /* [mu] requests waiting for a leader */
  bool flushing;            /* [mu] a leader is writing */
  bool broken;              /* [mu] refuse produces until reopen */
} wal_channel;

typedef struct wal_mq {
  cairn_mq base;
  char *root;
  int lock_fd;
  uint64_t segment_bytes;
  pthread_mutex_t mu;
  wal_channel **chans; /* [mu] sorted by name */
  size_t n_chans, cap_chans;
  uint64_t st_records, st_bytes, st_syncs; /* atomic counters */
} wal_mq;

typedef struct wal_consumer {
  cairn_mq_consumer base;
  wal_channel *ch;
  int64_t pos;      /* position of the next record to return */
  int64_t seg_base; /* segment open in r.fd (-1 none) */
  uint64_t off;     /* byte offset of pos's frame there */
  wal_reader r;
} wal_consumer;

static int seg_path(char *buf, size_t n, const char *dir, const char *prefix,
                    int64_t base) {
  int k = snprintf(buf, n, "%s/%s%0*" PRId64 "%s", dir, prefix, WAL_SEG_DIGITS,
                   base, WAL_SEG_SUFFIX);
  return k > 0 && (size_t)k < n ? 0 : -1;
}

/* "00000000000000000042.wal" -> 42; -1 for any other name. */
static int64_t seg_name_base(const char *name) {
  if (strlen(name) != WAL_SEG_DIGITS + strlen(WAL_SEG_SUFFIX) ||
      strcmp(name + WAL_SEG_DIGITS, WAL_SEG_SUFFIX) != 0)
    return -1;
  uint64_t v = 0;
  for (int i = 0; i < WAL_SEG_DIGITS; i++) {
    if (name[i] < '0' || name[i] > '9' || v > (uint64_t)INT64_MAX / 20)
      return -1;
    v = v * 10 + (uint64_t)(name[i] - '0');
  }
  return v > (uint64_t)INT64_MAX / 2 ? -1 : (int64_t)v;
}

static int bases_push(wal_channel *ch, int64_t base) {
  if (ch->n_bases == ch->cap_bases) {
    size_t cap = ch->cap_bases ? ch->cap_bases * 2 : 8;
    int64_t *nb = realloc(ch->bases, cap * sizeof *nb);
    if (nb == NULL)
      return -1;
    ch->bases = nb, ch->cap_bases = cap;
  }
  ch->bases[ch->n_bases++] = base;
  return 0;
}

static void chan_free(wal_channel *ch) {
  if (ch == NULL)
    return;
  if (ch->fd >= 0)
    close(ch->fd);
  pthread_mutex_destroy(&ch->trunc_mu);
  pthread_mutex_destroy(&ch->mu);
  pthread_cond_destroy(&ch->cv);
  free(ch->bases);
  free(ch->name);
  free(ch->dir);
  free(ch);
}

static wal_channel *chan_new(const wal_mq *mq, const char *name) {
  wal_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return NULL;
  size_t n = strlen(mq->root) + strlen(WAL_DIR_PREFIX) + strlen(name) + 2;
  ch->name = strdup(name);
  ch->dir = malloc(n);
  ch->fd = -1;
  ch->active_base = -1;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ch->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&ch->mu, NULL);
  pthread_mutex_init(&ch->trunc_mu, NULL);
  if (ch->name == NULL || ch->dir == NULL) {
    chan_free(ch);
    return NULL;
  }
  snprintf(ch->dir, n, "%s/%s%s", mq->root, WAL_DIR_PREFIX, name);
  return ch;
}

/* ---- recovery ----------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* FIRST marker -> position, or -1 when absent or invalid. */
static int64_t first_read(const wal_channel *ch) {
  char path[WAL_PATH];
  uint8_t b[WAL_FIRST_SIZE];
  snprintf(path, sizeof path, "%s/FIRST", ch->dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  int rc = read_full(fd, b, sizeof b, 0, &got);
  close(fd);
  uint64_t v = get_le64(b + 8);
  if (rc != 0 || got != sizeof b || memcmp(b, WAL_FIRST_MAGIC, 8) != 0 ||
      get_le32(b + 16) != cairn_crc32c_update(0, b, 16) ||
      v > (uint64_t)INT64_MAX / 2) {
    cairn_log_warn("log channel '%s': ignoring invalid FIRST marker", ch->name);
    return -1;
  }
  return (int64_t)v;
}

/* Remove .tmp-* files and collect segment bases (sorted). */
static cairn_status chan_list_dir(wal_channel *ch, cairn_error *err) {
  DIR *d = opendir(ch->dir);
  if (d == NULL)
    return io_error(err, "cannot open channel directory", ch->dir);
  struct dirent *e;
  cairn_status st = CAIRN_OK;
  while (st == CAIRN_OK && (e = readdir(d)) != NULL) {
    int64_t base = seg_name_base(e->d_name);
    if (strncmp(e->d_name, WAL_TMP_PREFIX, strlen(WAL_TMP_PREFIX)) == 0) {
      if (unlinkat(dirfd(d), e->d_name, 0) != 0)
        st = io_error(err, "cannot remove stale temp file in", ch->dir);
    } else if (base >= 0 && bases_push(ch, base) != 0) {
      st = cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
    }
  }
  closedir(d);
  if (ch->n_bases > 1)
    qsort(ch->bases, ch->n_bases, sizeof *ch->bases, cmp_i64);
  return st;
}

/* The last segment's header is bad: set the file aside. */
static cairn_status chan_set_aside_last(wal_channel *ch, const char *why,
                                        cairn_error *err) {
  char path[WAL_PATH], bad[WAL_PATH + 16];
  int64_t base = ch->bases[ch->n_bases - 1];
  seg_path(path, sizeof path, ch->dir, "", base);
  snprintf(bad, sizeof bad, "%s.corrupt", path);
  cairn_log_warn("log channel '%s': segment %s: %s; renamed to .corrupt, "
                 "continuing at position %" PRId64,
                 ch->name, path, why, base);
  if (rename(path, bad) != 0)
    return io_error(err, "cannot set aside corrupt segment", path);
  ch->n_bases--;
  ch->next = base;
  return CAIRN_OK;
}

/* Scan the last segment, cut a torn tail, make it the active segment. */
static cairn_status chan_recover_last(wal_channel *ch, cairn_error *err) {
  char path[WAL_PATH];
  int64_t base = ch->bases[ch->n_bases - 1];
  seg_path(path, sizeof path, ch->dir, "", base);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return io_error(err, "cannot open segment", path);
  cairn_mq_wal_scan_result res;
  cairn_status st = cairn_mq_wal_scan(fd, &res, err);
  if (st == CAIRN_OK && (!res.header_ok || res.base != base)) {
    close(fd);
    return chan_set_aside_last(ch, res.header_ok ? "base differs from its name"
                                                 : res.why,
                               err);
  }
  if (st == CAIRN_OK && res.valid_end < res.file_size) {
    cairn_log_warn("log channel '%s': segment %s: %s; cutting %" PRIu64
                   " bytes after position %" PRId64,
                   ch->name, path, res.why, res.file_size - res.valid_end,
                   base + res.records - 1);
    if (ftruncate(fd, (off_t)res.valid_end) != 0 || fdatasync(fd) != 0)
      st = io_error(err, "cannot cut the torn tail of", path);
  }
  if (st != CAIRN_OK) {
    close(fd);
    return st;
  }
  ch->fd = fd;
  ch->active_base = base;
  ch->active_size = res.valid_end;
  ch->next = base + res.records;
  return CAIRN_OK;
}

static cairn_status chan_recover(wal_channel *ch, cairn_error *err) {
  cairn_status st = chan_list_dir(ch, err);
  if (st == CAIRN_OK && ch->n_bases > 0)
    st = chan_recover_last(ch, err);
  if (st != CAIRN_OK)
    return st;
  int64_t marker = first_read(ch);
  ch->first = ch->n_bases > 0 ? ch->bases[0] : ch->next;
  if (marker > ch->first)
    ch->first = marker;
  if (ch->first > ch->next) {
    /* truncated past what survived: start fresh at first (no reuse) */
    if (ch->fd >= 0)
      close(ch->fd);
    ch->fd = -1, ch->active_base = -1, ch->active_size = 0;
    ch->next = ch->first;
  }
  ch->on_disk = true;
  if (fsync_dir(ch->dir) != 0)
    return io_error(err, "cannot fsync", ch->dir);
  return CAIRN_OK;
}

/* ---- channel table ------------------------------------------------------ */

/* Index of name in mq->chans, or -(insertion point) - 1. Caller holds mu. */
static long chan_find_nolock(const wal_mq *mq, const char *name) {
  size_t lo = 0, hi = mq->n_chans;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(mq->chans[mid]->name, name);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -(long)lo - 1;
}

static int chan_insert_nolock(wal_mq *mq, wal_channel *ch, size_t at) {
  if (mq->n_chans == mq->cap_chans) {
    size_t cap = mq->cap_chans ? mq->cap_chans * 2 : 16;
    wal_channel **nc = realloc(mq->chans, cap * sizeof *nc);
    if (nc == NULL)
      return -1;
    mq->chans = nc, mq->cap_chans = cap;
  }
  memmove(mq->chans + at + 1, mq->chans + at,
          (mq->n_chans - at) * sizeof *mq->chans);
  mq->chans[at] = ch;
  mq->n_chans++;
  return 0;
}

/* The channel called name; created in memory (no files yet) when create is
 * set, else *out = NULL when unknown. */
static cairn_status chan_get(wal_mq *mq, const char *name, bool create,
                             wal_channel **out, cairn_error *err) {
  *out = NULL;
  pthread_mutex_lock(&mq->mu);
  long i = chan_find_nolock(mq, name);
  cairn_status st = CAIRN_OK;
  if (i >= 0) {
    *out = mq->chans[i];
  } else if (create) {
    wal_channel *ch = chan_new(mq, name);
    if (ch == NULL || chan_insert_nolock(mq, ch, (size_t)(-i - 1)) != 0) {
      chan_free(ch);
      st = cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
    } else {
      *out = ch;
    }
  }
  pthread_mutex_unlock(&mq->mu);
  return st;
}

/* ---- open / close ------------------------------------------------------- */

static void wal_close(cairn_mq *m) {
  wal_mq *mq = (wal_mq *)m;
  if (mq == NULL)
    return;
  for (size_t i = 0; i < mq->n_chans; i++)
    chan_free(mq->chans[i]);
  free(mq->chans);
  if (mq->lock_fd >= 0)
    close(mq->lock_fd); /* releases the flock */
  pthread_mutex_destroy(&mq->mu);
  free(mq->root);
  free(mq);
}

static cairn_status wal_lock_dir(wal_mq *mq, cairn_error *err) {
  char path[WAL_PATH];
  if (snprintf(path, sizeof path, "%s/LOCK", mq->root) >= (int)sizeof path)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log: directory path too long");
  mq->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (mq->lock_fd < 0)
    return io_error(err, "cannot create", path);
  if (flock(mq->lock_fd, LOCK_EX | LOCK_NB) != 0)
    return cairn_error_set(err, CAIRN_IO,
                           "log directory '%s' is in use by another handle or "
                           "process",
                           mq->root);
  return CAIRN_OK;
}

/* Recover every ch_<name> directory under the root. */
static cairn_status wal_load_channels(wal_mq *mq, cairn_error *err) {
  DIR *d = opendir(mq->root);
  if (d == NULL)
    return io_error(err, "cannot open directory", mq->root);
  struct dirent *e;
  cairn_status st = CAIRN_OK;
  size_t plen = strlen(WAL_DIR_PREFIX);
  while (st == CAIRN_OK && (e = readdir(d)) != NULL) {
    const char *name = e->d_name + plen;
    struct stat sb;
    if (strncmp(e->d_name, WAL_DIR_PREFIX, plen) != 0 ||
        !cairn_mq_channel_valid(name) ||
        fstatat(dirfd(d), e->d_name, &sb, 0) != 0 || !S_ISDIR(sb.st_mode))
      continue;
    wal_channel *ch;
    st = chan_get(mq, name, true, &ch, err);
    if (st == CAIRN_OK)
      st = chan_recover(ch, err);
  }
  closedir(d);
  return st;
}

cairn_status cairn_mq_wal_open(const char *dir,
                               const cairn_mq_wal_options *options,
                               cairn_mq **out, cairn_error *err) {
  if (out == NULL || dir == NULL || dir[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log open: needs a directory and an out handle");
  *out = NULL;
  uint64_t seg = options != NULL && options->segment_bytes != 0
                     ? options->segment_bytes
                     : CAIRN_MQ_WAL_SEGMENT_DEFAULT;
  if (seg < WAL_MIN_SEGMENT)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log open: segment size %" PRIu64
                           " below the minimum %d",
                           seg, WAL_MIN_SEGMENT);
  wal_mq *mq = calloc(1, sizeof *mq);
  if (mq == NULL || (mq->root = strdup(dir)) == NULL) {
    free(mq);
    return cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
  }
  mq->base.vt = &cairn_mq_embedded_vtable;
  mq->lock_fd = -1;
  mq->segment_bytes = seg;
  pthread_mutex_init(&mq->mu, NULL);
  cairn_status st = CAIRN_OK;
  if (strlen(dir) > WAL_PATH - 300)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "log open: directory path too long");
  else if (mkdir_p(dir) != 0)
    st = io_error(err, "cannot create directory", dir);
  if (st == CAIRN_OK)
    st = wal_lock_dir(mq, err);
  if (st == CAIRN_OK)
    st = wal_load_channels(mq, err);
  if (st != CAIRN_OK) {
    wal_close(&mq->base);
    return st;
  }
  *out = &mq->base;
  return CAIRN_OK;
}

static cairn_status wal_open(const char *location, cairn_mq **out,
                             cairn_error *err) {
  return cairn_mq_wal_open(location, NULL, out, err);
}

/* ---- produce: the leader's work ----------------------------------------- */

/* Create segment `base` (tmp + header + fdatasync + rename + fsync dir) and
 * the channel directory first if needed. No lock held. */
static cairn_status segment_create(const wal_mq *mq, wal_channel *ch,
                                   bool on_disk, int64_t base, int *fd_out,
                                   cairn_error *err) {
  char tmp[WAL_PATH], path[WAL_PATH];
  *fd_out = -1;
  if (!on_disk) {
    if (mkdir(ch->dir, 0755) != 0 && errno != EEXIST)
      return io_error(err, "cannot create channel directory", ch->dir);
    if (fsync_dir(mq->root) != 0)
      return io_error(err, "cannot fsync", mq->root);
  }
  seg_path(tmp, sizeof tmp, ch->dir, WAL_TMP_PREFIX, base);
  seg_path(path, sizeof path, ch->dir, "", base);
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(err, "cannot create segment", tmp);
  uint8_t h[WAL_HEADER];
  header_build(h, base);
  if (pwrite_full(fd, h, sizeof h, 0) != 0 || fdatasync(fd) != 0 ||
      rename(tmp, path) != 0 || fsync_dir(ch->dir) != 0) {
    cairn_status st = io_error(err, "cannot create segment", path);
    close(fd);
    unlink(tmp);
    return st;
  }
  *fd_out = fd;
  return CAIRN_OK;
}

/* Leader state while it holds the flushing role. */
typedef struct wal_flush {
  int fd;
  bool on_disk;
  int64_t seg_base; /* base of the segment fd writes, -1 none */
  int64_t pos;      /* next position to assign */
  uint64_t off;     /* durable size of the active segment */
} wal_flush;

/* Publish a new active segment (mu held). */
static cairn_status publish_segment_nolock(wal_channel *ch, int fd,
                                           int64_t base, cairn_error *err) {
  if (bases_push(ch, base) != 0)
    return cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
  ch->on_disk = true;
  ch->fd = fd;
  ch->active_base = base;
  ch->active_size = WAL_HEADER;
  return CAIRN_OK;
}

/* Make sure a segment can take a frame of `len` bytes at f->pos: create the
 * first segment or roll to a new one. */
static cairn_status flush_ensure_segment(wal_mq *mq, wal_channel *ch,
                                         wal_flush *f, uint32_t len,
                                         cairn_error *err) {
  bool full = f->off > WAL_HEADER &&
              f->off + WAL_FRAME + len > mq->segment_bytes;
  if (f->fd >= 0 && !full)
    return CAIRN_OK;
  int fd;
  cairn_status st = segment_create(mq, ch, f->on_disk, f->pos, &fd, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&ch->mu);
  st = publish_segment_nolock(ch, fd, f->pos, err);
  pthread_mutex_unlock(&ch->mu);
  if (st != CAIRN_OK) {
    close(fd);
    return st;
  }
  if (f->fd >= 0)
    close(f->fd);
  f->fd = fd, f->on_disk = true, f->seg_base = f->pos, f->off = WAL_HEADER;
  return CAIRN_OK;
}

/* Take the longest run of requests from *batch that fits the active segment
 * (at least one), fill their frames and positions; returns its byte size. */
static uint64_t flush_take_run(const wal_mq *mq, const wal_flush *f,
                               wal_request **batch, wal_request **run_end) {
  uint64_t bytes = 0;
  int64_t pos = f->pos;
  wal_request *r = *batch, *last = NULL;
  while (r != NULL) {
    uint64_t frame = WAL_FRAME + (uint64_t)r->len;
    if (last != NULL && f->off + bytes + frame > mq->segment_bytes)
      break;
    r->position = pos++;
    put_le32(r->frame, r->len);
    put_le32(r->frame + 4, frame_crc(r->payload_crc, r->len, r->position));
    bytes += frame;
    last = r;
    r = r->next;
  }
  *run_end = last;
  *batch = r;
  return bytes;
}

/* pwritev the run's frames from the producers' buffers, then fdatasync.
 * 0 done, -1 a write failed, -2 fdatasync failed (errno set). */
static int flush_write_run(int fd, uint64_t off, wal_request *run,
                           const wal_request *end) {
  struct iovec iov[WAL_IOV];
  int n = 0;
  for (wal_request *r = run;; r = r->next) {
    iov[n++] = (struct iovec){.iov_base = r->frame, .iov_len = WAL_FRAME};
    if (r->len > 0)
      iov[n++] = (struct iovec){.iov_base = (void *)r->payload,
                                .iov_len = r->len};
    bool last = r == end;
    if (n >= WAL_IOV - 1 || last) {
      uint64_t bytes = 0;
      for (int i = 0; i < n; i++)
        bytes += iov[i].iov_len;
      if (pwritev_full(fd, iov, n, off) != 0)
        return -1;
      off += bytes, n = 0;
    }
    if (last)
      break;
  }
  return fdatasync(fd) == 0 ? 0 : -2;
}

/* A run failed: cut the segment back to its durable size; if that fails too
 * (or fdatasync failed: the page cache state is then unknown) the channel is
 * broken until reopen. */
static void flush_fail_run(wal_channel *ch, const wal_flush *f, int saved,
                           bool sync_failed) {
  bool broken = sync_failed;
  if (!broken && (ftruncate(f->fd, (off_t)f->off) != 0 || fdatasync(f->fd) != 0))
    broken = true;
  if (broken) {
    cairn_log_error("log channel '%s': write failed (%s); refusing produces "
                    "until the log is reopened",
                    ch->name, strerror(saved));
    pthread_mutex_lock(&ch->mu);
    ch->broken = true;
    pthread_mutex_unlock(&ch->mu);
  }
}

/* Mark requests [from, to] done and wake their producers (mu held, so no
 * producer can return and free its request before we let go of it). */
static void requests_done_nolock(wal_request *from, const wal_request *to,
                                 cairn_status st, const cairn_error *e) {
  for (wal_request *r = from; r != NULL;) {
    wal_request *next = r->next;
    bool last = r == to;
    r->status = st;
    if (st != CAIRN_OK && r->err != NULL)
      *r->err = *e;
    r->done = true;
    pthread_cond_signal(&r->cv);
    if (last)
      break;
    r = next;
  }
}

/* Write a batch: runs per segment, one fdatasync per run. No lock held. */
static cairn_status flush_batch(wal_mq *mq, wal_channel *ch, wal_flush *f,
                                wal_request **batch, cairn_error *e) {
  while (*batch != NULL) {
    cairn_status st = flush_ensure_segment(mq, ch, f, (*batch)->len, e);
    if (st != CAIRN_OK)
      return st;
    wal_request *run = *batch, *end;
    uint64_t bytes = flush_take_run(mq, f, batch, &end);
    int rc = flush_write_run(f->fd, f->off, run, end);
    if (rc != 0) {
      int saved = errno;
      bool sync_failed = rc == -2;
      cairn_error_set(e, CAIRN_IO, "log channel '%s': write failed: %s",
                      ch->name, strerror(saved));
      flush_fail_run(ch, f, saved, sync_failed);
      *batch = run; /* the run failed with the rest */
      return CAIRN_IO;
    }
    uint64_t k = (uint64_t)(end->position - f->pos + 1);
    __atomic_add_fetch(&mq->st_records, k, __ATOMIC_RELAXED);
    __atomic_add_fetch(&mq->st_bytes, bytes - k * WAL_FRAME, __ATOMIC_RELAXED);
    __atomic_add_fetch(&mq->st_syncs, 1, __ATOMIC_RELAXED);
    f->off += bytes;
    f->pos = end->position + 1;
    pthread_mutex_lock(&ch->mu);
    ch->next = f->pos;
    ch->active_size = f->off;
    requests_done_nolock(run, end, CAIRN_OK, NULL);
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
  }
  return CAIRN_OK;
}

/* Become the leader (mu held, not flushing, queue not empty); returns with
 * mu held and the role given up. */
static void leader_flush_nolock(wal_mq *mq, wal_channel *ch) {
  ch->flushing = true;
  wal_request *batch = ch->queue;
  ch->queue = ch->queue_tail = NULL;
  wal_flush f = {.fd = ch->fd, .on_disk = ch->on_disk,
                 .seg_base = ch->active_base, .pos = ch->next,
                 .off = ch->active_size};
  pthread_mutex_unlock(&ch->mu);
  cairn_error e;
  cairn_error_clear(&e);
  cairn_status st = flush_batch(mq, ch, &f, &batch, &e);
  pthread_mutex_lock(&ch->mu);
  if (st != CAIRN_OK)
    requests_done_nolock(batch, NULL, st, &e);
  ch->flushing = false;
  if (ch->queue != NULL) /* hand the role to the oldest waiting producer */
    pthread_cond_signal(&ch->queue->cv);
}

static cairn_status wal_produce(cairn_mq *m, const char *channel,
                                const void *payload, size_t len,
                                int64_t *position, cairn_error *err) {
  wal_mq *mq = (wal_mq *)m;
  wal_channel *ch;
  cairn_status st = chan_get(mq, channel, true, &ch, err);
  if (st != CAIRN_OK)
    return st;
  wal_request rq = {.payload = payload, .len = (uint32_t)len,
                    .payload_crc = cairn_crc32c_update(0, payload, len),
                    .position = -1, .err = err};
  pthread_mutex_lock(&ch->mu);
  if (ch->broken) {
    pthread_mutex_unlock(&ch->mu);
    return cairn_error_set(err, CAIRN_IO,
                           "log channel '%s' failed to write earlier; reopen "
                           "the log to recover",
                           channel);
  }
  pthread_cond_init(&rq.cv, NULL);
  if (ch->queue_tail != NULL)
    ch->queue_tail->next = &rq;
  else
    ch->queue = &rq;
  ch->queue_tail = &rq;
  while (!rq.done) {
    if (!ch->flushing)
      leader_flush_nolock(mq, ch);
    else
      pthread_cond_wait(&rq.cv, &ch->mu);
  }
  pthread_mutex_unlock(&ch->mu);
  pthread_cond_destroy(&rq.cv);
  if (rq.status == CAIRN_OK)
    *position = rq.position;
  return rq.status;
}

/* ---- bounds, truncate, list --------------------------------------------- */

static cairn_status wal_bounds(cairn_mq *m, const char *channel, int64_t *first,
                               int64_t *next, cairn_error *err) {
  wal_channel *ch;
  cairn_status st = chan_get((wal_mq *)m, channel, false, &ch, err);
  if (st != CAIRN_OK || ch == NULL)
    return st;
  pthread_mutex_lock(&ch->mu);
  *first = ch->first;
  *next = ch->next;
  pthread_mutex_unlock(&ch->mu);
  return CAIRN_OK;
}

static cairn_status first_write(const wal_channel *ch, int64_t first,
                                cairn_error *err) {
  char tmp[WAL_PATH], path[WAL_PATH];
  uint8_t b[WAL_FIRST_SIZE];
  memcpy(b, WAL_FIRST_MAGIC, 8);
  put_le64(b + 8, (uint64_t)first);
  put_le32(b + 16, cairn_crc32c_update(0, b, 16));
  snprintf(tmp, sizeof tmp, "%s/%sFIRST", ch->dir, WAL_TMP_PREFIX);
  snprintf(path, sizeof path, "%s/FIRST", ch->dir);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(err, "cannot create", tmp);
  int rc = pwrite_full(fd, b, sizeof b, 0) != 0 || fdatasync(fd) != 0;
  close(fd);
  if (rc != 0 || rename(tmp, path) != 0 || fsync_dir(ch->dir) != 0) {
    cairn_status st = io_error(err, "cannot write", path);
    unlink(tmp);
    return st;
  }
  return CAIRN_OK;
}

/* Drop whole segments below first (never the last), mu held; returns the
 * dropped bases in *drop (malloc'd) for the caller to unlink unlocked. */
static size_t drop_segments_nolock(wal_channel *ch, int64_t **drop) {
  size_t k = 0;
  while (k + 1 < ch->n_bases && ch->bases[k + 1] <= ch->first)
    k++;
  *drop = NULL;
  if (k == 0 || (*drop = malloc(k * sizeof **drop)) == NULL)
    return 0;
  memcpy(*drop, ch->bases, k * sizeof **drop);
  memmove(ch->bases, ch->bases + k, (ch->n_bases - k) * sizeof *ch->bases);
  ch->n_bases -= k;
  return k;
}

static cairn_status wal_truncate(cairn_mq *m, const char *channel,
                                 int64_t before, cairn_error *err) {
  wal_channel *ch;
  cairn_status st = chan_get((wal_mq *)m, channel, false, &ch, err);
  if (st != CAIRN_OK || ch == NULL)
    return st;
  pthread_mutex_lock(&ch->trunc_mu);
  pthread_mutex_lock(&ch->mu);
  if (before > ch->next) /* never drop positions not yet written */
    before = ch->next;
  bool noop = before <= ch->first || !ch->on_disk;
  pthread_mutex_unlock(&ch->mu);
  if (!noop)
    st = first_write(ch, before, err); /* durable before any unlink */
  int64_t *drop = NULL;
  size_t n_drop = 0;
  if (!noop && st == CAIRN_OK) {
    pthread_mutex_lock(&ch->mu);
    ch->first = before;
    n_drop = drop_segments_nolock(ch, &drop);
    pthread_mutex_unlock(&ch->mu);
  }
  for (size_t i = 0; i < n_drop; i++) {
    char path[WAL_PATH];
    seg_path(path, sizeof path, ch->dir, "", drop[i]);
    if (unlink(path) != 0 && errno != ENOENT)
      cairn_log_warn("log channel '%s': cannot remove %s: %s", ch->name, path,
                     strerror(errno));
  }
  if (n_drop > 0)
    fsync_dir(ch->dir); /* best effort: FIRST already hides them */
  free(drop);
  pthread_mutex_unlock(&ch->trunc_mu);
  return st;
}

static void names_free(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

static cairn_status wal_list_channels(cairn_mq *m, char ***names, size_t *n,
                                      cairn_error *err) {
  wal_mq *mq = (wal_mq *)m;
  pthread_mutex_lock(&mq->mu);
  char **out = calloc(mq->n_chans + 1, sizeof *out);
  size_t k = 0;
  bool oom = out == NULL;
  for (size_t i = 0; !oom && i < mq->n_chans; i++) {
    wal_channel *ch = mq->chans[i];
    pthread_mutex_lock(&ch->mu);
    bool listed = ch->on_disk;
    pthread_mutex_unlock(&ch->mu);
    if (listed && (out[k++] = strdup(ch->name)) == NULL)
      oom = true;
  }
  pthread_mutex_unlock(&mq->mu);
  if (oom) {
    names_free(out, k);
    return cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
  }
  *names = out;
  *n = k;
  return CAIRN_OK;
}

/* ---- consumers ---------------------------------------------------------- */

static cairn_status wal_consumer_open(cairn_mq *m, const char *channel,
                                      int64_t from, cairn_mq_consumer **out,
                                      cairn_error *err) {
  wal_channel *ch;
  cairn_status st = chan_get((wal_mq *)m, channel, true, &ch, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&ch->mu);
  int64_t first = ch->first, next = ch->next;
  pthread_mutex_unlock(&ch->mu);
  if (from < first)
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "log channel '%s': position %" PRId64
                           " was truncated (first kept %" PRId64 ")",
                           channel, from, first);
  if (from > next)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log channel '%s': position %" PRId64
                           " is past the end (next %" PRId64 ")",
                           channel, from, next);
  wal_consumer *c = calloc(1, sizeof *c);
  if (c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "log: out of memory");
  c->base.mq = m;
  c->ch = ch;
  c->pos = from;
  c->seg_base = -1;
  reader_reset(&c->r, -1);
  *out = &c->base;
  return CAIRN_OK;
}

static void wal_consumer_close(cairn_mq_consumer *cc) {
  wal_consumer *c = (wal_consumer *)cc;
  if (c->r.fd >= 0)
    close(c->r.fd);
  reader_free(&c->r);
  free(c);
}

/* Where a consumer reads c->pos (mu held). */
typedef struct wal_where {
  int64_t base;   /* segment holding the position */
  uint64_t limit; /* bytes readable: durable size if active, else no limit */
} wal_where;

static bool locate_nolock(const wal_channel *ch, int64_t pos, wal_where *w) {
  size_t lo = 0, hi = ch->n_bases;
  while (lo < hi) { /* first base > pos */
    size_t mid = (lo + hi) / 2;
    if (ch->bases[mid] <= pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return false;
  w->base = ch->bases[lo - 1];
  w->limit = ch->fd >= 0 && w->base == ch->active_base ? ch->active_size
                                                        : UINT64_MAX;
  return true;
}

/* Wait until c->pos is durable (or time out / find it truncated), then
 * locate it. */
static cairn_status consumer_wait(wal_consumer *c, int timeout_ms,
                                  wal_where *w, cairn_error *err) {
  wal_channel *ch = c->ch;
  struct timespec dl = cairn_deadline_in(CLOCK_MONOTONIC, timeout_ms);
  cairn_status st = CAIRN_OK;
  bool timed_out = false;
  pthread_mutex_lock(&ch->mu);
  for (;;) {
    if (c->pos < ch->first) {
      st = cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "log channel '%s': position %" PRId64
                           " was truncated (first kept %" PRId64 ")",
                           ch->name, c->pos, ch->first);
      break;
    }
    if (c->pos < ch->next) {
      if (!locate_nolock(ch, c->pos, w))
        st = cairn_error_set(err, CAIRN_CORRUPT,
                             "log channel '%s': no segment holds position "
                             "%" PRId64,
                             ch->name, c->pos);
      break;
    }
    if (timed_out || timeout_ms == 0) {
      st = cairn_error_set(err, CAIRN_NOT_READY,
                           "log channel '%s': nothing at position %" PRId64
                           " within %d ms",
                           ch->name, c->pos, timeout_ms);
      break;
    }
    if (pthread_cond_timedwait(&ch->cv, &ch->mu, &dl) == ETIMEDOUT)
      timed_out = true; /* check once more, then give up */
  }
  pthread_mutex_unlock(&ch->mu);
  return st;
}

/* A read that did not give the bytes: rc < 0 an I/O error (errno), else
 * the segment breaks the validity rule (what). */
static cairn_status read_failed(cairn_error *err, const wal_consumer *c,
                                int rc, const char *what) {
  if (rc < 0)
    return cairn_error_set(err, CAIRN_IO, "log channel '%s': reading segment "
                           "%" PRId64 ": %s",
                           c->ch->name, c->seg_base, strerror(errno));
  return cairn_error_set(err, CAIRN_CORRUPT,
                         "log channel '%s': segment %" PRId64 ", position "
                         "%" PRId64 " at offset %" PRIu64 ": %s",
                         c->ch->name, c->seg_base, c->pos, c->off, what);
}

/* Open segment `base` and skip to c->pos. */
static cairn_status consumer_enter(wal_consumer *c, const wal_where *w,
                                   cairn_error *err) {
  char path[WAL_PATH];
  if (c->r.fd >= 0)
    close(c->r.fd);
  reader_reset(&c->r, -1);
  c->seg_base = -1;
  seg_path(path, sizeof path, c->ch->dir, "", w->base);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) /* a truncate dropped it meanwhile */
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "log channel '%s': position %" PRId64
                           " was truncated",
                           c->ch->name, c->pos);
  if (fd < 0)
    return io_error(err, "cannot open segment", path);
  reader_reset(&c->r, fd);
  c->seg_base = w->base;
  c->off = WAL_HEADER;
  const uint8_t *h;
  int64_t base;
  int rc = reader_get(&c->r, 0, WAL_HEADER, w->limit, &h);
  if (rc < 0)
    return read_failed(err, c, rc, "");
  if (rc == 0 || !header_parse(h, &base) || base != w->base)
    return read_failed(err, c, 0, "invalid segment header");
  for (int64_t p = base; p < c->pos; p++) { /* skip to pos */
    rc = reader_get(&c->r, c->off, WAL_FRAME, w->limit, &h);
    if (rc <= 0)
      return read_failed(err, c, rc, "segment ends early");
    c->off += WAL_FRAME + (uint64_t)get_le32(h);
  }
  return CAIRN_OK;
}

static cairn_status consumer_read(wal_consumer *c, uint64_t limit,
                                  cairn_mq_message *out, cairn_error *err) {
  const uint8_t *p;
  int rc = reader_get(&c->r, c->off, WAL_FRAME, limit, &p);
  if (rc <= 0)
    return read_failed(err, c, rc, "segment ends early");
  uint32_t len = get_le32(p), crc = get_le32(p + 4);
  if (len > CAIRN_MQ_MAX_MESSAGE)
    return read_failed(err, c, 0, "frame length out of range");
  rc = reader_get(&c->r, c->off + WAL_FRAME, len, limit, &p);
  if (rc <= 0)
    return read_failed(err, c, rc, "frame runs past the end");
  if (frame_crc(cairn_crc32c_update(0, p, len), len, c->pos) != crc)
    return read_failed(err, c, 0, "CRC mismatch");
  out->position = c->pos;
  out->payload = p;
  out->len = len;
  c->off += WAL_FRAME + (uint64_t)len;
  c->pos++;
  return CAIRN_OK;
}

static cairn_status wal_consumer_next(cairn_mq_consumer *cc, int timeout_ms,
                                      cairn_mq_message *out, cairn_error *err) {
  wal_consumer *c = (wal_consumer *)cc;
  wal_where w;
  cairn_status st = consumer_wait(c, timeout_ms, &w, err);
  if (st == CAIRN_OK && (c->r.fd < 0 || c->seg_base != w.base))
    st = consumer_enter(c, &w, err);
  if (st == CAIRN_OK)
    st = consumer_read(c, w.limit, out, err);
  if (st != CAIRN_OK && st != CAIRN_NOT_READY) {
    /* start over from the segment's beginning on the next call */
    if (c->r.fd >= 0)
      close(c->r.fd);
    reader_reset(&c->r, -1);
    c->seg_base = -1;
  }
  return st;
}

cairn_status cairn_mq_wal_stats_get(cairn_mq *m, cairn_mq_wal_stats *out,
                                    cairn_error *err) {
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (m == NULL || out == NULL || m->vt != &cairn_mq_embedded_vtable)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log stats: not an embedded log handle");
  wal_mq *mq = (wal_mq *)m;
  out->records = __atomic_load_n(&mq->st_records, __ATOMIC_RELAXED);
  out->bytes = __atomic_load_n(&mq->st_bytes, __ATOMIC_RELAXED);
  out->syncs = __atomic_load_n(&mq->st_syncs, __ATOMIC_RELAXED);
  return CAIRN_OK;
}

const cairn_mq_vtable cairn_mq_embedded_vtable = {
    .name = "embedded",
    .open = wal_open,
    .close = wal_close,
    .produce = wal_produce,
    .bounds = wal_bounds,
    .truncate = wal_truncate,
    .consumer_open = wal_consumer_open,
    .consumer_next = wal_consumer_next,
    .consumer_close = wal_consumer_close,
    .list_channels = wal_list_channels,
};
