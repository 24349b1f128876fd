package train

// Float is the precision a network is computed in: float32 for training, float64 where tests check
// gradients against a float64 reference.
type Float interface{ ~float32 | ~float64 }

// dot returns sum a[i]*b[i] over len(a); b must be at least as long.
func dot[F Float](a, b []F) F {
	b = b[:len(a)]
	var s0, s1, s2, s3 F
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy does dst += alpha*x over len(dst); x must be at least as long.
func axpy[F Float](dst []F, alpha F, x []F) {
	x = x[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		dst[i] += alpha * x[i]
		dst[i+1] += alpha * x[i+1]
		dst[i+2] += alpha * x[i+2]
		dst[i+3] += alpha * x[i+3]
	}
	for ; i < len(dst); i++ {
		dst[i] += alpha * x[i]
	}
}

// add does dst += x over len(dst).
func add[F Float](dst, x []F) {
	x = x[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		dst[i] += x[i]
		dst[i+1] += x[i+1]
		dst[i+2] += x[i+2]
		dst[i+3] += x[i+3]
	}
	for ; i < len(dst); i++ {
		dst[i] += x[i]
	}
}

func scale[F Float](dst []F, alpha F) {
	for i := range dst {
		dst[i] *= alpha
	}
}

// grow returns s resized to n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4) // slack, so slightly larger batches later do not reallocate
	}
	return s[:n]
}
