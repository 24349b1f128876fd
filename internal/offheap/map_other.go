//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package offheap

func mapAnon(int) ([]byte, func(), bool) { return nil, nil, false }
