/*
 * config.c — the configuration reference table and the loaders (config.h).
 *
 * The table `defs` below is the single source of truth for every key: its
 * type, default and doc line. To add a key, add a row (keep rows sorted by
 * section); docs/config.md must then be regenerated (`cairn config
 * --markdown`, or the unit test prints the expected text when it differs).
 *
 * A cairn_config is an array of `entry` parallel to `defs`: the current text,
 * its parsed form, and its source. Values are parsed and type-checked when
 * set, so getters only read.
 *
 * The YAML loader walks libyaml's event stream with an explicit stack of
 * open mappings (depth-limited), so any input — truncated, binary, deeply
 * nested, with anchors — ends in either a set of keys or an error message
 * with a line number, never a crash (see tests/fuzz/config_fuzz.c).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "log.h"

extern char **environ;

#define I CAIRN_CONFIG_INT
#define B CAIRN_CONFIG_BOOL
#define S CAIRN_CONFIG_STRING
#define Z CAIRN_CONFIG_SIZE
#define D CAIRN_CONFIG_DURATION
static const cairn_config_def defs[] = {
    {"config", S, "", 0, 0,
     "YAML file to load (flag --config, env CAIRN_CONFIG); empty = none"},
    {"dataDir", S, "./cairn-data", 0, 0,
     "Directory for embedded storage (meta store, WAL, local objects)"},
    {"log.level", S, "info", 0, 0, "Log threshold: debug, info, warn or error"},
    {"grpc.host", S, "0.0.0.0", 0, 0, "Address the Milvus gRPC service listens on"},
    {"grpc.port", I, "19530", 0, 65535,
     "Port of the Milvus gRPC service (0 = pick a free port)"},
    {"grpc.maxMessageSize", Z, "256MB", 0, 0,
     "Largest gRPC message accepted or sent"},
    {"grpc.transport", S, "native", 0, 0,
     "Server side of the gRPC port: native (HTTP/2 on libnghttp2, less CPU per call) or grpc-core (the gRPC C core server, which also accepts compressed messages)"},
    {"grpc.workers", I, "0", 0, 4096,
     "gRPC worker threads (0 = twice the cores, at least 4; in standalone one per core takes calls, the others stand by for blocking ones)"},
    {"http.host", S, "0.0.0.0", 0, 0, "Address of the /healthz and /metrics server"},
    {"http.port", I, "9091", 0, 65535,
     "Port of the /healthz and /metrics server (0 = pick a free port)"},
    {"meta.backend", S, "embedded", 0, 0,
     "Meta store backend: embedded (LMDB under dataDir/meta) or etcd"},
    {"mq.backend", S, "embedded", 0, 0,
     "Log backend: embedded (WAL files under dataDir/wal) or kafka (kafka.brokerList)"},
    {"objstore.backend", S, "local", 0, 0,
     "Object store backend: local (files under dataDir/objects) or s3 (minio.*)"},
    {"objstore.rootPath", S, "files", 0, 0,
     "Prefix of every object key Cairn writes"},
    {"dataNode.sealRows", I, "1000000", 1, 1000000000,
     "Flush a shard's growing rows into a sealed segment at this many rows"},
    {"dataNode.sealBytes", Z, "512MB", 0, 0,
     "... or when they take this much memory"},
    {"dataNode.sealAge", D, "10m", 0, 0,
     "... or when the oldest unflushed row is this old"},
    {"indexNode.workers", I, "1", 1, 64,
     "Index builds run at once (each build itself uses every core)"},
    {"queryNode.searchThreads", I, "0", 0, 256,
     "Threads searching segments in parallel (0 = number of cores)"},
    {"coordinator.address", S, "", 0, 0,
     "host:port of the coordinator's gRPC service for `cairn proxy` with the "
     "embedded meta store; empty in a cluster (found through etcd)"},
    {"node.advertiseAddress", S, "", 0, 0,
     "host:port other cluster processes use to reach this one's gRPC service "
     "(empty = grpc.host, or this machine's hostname when that is a wildcard, "
     "with the bound port)"},
    {"session.ttl", D, "10s", 0, 0,
     "Lease of a cluster process's session in etcd: a process silent this long "
     "is taken as dead and its work moves to the others"},
    {"etcd.endpoints", S, "localhost:2379", 0, 0,
     "Comma-separated etcd endpoints (meta.backend = etcd)"},
    {"etcd.rootPath", S, "cairn", 0, 0, "Prefix of every key Cairn writes to etcd"},
    {"minio.address", S, "localhost:9000", 0, 0,
     "S3/MinIO endpoint host:port (objstore.backend = s3)"},
    {"minio.accessKeyID", S, "minioadmin", 0, 0, "S3 access key id"},
    {"minio.secretAccessKey", S, "minioadmin", 0, 0, "S3 secret access key"},
    {"minio.useSSL", B, "false", 0, 0, "Use HTTPS to reach the S3 endpoint"},
    {"minio.bucketName", S, "a-bucket", 0, 0, "Bucket holding Cairn's objects"},
    {"minio.rootPath", S, "files", 0, 0, "Prefix of every object Cairn writes"},
    {"minio.port", I, "0", 0, 65535,
     "Port of the S3/MinIO endpoint when minio.address names none (Milvus "
     "keeps them apart); 0 = the address's own"},
    {"minio.region", S, "", 0, 0,
     "S3 region for request signing (empty = AWS_REGION, else us-east-1)"},
    {"mq.type", S, "", 0, 0,
     "Milvus's name for the log backend: kafka, or rocksmq / natsmq / "
     "woodpecker / default for the embedded one; overrides mq.backend when set "
     "(pulsar is refused)"},
    {"common.gracefulTime", I, "5000", 0, 86400000,
     "Milvus's staleness bound of Bounded reads, in ms. Cairn serves Bounded "
     "reads like Strong ones, which meets any bound; accepted so milvus.yaml "
     "files load"},
    {"kafka.brokerList", S, "", 0, 0,
     "Kafka bootstrap servers host:port,... with optional ?property=value&... "
     "(log backend kafka; docs/mq-kafka.md)"},
    {"auth.enabled", B, "false", 0, 0,
     "Require the authorization metadata on every RPC (not supported by this "
     "build: cairn refuses to start with it on)"},
};
#undef I
#undef B
#undef S
#undef Z
#undef D
#define N_DEFS (sizeof defs / sizeof defs[0])

/* Milvus-compatible environment names (as used by Milvus' docker-compose). */
static const struct {
  const char *env;
  const char *key;
} env_aliases[] = {
    {"ETCD_ENDPOINTS", "etcd.endpoints"},
    {"ETCD_ROOT_PATH", "etcd.rootPath"},
    {"MINIO_ADDRESS", "minio.address"},
    {"MINIO_ACCESS_KEY_ID", "minio.accessKeyID"},
    {"MINIO_SECRET_ACCESS_KEY", "minio.secretAccessKey"},
    {"MINIO_USE_SSL", "minio.useSSL"},
    {"MINIO_BUCKET_NAME", "minio.bucketName"},
    {"MINIO_ROOT_PATH", "minio.rootPath"},
    {"MINIO_PORT", "minio.port"},
    {"MINIO_REGION", "minio.region"},
    {"MQ_TYPE", "mq.type"},
};

