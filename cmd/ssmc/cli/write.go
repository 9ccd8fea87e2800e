package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeOutput writes data to path, or to stdout when path is "-".
func writeOutput(c *ctx, path string, data []byte) error {
	if path == "-" {
		_, err := c.stdout.Write(data)
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// writeFileAtomic replaces path with data so that readers see either the
// old file or the complete new one: it writes a temporary file in the same
// folder, syncs it and renames it over path. An existing file keeps its
// permission bits; a new one gets perm.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("writing %s: it is a directory", path)
		}
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
