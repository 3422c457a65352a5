/* standalone_data.h — the data roles of `cairn standalone` in one process
 * (standalone_data.c). */
#ifndef CAIRN_STANDALONE_DATA_H
#define CAIRN_STANDALONE_DATA_H

#include "config.h"
#include "proxy.h"
#include "rpc.h"
#include "status.h"

typedef struct standalone_data standalone_data;

/* Open the log and object store under the data directory, start the
 * datanode, indexnode and querynode, and resume the catalogue's
 * collections (watch every one, load the loaded ones, build missing
 * indexes). coord is borrowed and must outlive the result. */
cairn_status standalone_data_open(const cairn_config *cfg,
                                  cairn_rpc_client *coord,
                                  standalone_data **out, cairn_error *err);
void standalone_data_close(standalone_data *d);
/* The proxy's view of these roles. */
const cairn_dataplane_ops *standalone_data_ops(void);
cairn_mq *standalone_data_mq(standalone_data *d);

#endif
