/*
 * config_fuzz.c — libFuzzer target for the YAML config loader: any input
 * must end in OK or an error, never a crash, leak or sanitizer report.
 * Build: cmake -DCAIRN_FUZZ=ON -DCMAKE_C_COMPILER=clang; run:
 *   ./config_fuzz -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cairn_config *cfg;
  cairn_error err;
  if (cairn_config_new(&cfg, &err) != CAIRN_OK)
    return 0;
  (void)cairn_config_load_yaml_buffer(cfg, data, size, "fuzz", &err);
  /* exercise the getters on whatever was loaded */
  (void)cairn_config_int(cfg, "grpc.port");
  (void)cairn_config_size(cfg, "grpc.maxMessageSize");
  (void)cairn_config_string(cfg, "etcd.endpoints");
  cairn_config_free(cfg);
  return 0;
}
