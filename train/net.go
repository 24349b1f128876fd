package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"xling/encoder/hashbag"
	"xling/internal/offheap"
)

// net is the dual encoder (hashbag: embedding bag -> projection -> L2 normalisation) with its InfoNCE loss,
// the language discriminator behind a gradient-reversal layer, and AdamW state. One batch of B pairs is
// 2B texts: queries at [0, B), passages at [B, 2B).
//
// The embedding table is updated lazily: only the rows a batch touches get gradients, moment updates and
// weight decay, with the bias correction of the global step (as torch.optim.SparseAdam, plus decoupled
// decay). The dense parameters follow torch.optim.AdamW exactly.
type net[F Float] struct {
	hp hyper

	buckets, dim, out, hidden, langs int

	emb, mEmb, vEmb []F // [buckets x dim]
	// freeMoments frees mEmb and vEmb, which live outside the Go heap (internal/offheap): they are
	// twice the table, and on the heap would let as much garbage pile up between collections.
	freeMoments func()

	// dense holds every dense parameter in one slab, so one loop updates them all:
	// proj [dim x out] | bias [out] | w1 [out x hidden] | b1 [hidden] | w2 [hidden x langs] | b2 [langs].
	dense, gDense, mDense, vDense []F
	proj, bias, w1, b1, w2, b2    []F
	gProj, gBias, gW1, gB1, gW2   []F
	gB2                           []F

	opt    adamW
	frozen int // leading dense values (projection and bias) that are not trained

	// batch
	b, texts int
	off      []int   // [texts+1] into ids
	ids      []int32 // embedding rows, padding removed
	lang     []int   // per text: discriminator class, -1 when not counted
	labelled int     // texts with lang >= 0
	slot     []int32 // [buckets]: index into rows, -1 when untouched this step
	rows     []int32 // touched rows, in first-seen order
	gEmb     []F     // [len(rows) x dim]

	// activations and their gradients, [texts x width]
	pooled, h, e, norm []F
	sim, ds, pcol      []F // [b x b]: scaled similarities, dLoss/dsim, column softmax (transposed)
	rowLoss, colLoss   []F // [b]
	hit                []bool
	z1, a1, logits     []F // discriminator, [texts x hidden], [texts x langs]
	discLoss           []F // [texts]
	discHit            []bool
	de, rev, dh, dpool []F // rev: what the reversal layer passes to the encoder

	pool                                                                *pool
	encodeFn, rowsFn, colsFn, discFwdFn, deFn, discBackFn, gW1Fn, gW2Fn func(lo, hi int)
	encBackFn, gProjFn, gEmbFn, adamEmbFn, adamDenseFn                  func(lo, hi int)
}

// hyper are the step's hyper-parameters.
type hyper struct {
	temperature float64
	symmetric   bool
	lambda      float64
}

// Stats describes one step.
type Stats struct {
	Loss         float64 // InfoNCE + discriminator cross-entropy
	InfoNCE      float64
	DiscLoss     float64 // discriminator cross-entropy (0 without a discriminator)
	Accuracy     float64 // share of queries whose own passage scores highest in the batch
	DiscAccuracy float64 // share of labelled texts whose language the discriminator names
}

