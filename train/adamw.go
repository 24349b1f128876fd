package train

import "math"

// adamW holds AdamW's hyper-parameters and the per-step factors, in torch.optim.AdamW's order of
// operations: decay the weight, update the moments, then step by the bias-corrected ratio.
type adamW struct {
	lr, beta1, beta2, eps, decay float64
	t                            int // steps taken

	// per-step factors, set by next
	keep, stepSize, bc2Sqrt float64
}

// next advances the step count and precomputes its factors.
func (a *adamW) next() {
	a.t++
	a.keep = 1 - a.lr*a.decay
	a.stepSize = a.lr / (1 - math.Pow(a.beta1, float64(a.t)))
	a.bc2Sqrt = math.Sqrt(1 - math.Pow(a.beta2, float64(a.t)))
}

// adamUpdate applies one AdamW step to p with gradient g and moments m, v (all the same length).
func adamUpdate[F Float](a *adamW, p, g, m, v []F) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	keep, b1, b2 := F(a.keep), F(a.beta1), F(a.beta2)
	c1, c2 := 1-b1, 1-b2
	step, bc2, eps := F(a.stepSize), F(a.bc2Sqrt), F(a.eps)
	for i := range p {
		gi := g[i]
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = p[i]*keep - step*mi/(F(math.Sqrt(float64(vi)))/bc2+eps)
	}
}
