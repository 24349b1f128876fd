//go:build !amd64 || purego

package retrieval

// avx2 is nil: this build has no assembly kernel.
func avx2() *kernels { return nil }
