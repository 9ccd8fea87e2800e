// Package ssmc runs compiled Mamba models from Go programs.
//
// A model compiled with `ssmc compile` (a .ssmc file) loads in
// milliseconds: the weights are mapped, not read. One Model serves any
// number of Sessions concurrently; a Session holds one sequence's
// recurrent state (or a batch of them) and decodes in constant memory per
// token:
//
//	m, err := ssmc.Load("model.ssmc")
//	if err != nil { ... }
//	defer m.Close()
//	s, err := m.NewSession(ssmc.SessionOptions{})
//	logits, err := s.Prefill(ctx, []int{1, 2, 3}) // logits of the last token
//	logits, err = s.Step(ctx, 4)                  // one more token
//	snap := s.Snapshot()                          // the state as a value
//
// Generate streams tokens with greedy or sampled decoding.
package ssmc
