/* roles.h — running a role process: configuration, backends, servers,
 * signal handling (roles.c). */
#ifndef CAIRN_ROLES_H
#define CAIRN_ROLES_H

typedef enum cairn_role {
  CAIRN_ROLE_STANDALONE,
  CAIRN_ROLE_COORDINATOR,
  CAIRN_ROLE_PROXY,
  CAIRN_ROLE_DATANODE,
  CAIRN_ROLE_INDEXNODE,
  CAIRN_ROLE_QUERYNODE,
} cairn_role;

/* Run a role until SIGINT/SIGTERM; argv holds the flags after the
 * subcommand. Returns the process exit code. */
int cairn_run_role(cairn_role role, int argc, char **argv);

#endif