typedef struct entry {
  char *text;               /* current value as text (owned) */
  int64_t num;              /* INT, SIZE (bytes), DURATION (ms), BOOL (0/1) */
  cairn_config_source source;
  char *source_name;        /* owned; NULL for defaults */
} entry;

typedef struct alias {
  char *flag; /* without the dashes */
  size_t def; /* index into defs */
} alias;

struct cairn_config {
  entry entries[N_DEFS];
  alias *aliases;
  size_t n_aliases;
};

static const char *const type_names[] = {"int", "bool", "string",
                                         "size (e.g. 256MB)",
                                         "duration (e.g. 10s)"};

const cairn_config_def *cairn_config_defs(size_t *count) {
  if (count != NULL)
    *count = N_DEFS;
  return defs;
}

/* ---- value parsers ------------------------------------------------------ */

int cairn_config_parse_bool(const char *t, bool *v) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; t != NULL && i < 4; i++) {
    if (strcasecmp(t, yes[i]) == 0)
      return *v = true, 0;
    if (strcasecmp(t, no[i]) == 0)
      return *v = false, 0;
  }
  return -1;
}

static int parse_int(const char *t, int64_t *v) {
  if (t == NULL || *t == '\0' || isspace((unsigned char)*t))
    return -1;
  char *end;
  errno = 0;
  long long x = strtoll(t, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *v = x;
  return 0;
}

int cairn_config_parse_size(const char *t, int64_t *bytes) {
  static const struct {
    const char *unit;
    double mul;
  } units[] = {{"", 1},  {"b", 1},
               {"k", 1024.0}, {"kb", 1024.0}, {"kib", 1024.0},
               {"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0},
               {"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0},
               {"t", 1099511627776.0}, {"tb", 1099511627776.0},
               {"tib", 1099511627776.0}};
  if (t == NULL || !(isdigit((unsigned char)*t) || *t == '.'))
    return -1;
  char *end;
  double x = strtod(t, &end);
  while (*end == ' ')
    end++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].unit) != 0)
      continue;
    double b = x * units[i].mul;
    if (!isfinite(b) || b < 0 || b > 9.2e18 || b != floor(b))
      return -1;
    *bytes = (int64_t)b;
    return 0;
  }
  return -1;
}

