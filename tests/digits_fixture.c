/* The bundled digits data for the Criterion suites (digits.c itself stays Criterion-free for
 * tests/ort/make_case). */
#include <stdio.h>

#include "digits.h"
#include "support.h"

void digits_load_bundled(digits_rows *train, digits_rows *held_out) {
  if ((!train || train->n) && (!held_out || held_out->n)) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/digits.csv.gz", data_dir());
  DIGITS_OR_FAIL(digits_load(path, train, held_out));
  if (train) cr_assert_eq(train->n, 1347, "training rows");
  if (held_out) cr_assert_eq(held_out->n, 450, "held-out rows");
}
