//go:build !unix

package agenttest

import "time"

// lockCache is a no-op where flock is missing: files still enter the cache
// only by atomic rename, so parallel fetchers waste work but corrupt
// nothing.
func lockCache(dir string, timeout time.Duration) (unlock func(), err error) {
	return func() {}, nil
}