int cairn_config_parse_duration_ms(const char *t, int64_t *ms) {
  if (t == NULL || *t == '\0')
    return -1;
  int64_t bare;
  if (parse_int(t, &bare) == 0) { /* a bare number is seconds */
    if (bare < 0 || bare > INT64_MAX / 1000)
      return -1;
    return *ms = bare * 1000, 0;
  }
  double total = 0;
  while (*t != '\0') {
    if (!(isdigit((unsigned char)*t) || *t == '.'))
      return -1;
    char *end;
    double x = strtod(t, &end);
    double mul;
    if (strncmp(end, "ms", 2) == 0)
      mul = 1, end += 2;
    else if (strncmp(end, "us", 2) == 0)
      mul = 0.001, end += 2;
    else if (*end == 's')
      mul = 1000, end++;
    else if (*end == 'm')
      mul = 60000, end++;
    else if (*end == 'h')
      mul = 3600000, end++;
    else
      return -1;
    total += x * mul;
    t = end;
  }
  if (!isfinite(total) || total > 9.2e18)
    return -1;
  *ms = (int64_t)total;
  return 0;
}

/* ---- lookup and suggestions --------------------------------------------- */

static long find_def(const char *key) {
  for (size_t i = 0; key != NULL && i < N_DEFS; i++)
    if (strcmp(defs[i].key, key) == 0)
      return (long)i;
  return -1;
}

/* Case-insensitive Levenshtein distance, capped at 64 characters. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strnlen(a, 64), lb = strnlen(b, 64);
  size_t row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = diag + cost;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The closest known key, or NULL when nothing is reasonably close. */
static const char *closest_key(const char *key) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < N_DEFS; i++) {
    size_t d = edit_distance(key, defs[i].key);
    if (d < best_d)
      best_d = d, best = defs[i].key;
  }
  size_t len = strlen(key), limit = len / 3 > 2 ? len / 3 : 2;
  return best_d <= limit ? best : NULL;
}

static cairn_status unknown_key(const char *key, const char *where,
                                cairn_error *err) {
  const char *near = closest_key(key);
  if (near != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unknown config key '%.128s'%s%.200s; did you mean '%s'?",
                           key, where ? " in " : "", where ? where : "", near);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "unknown config key '%.128s'%s%.200s", key,
                         where ? " in " : "", where ? where : "");
}

/* ---- set ---------------------------------------------------------------- */

