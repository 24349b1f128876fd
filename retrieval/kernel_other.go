//go:build !amd64 || purego

package retrieval

// assembly returns no kernels: this build has none.
func assembly() []*kernels { return nil }
