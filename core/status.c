/* status.c — lookup tables generated from CAIRN_STATUS_TABLE (status.h). */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  int code;
  int legacy;
  const char *message;
} status_info[] = {
#define CAIRN_STATUS_INFO(n, c, l, m) {#n, c, l, m},
    CAIRN_STATUS_TABLE(CAIRN_STATUS_INFO)
#undef CAIRN_STATUS_INFO
};

static int valid(cairn_status st) {
  return (int)st >= 0 && st < CAIRN_STATUS_COUNT;
}

const char *cairn_status_name(cairn_status st) {
  return valid(st) ? status_info[st].name : "UNKNOWN";
}

const char *cairn_status_message(cairn_status st) {
  return valid(st) ? status_info[st].message : "unknown error";
}

int cairn_status_milvus_code(cairn_status st) {
  return valid(st) ? status_info[st].code : 5;
}

int cairn_status_legacy_code(cairn_status st) {
  return valid(st) ? status_info[st].legacy : 1;
}

cairn_status cairn_error_set(cairn_error *err, cairn_status st, const char *fmt,
                             ...) {
  if (err == NULL)
    return st;
  err->status = st;
  if (fmt == NULL) {
    snprintf(err->message, sizeof err->message, "%s", cairn_status_message(st));
    return st;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return st;
}

void cairn_error_clear(cairn_error *err) {
  if (err == NULL)
    return;
  err->status = CAIRN_OK;
  err->message[0] = '\0';
}
