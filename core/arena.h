/*
 * arena.h — a bump allocator for per-request memory.
 *
 * An RPC handler unpacks its request into an arena, builds its reply in the
 * same arena, and the RPC layer frees the whole arena once the reply is
 * packed: no per-field frees, no leaks on error paths (STYLE.md §7).
 *
 * Invariants: allocations are 16-byte aligned; memory lives until
 * cairn_arena_free; an arena is used by one thread at a time.
 * cairn_arena_protobuf() adapts it to protobuf-c's allocator interface (its
 * free is a no-op).
 */
#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cairn_arena cairn_arena;

/* New empty arena, or NULL when out of memory. Free with cairn_arena_free. */
cairn_arena *cairn_arena_new(void);
void cairn_arena_free(cairn_arena *arena);
/* Zeroed memory of size bytes, or NULL when out of memory. */
void *cairn_arena_alloc(cairn_arena *arena, size_t size);
/* Copy of a NUL-terminated string (NULL stays NULL... and becomes ""). */
char *cairn_arena_strdup(cairn_arena *arena, const char *s);
/* Copy of len bytes plus a terminating NUL. */
char *cairn_arena_strndup(cairn_arena *arena, const char *s, size_t len);
/* printf into the arena. */
char *cairn_arena_printf(cairn_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Run fn(arg) when the arena is freed (last registered runs first), e.g.
 * to drop a reference the request's reply points into. False when out of
 * memory: then nothing is registered and the caller must run it itself. */
bool cairn_arena_defer(cairn_arena *arena, void (*fn)(void *), void *arg);
/* Bytes currently allocated from the system, for accounting. */
size_t cairn_arena_bytes(const cairn_arena *arena);
/* A protobuf-c allocator view on the arena; valid as long as the arena. */
ProtobufCAllocator *cairn_arena_protobuf(cairn_arena *arena);

/* Allocate a zeroed array of n elements of type T. */
#define CAIRN_ARENA_NEW(arena, T, n)                                           \
  ((T *)cairn_arena_alloc((arena), sizeof(T) * (size_t)(n)))

#endif
