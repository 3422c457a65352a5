/* log.c — see log.h. The level is an atomic int so checking it costs no
 * lock; the mutex only serialises the stderr write of a formatted line. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static atomic_int log_threshold = CAIRN_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void cairn_log_set_level(cairn_log_level level) {
  atomic_store(&log_threshold, (int)level);
}

int cairn_log_parse_level(const char *name, cairn_log_level *level) {
  static const struct {
    const char *name;
    cairn_log_level level;
  } names[] = {{"debug", CAIRN_LOG_DEBUG}, {"info", CAIRN_LOG_INFO},
               {"warn", CAIRN_LOG_WARN},   {"warning", CAIRN_LOG_WARN},
               {"error", CAIRN_LOG_ERROR}};
  for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(name, names[i].name) == 0) {
      *level = names[i].level;
      return 0;
    }
  }
  return -1;
}

void cairn_log_write(cairn_log_level level, const char *fmt, ...) {
  if ((int)level < atomic_load(&log_threshold) || (int)level < 0 ||
      level > CAIRN_LOG_ERROR)
    return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ",
                ts.tv_nsec / 1000000, level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&log_mu);
  fprintf(stderr, "%s\n", line);
  pthread_mutex_unlock(&log_mu);
}
