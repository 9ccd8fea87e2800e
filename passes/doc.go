// Package passes holds ssmc's optimization passes and the pipeline that runs
// them.
//
// The pipeline is data: [Pipeline] lists every pass in order (name,
// function, whether it is required) and [Constraints] lists the ordering
// rules ("A before B") checked once at start-up. Adding a pass is one file
// (named like the pass) plus one line in each table.
//
// [Run] applies the pipeline to a module. It can verify the IR after every
// pass (always in tests, under -d=check in the CLI), time passes, dump the
// IR after a named pass or every pass into a folder, and turns a panic in a
// pass into an error naming the pass and the function.
//
// Golden tests live in testdata/<pass>/*.txtar with an "in.ir" and an
// "out.ir" section; `go test ./passes -update` rewrites the out.ir parts.
package passes
