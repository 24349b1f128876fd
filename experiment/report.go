package experiment

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"xling/domain"
	"xling/evaluate"
	"xling/stats"
	"xling/training"
)

// Significance is one paired test between two arms over the evaluation queries.
type Significance struct {
	ArmA    string  `json:"a"`
	ArmB    string  `json:"b"`
	Measure string  `json:"measure"` // "Mo.", "Cr." or "Mul." per-query AP
	Queries int     `json:"queries"`
	MeanA   float64 `json:"mean_a"`
	MeanB   float64 `json:"mean_b"`
	// P treats every query as independent (sign flips per query): too small, since the translations of a
	// question are correlated. PQuestion flips whole questions (stats.ClusteredPermutation) and is the one
	// to read; PHolm is PQuestion adjusted for every comparison in the report (Holm).
	P         float64 `json:"p"`
	Questions int     `json:"questions,omitempty"`
	PQuestion float64 `json:"p_question,omitempty"`
	PHolm     float64 `json:"p_holm,omitempty"`
}

// measures are the per-query values the tests compare: a query's AP against its own language (Mo.), its
// mean AP over the cross-lingual settings (Cr.), and its AP in the multilingual pool (Mul.).
var measures = []struct {
	label   string
	setting domain.Setting
}{{"Mo.", domain.Mono}, {"Cr.", domain.Cross}, {"Mul.", domain.Multi}}

// perQuery averages an arm's per-query values of one metric over its seeds.
func perQuery(runs []Run, measure domain.Setting, metric string) map[string]float64 {
	sum, n := map[string]float64{}, map[string]float64{}
	for _, r := range runs {
		for _, m := range r.perQuery {
			if m.Setting == measure && m.Name == metric {
				sum[m.QueryID] += m.Value
				n[m.QueryID]++
			}
		}
	}
	for q := range sum {
		sum[q] /= n[q]
	}
	return sum
}

// question is the parallel group of a query id ("<lang>/q/<qid>"): every translation shares it.
func question(queryID string) string {
	if _, qid, ok := strings.Cut(queryID, "/q/"); ok {
		return qid
	}
	return queryID
}

func (res *Results) arm(name string) []Run {
	if name == "untrained" {
		return []Run{res.Untrained}
	}
	var out []Run
	for _, r := range res.Runs {
		if r.Strategy == name && !r.Sweep {
			out = append(out, r)
		}
	}
	return out
}

// comparisons are the arm pairs the report tests: hybrid against every other arm, and each adversarial
// arm with hybrid batches against the same arm without, and the discriminator against none (adversarial
// against mono).
func comparisons(cfg Config) [][2]string {
	pairs := [][2]string{{"hybrid", "untrained"}}
	names := map[string]bool{}
	for _, s := range cfg.Strategies {
		names[s.Name] = true
		if s.Name != "hybrid" {
			pairs = append(pairs, [2]string{"hybrid", s.Name})
		}
	}
	if names["hybrid+adversarial"] && names["adversarial"] {
		pairs = append(pairs, [2]string{"hybrid+adversarial", "adversarial"})
	}
	// The discriminator's own effect: the same X-X-mono batches with and without it.
	if names["adversarial"] && names["mono"] {
		pairs = append(pairs, [2]string{"adversarial", "mono"})
	}
	return pairs
}

