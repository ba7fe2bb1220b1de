package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckDataFile: a sound file passes, a damaged one is a CorruptError,
// a missing one is not found, and a file a store holds open is locked.
func TestCheckDataFile(t *testing.T) {
	dir := t.TempDir()
	must.ErrorIs(t, CheckDataFile(dir, testOptions(t)), fs.ErrNotExist)

	s := newTestStore(t, dir, testOptions(t))
	must.NoError(t, s.Commit(context.Background(), Write{Objects: map[string][]byte{"c/a": []byte("x")}}))
	must.ErrorIs(t, CheckDataFile(dir, testOptions(t)), ErrLocked)
	must.NoError(t, s.Close())
	must.NoError(t, CheckDataFile(dir, testOptions(t)))
	must.True(t, DataFileSize(dir) > 0, "size of a data file")

	// Overwrite the pages after the two meta pages with garbage.
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	page := os.Getpagesize()
	for i := 2 * page; i < len(b); i++ {
		b[i] = 0xa5
	}
	must.NoError(t, os.WriteFile(path, b, 0o600))
	var ce *CorruptError
	err = CheckDataFile(dir, testOptions(t))
	must.True(t, errors.As(err, &ce), "damaged file: %v", err)
}