func newNet[F Float](cfg Config, m *hashbag.Model) (*net[F], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	buckets := m.Tokenizer.Buckets
	if buckets < 1 || m.Dim < 1 || m.Out < 1 || len(m.Embedding) != buckets*m.Dim ||
		len(m.Proj) != m.Dim*m.Out || len(m.Bias) != m.Out {
		return nil, fmt.Errorf("train: model shapes do not agree (buckets %d, dim %d, out %d, embedding %d, proj %d, bias %d)",
			buckets, m.Dim, m.Out, len(m.Embedding), len(m.Proj), len(m.Bias))
	}
	n := &net[F]{
		hp:      hyper{temperature: cfg.Temperature, symmetric: cfg.Symmetric, lambda: cfg.Lambda},
		buckets: buckets, dim: m.Dim, out: m.Out, langs: len(cfg.Languages),
		opt: adamW{lr: cfg.LR, beta1: cfg.Beta1, beta2: cfg.Beta2, eps: cfg.Eps, decay: cfg.WeightDecay},
	}
	if n.langs > 0 {
		n.hidden = cfg.DiscHidden
	}
	// A float32 net trains the model's own table in place; other precisions work on a copy.
	if e, ok := any(m.Embedding).([]F); ok {
		n.emb = e
	} else {
		n.emb = convert[F](m.Embedding)
	}
	moments, free := offheap.Slice[F](2 * len(n.emb))
	n.mEmb, n.vEmb, n.freeMoments = moments[:len(n.emb):len(n.emb)], moments[len(n.emb):], free
	n.slot = make([]int32, buckets)
	for i := range n.slot {
		n.slot[i] = -1
	}

	sizes := []int{n.dim * n.out, n.out, n.out * n.hidden, n.hidden, n.hidden * n.langs, n.langs}
	total := 0
	for _, s := range sizes {
		total += s
	}
	n.dense, n.gDense = make([]F, total), make([]F, total)
	n.mDense, n.vDense = make([]F, total), make([]F, total)
	ps := split(n.dense, sizes)
	gs := split(n.gDense, sizes)
	n.proj, n.bias, n.w1, n.b1, n.w2, n.b2 = ps[0], ps[1], ps[2], ps[3], ps[4], ps[5]
	if cfg.FreezeProjection {
		n.frozen = sizes[0] + sizes[1]
	}
	n.gProj, n.gBias, n.gW1, n.gB1, n.gW2, n.gB2 = gs[0], gs[1], gs[2], gs[3], gs[4], gs[5]
	for i, v := range m.Proj {
		n.proj[i] = F(v)
	}
	for i, v := range m.Bias {
		n.bias[i] = F(v)
	}
	// The discriminator starts as torch.nn.Linear does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a1d15c))
	uniform := func(p []F, fanIn int) {
		k := 1 / math.Sqrt(float64(fanIn))
		for i := range p {
			p[i] = F((2*rng.Float64() - 1) * k)
		}
	}
	if n.hidden > 0 {
		uniform(n.w1, n.out)
		uniform(n.b1, n.out)
		uniform(n.w2, n.hidden)
		uniform(n.b2, n.hidden)
	}

	n.pool = newPool(cfg.Threads)
	n.encodeFn, n.rowsFn, n.colsFn = n.encode, n.simRows, n.simCols
	n.discFwdFn, n.deFn, n.discBackFn = n.discForward, n.gradEmbedding, n.discBackward
	n.gW1Fn, n.gW2Fn = n.gradW1, n.gradW2
	n.encBackFn, n.gProjFn, n.gEmbFn = n.encodeBackward, n.gradProj, n.gradRows
	n.adamEmbFn, n.adamDenseFn = n.adamRows, n.adamDense
	return n, nil
}

func (n *net[F]) close() {
	n.pool.close()
	n.mEmb, n.vEmb = nil, nil
	n.freeMoments()
}

func convert[F Float, G Float](src []G) []F {
	dst := make([]F, len(src))
	for i, v := range src {
		dst[i] = F(v)
	}
	return dst
}

func split[F Float](slab []F, sizes []int) [][]F {
	parts := make([][]F, len(sizes))
	for i, s := range sizes {
		parts[i], slab = slab[:s:s], slab[s:]
	}
	return parts
}

// writeModel copies the encoder's weights into m (the embedding only when it is not already m's table).
func (n *net[F]) writeModel(m *hashbag.Model) {
	if _, ok := any(m.Embedding).([]F); !ok {
		for i, v := range n.emb {
			m.Embedding[i] = float32(v)
		}
	}
	for i, v := range n.proj {
		m.Proj[i] = float32(v)
	}
	for i, v := range n.bias {
		m.Bias[i] = float32(v)
	}
}