func significance(cfg Config, res *Results) ([]Significance, error) {
	var out []Significance
	for _, p := range comparisons(cfg) {
		for _, m := range measures {
			a, b := perQuery(res.arm(p[0]), m.setting, "map"), perQuery(res.arm(p[1]), m.setting, "map")
			var qs []string
			for q := range a {
				if _, ok := b[q]; ok {
					qs = append(qs, q)
				}
			}
			if len(qs) == 0 {
				continue
			}
			slices.Sort(qs)
			xa, xb := make([]float64, len(qs)), make([]float64, len(qs))
			cluster := make([]int, len(qs))
			ids := map[string]int{}
			for i, q := range qs {
				xa[i], xb[i] = a[q], b[q]
				k, ok := ids[question(q)]
				if !ok {
					k = len(ids)
					ids[question(q)] = k
				}
				cluster[i] = k
			}
			_, pv, err := stats.PairedRandomization(xa, xb, cfg.Rounds, 1)
			if err != nil {
				return nil, err
			}
			_, pq, err := stats.ClusteredPermutation(xa, xb, cluster, cfg.Rounds, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, Significance{ArmA: p[0], ArmB: p[1], Measure: m.label, Queries: len(qs), MeanA: mean(xa), MeanB: mean(xb),
				P: pv, Questions: len(ids), PQuestion: pq})
		}
	}
	ps := make([]float64, len(out))
	for i := range out {
		ps[i] = out[i].PQuestion
	}
	for i, h := range stats.Holm(ps) {
		out[i].PHolm = h
	}
	return out, nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// meanStd of one metric over an arm's seeds.
func (res *Results) meanStd(runs []Run, setting domain.Setting, q, c, name string) (m, sd float64, ok bool) {
	var xs []float64
	for _, r := range runs {
		if v, found := evaluate.Lookup(r.Metrics, res.Config.Eval, setting, q, c, name); found {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, 0, false
	}
	m, sd = meanSD(xs)
	return m, sd, true
}

// meanSD is the mean and the sample standard deviation (0 for a single value).
func meanSD(xs []float64) (m, sd float64) {
	m = mean(xs)
	for _, v := range xs {
		sd += (v - m) * (v - m)
	}
	if len(xs) > 1 {
		sd = math.Sqrt(sd / float64(len(xs)-1))
	}
	return m, sd
}

func (res *Results) armNames() []string {
	return append([]string{"untrained"}, StrategyNames(res.Config.Strategies)...)
}

var lowResource = map[string]bool{"th": true, "hi": true, "el": true, "tr": true, "vi": true}

func (res *Results) langLabel(l string) string {
	label := l
	if lowResource[l] {
		label += " (low)"
	}
	if slices.Contains(res.Config.Holdout, l) {
		label += " (held out)"
	}
	return label
}

// WriteMarkdown writes the whole report: the summary, then the appendix.
func WriteMarkdown(w io.Writer, res *Results) {
	WriteSummary(w, res)
	WriteAppendix(w, res)
}

// WriteSummary writes the report's short part, the one EXPERIMENTS.md holds: how the experiment ran, Table 1,
// the low-resource languages' mAP beside its degradation from English, and that degradation per seed.
func WriteSummary(w io.Writer, res *Results) {
	cfg := res.Config
	command := "(not recorded)"
	if len(res.Command) > 0 {
		command = "xling " + shellJoin(res.Command[1:])
	}
	ds := cfg.Eval
	sweep := ""
	if len(cfg.Alphas) > 0 {
		sweep = fmt.Sprintf("; alpha sweep on seed %d", cfg.Seeds[0])
	}
	fmt.Fprintf(w, "Command: `%s`  \nSeeds: %v; strategies trained per seed from that seed's alignment checkpoint%s.  \n", command, cfg.Seeds, sweep)
	qaLen := fmt.Sprintf("%d batches", cfg.QASteps)
	if cfg.QAEpochs > 0 {
		qaLen = fmt.Sprintf("%d epochs", cfg.QAEpochs)
	}
	fmt.Fprintf(w, "Training: alignment phase %d batches of %d of bitext (%s) with X-Y batches, lr %g; QA phase %s of %d of %s (the %g of its questions chosen by seed %d held out for validation), lr %g; temperature %g, adversarial lambda %g; held out: %s.  \n",
		cfg.AlignSteps, cfg.AlignBatch, strings.Join(cfg.Bitext, ", "), cfg.AlignLR, qaLen, cfg.QABatch, cfg.QA, cfg.ValShare, cfg.ValSeed, cfg.QALR, cfg.Temperature, cfg.Lambda, strings.Join(cfg.Holdout, ", "))
	fmt.Fprintf(w, "Evaluation: %s, every language, through the embedded-broker pipeline. Run time %.1f minutes.\n\n", ds, res.Elapsed/60)

	fmt.Fprintf(w, "### Table 1: mAP on %s, mean ± std over seeds\n\n| strategy | Mo. | Cr. | Mul. | mean rank distance |\n| --- | --- | --- | --- | --- |\n", ds)
	for _, a := range res.armNames() {
		runs := res.arm(a)
		fmt.Fprintf(w, "| %s |", a)
		for _, s := range []domain.Setting{domain.MonoMean, domain.CrossMean, domain.MultiMean} {
			fmt.Fprintf(w, " %s |", pm(res.meanStd(runs, s, domain.Pool, domain.Pool, "map")))
		}
		m, sd, ok := res.meanStd(runs, domain.MultiMean, domain.Pool, domain.Pool, "rank_distance")
		fmt.Fprintf(w, " %s |\n", pmf(m, sd, ok, "%.1f"))
	}

	langs := res.languages()
	writeLowResourceScores(w, res, langs)

	fmt.Fprintf(w, "\n### Degradation from English on the low-resource languages (%s), per seed\n\n", strings.Join(lowResourceLangs(langs), ", "))
	fmt.Fprintf(w, "Each seed's mean degradation over those languages, then mean ± std over seeds; the per-seed values follow in brackets.\n\n")
	fmt.Fprintf(w, "| strategy | Mul. mAP | Mul. F1@10 | Cr. mAP | Cr. F1@10 |\n| --- | --- | --- | --- | --- |\n")
	for _, a := range res.armNames() {
		fmt.Fprintf(w, "| %s |", a)
		for _, d := range []struct {
			setting domain.Setting
			metric  string
		}{{domain.DegrMulti, "map"}, {domain.DegrMulti, "f1@10"}, {domain.DegrCross, "map"}, {domain.DegrCross, "f1@10"}} {
			fmt.Fprintf(w, " %s |", res.lowResourcePerSeed(res.arm(a), d.setting, d.metric))
		}
		fmt.Fprintln(w)
	}
}

// writeLowResourceScores puts each low-resource language's mAP beside its degradation from English, with
// English's own mAP above them: degradation is a ratio to English, so a lower English score alone lowers it.
func writeLowResourceScores(w io.Writer, res *Results, langs []string) {
	rows := append([]string{"en"}, lowResourceLangs(langs)...)
	for _, t := range []struct {
		name                 string
		setting, degradation domain.Setting
	}{{"Mul.", domain.Multi, domain.DegrMulti}, {"Cr.", domain.LangCross, domain.DegrCross}} {
		fmt.Fprintf(w, "\n### %s mAP of English and the low-resource languages, with the degradation from English in brackets\n\n| language |", t.name)
		for _, a := range res.armNames() {
			fmt.Fprintf(w, " %s |", a)
		}
		fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" --- |", len(res.armNames())))
		for _, l := range rows {
			fmt.Fprintf(w, "| %s |", res.langLabel(l))
			for _, a := range res.armNames() {
				m, _, ok := res.meanStd(res.arm(a), t.setting, l, domain.Pool, "map")
				cell := pmf(m, 0, ok, "%.3f")
				if d, _, ok := res.meanStd(res.arm(a), t.degradation, l, domain.Pool, "map"); ok && l != "en" {
					cell += fmt.Sprintf(" (%.3f)", d)
				}
				fmt.Fprintf(w, " %s |", cell)
			}
			fmt.Fprintln(w)
		}
	}
}

