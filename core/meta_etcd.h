/*
 * meta_etcd.h — the "etcd" meta store backend (meta.h over etcd v3's
 * HTTP/JSON gateway, libcurl + json-c). See meta_etcd.c for the design and
 * the wire format, docs/meta-etcd.md for operations.
 *
 * Location string (what cairn_meta_open("etcd", LOCATION, ...) takes):
 *
 *   ENDPOINT[,ENDPOINT...][;OPTION=VALUE...]
 *
 *   ENDPOINT   "http://host:port" (or "host:port", http assumed; "https://"
 *              is passed to libcurl as is, with its default CA bundle).
 *              Tried in order: a call moves on to the next endpoint after a
 *              connection error; the last endpoint that answered is tried
 *              first next time.
 *   root=P     every key Cairn reads or writes lives under "P/" in etcd (a
 *              trailing '/' is added unless P is empty or already ends in
 *              one), so several Cairn clusters share one etcd; keys handed
 *              back to the caller have the prefix stripped. Default: "" (no
 *              prefix). Printable ASCII, at most 128 bytes, no ';'.
 *   timeout=MS            per-request timeout (default 5000, 100..600000).
 *   connect_timeout=MS    TCP connect timeout per endpoint (default 1000).
 *   watch_retry=MS        how long a watch whose stream broke keeps
 *                         reconnecting before it gives up with
 *                         CAIRN_META_EVENT_LOST (default 60000, 0 = forever).
 *
 *   Example: "http://10.0.0.1:2379,http://10.0.0.2:2379;root=cairn/prod"
 *
 * Opening does not contact etcd (like clientv3): an unreachable cluster
 * shows up on the first call as CAIRN_NOT_READY.
 */
#ifndef CAIRN_META_ETCD_H
#define CAIRN_META_ETCD_H

#include "config.h"
#include "meta.h"

extern const cairn_meta_vtable cairn_meta_etcd_vtable;

/* Build the location string from a configuration: etcd.endpoints
 * (comma-separated, spaces ignored) and etcd.rootPath. *out is malloc'ed;
 * the caller frees it. CAIRN_INVALID_ARGUMENT when the endpoint list is
 * empty or a value holds ';'. */
cairn_status cairn_meta_etcd_location(const cairn_config *cfg, char **out,
                                      cairn_error *err);

#endif