// load takes a tokenised batch: ids of 0 are padding, others must be rows of the table. The texts are the
// queries [0, B), the passages [B, 2B) and the discriminator's own texts, if any, [2B, 2B+len(Disc)).
func (n *net[F]) load(tb *Tokenized) error {
	b := len(tb.Queries)
	if b == 0 || len(tb.Passages) != b || len(tb.QLang) != b || len(tb.PLang) != b || len(tb.Disc) != len(tb.DiscLang) {
		return fmt.Errorf("train: batch needs equal, non-zero counts of queries (%d), passages (%d) and their languages (%d, %d), and a language per discriminator text (%d, %d)",
			b, len(tb.Passages), len(tb.QLang), len(tb.PLang), len(tb.Disc), len(tb.DiscLang))
	}
	for _, r := range n.rows {
		n.slot[r] = -1
	}
	n.rows = n.rows[:0]
	n.b, n.texts = b, 2*b+len(tb.Disc)
	n.off = grow(n.off, n.texts+1)
	n.lang = grow(n.lang, n.texts)
	n.ids = n.ids[:0]
	n.labelled = 0
	// With texts of its own, the discriminator learns from those alone (the balanced design).
	own := len(tb.Disc) > 0
	for t := range n.texts {
		var ids []int64
		var lang int
		role, i := "query", t
		switch {
		case t < b:
			ids, lang = tb.Queries[t], tb.QLang[t]
		case t < 2*b:
			role, i = "passage", t-b
			ids, lang = tb.Passages[i], tb.PLang[i]
		default:
			role, i = "discriminator text", t-2*b
			ids, lang = tb.Disc[i], tb.DiscLang[i]
		}
		if own && t < 2*b {
			lang = -1
		}
		n.off[t] = len(n.ids)
		for _, id := range ids {
			if id == 0 {
				continue
			}
			if id < 0 || id >= int64(n.buckets) {
				return fmt.Errorf("train: %s %d of batch: id %d outside [0, %d)", role, i, id, n.buckets)
			}
			r := int32(id)
			n.ids = append(n.ids, r)
			if n.slot[r] < 0 {
				n.slot[r] = int32(len(n.rows))
				n.rows = append(n.rows, r)
			}
		}
		if lang >= n.langs || n.hidden == 0 {
			lang = -1
		}
		if lang >= 0 {
			n.labelled++
		}
		n.lang[t] = lang
	}
	n.off[n.texts] = len(n.ids)

	tw, tb2 := n.texts*n.out, n.b*n.b
	n.pooled, n.dpool = grow(n.pooled, n.texts*n.dim), grow(n.dpool, n.texts*n.dim)
	n.h, n.e, n.de, n.rev, n.dh = grow(n.h, tw), grow(n.e, tw), grow(n.de, tw), grow(n.rev, tw), grow(n.dh, tw)
	n.norm = grow(n.norm, n.texts)
	n.sim, n.ds, n.pcol = grow(n.sim, tb2), grow(n.ds, tb2), grow(n.pcol, tb2)
	n.rowLoss, n.colLoss, n.hit = grow(n.rowLoss, b), grow(n.colLoss, b), grow(n.hit, b)
	n.z1, n.a1 = grow(n.z1, n.texts*n.hidden), grow(n.a1, n.texts*n.hidden)
	n.logits = grow(n.logits, n.texts*n.langs)
	n.discLoss, n.discHit = grow(n.discLoss, n.texts), grow(n.discHit, n.texts)
	n.gEmb = grow(n.gEmb, len(n.rows)*n.dim)
	return nil
}

// forward computes the embeddings, the loss and the softmaxes backward needs.
func (n *net[F]) forward() Stats {
	n.pool.run(n.texts, n.encodeFn)
	n.pool.run(n.b, n.rowsFn)
	if n.hp.symmetric {
		n.pool.run(n.b, n.colsFn)
	}
	var st Stats
	hits := 0
	for i := range n.b {
		st.InfoNCE += float64(n.rowLoss[i])
		if n.hp.symmetric {
			st.InfoNCE += float64(n.colLoss[i])
		}
		if n.hit[i] {
			hits++
		}
	}
	st.InfoNCE /= float64(n.b)
	if n.hp.symmetric {
		st.InfoNCE /= 2
	}
	st.Accuracy = float64(hits) / float64(n.b)
	if n.labelled > 0 {
		n.pool.run(n.texts, n.discFwdFn)
		hits = 0
		for t := range n.texts {
			if n.lang[t] >= 0 {
				st.DiscLoss += float64(n.discLoss[t])
				if n.discHit[t] {
					hits++
				}
			}
		}
		st.DiscLoss /= float64(n.labelled)
		st.DiscAccuracy = float64(hits) / float64(n.labelled)
	}
	st.Loss = st.InfoNCE + st.DiscLoss
	return st
}

