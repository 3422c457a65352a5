/*
 * log.h — a tiny leveled logger writing one line per message to stderr:
 *   2024-05-01T12:00:00.123Z INFO  message
 * Thread-safe (one mutex around the write so lines never interleave). The
 * threshold defaults to info and is set from config key log.level.
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

typedef enum cairn_log_level {
  CAIRN_LOG_DEBUG,
  CAIRN_LOG_INFO,
  CAIRN_LOG_WARN,
  CAIRN_LOG_ERROR,
} cairn_log_level;

/* Set the threshold; messages below it are dropped. */
void cairn_log_set_level(cairn_log_level level);
/* Parse "debug" / "info" / "warn" / "error" (also "warning"); returns 0 on
 * success, -1 for an unknown name (*level untouched). */
int cairn_log_parse_level(const char *name, cairn_log_level *level);
void cairn_log_write(cairn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define cairn_log_debug(...) cairn_log_write(CAIRN_LOG_DEBUG, __VA_ARGS__)
#define cairn_log_info(...) cairn_log_write(CAIRN_LOG_INFO, __VA_ARGS__)
#define cairn_log_warn(...) cairn_log_write(CAIRN_LOG_WARN, __VA_ARGS__)
#define cairn_log_error(...) cairn_log_write(CAIRN_LOG_ERROR, __VA_ARGS__)

#endif
