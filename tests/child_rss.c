/* See child_rss.h. */
#define _GNU_SOURCE
#include "child_rss.h"

#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

uint64_t child_peak_rss(char *const argv[], int *status) {
  *status = -1;
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  struct rusage ru;
  if (wait4(pid, status, 0, &ru) != pid || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) return 0;
  return (uint64_t)ru.ru_maxrss * 1024;
}

const void *session_bytes(q8_session *s, const char *name, size_t want_bytes) {
  const q8_tensor *t = NULL;
  void *p = NULL;
  size_t n = 0;
  if (q8_session_tensor(s, name, &t) != Q8_OK || q8_tensor_nbytes(t, &n) != Q8_OK || q8_tensor_data(t, &p) != Q8_OK)
    return NULL;
  return n == want_bytes ? p : NULL;
}
