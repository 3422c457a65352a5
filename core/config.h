/*
 * config.h — Cairn's configuration: a store of dotted keys ("grpc.port",
 * "dataDir", "etcd.endpoints") whose every key is declared in one table in
 * config.c (type, default, one-line doc). That table is the configuration
 * reference: cairn_config_print_markdown prints it, and docs/config.md is
 * checked against it by a unit test.
 *
 * Sources, in increasing precedence (a value from a lower source never
 * overrides one from a higher source, whatever order they are loaded in):
 *   1. built-in defaults;
 *   2. a YAML file: nested mappings flatten to dotted keys
 *      (grpc: {port: 1} -> grpc.port), sequences of scalars become
 *      comma-separated strings, null values are ignored;
 *   3. environment: CAIRN_<KEY> with the key upper-cased and dots as
 *      underscores (CAIRN_GRPC_PORT), plus Milvus-compatible aliases
 *      (ETCD_ENDPOINTS -> etcd.endpoints, MINIO_ADDRESS -> minio.address ...);
 *   4. command-line flags: --key=value or --key value for any dotted key,
 *      plus short aliases the caller registers (--port -> grpc.port). A bool
 *      flag given alone (--auth.enabled) means true.
 *   (5. cairn_config_set with CAIRN_CONFIG_SRC_OVERRIDE, for tests/programs.)
 * Unknown keys in a file or flag are errors naming the closest known key;
 * values are checked against the key's type when set, so typed getters never
 * fail on a known key.
 *
 * Types: int (decimal int64, optional min/max), bool (true/false, yes/no,
 * on/off, 1/0), string, size (bytes; units B, K/KB/KiB, M/MB/MiB, G/GB/GiB,
 * T/TB/TiB, all powers of 1024, case-insensitive: "256MB" = 268435456),
 * duration (ms, s, m, h and combinations "1h30m", "1.5s"; a bare number is
 * seconds).
 *
 * Ownership: the cairn_config owns every string it returns; a returned
 * string stays valid until that key is set again or the config is freed.
 * Threading: build the config on one thread (load/set), then share it
 * read-only; getters do not lock and are safe concurrently with each other
 * but not with setters.
 */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

typedef enum cairn_config_type {
  CAIRN_CONFIG_INT,
  CAIRN_CONFIG_BOOL,
  CAIRN_CONFIG_STRING,
  CAIRN_CONFIG_SIZE,
  CAIRN_CONFIG_DURATION,
} cairn_config_type;

/* One row of the configuration reference. */
typedef struct cairn_config_def {
  const char *key;           /* dotted key */
  cairn_config_type type;
  const char *default_value; /* as it would be written in YAML */
  int64_t min, max;          /* INT only; min == max == 0: unbounded */
  const char *doc;           /* one line */
} cairn_config_def;

typedef enum cairn_config_source {
  CAIRN_CONFIG_SRC_DEFAULT,
  CAIRN_CONFIG_SRC_FILE,
  CAIRN_CONFIG_SRC_ENV,
  CAIRN_CONFIG_SRC_FLAG,
  CAIRN_CONFIG_SRC_OVERRIDE,
} cairn_config_source;

typedef struct cairn_config cairn_config;

/* The reference table (static; *count receives its length). */
const cairn_config_def *cairn_config_defs(size_t *count);
/* Print the reference table as a Markdown table (docs/config.md). */
void cairn_config_print_markdown(FILE *out);

/* A config holding the defaults. Free with cairn_config_free. */
cairn_status cairn_config_new(cairn_config **out, cairn_error *err);
void cairn_config_free(cairn_config *cfg);

/* Set key from text, as if it came from `source`; source_name describes
 * where for error messages ("cairn.yaml", "flag --port"; may be NULL).
 * Ignored (OK) when the key already holds a value from a higher source.
 * Errors: CAIRN_INVALID_ARGUMENT for an unknown key (with a suggestion) or a
 * value that does not parse as the key's type. */
cairn_status cairn_config_set(cairn_config *cfg, const char *key,
                              const char *value, cairn_config_source source,
                              const char *source_name, cairn_error *err);

/* Load a YAML file / buffer (never crashes on any input; errors name the
 * file and line). name is used in messages (e.g. the file name). */
cairn_status cairn_config_load_yaml_file(cairn_config *cfg, const char *path,
                                         cairn_error *err);
cairn_status cairn_config_load_yaml_buffer(cairn_config *cfg, const void *data,
                                           size_t len, const char *name,
                                           cairn_error *err);
/* Load CAIRN_* variables and the Milvus aliases from envp (NULL-terminated
 * "NAME=value" array; NULL = the process environment). Unknown CAIRN_*
 * variables are logged as warnings, not errors. */
cairn_status cairn_config_load_env(cairn_config *cfg, char *const *envp,
                                   cairn_error *err);
/* Register a short flag: cairn_config_add_alias(cfg, "port", "grpc.port")
 * makes --port=1 set grpc.port. */
cairn_status cairn_config_add_alias(cairn_config *cfg, const char *flag,
                                    const char *key, cairn_error *err);
/* Parse argv[0..argc) (do not pass the program name). Flags set keys; other
 * arguments (and everything after "--") are stored in rest[] in order, and
 * *n_rest receives their count (rest must have room for argc entries; the
 * pointers point into argv). */
cairn_status cairn_config_parse_args(cairn_config *cfg, int argc,
                                     char *const *argv, const char **rest,
                                     int *n_rest, cairn_error *err);
/* The usual startup: flags, then environment, then the YAML file named by
 * key "config" (flag --config / env CAIRN_CONFIG), if any. */
cairn_status cairn_config_load_all(cairn_config *cfg, int argc,
                                   char *const *argv, char *const *envp,
                                   const char **rest, int *n_rest,
                                   cairn_error *err);

/* Typed getters. A key that is unknown or of another type logs an error and
 * returns 0 / false / "" (a programming error, not an input error). */
int64_t cairn_config_int(const cairn_config *cfg, const char *key);
bool cairn_config_bool(const cairn_config *cfg, const char *key);
const char *cairn_config_string(const cairn_config *cfg, const char *key);
int64_t cairn_config_size(const cairn_config *cfg, const char *key);
int64_t cairn_config_duration_ms(const cairn_config *cfg, const char *key);
/* Where the current value came from: "default", "flag --port",
 * "env CAIRN_GRPC_PORT", the YAML file name, or NULL for an unknown key. */
const char *cairn_config_source_of(const cairn_config *cfg, const char *key);
/* Print every key = value with its source (for `cairn config` / logs);
 * values of keys containing "secret" or "password" are masked. */
void cairn_config_dump(const cairn_config *cfg, FILE *out);

/* Parsers, exposed for tests and other modules; 0 on success, -1 on error. */
int cairn_config_parse_size(const char *text, int64_t *bytes);
int cairn_config_parse_duration_ms(const char *text, int64_t *ms);
int cairn_config_parse_bool(const char *text, bool *value);

#endif