// encode embeds texts [lo, hi): masked mean of rows, projection, L2 normalisation.
func (n *net[F]) encode(lo, hi int) {
	d, o := n.dim, n.out
	for t := lo; t < hi; t++ {
		pooled := n.pooled[t*d : (t+1)*d]
		clear(pooled)
		ids := n.ids[n.off[t]:n.off[t+1]]
		for _, r := range ids {
			add(pooled, n.emb[int(r)*d:int(r+1)*d])
		}
		if len(ids) > 0 {
			scale(pooled, 1/F(len(ids)))
		}
		h := n.h[t*o : (t+1)*o]
		copy(h, n.bias)
		for k, x := range pooled {
			if x != 0 {
				axpy(h, x, n.proj[k*o:(k+1)*o])
			}
		}
		nrm := max(F(math.Sqrt(float64(dot(h, h)))), 1e-12)
		n.norm[t] = nrm
		e := n.e[t*o : (t+1)*o]
		for k, x := range h {
			e[k] = x / nrm
		}
	}
}

// simRows scores queries [lo, hi) against every passage and takes each row's softmax into ds.
func (n *net[F]) simRows(lo, hi int) {
	b, o := n.b, n.out
	inv := F(1 / n.hp.temperature)
	for i := lo; i < hi; i++ {
		q := n.e[i*o : (i+1)*o]
		row := n.sim[i*b : (i+1)*b]
		for j := range row {
			row[j] = dot(q, n.e[(b+j)*o:(b+j+1)*o]) * inv
		}
		best := 0
		for j, s := range row {
			if s > row[best] {
				best = j
			}
		}
		n.hit[i] = best == i
		n.rowLoss[i] = softmaxInto(n.ds[i*b:(i+1)*b], row, i)
	}
}

// simCols does the passage->query direction for passages [lo, hi): row j of pcol is the softmax of
// column j of sim.
func (n *net[F]) simCols(lo, hi int) {
	b := n.b
	for j := lo; j < hi; j++ {
		col := n.pcol[j*b : (j+1)*b]
		for i := range col {
			col[i] = n.sim[i*b+j]
		}
		n.colLoss[j] = softmaxInto(col, col, j)
	}
}

// softmaxInto writes softmax(x) into p (which may be x) and returns -log p[target].
func softmaxInto[F Float](p, x []F, target int) F {
	xt, mx := x[target], x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum F
	for k, v := range x {
		p[k] = F(math.Exp(float64(v - mx)))
		sum += p[k]
	}
	inv := 1 / sum
	for k := range p {
		p[k] *= inv
	}
	return F(math.Log(float64(sum))) + mx - xt
}

// discForward runs the discriminator on texts [lo, hi): relu(e W1 + b1) W2 + b2, softmax cross-entropy.
// The logits are replaced by the softmax.
func (n *net[F]) discForward(lo, hi int) {
	o, hd, l := n.out, n.hidden, n.langs
	for t := lo; t < hi; t++ {
		if n.lang[t] < 0 {
			continue
		}
		e := n.e[t*o : (t+1)*o]
		z := n.z1[t*hd : (t+1)*hd]
		copy(z, n.b1)
		for k, x := range e {
			axpy(z, x, n.w1[k*hd:(k+1)*hd])
		}
		a := n.a1[t*hd : (t+1)*hd]
		for k, x := range z {
			a[k] = max(x, 0)
		}
		lg := n.logits[t*l : (t+1)*l]
		copy(lg, n.b2)
		for k, x := range a {
			if x != 0 {
				axpy(lg, x, n.w2[k*l:(k+1)*l])
			}
		}
		best := 0
		for k, v := range lg {
			if v > lg[best] {
				best = k
			}
		}
		n.discHit[t] = best == n.lang[t]
		n.discLoss[t] = softmaxInto(lg, lg, n.lang[t])
	}
}

// backward fills every gradient of the loss forward computed.
func (n *net[F]) backward() {
	b := n.b
	// dLoss/dsim: (softmax - onehot) / B per direction, halved when symmetric.
	w := 1 / F(b)
	if n.hp.symmetric {
		w /= 2
	}
	for i := range b {
		row := n.ds[i*b : (i+1)*b]
		row[i]--
		scale(row, w)
	}
	if n.hp.symmetric {
		for j := range b {
			col := n.pcol[j*b : (j+1)*b]
			col[j]--
			for i, p := range col {
				n.ds[i*b+j] += w * p
			}
		}
	}
	n.pool.run(n.texts, n.deFn)
	clear(n.rev)
	if n.labelled > 0 {
		n.pool.run(n.texts, n.discBackFn)
		n.pool.run(n.out, n.gW1Fn)
		n.pool.run(n.hidden, n.gW2Fn)
		clear(n.gB2)
		l := n.langs
		for t := range n.texts {
			if n.lang[t] >= 0 {
				add(n.gB2, n.logits[t*l:(t+1)*l])
			}
		}
	} else {
		clear(n.gW1)
		clear(n.gB1)
		clear(n.gW2)
		clear(n.gB2)
	}
	n.pool.run(n.texts, n.encBackFn)
	n.pool.run(n.dim, n.gProjFn)
	clear(n.gBias)
	o := n.out
	for t := range n.texts {
		add(n.gBias, n.dh[t*o:(t+1)*o])
	}
	n.pool.run(len(n.rows), n.gEmbFn)
}