// WriteAppendix writes the rest of the report, the part docs/experiments-appendix.md holds: every table per
// language, the paired tests, the intervals, the discriminator's accuracy, the alpha sweep and the data.
func WriteAppendix(w io.Writer, res *Results) {
	cfg := res.Config
	langs := res.languages()
	perLang := []struct {
		title   string
		setting domain.Setting
		metric  string
		cand    string
	}{
		{"Mo. mAP per language (query and candidates in the language)", domain.Mono, "map", ""},
		{"Cr. mAP per language (mean of the cross-lingual settings with the language on either side)", domain.LangCross, "map", domain.Pool},
		{"Mul. mAP per language (the language's queries against the pool)", domain.Multi, "map", domain.Pool},
		{"Mean rank distance per language (lower is less biased)", domain.Multi, "rank_distance", domain.Pool},
		{"Degradation from English, Mul. mAP: 1 - mAP(lang)/mAP(en)", domain.DegrMulti, "map", domain.Pool},
		{"Degradation from English, Mul. F1@10", domain.DegrMulti, "f1@10", domain.Pool},
		{"Degradation from English, Cr. mAP", domain.DegrCross, "map", domain.Pool},
		{"Degradation from English, Cr. F1@10", domain.DegrCross, "f1@10", domain.Pool},
	}
	for _, t := range perLang {
		fmt.Fprintf(w, "\n### %s\n\n| language |", t.title)
		for _, a := range res.armNames() {
			fmt.Fprintf(w, " %s |", a)
		}
		fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" --- |", len(res.armNames())))
		for _, l := range langs {
			cand := t.cand
			if cand == "" {
				cand = l
			}
			fmt.Fprintf(w, "| %s |", res.langLabel(l))
			for _, a := range res.armNames() {
				m, _, ok := res.meanStd(res.arm(a), t.setting, l, cand, t.metric)
				format := "%.3f"
				if t.metric == "rank_distance" {
					format = "%.1f"
				}
				fmt.Fprintf(w, " %s |", pmf(m, 0, ok, format))
			}
			fmt.Fprintln(w)
		}
		if strings.HasPrefix(t.title, "Degradation") {
			fmt.Fprintf(w, "| **mean, low-resource** |")
			for _, a := range res.armNames() {
				var xs []float64
				for _, l := range langs {
					if lowResource[l] {
						if m, _, ok := res.meanStd(res.arm(a), t.setting, l, t.cand, t.metric); ok {
							xs = append(xs, m)
						}
					}
				}
				fmt.Fprintf(w, " **%.3f** |", mean(xs))
			}
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintf(w, "\n### Paired tests (sign-flip randomization, %d rounds, two-sided)\n\n", cfg.Rounds)
	fmt.Fprintf(w, "Per-query AP averaged over seeds; Mo.: AP against the query's own language; Cr.: the query's mean AP over its cross-lingual settings; Mul.: AP in the pool. p (per query) flips each query alone and is too small, since a question's translations are correlated; p (per question) flips all of a question's queries together; Holm adjusts it for the %d tests in this table.\n\n", len(res.Tests))
	fmt.Fprintf(w, "| A | B | measure | queries | questions | mean A | mean B | p (per query) | p (per question) | p (Holm) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range res.Tests {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.4f | %.4f | %.4g | %.4g | %.4g |\n", s.ArmA, s.ArmB, s.Measure, s.Queries, s.Questions, s.MeanA, s.MeanB, s.P, s.PQuestion, s.PHolm)
	}
	if len(res.Intervals) > 0 {
		writeIntervals(w, res.Intervals)
	}

	writeDiscCurves(w, res)

	if len(cfg.Alphas) > 0 {
		writeAlphaSweep(w, res)
	}

	fmt.Fprintf(w, "\n### Data (SHA-256)\n\n")
	for _, d := range res.Data {
		fmt.Fprintf(w, "- `%s` %s\n", d.SHA256, d.Path)
	}
}

