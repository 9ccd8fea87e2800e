//go:build noasm || !amd64

package cpu

// Without assembly (the noasm build tag, or not amd64) the pure-Go
// implementation is the only one.