// gradEmbedding sets de for texts [lo, hi) from the InfoNCE loss: a query's gradient is sum_j ds[i,j] p_j / tau,
// a passage's sum_i ds[i,j] q_i / tau, a discriminator text's 0.
func (n *net[F]) gradEmbedding(lo, hi int) {
	b, o := n.b, n.out
	inv := F(1 / n.hp.temperature)
	for t := lo; t < hi; t++ {
		de := n.de[t*o : (t+1)*o]
		clear(de)
		if t >= 2*b {
			continue // a discriminator text: no InfoNCE gradient
		}
		if t < b {
			for j, g := range n.ds[t*b : (t+1)*b] {
				axpy(de, g*inv, n.e[(b+j)*o:(b+j+1)*o])
			}
			continue
		}
		j := t - b
		for i := range b {
			axpy(de, n.ds[i*b+j]*inv, n.e[i*o:(i+1)*o])
		}
	}
}

// discBackward turns the softmax of texts [lo, hi) into dLoss/dlogits, then dz1 (in z1), and passes
// -lambda * dLoss/de back through the reversal layer into rev and de.
func (n *net[F]) discBackward(lo, hi int) {
	o, hd, l := n.out, n.hidden, n.langs
	inv := 1 / F(n.labelled)
	lambda := F(n.hp.lambda)
	for t := lo; t < hi; t++ {
		if n.lang[t] < 0 {
			continue
		}
		dl := n.logits[t*l : (t+1)*l]
		dl[n.lang[t]]--
		scale(dl, inv)
		z := n.z1[t*hd : (t+1)*hd]
		for k := range z {
			if z[k] > 0 {
				z[k] = dot(dl, n.w2[k*l:(k+1)*l])
			} else {
				z[k] = 0
			}
		}
		rev, de := n.rev[t*o:(t+1)*o], n.de[t*o:(t+1)*o]
		for k := range rev {
			rev[k] = -lambda * dot(z, n.w1[k*hd:(k+1)*hd])
			de[k] += rev[k]
		}
	}
}

// gradW1 sets rows [lo, hi) of dW1 = sum_t e_t^T dz1_t.
func (n *net[F]) gradW1(lo, hi int) {
	o, hd := n.out, n.hidden
	for k := lo; k < hi; k++ {
		g := n.gW1[k*hd : (k+1)*hd]
		clear(g)
		for t := range n.texts {
			if n.lang[t] >= 0 {
				axpy(g, n.e[t*o+k], n.z1[t*hd:(t+1)*hd])
			}
		}
	}
}

// gradW2 sets rows [lo, hi) of dW2 = sum_t a_t^T dlogits_t, and the matching entries of db1.
func (n *net[F]) gradW2(lo, hi int) {
	hd, l := n.hidden, n.langs
	for k := lo; k < hi; k++ {
		g := n.gW2[k*l : (k+1)*l]
		clear(g)
		var gb F
		for t := range n.texts {
			if n.lang[t] >= 0 {
				if a := n.a1[t*hd+k]; a != 0 {
					axpy(g, a, n.logits[t*l:(t+1)*l])
				}
				gb += n.z1[t*hd+k]
			}
		}
		n.gB1[k] = gb
	}
}

