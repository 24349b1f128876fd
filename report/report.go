// Package report renders one self-contained HTML page from evaluation results: the Parquet metrics of
// one or more runs, or an experiment's results.json. The page fetches nothing (its Content-Security-Policy
// forbids it), runs no script, and draws its charts as inline SVG; html/template escapes every string that
// comes from the data.
package report

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"

	"xling/domain"
	"xling/schemas"
	"xling/sinks"
	"xling/stats"
)

// Set is one model's evaluation on one dataset: the metric rows of one run, or of every seed of an
// experiment arm.
type Set struct {
	Model   string
	Dataset string
	Run     string             // the run id; it tells apart two runs of one model
	Runs    [][]schemas.Metric // one slice of rows per run
}

// Test is one paired significance test between two models on one dataset.
type Test struct {
	Dataset, A, B string
	Measure       string // "Mo.", "Cr." or "Mul." per-query AP
	Queries       int
	MeanA, MeanB  float64
	P             float64
}

// Input is what a report shows.
type Input struct {
	Sets  []Set
	Tests []Test // tests computed elsewhere (an experiment's); Write adds its own for single runs
}

// Options shape a report; the zero value is usable.
type Options struct {
	Title       string
	LowResource []string // languages marked low-resource
	HeldOut     []string // languages marked held out of training
	Rounds      int      // sign-flip rounds of the paired tests over more than 20 queries; 0 means 10000
	Seed        uint64   // seed of those rounds
}

// measures are the paper's summaries with the per-query rows that the paired tests compare: a query's AP
// against its own language (Mo.), its mean AP over the cross-lingual settings (Cr.), its AP in the pool (Mul.).
var measures = []struct {
	label             string
	summary, perQuery domain.Setting
}{
	{"Mo.", domain.MonoMean, domain.Mono}, {"Cr.", domain.CrossMean, domain.Cross}, {"Mul.", domain.MultiMean, domain.Multi},
}

//go:embed report.html.tmpl
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"f3":   func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"p":    func(v float64) string { return fmt.Sprintf("%.3g", v) },
	"bidi": isolate,
}).ParseFS(templates, "report.html.tmpl"))

// isolate wraps a string from the data (a model name) in Unicode's first-strong isolate and its pop, so
// that right-to-left text or a stray override in it cannot reorder what is around it; unlike <bdi> this
// also holds inside SVG text and tooltips.
func isolate(s string) string { return "\u2068" + s + "\u2069" }

