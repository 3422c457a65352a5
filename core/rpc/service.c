/*
 * service.c — method tables: full path -> (request/reply descriptors,
 * handler). Shared by both server transports and the direct in-process client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "rpc_internal.h"

typedef struct method_entry {
  char *path; /* "/pkg.Service/Method"; owned */
  const ProtobufCMethodDescriptor *desc;
  cairn_rpc_handler handler; /* NULL: declared but not served */
  bool blocking;
} method_entry;

struct cairn_rpc_service {
  const ProtobufCServiceDescriptor *desc;
  void *user;
  size_t n_methods;
  method_entry *methods; /* one per method of desc, in desc order */
};

static const method_entry *find_entry(const cairn_rpc_service *s,
                                      const char *path) {
  for (size_t i = 0; i < s->n_methods; i++)
    if (strcmp(s->methods[i].path, path) == 0)
      return &s->methods[i];
  return NULL;
}

static method_entry *find_by_short_name(cairn_rpc_service *s,
                                        const char *name) {
  for (size_t i = 0; i < s->n_methods; i++)
    if (strcmp(s->methods[i].desc->name, name) == 0)
      return &s->methods[i];
  return NULL;
}

cairn_status cairn_rpc_service_new(const ProtobufCServiceDescriptor *desc,
                                   const cairn_rpc_method *methods, void *user,
                                   cairn_rpc_service **out, cairn_error *err) {
  *out = NULL;
  cairn_rpc_service *s = calloc(1, sizeof *s);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  s->desc = desc;
  s->user = user;
  s->n_methods = desc->n_methods;
  s->methods = calloc(desc->n_methods, sizeof *s->methods);
  if (s->methods == NULL) {
    free(s);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  for (size_t i = 0; i < desc->n_methods; i++) {
    s->methods[i].desc = &desc->methods[i];
    if (asprintf(&s->methods[i].path, "/%s/%s", desc->name,
                 desc->methods[i].name) < 0) {
      s->methods[i].path = NULL;
      cairn_rpc_service_free(s);
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
  }
  for (const cairn_rpc_method *m = methods; m->name != NULL; m++) {
    method_entry *e = find_by_short_name(s, m->name);
    if (e == NULL) {
      cairn_rpc_service_free(s);
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "service %s has no method '%s'", desc->name,
                             m->name);
    }
    e->handler = m->handler;
  }
  *out = s;
  return CAIRN_OK;
}

void cairn_rpc_service_free(cairn_rpc_service *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n_methods; i++)
    free(s->methods[i].path);
  free(s->methods);
  free(s);
}

cairn_status cairn_rpc_service_mark_blocking(cairn_rpc_service *s,
                                             const char *const *names,
                                             cairn_error *err) {
  for (; *names != NULL; names++) {
    method_entry *e = find_by_short_name(s, *names);
    if (e == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "service %s has no method '%s'", s->desc->name, *names);
    e->blocking = true;
  }
  return CAIRN_OK;
}

static bool served_has(const rpc_served *list, size_t n, const char *path) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i].path, path) == 0)
      return true;
  return false;
}

rpc_served *rpc_served_methods(cairn_rpc_service *const *services, size_t *n) {
  size_t cap = 0;
  for (cairn_rpc_service *const *s = services; *s != NULL; s++)
    cap += (*s)->n_methods;
  rpc_served *list = calloc(cap + 1, sizeof *list);
  *n = 0;
  if (list == NULL)
    return NULL;
  for (cairn_rpc_service *const *s = services; *s != NULL; s++)
    for (size_t i = 0; i < (*s)->n_methods; i++) {
      const method_entry *e = &(*s)->methods[i];
      if (e->handler == NULL || served_has(list, *n, e->path))
        continue;
      list[(*n)++] = (rpc_served){.path = e->path, .service = *s,
                                  .in = e->desc->input, .blocking = e->blocking};
    }
  return list;
}

cairn_grpc_code cairn_rpc_service_dispatch(const cairn_rpc_service *s,
                                           cairn_rpc_ctx *ctx,
                                           const ProtobufCMessage *req,
                                           ProtobufCMessage **reply) {
  *reply = NULL;
  const method_entry *e = find_entry(s, ctx->method);
  if (e == NULL || e->handler == NULL) {
    ctx->grpc_message =
        cairn_arena_printf(ctx->arena, "method %s is not served by Cairn",
                           ctx->method);
    return CAIRN_GRPC_UNIMPLEMENTED;
  }
  if (req->descriptor != e->desc->input) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "method %s takes %s, got %s", ctx->method,
        e->desc->input->name, req->descriptor->name);
    return CAIRN_GRPC_INVALID_ARGUMENT;
  }
  ctx->user = s->user;
  cairn_grpc_code code = e->handler(ctx, req, reply);
  if (code == CAIRN_GRPC_OK && *reply == NULL) {
    ctx->grpc_message =
        cairn_arena_printf(ctx->arena, "method %s built no reply", ctx->method);
    return CAIRN_GRPC_INTERNAL;
  }
  return code;
}
