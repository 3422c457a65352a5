/*
 * cairn.c — the one binary: `cairn <subcommand> [flags]`.
 *
 *   standalone   every role in one process, embedded backends (default)
 *   coordinator  the coordinator role alone, serving CoordService over gRPC
 *   proxy        the proxy role alone, forwarding to coordinator.address
 *   datanode, indexnode, querynode
 *                roles of the data path; refused with a clear message until
 *                that path lands in this build
 *   version, help
 *
 * Configuration (core/config.h): YAML file (--config), then environment,
 * then flags; `cairn help config` prints every key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "roles.h"

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: cairn <command> [flags]\n"
          "\n"
          "commands:\n"
          "  standalone    run every role in one process with embedded storage\n"
          "  coordinator   run the coordinator role\n"
          "  proxy         run the proxy role (needs --coordinator.address)\n"
          "  datanode      run the data node role\n"
          "  indexnode     run the index node role\n"
          "  querynode     run the query node role\n"
          "  version       print the version\n"
          "  help [config] print this help, or the configuration reference\n"
          "\n"
          "common flags:\n"
          "  --config FILE       YAML configuration file\n"
          "  --port N            gRPC port (grpc.port, default 19530; 0 = any)\n"
          "  --http-port N       health/metrics port (http.port, default 9091)\n"
          "  --data-dir DIR      data directory (dataDir, default ./cairn-data)\n"
          "  --KEY=VALUE         any configuration key, e.g. --log.level=debug\n");
}

static int cmd_help(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "config") == 0) {
    cairn_config_print_markdown(stdout);
    return 0;
  }
  print_usage(stdout);
  return 0;
}

static int cmd_version(void) {
  printf("cairn %s (Milvus protocol %s)\n", CAIRN_VERSION, "v2.5");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0)
    return cmd_help(argc - 2, argv + 2);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
    return cmd_version();
  if (strcmp(cmd, "standalone") == 0)
    return cairn_run_role(CAIRN_ROLE_STANDALONE, argc - 2, argv + 2);
  if (strcmp(cmd, "coordinator") == 0)
    return cairn_run_role(CAIRN_ROLE_COORDINATOR, argc - 2, argv + 2);
  if (strcmp(cmd, "proxy") == 0)
    return cairn_run_role(CAIRN_ROLE_PROXY, argc - 2, argv + 2);
  if (strcmp(cmd, "datanode") == 0)
    return cairn_run_role(CAIRN_ROLE_DATANODE, argc - 2, argv + 2);
  if (strcmp(cmd, "indexnode") == 0)
    return cairn_run_role(CAIRN_ROLE_INDEXNODE, argc - 2, argv + 2);
  if (strcmp(cmd, "querynode") == 0)
    return cairn_run_role(CAIRN_ROLE_QUERYNODE, argc - 2, argv + 2);
  fprintf(stderr, "cairn: unknown command '%s'\n\n", cmd);
  print_usage(stderr);
  return 2;
}
