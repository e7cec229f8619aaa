/* Helpers of the memory-cap tests (test_checkpoint_rss.c, test_checkpoint_onnx_rss.c): programs
 * of their own that run the q8 tool in a child and read what it wrote. */
#ifndef Q8_TESTS_CHILD_RSS_H
#define Q8_TESTS_CHILD_RSS_H

#include <stddef.h>
#include <stdint.h>

#include "q8/q8.h"

/* Runs argv[0] with argv in a child process; returns its peak RSS in bytes (getrusage of the
 * child), or 0 when it could not run or exited other than with status 0 (*status: the wait
 * status, or -1). */
uint64_t child_peak_rss(char *const argv[], int *status);

/* The bytes of tensor `name` after the session's last run, or NULL unless it exists and holds
 * exactly want_bytes (q8_last_error() says why when the library refused). */
const void *session_bytes(q8_session *s, const char *name, size_t want_bytes);

#endif