static int parse_value(const cairn_config_def *d, const char *text, int64_t *num) {
  bool b;
  switch (d->type) {
  case CAIRN_CONFIG_INT:
    if (parse_int(text, num) != 0)
      return -1;
    return (d->min != 0 || d->max != 0) && (*num < d->min || *num > d->max) ? -2 : 0;
  case CAIRN_CONFIG_BOOL:
    if (cairn_config_parse_bool(text, &b) != 0)
      return -1;
    return *num = b, 0;
  case CAIRN_CONFIG_SIZE:
    return cairn_config_parse_size(text, num);
  case CAIRN_CONFIG_DURATION:
    return cairn_config_parse_duration_ms(text, num);
  default:
    return *num = 0, 0;
  }
}

static cairn_status set_index(cairn_config *cfg, size_t i, const char *value,
                              cairn_config_source source, const char *where,
                              cairn_error *err) {
  const cairn_config_def *d = &defs[i];
  entry *e = &cfg->entries[i];
  if (source < e->source)
    return CAIRN_OK;
  int64_t num;
  int rc = parse_value(d, value, &num);
  if (rc == -2)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "invalid value '%.128s' for config key '%s'%s%.200s: "
                           "expected an int in %lld..%lld",
                           value, d->key, where ? " in " : "", where ? where : "",
                           (long long)d->min, (long long)d->max);
  if (rc != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "invalid value '%.128s' for config key '%s'%s%.200s: "
                           "expected %s",
                           value, d->key, where ? " in " : "", where ? where : "",
                           type_names[d->type]);
  char *text = strdup(value);
  char *name = where ? strdup(where) : NULL;
  if (text == NULL || (where != NULL && name == NULL)) {
    free(text);
    free(name);
    return cairn_error_set(err, CAIRN_NOMEM, "config: out of memory");
  }
  free(e->text);
  free(e->source_name);
  e->text = text, e->num = num, e->source = source, e->source_name = name;
  return CAIRN_OK;
}

cairn_status cairn_config_set(cairn_config *cfg, const char *key,
                              const char *value, cairn_config_source source,
                              const char *source_name, cairn_error *err) {
  if (cfg == NULL || key == NULL || value == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "config set: NULL argument");
  long i = find_def(key);
  if (i < 0)
    return unknown_key(key, source_name, err);
  return set_index(cfg, (size_t)i, value, source, source_name, err);
}

cairn_status cairn_config_new(cairn_config **out, cairn_error *err) {
  *out = NULL;
  cairn_config *cfg = calloc(1, sizeof *cfg);
  if (cfg == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "config: out of memory");
  for (size_t i = 0; i < N_DEFS; i++) {
    cairn_status st = set_index(cfg, i, defs[i].default_value,
                                CAIRN_CONFIG_SRC_DEFAULT, NULL, err);
    if (st != CAIRN_OK) { /* a bad row in the table: caught by the unit test */
      cairn_config_free(cfg);
      return st;
    }
  }
  *out = cfg;
  return CAIRN_OK;
}

void cairn_config_free(cairn_config *cfg) {
  if (cfg == NULL)
    return;
  for (size_t i = 0; i < N_DEFS; i++) {
    free(cfg->entries[i].text);
    free(cfg->entries[i].source_name);
  }
  for (size_t i = 0; i < cfg->n_aliases; i++)
    free(cfg->aliases[i].flag);
  free(cfg->aliases);
  free(cfg);
}

/* ---- getters ------------------------------------------------------------ */

static const entry *typed(const cairn_config *cfg, const char *key,
                          cairn_config_type type) {
  long i = cfg ? find_def(key) : -1;
  if (i < 0) {
    cairn_log_error("config: unknown key '%s' requested", key ? key : "(null)");
    return NULL;
  }
  if (defs[i].type != type) {
    cairn_log_error("config: key '%s' has type %s, not %s", key,
                    type_names[defs[i].type], type_names[type]);
    return NULL;
  }
  return &cfg->entries[i];
}

