/*
 * crc32c.h — CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78),
 * the checksum of core's on-disk formats (the embedded log's WAL frames).
 *
 * Why CRC-32C and why our own: it is the checksum of iSCSI, ext4, Kafka's
 * record batches and LevelDB/RocksDB logs, it detects every burst error up to
 * 32 bits, and x86-64 computes it with one instruction (SSE4.2 `crc32`) at
 * several GB/s, far above what a disk writes. xxhash would be as fast but is a
 * hash, not an error-detecting code, and would add a dependency for 80 lines.
 * index/index_io.c holds its own copy (cairn_crc32c) for the index library,
 * which links nothing from core; the two compute the same function.
 *
 * Threading: pure functions; the dispatch choice is made once, race-free.
 */
#ifndef CAIRN_CRC32C_H
#define CAIRN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend a finished CRC (0 to start) over len more bytes and return the
 * finished CRC: update(update(0, a), b) == update(0, a||b).
 * crc32c("123456789") == 0xE3069283. Uses SSE4.2 when the CPU has it. */
uint32_t cairn_crc32c_update(uint32_t crc, const void *data, size_t len);

/* The portable table-driven path, always available (tests compare the two). */
uint32_t cairn_crc32c_update_sw(uint32_t crc, const void *data, size_t len);

/* 1 when cairn_crc32c_update uses the SSE4.2 instruction. */
int cairn_crc32c_hw(void);

#endif
