/*
 * kafka_mock.c — runs librdkafka's mock Kafka cluster (rdkafka_mock.h) as a
 * process of its own, for tests and for deploy/local-cluster.sh.
 *
 * Usage: kafka_mock [--brokers N] [--ignore-stdin]
 *   Starts a mock cluster of N brokers (default 3; 1..32), each listening on
 *   127.0.0.1 on a port the kernel picks, prints exactly one line
 *       kafka bootstrap=HOST:PORT,HOST:PORT,...
 *   on stdout (flushed), then runs until stdin reaches end of file (the parent
 *   closed its pipe or died) or SIGTERM/SIGINT arrives, and exits 0. With
 *   --ignore-stdin only a signal stops it (for a script that backgrounds it
 *   with stdin at /dev/null). Errors go to stderr with exit status 1 (bad
 *   usage: 2).
 *
 * What the mock offers (librdkafka 2.0.2): produce (idempotent too), fetch,
 * list offsets, metadata with topic auto-creation (4 partitions, replication
 * min(3, N)), group coordinator and offset commits. It does NOT implement the
 * admin APIs CreateTopics or DeleteRecords; docs/mq-kafka.md says how the
 * "kafka" log backend copes. All data lives in this process's memory: it is
 * gone when the process exits.
 *
 * Threading: the mock cluster runs on librdkafka's own threads. The main
 * thread blocks SIGTERM/SIGINT before any thread exists (so every thread
 * inherits the mask) and waits for either stdin or the signals through
 * poll() over fd 0 and a signalfd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* signalfd */
#endif
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MOCK_BROKERS_DEFAULT 3
#define MOCK_BROKERS_MAX 32

static int usage(void) {
  fprintf(stderr, "usage: kafka_mock [--brokers N] [--ignore-stdin]\n");
  return 2;
}

/* Parse argv into *brokers and *ignore_stdin; 0 on success. */
static int parse_args(int argc, char **argv, int *brokers, int *ignore_stdin) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--ignore-stdin") == 0) {
      *ignore_stdin = 1;
    } else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > MOCK_BROKERS_MAX)
        return -1;
      *brokers = (int)n;
    } else {
      return -1;
    }
  }
  return 0;
}

/* Block until stdin hits EOF (unless ignored) or a signal in sigfd fires. */
static void wait_for_end(int sigfd, int ignore_stdin) {
  struct pollfd fds[2] = {{.fd = sigfd, .events = POLLIN},
                          {.fd = 0, .events = POLLIN}};
  nfds_t nfds = ignore_stdin ? 1 : 2;
  for (;;) {
    if (poll(fds, nfds, -1) < 0) {
      if (errno == EINTR)
        continue;
      perror("kafka_mock: poll");
      return;
    }
    if (fds[0].revents != 0)
      return; /* SIGTERM or SIGINT */
    if (nfds == 2 && fds[1].revents != 0) {
      char buf[256];
      ssize_t r = read(0, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
        return; /* end of file (or a broken stdin) */
    }
  }
}

int main(int argc, char **argv) {
  int brokers = MOCK_BROKERS_DEFAULT, ignore_stdin = 0;
  if (parse_args(argc, argv, &brokers, &ignore_stdin) != 0)
    return usage();

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before librdkafka's threads */
  int sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
  if (sigfd < 0) {
    perror("kafka_mock: signalfd");
    return 1;
  }

  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK)
    fprintf(stderr, "kafka_mock: %s\n", errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == NULL) {
    fprintf(stderr, "kafka_mock: could not create a mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  printf("kafka bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  wait_for_end(sigfd, ignore_stdin);

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  close(sigfd);
  return 0;
}
