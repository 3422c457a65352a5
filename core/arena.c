/*
 * arena.c — chunked bump allocator (see arena.h).
 *
 * Chunks grow geometrically from 4 KiB to 1 MiB; a request larger than half a
 * chunk gets a chunk of its own so that big buffers (vectors) waste nothing.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  _Alignas(16) unsigned char data[];
} arena_chunk;

/* A deferred call, allocated in the arena itself. */
typedef struct arena_deferred {
  struct arena_deferred *next;
  void (*fn)(void *);
  void *arg;
} arena_deferred;

struct cairn_arena {
  arena_chunk *head;          /* chunk being filled; older ones follow */
  arena_deferred *deferred;   /* newest first */
  size_t next_chunk_size;
  size_t total;
  ProtobufCAllocator pb;      /* allocator_data points back to the arena */
};

static void *pb_alloc(void *data, size_t size) {
  return cairn_arena_alloc(data, size);
}

static void pb_free(void *data, void *ptr) {
  (void)data;
  (void)ptr;
}

cairn_arena *cairn_arena_new(void) {
  cairn_arena *arena = calloc(1, sizeof *arena);
  if (arena == NULL)
    return NULL;
  arena->next_chunk_size = 4096;
  arena->pb.alloc = pb_alloc;
  arena->pb.free = pb_free;
  arena->pb.allocator_data = arena;
  return arena;
}

void cairn_arena_free(cairn_arena *arena) {
  if (arena == NULL)
    return;
  for (arena_deferred *d = arena->deferred; d != NULL; d = d->next)
    d->fn(d->arg);
  arena_chunk *c = arena->head;
  while (c != NULL) {
    arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(arena);
}

static arena_chunk *chunk_new(size_t size) {
  arena_chunk *c = malloc(sizeof *c + size);
  if (c == NULL)
    return NULL;
  c->size = size;
  c->used = 0;
  c->next = NULL;
  return c;
}

void *cairn_arena_alloc(cairn_arena *arena, size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (size == 0)
    size = 16;
  arena_chunk *c = arena->head;
  if (c != NULL && c->size - c->used >= size) {
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
  }
  if (size > arena->next_chunk_size / 2) {
    /* Dedicated chunk, linked behind the head so the head keeps filling. */
    arena_chunk *big = chunk_new(size);
    if (big == NULL)
      return NULL;
    big->used = size;
    if (c != NULL) {
      big->next = c->next;
      c->next = big;
    } else {
      arena->head = big;
    }
    arena->total += size;
    memset(big->data, 0, size);
    return big->data;
  }
  arena_chunk *fresh = chunk_new(arena->next_chunk_size);
  if (fresh == NULL)
    return NULL;
  arena->total += fresh->size;
  if (arena->next_chunk_size < (1u << 20))
    arena->next_chunk_size *= 2;
  fresh->next = c;
  arena->head = fresh;
  fresh->used = size;
  memset(fresh->data, 0, size);
  return fresh->data;
}

char *cairn_arena_strndup(cairn_arena *arena, const char *s, size_t len) {
  char *p = cairn_arena_alloc(arena, len + 1);
  if (p != NULL && len > 0)
    memcpy(p, s, len);
  return p;
}

char *cairn_arena_strdup(cairn_arena *arena, const char *s) {
  if (s == NULL)
    s = "";
  return cairn_arena_strndup(arena, s, strlen(s));
}

char *cairn_arena_printf(cairn_arena *arena, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = cairn_arena_alloc(arena, (size_t)n + 1);
  if (p == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

bool cairn_arena_defer(cairn_arena *arena, void (*fn)(void *), void *arg) {
  arena_deferred *d = cairn_arena_alloc(arena, sizeof *d);
  if (d == NULL)
    return false;
  d->fn = fn;
  d->arg = arg;
  d->next = arena->deferred;
  arena->deferred = d;
  return true;
}

size_t cairn_arena_bytes(const cairn_arena *arena) { return arena->total; }

ProtobufCAllocator *cairn_arena_protobuf(cairn_arena *arena) {
  return &arena->pb;
}
