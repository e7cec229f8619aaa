// Package lsan runs LeakSanitizer's check on demand, for the tests of a sanitized build: a Go
// program leaves through exit_group, never through the atexit hook where LSan usually checks.
package lsan

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>

// -1 when no ASan runtime is loaded (an ordinary build), else LSan's verdict (1: leaks, which
// it has printed to stderr).
static int q8go_leak_check(void) {
  int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "__lsan_do_recoverable_leak_check");
  return check ? check() : -1;
}
*/
import "C"

// Check reports whether LSan ran (an ASan runtime is loaded and ASAN_OPTIONS has
// detect_leaks=1) and whether it found leaks.
func Check() (ran, leaked bool) {
	r := C.q8go_leak_check()
	return r >= 0, r > 0
}