// Write renders the report of in to w.
func Write(w io.Writer, in Input, opts Options) error {
	if len(in.Sets) == 0 {
		return fmt.Errorf("report: nothing to report")
	}
	if opts.Rounds == 0 {
		opts.Rounds = 10000
	}
	if opts.Title == "" {
		opts.Title = "xling report"
	}
	v, err := build(in, opts)
	if err != nil {
		return err
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteFile renders the report of in to path, which appears only when complete.
func WriteFile(path string, in Input, opts Options) error {
	f, err := sinks.CreateFile(path)
	if err != nil {
		return err
	}
	if err := Write(f, in, opts); err != nil {
		return errors.Join(err, f.Abort())
	}
	_, err = f.Commit()
	return err
}

// summary is one Set's values, indexed: means over runs, their spread, and the per-query AP of a single run.
type summary struct {
	Label    string
	set      Set
	values   map[key][]float64 // every run's value of one mean row
	perQuery map[domain.Setting]map[[2]string]float64
	langs    []string // languages of the set's monolingual and cross-lingual settings
}

// perQueryMetric is the metric whose per-query values the report resamples.
const perQueryMetric = "map"

type key struct {
	setting    domain.Setting
	q, c, name string
}

func newSummary(s Set) *summary {
	sum := &summary{set: s, Label: s.Model, values: map[key][]float64{}}
	langs := map[string]bool{}
	for _, run := range s.Runs {
		for _, m := range run {
			if m.Setting == domain.Mono || m.Setting == domain.Cross && m.CandLang != domain.Pool {
				langs[m.QueryLang], langs[m.CandLang] = true, true
			}
			if !finite(m.Value) {
				continue // a broken value is shown as missing, never drawn
			}
			if m.QueryID == "" {
				k := key{m.Setting, m.QueryLang, m.CandLang, m.Name}
				sum.values[k] = append(sum.values[k], m.Value)
			} else if len(s.Runs) == 1 && m.Name == perQueryMetric {
				if sum.perQuery == nil {
					sum.perQuery = map[domain.Setting]map[[2]string]float64{}
				}
				if sum.perQuery[m.Setting] == nil {
					sum.perQuery[m.Setting] = map[[2]string]float64{}
				}
				sum.perQuery[m.Setting][[2]string{m.QueryLang, m.QueryID}] = m.Value
			}
		}
	}
	for l := range langs {
		sum.langs = append(sum.langs, l)
	}
	slices.Sort(sum.langs)
	return sum
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// get is the mean over runs of one metric and its sample standard deviation (0 for one run).
func (s *summary) get(setting domain.Setting, q, c, name string) (mean, sd float64, ok bool) {
	xs := s.values[key{setting, q, c, name}]
	if len(xs) == 0 {
		return 0, 0, false
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			sd += (x - mean) * (x - mean)
		}
		sd = math.Sqrt(sd / float64(len(xs)-1))
	}
	return mean, sd, true
}

// interval is the whisker of a summary bar. A single run with per-query rows gets a 95% confidence interval
// over queries: the summary is a mean over query languages of per-language means, so its variance is
// sum(var_l/n_l)/L^2 (normal approximation). An experiment arm gets ± one standard deviation over seeds.
func (s *summary) interval(setting, perQuery domain.Setting) (half float64, ok bool) {
	if len(s.set.Runs) > 1 {
		_, sd, ok := s.get(setting, domain.Pool, domain.Pool, "map")
		return sd, ok
	}
	byLang := map[string][]float64{}
	for k, v := range s.perQuery[perQuery] {
		byLang[k[0]] = append(byLang[k[0]], v)
	}
	if len(byLang) == 0 {
		return 0, false
	}
	var variance float64
	for _, xs := range byLang {
		if len(xs) < 2 {
			return 0, false
		}
		var m, ss float64
		for _, x := range xs {
			m += x
		}
		m /= float64(len(xs))
		for _, x := range xs {
			ss += (x - m) * (x - m)
		}
		variance += ss / float64(len(xs)-1) / float64(len(xs))
	}
	return 1.959963984540054 * math.Sqrt(variance) / float64(len(byLang)), true
}

// pairedTests compares every two single runs of one dataset that have per-query rows, on the queries both have.
func pairedTests(sums []*summary, opts Options) ([]Test, error) {
	var out []Test
	for i, a := range sums {
		for _, b := range sums[i+1:] {
			if a.set.Dataset != b.set.Dataset || a.perQuery == nil || b.perQuery == nil {
				continue
			}
			for _, m := range measures {
				pa, pb := a.perQuery[m.perQuery], b.perQuery[m.perQuery]
				var qs [][2]string
				for q := range pa {
					if _, ok := pb[q]; ok {
						qs = append(qs, q)
					}
				}
				if len(qs) == 0 {
					continue
				}
				slices.SortFunc(qs, func(x, y [2]string) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) })
				xa, xb := make([]float64, len(qs)), make([]float64, len(qs))
				var ma, mb float64
				for j, q := range qs {
					xa[j], xb[j] = pa[q], pb[q]
					ma += xa[j]
					mb += xb[j]
				}
				_, p, err := stats.PairedRandomization(xa, xb, opts.Rounds, opts.Seed)
				if err != nil {
					return nil, fmt.Errorf("report: %s vs %s on %s, %s: %w", a.Label, b.Label, a.set.Dataset, m.label, err)
				}
				n := float64(len(qs))
				out = append(out, Test{Dataset: a.set.Dataset, A: a.Label, B: b.Label, Measure: m.label, Queries: len(qs), MeanA: ma / n, MeanB: mb / n, P: p})
			}
		}
	}
	return out, nil
}
