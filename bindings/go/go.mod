module q8.dev/q8

go 1.19
