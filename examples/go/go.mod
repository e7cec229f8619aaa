module q8.dev/examples

go 1.19

require q8.dev/q8 v0.0.0

// The q8 package is generated into the build tree (SWIG output next to the hand-written Go):
// ./build is the default build dir of scripts/test.sh. The test suite points this at its own
// build dir (bindings/go/run_go.py).
replace q8.dev/q8 => ../../build/bindings/go
