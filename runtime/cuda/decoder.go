package cuda

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// Decoder generates with a model's step function
//
//	@step(input_ids: i64[B,1], states...) -> (logits, states...)
//
// keeping the recurrent states on the device: after each step the new
// states are copied (device to device) into the step's state arguments,
// so only the token ids go up and the logits come down.
type Decoder struct {
	step  *Instance
	batch int64
}

// NewDecoder prepares the step function for batch sequences, with zero
// states.
func (p *Program) NewDecoder(batch int64) (*Decoder, error) {
	inst, err := p.Instantiate("step", map[string]int64{"B": batch})
	if err != nil {
		return nil, err
	}
	d := &Decoder{step: inst, batch: batch}
	fn := inst.fn
	if len(fn.Args) < 1 || len(fn.Args) != len(fn.Results) || fn.Args[0].DType != "i64" {
		d.Close()
		return nil, fmt.Errorf("cuda: @step takes %d arguments and returns %d results; want (input_ids, states...) -> (logits, states...)", len(fn.Args), len(fn.Results))
	}
	for i := 1; i < len(fn.Args); i++ {
		if fn.Args[i].DType != fn.Results[i].DType || fn.Args[i].Shape.String() != fn.Results[i].Shape.String() {
			d.Close()
			return nil, fmt.Errorf("cuda: @step state %d is %s%v in and %s%v out", i, fn.Args[i].DType, fn.Args[i].Shape, fn.Results[i].DType, fn.Results[i].Shape)
		}
	}
	if err := d.Reset(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Reset zeroes the states.
func (d *Decoder) Reset() error {
	for j := 1; j < len(d.step.fn.Args); j++ {
		if err := d.step.clearArg(j); err != nil {
			return err
		}
	}
	return nil
}

// TakeStates copies the states a prefill instance computed (its results
// after the logits) into the decoder, on the device.
func (d *Decoder) TakeStates(prefill *Instance) error {
	for j := 1; j < len(d.step.fn.Args); j++ {
		if err := prefill.CopyResult(j, d.step, j); err != nil {
			return err
		}
	}
	return nil
}

// Step feeds one token per sequence and returns the logits [B, V].
func (d *Decoder) Step(ids []int64) (*ir.Tensor, error) {
	if int64(len(ids)) != d.batch {
		return nil, fmt.Errorf("cuda: %d token ids for a batch of %d", len(ids), d.batch)
	}
	if err := d.step.SetInput(0, ir.TensorFromInt64s(ir.I64, []int64{d.batch, 1}, ids)); err != nil {
		return nil, err
	}
	if err := d.step.Launch(); err != nil {
		return nil, err
	}
	for j := 1; j < len(d.step.fn.Args); j++ {
		if err := d.step.CopyResult(j, d.step, j); err != nil {
			return nil, err
		}
	}
	return d.step.Result(0)
}

// Close frees the decoder's memory.
func (d *Decoder) Close() error { return d.step.Close() }