// encodeBackward takes texts [lo, hi) back through the normalisation (dh) and the projection (dpool,
// already divided by the bag size, which is what each row of the bag receives).
func (n *net[F]) encodeBackward(lo, hi int) {
	d, o := n.dim, n.out
	for t := lo; t < hi; t++ {
		de, e, dh := n.de[t*o:(t+1)*o], n.e[t*o:(t+1)*o], n.dh[t*o:(t+1)*o]
		nrm := n.norm[t]
		if nrm > 1e-12 {
			c := dot(e, de)
			for k := range dh {
				dh[k] = (de[k] - e[k]*c) / nrm
			}
		} else {
			// The norm was clamped: it is a constant, so only the division passes gradient.
			for k := range dh {
				dh[k] = de[k] / nrm
			}
		}
		dp := n.dpool[t*d : (t+1)*d]
		cnt := n.off[t+1] - n.off[t]
		if cnt == 0 {
			clear(dp)
			continue
		}
		inv := 1 / F(cnt)
		for k := range dp {
			dp[k] = dot(dh, n.proj[k*o:(k+1)*o]) * inv
		}
	}
}

// gradProj sets rows [lo, hi) of dProj = sum_t pooled_t^T dh_t.
func (n *net[F]) gradProj(lo, hi int) {
	d, o := n.dim, n.out
	for k := lo; k < hi; k++ {
		g := n.gProj[k*o : (k+1)*o]
		clear(g)
		for t := range n.texts {
			if x := n.pooled[t*d+k]; x != 0 {
				axpy(g, x, n.dh[t*o:(t+1)*o])
			}
		}
	}
}

// gradRows sets the gradients of touched rows whose slots are in [lo, hi): every occurrence of a row in a
// text adds that text's dpool.
func (n *net[F]) gradRows(lo, hi int) {
	d := n.dim
	clear(n.gEmb[lo*d : hi*d])
	lo32, hi32 := int32(lo), int32(hi)
	for t := range n.texts {
		dp := n.dpool[t*d : (t+1)*d]
		for _, r := range n.ids[n.off[t]:n.off[t+1]] {
			if s := n.slot[r]; s >= lo32 && s < hi32 {
				add(n.gEmb[int(s)*d:int(s+1)*d], dp)
			}
		}
	}
}

// update applies one AdamW step to the touched rows and every dense parameter.
func (n *net[F]) update() {
	n.opt.next()
	n.pool.run(len(n.rows), n.adamEmbFn)
	n.pool.run(len(n.dense)-n.frozen, n.adamDenseFn)
}

func (n *net[F]) adamRows(lo, hi int) {
	d := n.dim
	for s := lo; s < hi; s++ {
		r := int(n.rows[s])
		p := r * d
		adamUpdate(&n.opt, n.emb[p:p+d], n.gEmb[s*d:(s+1)*d], n.mEmb[p:p+d], n.vEmb[p:p+d])
	}
}

// adamDense updates dense[frozen+lo : frozen+hi]: the frozen prefix (projection and bias) is left alone.
func (n *net[F]) adamDense(lo, hi int) {
	lo, hi = lo+n.frozen, hi+n.frozen
	adamUpdate(&n.opt, n.dense[lo:hi], n.gDense[lo:hi], n.mDense[lo:hi], n.vDense[lo:hi])
}

// discAccuracy embeds texts with the current weights and returns the share whose language (an index
// into the discriminator's classes) the discriminator names. It changes no weights.
func (n *net[F]) discAccuracy(texts [][]int64, langs []int) float64 {
	if n.hidden == 0 || len(texts) == 0 {
		return 0
	}
	d, o, hd, l := n.dim, n.out, n.hidden, n.langs
	pooled, h := make([]F, d), make([]F, o)
	z, lg := make([]F, hd), make([]F, l)
	hits := 0
	for i, ids := range texts {
		clear(pooled)
		cnt := 0
		for _, id := range ids {
			if id > 0 && id < int64(n.buckets) {
				add(pooled, n.emb[int(id)*d:int(id+1)*d])
				cnt++
			}
		}
		if cnt > 0 {
			scale(pooled, 1/F(cnt))
		}
		copy(h, n.bias)
		for k, x := range pooled {
			axpy(h, x, n.proj[k*o:(k+1)*o])
		}
		scale(h, 1/max(F(math.Sqrt(float64(dot(h, h)))), 1e-12))
		copy(z, n.b1)
		for k, x := range h {
			axpy(z, x, n.w1[k*hd:(k+1)*hd])
		}
		copy(lg, n.b2)
		for k, x := range z {
			if x > 0 {
				axpy(lg, x, n.w2[k*l:(k+1)*l])
			}
		}
		best := 0
		for k, v := range lg {
			if v > lg[best] {
				best = k
			}
		}
		if best == langs[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(texts))
}
