package q8

import (
	"errors"
	"strings"

	"q8.dev/q8/raw"
)

// Status is the library's result code (q8_status); values never change.
type Status int

const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1 // NULL pointer, bad enum, non-finite or non-positive scale, ...
	StatusShape           Status = 2 // rank, dimension, element count or axis does not fit
	StatusDType           Status = 3 // element type not accepted by this call
	StatusOutOfMemory     Status = 4
	StatusIO              Status = 5
	StatusFormat          Status = 6 // malformed input bytes
	StatusUnsupported     Status = 7 // valid request this build or CPU cannot do
	StatusInternal        Status = 8 // a bug in q8: please report it
	StatusState           Status = 9 // the object is not in a state that allows the call
)

// String is the status' name, e.g. "Q8_ERR_SHAPE".
func (s Status) String() string { return raw.Status_string(raw.Q8_status(s)) }

// Error is a failed call: the status and the library's message naming the argument at fault.
// errors.Is(err, q8.ErrShape) matches any error of that status; errors.Is(err, q8.ErrClosed)
// matches a call on a closed object.
type Error struct {
	Status  Status
	Message string
	closed  bool
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "q8: " + e.Status.String()
	}
	return "q8: " + e.Status.String() + ": " + e.Message
}

// Is matches the sentinel errors below: same status (and ErrClosed only for closed objects).
func (e *Error) Is(target error) bool {
	if target == ErrClosed {
		return e.closed
	}
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is, one per failure status.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrShape           = &Error{Status: StatusShape}
	ErrDType           = &Error{Status: StatusDType}
	ErrOutOfMemory     = &Error{Status: StatusOutOfMemory}
	ErrIO              = &Error{Status: StatusIO}
	ErrFormat          = &Error{Status: StatusFormat}
	ErrUnsupported     = &Error{Status: StatusUnsupported}
	ErrInternal        = &Error{Status: StatusInternal}
	ErrState           = &Error{Status: StatusState}
	// ErrClosed: a method was called on a closed object (its status is StatusState).
	ErrClosed = errors.New("q8: object is closed")
)

// fromRaw turns the raw package's error (a failed q8_status) into *Error; nil stays nil.
func fromRaw(err error) error {
	if err == nil {
		return nil
	}
	var r *raw.Error
	if errors.As(err, &r) {
		return &Error{Status: Status(r.Status), Message: r.Message,
			closed: r.Status == raw.Q8_ERR_STATE && strings.HasSuffix(r.Message, " is closed")}
	}
	return err
}

// call runs f, which calls the raw package, and returns the failure the raw package raised as a
// panic (a C++ exception of the facade, or a closed handle) as an error value.
func call(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*raw.Error)
			if !ok {
				panic(r)
			}
			err = fromRaw(e)
		}
	}()
	f()
	return nil
}

// closed is the error of a method called on a closed object of the named type.
func closed(what string) error {
	return &Error{Status: StatusState, Message: what + " is closed", closed: true}
}
