// Package ir is ssmc's intermediate representation: an SSA value graph with
// a data-driven op table, a canonical text format that prints and parses
// back, and a verifier.
//
// A [Module] holds functions ([Func]). A function has typed arguments
// (runtime inputs such as input_ids or the recurrent state), a body of
// [Value]s in topological order with dense integer IDs, and results. Model
// weights are Param values that refer to external storage by name; small
// constants are Const values with their data inline.
//
// Every op is described by one [OpInfo] entry in the op table ([Lookup],
// [Ops]): arity, attribute schema, shape and dtype function, flags and a
// one-line reference formula. The verifier ([Verify]) recomputes every
// value's type from that table.
//
// The text format, one value per line:
//
//	func @step(%ids: i64[B,1], %h: f32[B,64]) -> (f32[B,1,64]) {
//	  %0 = Param() {name = "embed.weight"} : f32[256,64]
//	  %1 = Gather(%0, %ids) {axis = 0} : f32[B,1,64]
//	  return %1
//	}
//
// Arguments are referenced by name, body values by their dense ID. Absent
// optional operands print as "_". Multi-result ops produce a tuple that
// Extract values take apart.
package ir
