/*
 * crc32c.c — CRC-32C with runtime dispatch: the SSE4.2 `crc32` instruction
 * (8 bytes per instruction) when the CPU has it, else a byte-at-a-time table
 * (slicing-by-1; ample for the table path's role as a fallback and oracle).
 * See crc32c.h for the choice of checksum.
 *
 * Threading: the table is a constant computed at first use under
 * pthread_once; the dispatch flag likewise.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc_table[256];
static int crc_use_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int j = 0; j < 8; j++)
      c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
    crc_table[i] = c;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  crc_use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

uint32_t cairn_crc32c_update_sw(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
  const uint8_t *p = data;
  uint32_t c = ~crc;
  for (size_t i = 0; i < len; i++)
    c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc,
                                                          const uint8_t *p,
                                                          size_t n) {
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8); /* unaligned-safe; compiles to one load */
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = (uint32_t)c;
  for (; n > 0; n--, p++)
    c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}
#endif

uint32_t cairn_crc32c_update(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
#if defined(__x86_64__) && defined(__GNUC__)
  if (crc_use_hw)
    return crc_hw(crc, data, len);
#endif
  return cairn_crc32c_update_sw(crc, data, len);
}

int cairn_crc32c_hw(void) {
  pthread_once(&crc_once, crc_init);
  return crc_use_hw;
}
