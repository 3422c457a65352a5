/*
 * coord_fuzz.c — libFuzzer target for the coordinator's request handling.
 *
 * The first input byte picks a CoordService method; the rest is decoded as
 * that method's request message (protobuf-c) and, when it decodes, run
 * through the handler over the direct transport, so every handler sees
 * arbitrary field values: names, schemas (CreateCollection decodes the
 * embedded CollectionSchema bytes itself), index parameters, partition and
 * alias lists. Every third input is also decoded as a stored catalogue
 * record (CollectionInfo), the format read back from the meta store.
 * Invariant checked: no crash, no sanitizer report, a reply for every call.
 * The catalogue lives in a temporary directory for the whole run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_catalog.pb-c.h"
#include "cairn_internal.pb-c.h"
#include "coord.h"
#include "meta.h"

static cairn_meta *meta;
static cairn_coord *coord;
static cairn_rpc_client *client;

static int init(void) {
  char tmpl[] = "/tmp/cairn-coord-fuzz-XXXXXX";
  char *dir = mkdtemp(tmpl);
  cairn_error err = {0};
  if (dir == NULL || cairn_meta_open("embedded", dir, &meta, &err) != CAIRN_OK ||
      cairn_coord_open(meta, NULL, &coord, &err) != CAIRN_OK ||
      cairn_rpc_client_new_direct(cairn_coord_service(coord), &client, &err) !=
          CAIRN_OK) {
    fprintf(stderr, "coord_fuzz: setup failed: %s\n", err.message);
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = -1;
  if (ready < 0)
    ready = init();
  if (size < 1)
    return 0;
  const ProtobufCServiceDescriptor *svc = &cairn__internal__coord_service__descriptor;
  const ProtobufCMethodDescriptor *m = &svc->methods[data[0] % svc->n_methods];
  cairn_arena *arena = cairn_arena_new();
  ProtobufCMessage *req = protobuf_c_message_unpack(
      m->input, cairn_arena_protobuf(arena), size - 1, data + 1);
  if (req != NULL) {
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", svc->name, m->name);
    ProtobufCMessage *reply = NULL;
    cairn_error err = {0};
    if (cairn_rpc_call(client, path, req, m->output, NULL, arena, &reply, &err) ==
            CAIRN_OK &&
        reply == NULL)
      abort();
  }
  if (data[0] % 3 == 0)
    protobuf_c_message_unpack(&cairn__catalog__collection_info__descriptor,
                              cairn_arena_protobuf(arena), size - 1, data + 1);
  cairn_arena_free(arena);
  return 0;
}
