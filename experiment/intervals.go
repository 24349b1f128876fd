package experiment

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"xling/domain"
	"xling/stats"
)

// Interval is one bootstrap confidence interval of the report: a mean, a degradation from English, or the
// difference of either between two arms.
type Interval struct {
	Arm     string `json:"arm"`     // "hybrid", or "hybrid - adversarial" for a difference
	Measure string `json:"measure"` // "Mul. mAP", "Cr. F1@10", ...
	// Lang is a language's degradation, "low-resource" the mean degradation over the low-resource
	// languages, "" the mean over languages (Mo./Cr./Mul. as the paper reports them).
	Lang string `json:"lang"`
	stats.Interval
}

// bootMeasures are the per-query values the intervals resample.
var bootMeasures = []struct {
	label   string
	setting domain.Setting
	metric  string
}{
	{"Mo. mAP", domain.Mono, "map"}, {"Cr. mAP", domain.Cross, "map"}, {"Mul. mAP", domain.Multi, "map"},
	{"Cr. F1@10", domain.Cross, "f1@10"}, {"Mul. F1@10", domain.Multi, "f1@10"},
}

// design lays the trained arms' per-query values of one measure out for stats.Bootstrap: arms in
// strategy order, seeds in cfg.Seeds order (paired across arms), queries clustered by question and grouped
// by language (langs gives the groups' names).
func design(cfg Config, res *Results, setting domain.Setting, metric string) (d stats.Design, arms, langs []string, err error) {
	arms = StrategyNames(cfg.Strategies)
	var queries []string
	for _, a := range arms {
		runs := res.arm(a)
		if len(runs) != len(cfg.Seeds) {
			return d, nil, nil, fmt.Errorf("intervals: arm %s has %d runs for %d seeds", a, len(runs), len(cfg.Seeds))
		}
		slices.SortFunc(runs, func(x, y Run) int { return slices.Index(cfg.Seeds, x.Seed) - slices.Index(cfg.Seeds, y.Seed) })
		seeds := make([][]float64, len(runs))
		for si, r := range runs {
			vals := map[string]float64{}
			for _, m := range r.perQuery {
				if m.Setting == setting && m.Name == metric {
					vals[m.QueryID] = m.Value
				}
			}
			if queries == nil {
				for q := range vals {
					queries = append(queries, q)
				}
				slices.Sort(queries)
			}
			if len(vals) != len(queries) {
				return d, nil, nil, fmt.Errorf("intervals: %s seed %d has %d %s %s values, want %d", a, r.Seed, len(vals), setting, metric, len(queries))
			}
			seeds[si] = make([]float64, len(queries))
			for qi, q := range queries {
				v, ok := vals[q]
				if !ok {
					return d, nil, nil, fmt.Errorf("intervals: %s seed %d has no value for query %s", a, r.Seed, q)
				}
				seeds[si][qi] = v
			}
		}
		d.Values = append(d.Values, seeds)
	}
	clusters := map[string]int{}
	groups := map[string]int{}
	for _, q := range queries {
		l, _, _ := strings.Cut(q, "/")
		if _, ok := groups[l]; !ok {
			langs = append(langs, l)
			groups[l] = len(groups)
		}
		k, ok := clusters[question(q)]
		if !ok {
			k = len(clusters)
			clusters[question(q)] = k
		}
		d.Cluster, d.Group = append(d.Cluster, k), append(d.Group, groups[l])
	}
	return d, arms, langs, nil
}

