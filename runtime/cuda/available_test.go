package cuda

import (
	"errors"
	"strings"
	"testing"
)

// TestAvailable checks that Available answers without crashing, the same
// way twice, with a reason when it says no.
func TestAvailable(t *testing.T) {
	ok, reason := Available()
	ok2, reason2 := Available()
	if ok != ok2 || reason != reason2 {
		t.Errorf("Available() = (%v, %q), then (%v, %q)", ok, reason, ok2, reason2)
	}
	if reason == "" {
		t.Errorf("Available() = %v with no reason or description", ok)
	}
	t.Logf("Available() = %v: %s", ok, reason)
	if ok {
		return
	}
	if !strings.Contains(reason, "cuda") && !strings.Contains(reason, "CUDA") {
		t.Errorf("reason %q does not mention CUDA", reason)
	}
	if _, err := OpenDevice(0); err == nil {
		t.Error("OpenDevice(0) succeeded where Available() is false")
	}
}

// TestUnavailableErrors checks that a driver that cannot be initialized
// is reported as errUnavailable, from initDriver and from OpenDevice.
func TestUnavailableErrors(t *testing.T) {
	_, err := initDriver()
	if err == nil {
		t.Skip("the CUDA driver initializes here")
	}
	if !errors.Is(err, errUnavailable) {
		t.Errorf("initDriver: %v does not wrap errUnavailable", err)
	}
	if _, err := OpenDevice(0); !errors.Is(err, errUnavailable) {
		t.Errorf("OpenDevice(0): %v does not wrap errUnavailable", err)
	}
}

// TestLoadFailures binds the driver and NVRTC against libraries that
// cannot serve: missing ones and one without the symbols (the C library).
// Each must be an error naming the problem, never a panic.
func TestLoadFailures(t *testing.T) {
	tests := []struct {
		name string
		load func() error
		want string
	}{
		{"driver missing", func() error { _, err := loadDriver("libssmc-no-such-library.so"); return err }, "libssmc-no-such-library.so"},
		{"driver without symbols", func() error { _, err := loadDriver("libc.so.6"); return err }, "has no symbol cuInit"},
		{"nvrtc missing", func() error { _, err := loadNVRTC("libssmc-no-such-nvrtc.so"); return err }, "libssmc-no-such-nvrtc.so"},
		{"nvrtc without symbols", func() error { _, err := loadNVRTC("libc.so.6"); return err }, "has no symbol nvrtcVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
