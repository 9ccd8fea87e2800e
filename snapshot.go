package ssmc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// State is a snapshot of a session's recurrent state: every slot's state
// tensors and token counts. It is a value: restoring it into any session of
// the same model and batch size continues exactly (bit for bit) where the
// snapshot was taken, without re-running the prompt.
type State struct {
	batch   int
	pos     []int
	tensors [][]float32
}

// Snapshot copies the session's state.
func (s *Session) Snapshot() *State {
	st := &State{batch: s.batch, pos: append([]int(nil), s.pos...)}
	for _, t := range s.state[s.cur] {
		st.tensors = append(st.tensors, append([]float32(nil), t.F32...))
	}
	return st
}

// Restore replaces the session's state with a snapshot taken from a
// session of the same model and batch size.
func (s *Session) Restore(st *State) error {
	if st.batch != s.batch || len(st.tensors) != len(s.state[s.cur]) {
		return fmt.Errorf("ssmc: snapshot of batch %d with %d state tensors does not fit this session (batch %d, %d tensors)",
			st.batch, len(st.tensors), s.batch, len(s.state[s.cur]))
	}
	for i, t := range s.state[s.cur] {
		if len(st.tensors[i]) != len(t.F32) {
			return fmt.Errorf("ssmc: snapshot state %d has %d values, this model %d", i, len(st.tensors[i]), len(t.F32))
		}
	}
	for i, t := range s.state[s.cur] {
		copy(t.F32, st.tensors[i])
	}
	copy(s.pos, st.pos)
	return nil
}

// Fork returns a new session with a copy of this one's state: two
// continuations of one prefix.
func (s *Session) Fork() (*Session, error) {
	n, err := s.m.NewSession(SessionOptions{Batch: s.batch})
	if err != nil {
		return nil, err
	}
	if err := n.Restore(s.Snapshot()); err != nil {
		return nil, err
	}
	return n, nil
}

// stateMagic starts a serialized State.
const stateMagic = "SSMCST01"

// MarshalBinary encodes the snapshot: magic, batch, positions, tensors
// (little-endian f32), and a CRC-32C of everything before it.
func (st *State) MarshalBinary() ([]byte, error) {
	n := 8 + 8 + 8*len(st.pos) + 8
	for _, t := range st.tensors {
		n += 8 + 4*len(t)
	}
	b := make([]byte, 0, n+4)
	b = append(b, stateMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(st.batch))
	for _, p := range st.pos {
		b = binary.LittleEndian.AppendUint64(b, uint64(p))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(st.tensors)))
	for _, t := range st.tensors {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(t)))
		for _, x := range t {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))), nil
}

// UnmarshalBinary decodes a snapshot written by MarshalBinary, checking
// its structure and checksum.
func (st *State) UnmarshalBinary(b []byte) error {
	bad := errors.New("ssmc: not a valid state snapshot")
	if len(b) < 8+8+8+4 || string(b[:8]) != stateMagic {
		return bad
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return fmt.Errorf("ssmc: state snapshot checksum mismatch")
	}
	r := body[8:]
	next := func() (uint64, bool) {
		if len(r) < 8 {
			return 0, false
		}
		v := binary.LittleEndian.Uint64(r)
		r = r[8:]
		return v, true
	}
	batch, ok := next()
	if !ok || batch == 0 || batch > uint64(len(r)/8) {
		return bad
	}
	out := State{batch: int(batch), pos: make([]int, batch)}
	for i := range out.pos {
		p, _ := next()
		if p > math.MaxInt32 {
			return bad
		}
		out.pos[i] = int(p)
	}
	count, ok := next()
	if !ok || count > uint64(len(r)/8) {
		return bad
	}
	for i := uint64(0); i < count; i++ {
		n, ok := next()
		if !ok || n > uint64(len(r)/4) {
			return bad
		}
		t := make([]float32, n)
		for k := range t {
			t[k] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*k:]))
		}
		r = r[4*n:]
		out.tensors = append(out.tensors, t)
	}
	if len(r) != 0 {
		return bad
	}
	*st = out
	return nil
}