int64_t cairn_config_int(const cairn_config *cfg, const char *key) {
  const entry *e = typed(cfg, key, CAIRN_CONFIG_INT);
  return e ? e->num : 0;
}
bool cairn_config_bool(const cairn_config *cfg, const char *key) {
  const entry *e = typed(cfg, key, CAIRN_CONFIG_BOOL);
  return e ? e->num != 0 : false;
}
const char *cairn_config_string(const cairn_config *cfg, const char *key) {
  const entry *e = typed(cfg, key, CAIRN_CONFIG_STRING);
  return e ? e->text : "";
}
int64_t cairn_config_size(const cairn_config *cfg, const char *key) {
  const entry *e = typed(cfg, key, CAIRN_CONFIG_SIZE);
  return e ? e->num : 0;
}
int64_t cairn_config_duration_ms(const cairn_config *cfg, const char *key) {
  const entry *e = typed(cfg, key, CAIRN_CONFIG_DURATION);
  return e ? e->num : 0;
}

const char *cairn_config_source_of(const cairn_config *cfg, const char *key) {
  long i = cfg ? find_def(key) : -1;
  if (i < 0)
    return NULL;
  const entry *e = &cfg->entries[i];
  return e->source_name ? e->source_name : "default";
}

static bool is_secret(const char *key) {
  return strcasestr(key, "secret") != NULL || strcasestr(key, "password") != NULL;
}

void cairn_config_dump(const cairn_config *cfg, FILE *out) {
  for (size_t i = 0; i < N_DEFS; i++) {
    const entry *e = &cfg->entries[i];
    fprintf(out, "%s = %s  (%s)\n", defs[i].key,
            is_secret(defs[i].key) && e->source != CAIRN_CONFIG_SRC_DEFAULT
                ? "********"
                : e->text,
            e->source_name ? e->source_name : "default");
  }
}

/* ---- reference as Markdown ---------------------------------------------- */

static void env_name(const char *key, char *buf, size_t n) {
  size_t j = (size_t)snprintf(buf, n, "CAIRN_");
  for (; *key && j + 1 < n; key++)
    buf[j++] = *key == '.' ? '_' : (char)toupper((unsigned char)*key);
  buf[j] = '\0';
}

void cairn_config_print_markdown(FILE *out) {
  fprintf(out, "| key | type | default | environment | description |\n"
               "|---|---|---|---|---|\n");
  for (size_t i = 0; i < N_DEFS; i++) {
    char env[128];
    env_name(defs[i].key, env, sizeof env);
    for (size_t a = 0; a < sizeof env_aliases / sizeof env_aliases[0]; a++)
      if (strcmp(env_aliases[a].key, defs[i].key) == 0)
        snprintf(env + strlen(env), sizeof env - strlen(env), ", %s",
                 env_aliases[a].env);
    const char *type = defs[i].type == CAIRN_CONFIG_INT ? "int"
                       : defs[i].type == CAIRN_CONFIG_BOOL ? "bool"
                       : defs[i].type == CAIRN_CONFIG_STRING ? "string"
                       : defs[i].type == CAIRN_CONFIG_SIZE ? "size"
                                                           : "duration";
    fprintf(out, "| `%s` | %s | `%s` | `%s` | %s |\n", defs[i].key, type,
            defs[i].default_value[0] ? defs[i].default_value : "\"\"", env,
            defs[i].doc);
  }
}

/* ---- environment -------------------------------------------------------- */

