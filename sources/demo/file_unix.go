//go:build unix

package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// demoFile picks the file a new demo database is written to: one in a
// folder of this user's under the temporary directory, held by a lock on
// a file beside it for as long as this process runs. The kernel drops the
// lock when the process ends however it ends, so each start removes the
// files whose lock it can take: those of gateways that were killed.
// release removes this process's files.
func demoFile() (path string, release func(), err error) {
	dir := filepath.Join(os.TempDir(), "odatagw-demo-"+strconv.Itoa(os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("the demo's folder: %w", err)
	}
	if info, err := os.Lstat(dir); err != nil || !info.IsDir() || info.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		return "", nil, fmt.Errorf("the demo's folder %s is not this user's own", dir)
	}
	sweep(dir)
	var lock *os.File
	for range 10 {
		// another gateway's release may have removed the folder just now
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, err
		}
		f, err := os.CreateTemp(dir, "demo-*.lock")
		if err != nil {
			return "", nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			os.Remove(f.Name())
			return "", nil, err
		}
		// another start's sweep may have taken the lock file away between
		// its creation and the lock: then it is not this one's any more
		mine, err1 := f.Stat()
		there, err2 := os.Stat(f.Name())
		if err1 == nil && err2 == nil && os.SameFile(mine, there) {
			lock = f
			break
		}
		f.Close()
	}
	if lock == nil {
		return "", nil, fmt.Errorf("no lock could be kept in %s", dir)
	}
	path = strings.TrimSuffix(lock.Name(), ".lock") + ".db"
	return path, func() {
		removeDB(path)
		os.Remove(lock.Name())
		lock.Close()
		os.Remove(dir) // only once empty: the last gateway leaves no folder
	}, nil
}

// sweep removes the databases whose lock no process holds.
func sweep(dir string) {
	locks, _ := filepath.Glob(filepath.Join(dir, "demo-*.lock"))
	for _, name := range locks {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			removeDB(strings.TrimSuffix(name, ".lock") + ".db")
			os.Remove(name)
		}
		f.Close()
	}
}

func removeDB(path string) {
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
}