// languages are the training languages the evaluation set has, so a set without some of them (MLQA-R has
// neither el nor th) reports no empty rows.
func (res *Results) languages() []string {
	var ls []string
	for _, l := range training.Languages() {
		for _, r := range res.Runs {
			if _, ok := evaluate.Lookup(r.Metrics, res.Config.Eval, domain.Multi, l, domain.Pool, "map"); ok {
				ls = append(ls, l)
				break
			}
		}
	}
	return ls
}

// lowResourceLangs are those of langs the study counts as low-resource.
func lowResourceLangs(langs []string) []string {
	var ls []string
	for _, l := range langs {
		if lowResource[l] {
			ls = append(ls, l)
		}
	}
	return ls
}

// lowResourcePerSeed is a cell of the per-seed table: every run's mean of one degradation metric over the
// low-resource languages, summarised as mean ± std with the values themselves.
func (res *Results) lowResourcePerSeed(runs []Run, setting domain.Setting, metric string) string {
	var perRun []string
	var xs []float64
	for _, r := range runs {
		var ls []float64
		for _, l := range lowResourceLangs(training.Languages()) {
			if v, ok := evaluate.Lookup(r.Metrics, res.Config.Eval, setting, l, domain.Pool, metric); ok {
				ls = append(ls, v)
			}
		}
		if len(ls) > 0 {
			xs = append(xs, mean(ls))
			perRun = append(perRun, fmt.Sprintf("%.3f", mean(ls)))
		}
	}
	if len(xs) == 0 {
		return "-"
	}
	m, sd := meanSD(xs)
	return pm(m, sd, true) + " [" + strings.Join(perRun, ", ") + "]"
}