static cairn_status env_one(cairn_config *cfg, const char *name, size_t nlen,
                            const char *value, cairn_error *err) {
  char where[160];
  snprintf(where, sizeof where, "env %.*s", (int)(nlen < 120 ? nlen : 120), name);
  for (size_t a = 0; a < sizeof env_aliases / sizeof env_aliases[0]; a++)
    if (strlen(env_aliases[a].env) == nlen && strncmp(env_aliases[a].env, name, nlen) == 0)
      return cairn_config_set(cfg, env_aliases[a].key, value,
                              CAIRN_CONFIG_SRC_ENV, where, err);
  if (nlen <= 6 || strncmp(name, "CAIRN_", 6) != 0)
    return CAIRN_OK;
  for (size_t i = 0; i < N_DEFS; i++) {
    char env[128];
    env_name(defs[i].key, env, sizeof env);
    if (strlen(env) == nlen && strncmp(env, name, nlen) == 0)
      return set_index(cfg, i, value, CAIRN_CONFIG_SRC_ENV, where, err);
  }
  cairn_log_warn("config: ignoring unknown environment variable %s", where + 4);
  return CAIRN_OK;
}

cairn_status cairn_config_load_env(cairn_config *cfg, char *const *envp,
                                   cairn_error *err) {
  if (cfg == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "config env: NULL config");
  if (envp == NULL)
    envp = environ;
  for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
    const char *eq = strchr(envp[i], '=');
    if (eq == NULL)
      continue;
    cairn_status st = env_one(cfg, envp[i], (size_t)(eq - envp[i]), eq + 1, err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

/* ---- flags -------------------------------------------------------------- */

cairn_status cairn_config_add_alias(cairn_config *cfg, const char *flag,
                                    const char *key, cairn_error *err) {
  long i = find_def(key);
  if (cfg == NULL || flag == NULL || i < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "config alias: unknown key '%s'", key ? key : "(null)");
  while (*flag == '-')
    flag++;
  alias *na = realloc(cfg->aliases, (cfg->n_aliases + 1) * sizeof *na);
  if (na == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "config: out of memory");
  cfg->aliases = na;
  if ((na[cfg->n_aliases].flag = strdup(flag)) == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "config: out of memory");
  na[cfg->n_aliases++].def = (size_t)i;
  return CAIRN_OK;
}

/* Resolve a flag name (no dashes, no "=value") to a def index, or -1. */
static long flag_def(const cairn_config *cfg, const char *name, size_t len) {
  for (size_t a = 0; a < cfg->n_aliases; a++)
    if (strlen(cfg->aliases[a].flag) == len &&
        strncmp(cfg->aliases[a].flag, name, len) == 0)
      return (long)cfg->aliases[a].def;
  for (size_t i = 0; i < N_DEFS; i++)
    if (strlen(defs[i].key) == len && strncmp(defs[i].key, name, len) == 0)
      return (long)i;
  return -1;
}

/* One flag at argv[*pos]; advances *pos past its value. */
static cairn_status parse_flag(cairn_config *cfg, int argc, char *const *argv,
                               int *pos, cairn_error *err) {
  const char *arg = argv[*pos] + 2;
  const char *eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  char where[160];
  snprintf(where, sizeof where, "flag --%.*s", (int)(len < 120 ? len : 120), arg);
  long i = flag_def(cfg, arg, len);
  if (i < 0) {
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(len < 127 ? len : 127), arg);
    return unknown_key(key, "command-line flags", err);
  }
  const char *value = eq ? eq + 1 : NULL;
  if (value == NULL && defs[i].type == CAIRN_CONFIG_BOOL) {
    bool b;
    value = "true";
    if (*pos + 1 < argc && cairn_config_parse_bool(argv[*pos + 1], &b) == 0)
      value = argv[++*pos];
  } else if (value == NULL) {
    if (*pos + 1 >= argc)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "%s needs a value (%s)", where,
                             type_names[defs[i].type]);
    value = argv[++*pos];
  }
  return set_index(cfg, (size_t)i, value, CAIRN_CONFIG_SRC_FLAG, where, err);
}

