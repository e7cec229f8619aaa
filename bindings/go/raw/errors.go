// Package raw is what SWIG generates from bindings/q8.i (with bindings/go/go.swg): every public
// C function of q8 under its name without the q8_ prefix, the handle classes and the facade's
// array calls. A q8_status result is an error; a failing facade call, or a method called on a
// nil handle, panics with *Error. Package q8 (q8.dev/q8) is the idiomatic API over it.
package raw

// The Go half of go.swg's error handling: a failing q8_status result comes back as a C record
// that q8goTakeError turns into *Error, and a C++ exception (or a method called on a closed
// handle) ends in q8goRaise, which panics with *Error.

/*
#include <stddef.h>
#include <stdint.h>
int q8go_error_code(uintptr_t e);
size_t q8go_error_length(uintptr_t e);
const char *q8go_error_message(uintptr_t e);
void q8go_error_free(uintptr_t e);
*/
import "C"

// Error is a failed q8 call: its status and q8_last_error()'s message (or the binding's own,
// such as "Tensor is closed").
type Error struct {
	Status  Q8_status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return Status_string(e.Status)
	}
	return Status_string(e.Status) + ": " + e.Message
}

// q8goTakeError reads and frees the record made by go.swg's q8go_error_new.
func q8goTakeError(record uintptr) error {
	r := C.uintptr_t(record)
	e := &Error{
		Status:  Q8_status(C.q8go_error_code(r)),
		Message: C.GoStringN(C.q8go_error_message(r), C.int(C.q8go_error_length(r))),
	}
	C.q8go_error_free(r)
	return e
}

//export q8goRaise
func q8goRaise(code C.int, message *C.char, length C.size_t) {
	panic(&Error{Status: Q8_status(code), Message: C.GoStringN(message, C.int(length))})
}
