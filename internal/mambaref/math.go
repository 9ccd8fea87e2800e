package mambaref

import "math"

// dot returns Σ_i a[i]·b[i], each product rounded on its own (no FMA).
func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
}

// matVec returns y[o] = Σ_i W[o][i]·x[i] for W [len(y), len(x)] row-major
// (PyTorch Linear: y = x·Wᵀ).
func matVec(w, x []float64, out int) []float64 {
	in := len(x)
	y := make([]float64, out)
	for o := range y {
		y[o] = dot(w[o*in:(o+1)*in], x)
	}
	return y
}

// rmsNorm returns x / sqrt(mean(x²) + eps) · w.
func rmsNorm(x, w []float64, eps float64) []float64 {
	ms := dot(x, x) / float64(len(x))
	inv := 1 / math.Sqrt(ms+eps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(float64(v*inv) * w[i])
	}
	return y
}

// silu returns x·sigmoid(x) = x / (1 + exp(-x)).
func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

// softplus returns log(1 + exp(x)), computed as max(x,0) + log1p(exp(-|x|)).
func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// expm returns exp(delta·a), the discretized state decay.
func expm(delta, a float64) float64 { return math.Exp(float64(delta * a)) }
