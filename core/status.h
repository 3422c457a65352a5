/*
 * status.h — the one status enum of Cairn, and the error record that carries
 * a message a person can act on.
 *
 * Every status has three faces, kept side by side in one X-macro table:
 *   - our name (CAIRN_<NAME>), used in C code;
 *   - the Milvus error code (merr "code", common.Status.code = field 3);
 *   - the legacy common.ErrorCode (common.Status.error_code = field 1), which
 *     the Node SDK reads instead of `code` (PROTOCOL.md §0.3, §2).
 *
 * Convention: functions return a cairn_status; when they take a
 * `cairn_error *err` (may be NULL) they fill it with the same status and a
 * message built where the error was found ("collection not found[collection=docs]").
 */
#ifndef CAIRN_STATUS_H
#define CAIRN_STATUS_H

#include <stddef.h>

/* X(NAME, milvus_code, legacy_error_code, default message) */
#define CAIRN_STATUS_TABLE(X)                                                  \
  X(OK, 0, 0, "success")                                                       \
  X(NOT_READY, 1, 56, "service not ready")                                     \
  X(INTERNAL, 5, 1, "internal error")                                          \
  X(NOMEM, 5, 1, "out of memory")                                              \
  X(RATE_LIMIT, 8, 49, "rate limit exceeded")                                  \
  X(UNIMPLEMENTED, 10, 1, "not implemented")                                   \
  X(COLLECTION_NOT_FOUND, 100, 4, "collection not found")                      \
  X(COLLECTION_NOT_LOADED, 101, 1, "collection not loaded")                    \
  X(COLLECTION_LIMIT, 102, 1, "too many collections")                          \
  X(SCHEMA_MISMATCH, 109, 62, "collection schema mismatch")                    \
  X(PARTITION_NOT_FOUND, 200, 15, "partition not found")                       \
  X(PARTITION_NOT_LOADED, 201, 1, "partition not loaded")                      \
  X(INDEX_NOT_FOUND, 700, 25, "index not found")                               \
  X(INDEX_NOT_SUPPORTED, 701, 1, "index not supported")                        \
  X(INDEX_DUPLICATE, 702, 1, "index duplicate")                                \
  X(DATABASE_NOT_FOUND, 800, 1, "database not found")                          \
  X(DATABASE_LIMIT, 801, 1, "too many databases")                              \
  X(DATABASE_INVALID_NAME, 802, 1, "invalid database name")                    \
  X(IO_NOT_FOUND, 1000, 1, "key not found")                                    \
  X(IO, 1001, 1, "i/o error")                                                  \
  X(CORRUPT, 1002, 1, "data corrupt or truncated")                             \
  X(INVALID_ARGUMENT, 1100, 5, "invalid parameter")                            \
  X(MISSING_ARGUMENT, 1101, 5, "missing parameter")                            \
  X(TOO_LARGE, 1102, 5, "parameter too large")                                 \
  X(ALIAS_NOT_FOUND, 1600, 1, "alias not found")                               \
  X(ALIAS_CONFLICT, 1601, 1, "alias and collection name conflict")             \
  X(ALIAS_EXISTS, 1602, 1, "alias already exists")                             \
  X(CONFLICT, 1700, 1, "concurrent update, try again")

typedef enum cairn_status {
#define CAIRN_STATUS_ENUM(name, code, legacy, msg) CAIRN_##name,
  CAIRN_STATUS_TABLE(CAIRN_STATUS_ENUM)
#undef CAIRN_STATUS_ENUM
  CAIRN_STATUS_COUNT
} cairn_status;

/* An error with its human message. Embedded by value; never heap-owned. */
typedef struct cairn_error {
  cairn_status status;
  char message[512];
} cairn_error;

/* Name such as "COLLECTION_NOT_FOUND"; never NULL. */
const char *cairn_status_name(cairn_status st);
/* Default message such as "collection not found"; never NULL. */
const char *cairn_status_message(cairn_status st);
/* Milvus error code (common.Status.code). */
int cairn_status_milvus_code(cairn_status st);
/* Legacy common.ErrorCode value (common.Status.error_code). */
int cairn_status_legacy_code(cairn_status st);

/* Fill err (if not NULL) with st and a printf-style message; returns st.
 * A NULL fmt uses the status's default message. */
cairn_status cairn_error_set(cairn_error *err, cairn_status st, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));
/* Reset err to OK with an empty message. */
void cairn_error_clear(cairn_error *err);

#endif
