/*
 * server_api.c — rpc.h's server API: one handle over the transport chosen
 * in the options (CAIRN_RPC_NATIVE: h2server.c; CAIRN_RPC_GRPC_CORE:
 * server.c). The handle owns the transport's server.
 */
#include <stdlib.h>

#include "rpc.h"
#include "rpc_internal.h"

struct cairn_rpc_server {
  cairn_rpc_transport transport;
  grpcc_server *grpcc;
  h2_server *h2;
};

cairn_status cairn_rpc_server_start(const cairn_rpc_server_options *opts,
                                    cairn_rpc_service *const *services,
                                    cairn_rpc_observer observer,
                                    void *observer_user,
                                    cairn_rpc_server **out, cairn_error *err) {
  *out = NULL;
  cairn_rpc_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  s->transport = opts->transport;
  cairn_status st =
      s->transport == CAIRN_RPC_NATIVE
          ? h2_server_start(opts, services, observer, observer_user, &s->h2, err)
          : grpcc_server_start(opts, services, observer, observer_user, &s->grpcc,
                               err);
  if (st != CAIRN_OK) {
    free(s);
    return st;
  }
  *out = s;
  return CAIRN_OK;
}

int cairn_rpc_server_port(const cairn_rpc_server *server) {
  return server->transport == CAIRN_RPC_NATIVE ? h2_server_port(server->h2)
                                                : grpcc_server_port(server->grpcc);
}

void cairn_rpc_server_stop(cairn_rpc_server *server, int grace_ms) {
  if (server == NULL)
    return;
  if (server->transport == CAIRN_RPC_NATIVE)
    h2_server_stop(server->h2, grace_ms);
  else
    grpcc_server_stop(server->grpcc, grace_ms);
  free(server);
}
