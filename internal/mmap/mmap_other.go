//go:build !unix

package mmap

import (
	"errors"
	"os"
)

func mapFile(*os.File, int64) ([]byte, func([]byte) error, error) {
	return nil, nil, errors.New("mmap is not supported on this platform")
}