cairn_status cairn_config_parse_args(cairn_config *cfg, int argc,
                                     char *const *argv, const char **rest,
                                     int *n_rest, cairn_error *err) {
  *n_rest = 0;
  bool flags_done = false;
  for (int pos = 0; pos < argc; pos++) {
    const char *a = argv[pos];
    if (a == NULL)
      break;
    if (!flags_done && strcmp(a, "--") == 0) {
      flags_done = true;
      continue;
    }
    if (flags_done || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      rest[(*n_rest)++] = a;
      continue;
    }
    cairn_status st = parse_flag(cfg, argc, argv, &pos, err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

/* ---- YAML --------------------------------------------------------------- */

#define YAML_MAX_DEPTH 32
#define YAML_MAX_KEY 256

/* One open collection while walking the event stream. */
typedef struct yframe {
  bool is_seq;
  size_t prefix_len;   /* length of the dotted prefix for this mapping */
  bool have_key;       /* mapping: a key was read, its value is next */
} yframe;

typedef struct ywalk {
  cairn_config *cfg;
  const char *name;
  yframe stack[YAML_MAX_DEPTH];
  int depth;
  char path[YAML_MAX_KEY + 2]; /* dotted prefix + current key */
  size_t key_len;              /* length of path incl. the current key */
  char *seq;                   /* comma-joined sequence being collected */
  size_t seq_len;
} ywalk;

static cairn_status yerr(ywalk *w, const yaml_event_t *ev, cairn_error *err,
                         const char *what) {
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "%s line %zu: %s", w->name,
                         (size_t)ev->start_mark.line + 1, what);
}

static cairn_status yset(ywalk *w, const char *value, const yaml_event_t *ev,
                         cairn_error *err) {
  char where[300];
  snprintf(where, sizeof where, "%s line %zu", w->name,
           (size_t)ev->start_mark.line + 1);
  if (strcmp(w->path, "config") == 0)
    return yerr(w, ev, err, "key 'config' cannot be set from a config file");
  return cairn_config_set(w->cfg, w->path, value, CAIRN_CONFIG_SRC_FILE, where, err);
}

static cairn_status yscalar(ywalk *w, const yaml_event_t *ev, cairn_error *err) {
  const char *v = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  yframe *f = &w->stack[w->depth - 1];
  if (strlen(v) != len)
    return yerr(w, ev, err, "NUL byte in a scalar");
  if (f->is_seq) {
    char *ns = realloc(w->seq, w->seq_len + len + 2);
    if (ns == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, "config: out of memory");
    w->seq = ns;
    if (w->seq_len > 0)
      w->seq[w->seq_len++] = ',';
    memcpy(w->seq + w->seq_len, v, len + 1);
    w->seq_len += len;
    return CAIRN_OK;
  }
  if (!f->have_key) {
    if (f->prefix_len + len > YAML_MAX_KEY)
      return yerr(w, ev, err, "key too long");
    memcpy(w->path + f->prefix_len, v, len + 1);
    w->key_len = f->prefix_len + len;
    f->have_key = true;
    return CAIRN_OK;
  }
  f->have_key = false;
  bool null_value = ev->data.scalar.plain_implicit &&
                    (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
  return null_value ? CAIRN_OK : yset(w, v, ev, err);
}

static cairn_status ystart(ywalk *w, const yaml_event_t *ev, bool is_seq,
                           cairn_error *err) {
  if (w->depth == YAML_MAX_DEPTH)
    return yerr(w, ev, err, "nesting too deep");
  yframe *parent = w->depth ? &w->stack[w->depth - 1] : NULL;
  if (parent == NULL && is_seq)
    return yerr(w, ev, err, "the top level must be a mapping");
  if (parent != NULL && (parent->is_seq || !parent->have_key))
    return yerr(w, ev, err,
                parent->is_seq ? "only scalars are supported inside a list"
                               : "a mapping key must be a scalar");
  yframe *f = &w->stack[w->depth++];
  memset(f, 0, sizeof *f);
  f->is_seq = is_seq;
  if (parent != NULL && !is_seq) {
    if (w->key_len + 1 > YAML_MAX_KEY)
      return yerr(w, ev, err, "key too long");
    w->path[w->key_len] = '.';
    f->prefix_len = w->key_len + 1;
    parent->have_key = false;
  }
  if (is_seq)
    w->seq_len = 0;
  return CAIRN_OK;
}

static cairn_status yend(ywalk *w, const yaml_event_t *ev, cairn_error *err) {
  yframe *f = &w->stack[--w->depth];
  if (!f->is_seq)
    return CAIRN_OK;
  yframe *parent = &w->stack[w->depth - 1];
  parent->have_key = false;
  return yset(w, w->seq_len ? w->seq : "", ev, err);
}

static cairn_status yevent(ywalk *w, const yaml_event_t *ev, cairn_error *err) {
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    if (w->depth == 0 && ev->data.scalar.length == 0 &&
        ev->data.scalar.plain_implicit)
      return CAIRN_OK; /* an empty document */
    if (w->depth == 0)
      return yerr(w, ev, err, "the top level must be a mapping");
    return yscalar(w, ev, err);
  case YAML_MAPPING_START_EVENT:
    return ystart(w, ev, false, err);
  case YAML_SEQUENCE_START_EVENT:
    return ystart(w, ev, true, err);
  case YAML_MAPPING_END_EVENT:
  case YAML_SEQUENCE_END_EVENT:
    return w->depth > 0 ? yend(w, ev, err) : yerr(w, ev, err, "unbalanced end");
  case YAML_ALIAS_EVENT:
    return yerr(w, ev, err, "aliases (*name) are not supported");
  default:
    return CAIRN_OK;
  }
}

cairn_status cairn_config_load_yaml_buffer(cairn_config *cfg, const void *data,
                                           size_t len, const char *name,
                                           cairn_error *err) {
  if (cfg == NULL || (data == NULL && len > 0))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "config yaml: NULL argument");
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return cairn_error_set(err, CAIRN_NOMEM, "config yaml: out of memory");
  yaml_parser_set_input_string(&parser, data ? data : (const void *)"", len);
  ywalk w = {.cfg = cfg, .name = name ? name : "config"};
  cairn_status st = CAIRN_OK;
  int docs = 0;
  for (bool done = false; !done && st == CAIRN_OK;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "%s line %zu: %s",
                           w.name, (size_t)parser.problem_mark.line + 1,
                           parser.problem ? parser.problem : "syntax error");
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
      st = yerr(&w, &ev, err, "more than one YAML document");
    else
      st = yevent(&w, &ev, err);
    yaml_event_delete(&ev);
  }
  free(w.seq);
  yaml_parser_delete(&parser);
  return st;
}

