/*
 * index_io.h — the writer and bounds-checked reader used to serialize
 * indexes, and CRC32C. The container format is specified in index_io.c.
 *
 * A writer owns a growable malloc'd buffer; cairn_writer_take hands it to
 * the caller (free()). A reader borrows its buffer and never reads past
 * it: every getter returns false on truncation or a malformed section,
 * and the caller turns that into CAIRN_CORRUPT.
 */
#ifndef CAIRN_INDEX_IO_H
#define CAIRN_INDEX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAIRN_IO_ALIGN 64 /* section data alignment, from file start */

typedef struct cairn_writer {
  uint8_t *buf;
  size_t len, cap;
  bool failed; /* allocation failed at some point */
} cairn_writer;

typedef struct cairn_reader {
  const uint8_t *buf;
  size_t len, off;
} cairn_reader;

void cairn_writer_init(cairn_writer *w);
void cairn_writer_destroy(cairn_writer *w);
void cairn_writer_put(cairn_writer *w, const void *data, size_t len);
void cairn_writer_u32(cairn_writer *w, uint32_t v);
void cairn_writer_u64(cairn_writer *w, uint64_t v);
void cairn_writer_f32(cairn_writer *w, float v);
/* A section: u64 byte length, zero padding so the data starts at a
 * multiple of CAIRN_IO_ALIGN, then the data. */
void cairn_writer_section(cairn_writer *w, const void *data, size_t len);

bool cairn_reader_u32(cairn_reader *r, uint32_t *v);
bool cairn_reader_u64(cairn_reader *r, uint64_t *v);
bool cairn_reader_f32(cairn_reader *r, float *v);
/* Reads a section header and returns a pointer to its data (borrowed) and
 * its length; fails unless length is a multiple of elem and, when want is
 * not SIZE_MAX, equals want. */
bool cairn_reader_section(cairn_reader *r, size_t elem, size_t want,
                          const void **data, size_t *len);
/* Same, into a fresh malloc'd copy (*out NULL for an empty section). */
bool cairn_reader_section_copy(cairn_reader *r, size_t elem, size_t want,
                               void **out, size_t *len);

uint32_t cairn_crc32c(uint32_t crc, const void *data, size_t len);

#endif
