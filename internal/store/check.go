package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// CheckSizeLimit is the size of data file up to which a node checks every
// page at start: the check reads the whole file, so past this it would make
// a restart's time grow with the number of carts, and [CheckDataFile] is
// the way to check a larger file (with its node stopped).
const CheckSizeLimit = 64 << 20

// DataFileSize returns the size of the data file in dir, 0 if there is none.
func DataFileSize(dir string) int64 {
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		return 0
	}
	return info.Size()
}

// CheckDataFile reads every page of the data file in dir and reports the
// damage it finds as a [*CorruptError]. It takes the file's lock, so it
// fails with an error wrapping [ErrLocked] while a node runs on dir; it
// writes nothing. opts supplies LockTimeout; the rest is unused.
func CheckDataFile(dir string, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return fmt.Errorf("check data file: %w", err)
	}
	opts.SkipCheck = false
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("check data file: %w", err)
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return err
	}
	return db.Close()
}
