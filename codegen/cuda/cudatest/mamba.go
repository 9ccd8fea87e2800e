package cudatest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// Mamba130mConfig is the configuration of state-spaces/mamba-130m in the
// Hugging Face layout (d_model 768, d_inner 1536, N 16, 24 layers, vocab
// 50280), with nLayer layers.
func Mamba130mConfig(nLayer int) string {
	return fmt.Sprintf(`{"model_type": "mamba", "hidden_size": 768, "intermediate_size": 1536,
		"state_size": 16, "conv_kernel": 4, "time_step_rank": 48, "num_hidden_layers": %d,
		"vocab_size": 50280, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": true,
		"use_bias": false, "use_conv_bias": true}`, nLayer)
}

// Mamba130m builds the fused, optimized IR of a Mamba-130m-shaped model
// with nLayer layers and random weights: the projections and the
// embedding in bf16 (uniform in ±0.05), the other weights in f32 and A_log
// = log(n + 1), as Mamba initializes it. It is the shape of the CUDA
// target's default configuration and of the GPU benchmarks.
func Mamba130m(nLayer int) (*ir.Module, error) {
	cfg, err := hf.ParseConfig("config.json", []byte(Mamba130mConfig(nLayer)))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(130, uint64(nLayer)))
	weights := map[string]*ir.Tensor{}
	for _, w := range cfg.Weights() {
		dt := ir.F32
		if len(w.Shape) == 2 && !strings.HasSuffix(w.Name, "A_log") {
			dt = ir.BF16
		}
		n := count(w.Shape)
		data := make([]byte, n*int64(dt.Size()))
		for i := int64(0); i < n; i++ {
			x := float32(0.1*rng.Float64() - 0.05)
			if strings.HasSuffix(w.Name, "A_log") {
				x = float32(math.Log(float64(i%w.Shape[1] + 1)))
			}
			if dt == ir.BF16 {
				binary.LittleEndian.PutUint16(data[2*i:], half.F32ToBF16(x))
			} else {
				binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
			}
		}
		if weights[w.Name], err = ir.NewTensor(dt, w.Shape, data); err != nil {
			return nil, err
		}
	}
	m, err := hf.Build(cfg, weights, hf.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
		return nil, err
	}
	return m, nil
}