func pm(m, sd float64, ok bool) string { return pmf(m, sd, ok, "%.3f") }

func pmf(m, sd float64, ok bool, format string) string {
	if !ok {
		return "-"
	}
	if sd == 0 {
		return fmt.Sprintf(format, m)
	}
	return fmt.Sprintf(format+" ± "+format, m, sd)
}

// writeDiscCurves tabulates the discriminator's accuracy on held-out texts over the QA phase, per
// adversarial arm: the mean over seeds, with the range.
func writeDiscCurves(w io.Writer, res *Results) {
	var arms []string
	for _, a := range res.armNames() {
		for _, r := range res.arm(a) {
			if len(r.DiscCurve) > 0 {
				arms = append(arms, a)
				break
			}
		}
	}
	if len(arms) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### The discriminator's accuracy on held-out texts during the QA phase\n\n")
	fmt.Fprintf(w, "Held-out texts: the validation questions' queries, the same number in each of the %d languages the QA phase trains on (%s), so chance is 1/%d = %.3f. Mean over seeds (min–max). The balanced arms' discriminator learns from language-balanced texts of its own every step; the paper's from each step's batch.\n\n",
		len(res.TrainLangs), strings.Join(res.TrainLangs, ", "), len(res.TrainLangs), 1/float64(max(len(res.TrainLangs), 1)))
	fmt.Fprintf(w, "| step |")
	for _, a := range arms {
		fmt.Fprintf(w, " %s |", a)
	}
	fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" --- |", len(arms)))
	byStep := map[string]map[int][]float64{}
	var steps []int
	for _, a := range arms {
		byStep[a] = map[int][]float64{}
		for _, r := range res.arm(a) {
			for _, p := range r.DiscCurve {
				if !slices.Contains(steps, p.Step) {
					steps = append(steps, p.Step)
				}
				byStep[a][p.Step] = append(byStep[a][p.Step], p.Accuracy)
			}
		}
	}
	slices.Sort(steps)
	for _, s := range steps {
		fmt.Fprintf(w, "| %d |", s)
		for _, a := range arms {
			xs := byStep[a][s]
			if len(xs) == 0 {
				fmt.Fprintf(w, " - |")
				continue
			}
			fmt.Fprintf(w, " %.3f (%.3f–%.3f) |", mean(xs), slices.Min(xs), slices.Max(xs))
		}
		fmt.Fprintln(w)
	}
}

// shellJoin writes args as a shell would need them typed, so that a report's command can be pasted back:
// an empty argument (--alphas "") or one with spaces or quotes is single-quoted.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsFunc(a, func(r rune) bool { return !safeShellRune(r) }) {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}

func safeShellRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,=:+@%", r)
}

// writeAlphaSweep writes hybrid's Table 1 row at each alpha of the sweep, from the first seed.
func writeAlphaSweep(w io.Writer, res *Results) {
	cfg, ds := res.Config, res.Config.Eval
	fmt.Fprintf(w, "\n### Alpha sweep (hybrid, seed %d)\n\n| alpha | Mo. | Cr. | Mul. | mean rank distance |\n| --- | --- | --- | --- | --- |\n", cfg.Seeds[0])
	for _, a := range cfg.Alphas {
		name := fmt.Sprintf("hybrid:%g", a)
		var run *Run
		for i := range res.Runs {
			r := &res.Runs[i]
			if r.Seed == cfg.Seeds[0] && (r.Strategy == name || (a == 0.5 && r.Strategy == "hybrid")) {
				run = r
			}
		}
		if run == nil {
			continue
		}
		fmt.Fprintf(w, "| %g |", a)
		for _, s := range []domain.Setting{domain.MonoMean, domain.CrossMean, domain.MultiMean} {
			v, ok := evaluate.Lookup(run.Metrics, ds, s, domain.Pool, domain.Pool, "map")
			fmt.Fprintf(w, " %s |", pmf(v, 0, ok, "%.3f"))
		}
		v, ok := evaluate.Lookup(run.Metrics, ds, domain.MultiMean, domain.Pool, domain.Pool, "rank_distance")
		fmt.Fprintf(w, " %s |\n", pmf(v, 0, ok, "%.1f"))
	}
}