// intervals bootstraps (over seeds and questions, rounds rounds) every mean, degradation and difference the
// report gives.
func intervals(cfg Config, res *Results, rounds int) ([]Interval, error) {
	var out []Interval
	for _, m := range bootMeasures {
		d, arms, langs, err := design(cfg, res, m.setting, m.metric)
		if err != nil {
			return nil, err
		}
		en := slices.Index(langs, "en")
		var low []int
		for g, l := range langs {
			if lowResource[l] {
				low = append(low, g)
			}
		}
		// stat(arm, lang) for one arm: the mean over languages (lang -1), a language's degradation, or the
		// mean degradation over the low-resource languages (lang -2).
		stat := func(mm stats.Means, arm, lang int) float64 {
			deg := func(g int) float64 { return 1 - mm(arm, g)/mm(arm, en) }
			switch {
			case lang == -1:
				var s float64
				for g := range langs {
					s += mm(arm, g)
				}
				return s / float64(len(langs))
			case lang == -2:
				var s float64
				for _, g := range low {
					s += deg(g)
				}
				return s / float64(len(low))
			}
			return deg(lang)
		}
		targets := []int{-1}
		if !strings.HasPrefix(m.label, "Mo.") && en >= 0 {
			targets = append(targets, -2)
			for g := range langs {
				if g != en {
					targets = append(targets, g)
				}
			}
		}
		name := func(lang int) string {
			switch lang {
			case -1:
				return ""
			case -2:
				return "low-resource"
			}
			return langs[lang]
		}
		for _, lang := range targets {
			for ai, a := range arms {
				iv, err := stats.Bootstrap(d, func(mm stats.Means) float64 { return stat(mm, ai, lang) }, rounds, 0.95, 1)
				if err != nil {
					return nil, fmt.Errorf("interval %s %s %s: %w", a, m.label, name(lang), err)
				}
				out = append(out, Interval{Arm: a, Measure: m.label, Lang: name(lang), Interval: iv})
			}
			for _, p := range comparisons(cfg) {
				ia, ib := slices.Index(arms, p[0]), slices.Index(arms, p[1])
				if ia < 0 || ib < 0 {
					continue
				}
				iv, err := stats.Bootstrap(d, func(mm stats.Means) float64 { return stat(mm, ia, lang) - stat(mm, ib, lang) }, rounds, 0.95, 1)
				if err != nil {
					return nil, fmt.Errorf("interval %s - %s %s %s: %w", p[0], p[1], m.label, name(lang), err)
				}
				out = append(out, Interval{Arm: p[0] + " - " + p[1], Measure: m.label, Lang: name(lang), Interval: iv})
			}
		}
	}
	return out, nil
}

// writeIntervals renders the intervals: one table per measure, a row per language (the mean over languages
// first, then the pooled low-resource degradation), a column per arm and per difference.
func writeIntervals(w io.Writer, ivs []Interval) {
	var measuresSeen, cols []string
	for _, iv := range ivs {
		if !slices.Contains(measuresSeen, iv.Measure) {
			measuresSeen = append(measuresSeen, iv.Measure)
		}
		if !slices.Contains(cols, iv.Arm) {
			cols = append(cols, iv.Arm)
		}
	}
	diffs := 0
	for _, c := range cols {
		if strings.Contains(c, " - ") {
			diffs++
		}
	}
	fmt.Fprintf(w, "\n### 95%% intervals: bootstrap over seeds and questions\n\n")
	fmt.Fprintf(w, "Each round draws the seeds with replacement (the same draw for every arm: seed k of every arm shares its alignment checkpoint) and the questions with replacement (a question's queries in every language together). Means are over languages, as the paper's Mo./Cr./Mul.; degradation is `1 - mean(lang)/mean(en)` over the language's queries (Cr.: each query's mean over its cross-lingual settings, query side only). Columns with \" - \" are differences between arms: %d difference columns on every row, unadjusted.\n", diffs)
	for _, m := range measuresSeen {
		fmt.Fprintf(w, "\n#### %s\n\n| language |", m)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" --- |", len(cols)))
		var rows []string
		for _, iv := range ivs {
			if iv.Measure == m && !slices.Contains(rows, iv.Lang) {
				rows = append(rows, iv.Lang)
			}
		}
		for _, r := range rows {
			label := r
			switch r {
			case "":
				label = "mean over languages"
			case "low-resource":
				label = "degradation, low-resource mean"
			default:
				label = "degradation, " + r
			}
			fmt.Fprintf(w, "| %s |", label)
			for _, c := range cols {
				cell := "-"
				for _, iv := range ivs {
					if iv.Measure == m && iv.Lang == r && iv.Arm == c {
						cell = fmt.Sprintf("%.3f [%.3f, %.3f]", iv.Estimate, iv.Lo, iv.Hi)
					}
				}
				fmt.Fprintf(w, " %s |", cell)
			}
			fmt.Fprintln(w)
		}
	}
}
