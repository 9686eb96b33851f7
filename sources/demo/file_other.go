//go:build !unix

package demo

import "os"

// demoFile picks the file a new demo database is written to: a new
// temporary folder, removed when the source closes (where there are no
// file locks, a killed process leaves it behind).
func demoFile() (path string, release func(), err error) {
	dir, err := os.MkdirTemp("", "odatagw-demo-")
	if err != nil {
		return "", nil, err
	}
	return dir + string(os.PathSeparator) + "demo.db", func() { os.RemoveAll(dir) }, nil
}