cairn_status cairn_config_load_yaml_file(cairn_config *cfg, const char *path,
                                         cairn_error *err) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (f == NULL)
    return cairn_error_set(err, CAIRN_IO, "cannot open config file '%s': %s",
                           path ? path : "(null)", strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  cairn_status st = CAIRN_OK;
  do {
    if (len == cap) {
      char *nb = cap < (64u << 20) ? realloc(buf, cap ? cap * 2 : 4096) : NULL;
      if (nb == NULL) {
        st = cairn_error_set(err, CAIRN_TOO_LARGE, "config file '%s' too large", path);
        break;
      }
      buf = nb, cap = cap ? cap * 2 : 4096;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
  } while (n > 0);
  if (st == CAIRN_OK && ferror(f))
    st = cairn_error_set(err, CAIRN_IO, "cannot read config file '%s'", path);
  fclose(f);
  if (st == CAIRN_OK)
    st = cairn_config_load_yaml_buffer(cfg, buf, len, path, err);
  free(buf);
  return st;
}

cairn_status cairn_config_load_all(cairn_config *cfg, int argc,
                                   char *const *argv, char *const *envp,
                                   const char **rest, int *n_rest,
                                   cairn_error *err) {
  cairn_status st = cairn_config_parse_args(cfg, argc, argv, rest, n_rest, err);
  if (st == CAIRN_OK)
    st = cairn_config_load_env(cfg, envp, err);
  const char *file = st == CAIRN_OK ? cairn_config_string(cfg, "config") : "";
  if (file[0] != '\0')
    st = cairn_config_load_yaml_file(cfg, file, err);
  return st;
}
