package evaluate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"xling/domain"
	"xling/schemas"
)

// Lookup finds the mean of one metric in one setting (per-query rows are skipped).
func Lookup(ms []schemas.Metric, dataset string, setting domain.Setting, qLang, cLang, name string) (float64, bool) {
	for _, m := range ms {
		if m.QueryID == "" && m.Dataset == dataset && m.Setting == setting && m.QueryLang == qLang && m.CandLang == cLang && m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

func cell(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// WriteReport prints the run's summary: per dataset the paper's Mo./Cr./Mul. means, mean rank distance and a
// row per language; then every stage's books and the files written.
func WriteReport(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	datasets := map[string]bool{}
	for _, m := range r.Metrics {
		datasets[m.Dataset] = true
	}
	names := make([]string, 0, len(datasets))
	for d := range datasets {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		model := ""
		langs := map[string]bool{}
		for _, m := range r.Metrics {
			if m.Dataset == d {
				model = m.Model
				if m.Setting == domain.Mono {
					langs[m.QueryLang] = true
				}
			}
		}
		fmt.Fprintf(tw, "\n%s  model %s%s\n", d, model, InSampleNote(r.TrainedOn, d))
		fmt.Fprintf(tw, "\tmAP\tmAP@20\tMRR@10\tR@10\tnDCG@10\tF1@10\trank dist\t\n")
		for _, row := range []struct {
			label   string
			setting domain.Setting
		}{{"Mo.", domain.MonoMean}, {"Cr.", domain.CrossMean}, {"Mul.", domain.MultiMean}} {
			fmt.Fprintf(tw, "%s\t", row.label)
			for _, name := range []string{"map", "map@20", "mrr@10", "r@10", "ndcg@10", "f1@10"} {
				fmt.Fprintf(tw, "%s\t", cell(Lookup(r.Metrics, d, row.setting, domain.Pool, domain.Pool, name)))
			}
			if row.setting == domain.MultiMean {
				v, ok := Lookup(r.Metrics, d, row.setting, domain.Pool, domain.Pool, "rank_distance")
				if ok {
					fmt.Fprintf(tw, "%.1f\t", v)
				} else {
					fmt.Fprintf(tw, "-\t")
				}
			} else {
				fmt.Fprintf(tw, "\t")
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "lang\tmono mAP\tcross mAP\tmulti mAP\tmulti F1@10\trank dist\tdegr. mAP\tdegr. F1@10\t\n")
		ls := make([]string, 0, len(langs))
		for l := range langs {
			ls = append(ls, l)
		}
		slices.Sort(ls)
		for _, l := range ls {
			rd, rdOK := Lookup(r.Metrics, d, domain.Multi, l, domain.Pool, "rank_distance")
			rdCell := "-"
			if rdOK {
				rdCell = fmt.Sprintf("%.1f", rd)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", l,
				cell(Lookup(r.Metrics, d, domain.Mono, l, l, "map")),
				cell(Lookup(r.Metrics, d, domain.LangCross, l, domain.Pool, "map")),
				cell(Lookup(r.Metrics, d, domain.Multi, l, domain.Pool, "map")),
				cell(Lookup(r.Metrics, d, domain.Multi, l, domain.Pool, "f1@10")),
				rdCell,
				cell(Lookup(r.Metrics, d, domain.DegrMulti, l, domain.Pool, "map")),
				cell(Lookup(r.Metrics, d, domain.DegrMulti, l, domain.Pool, "f1@10")))
		}
	}
	fmt.Fprintf(tw, "\nstage\tin\tout\tdead\tdead msgs\temitted\ttruncated\t\n")
	for _, c := range r.Counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Stage, c.In, c.Out, c.Dead, c.DeadMessages, c.Emitted, c.Truncated)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if problems := Reconcile(r.Counts); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(w, "books do not balance: %s\n", p)
		}
	} else {
		fmt.Fprintf(w, "books balance: every record in went out or to the dead-letter topic, and every stage read what the one before it emitted\n")
	}
	if r.ORT != "" {
		fmt.Fprintf(w, "\nwrote (%s, ONNX Runtime %s on %s):\n", r.Elapsed.Round(100_000_000), r.ORT, r.Provider)
	} else {
		fmt.Fprintf(w, "\nwrote (%s, no ONNX Runtime):\n", r.Elapsed.Round(100_000_000))
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "  %s  (%d rows)\n", o.Path, o.Rows)
	}
	fmt.Fprintf(w, "  %s\n", r.Manifest)
	return nil
}

// Reconcile checks the books: within each stage In = Out + Dead, and each stage's input equals what its
// upstream emitted (score's rankings and metrics go to two sinks).
func Reconcile(counts []StageCounts) []string {
	by := map[string]StageCounts{}
	for _, c := range counts {
		by[c.Stage] = c
	}
	var problems []string
	for _, c := range counts {
		if c.In != c.Out+c.Dead {
			problems = append(problems, fmt.Sprintf("%s: in %d != out %d + dead %d", c.Stage, c.In, c.Out, c.Dead))
		}
	}
	edges := [][2]string{{Ingest, Tokenize}, {Tokenize, Encode}, {Encode, Score}, {Encode, SinkEmbeddings}}
	if _, ok := by[Encode]; !ok {
		edges = [][2]string{{Ingest, Tokenize}, {Tokenize, Score}} // BM25: the scorer reads the tokens
	}
	scorer := Score
	if merge, ok := by[ScoreMerge]; ok {
		// Sharded: every shard reads every embedding, and the merge reads what all of them emitted.
		scorer, edges = ScoreMerge, slices.DeleteFunc(edges, func(e [2]string) bool { return e[1] == Score })
		var partials int64
		for _, c := range counts {
			if strings.HasPrefix(c.Stage, "score-shard-") {
				edges = append(edges, [2]string{Encode, c.Stage})
				partials += c.Emitted
			}
		}
		if partials != merge.In {
			problems = append(problems, fmt.Sprintf("score shards emitted %d != %s in %d", partials, ScoreMerge, merge.In))
		}
	}
	for _, edge := range edges {
		up, down := by[edge[0]], by[edge[1]]
		if up.Emitted != down.In {
			problems = append(problems, fmt.Sprintf("%s emitted %d != %s in %d (dead messages downstream: %d)", edge[0], up.Emitted, edge[1], down.In, down.DeadMessages))
		}
	}
	if sc, r, m := by[scorer], by["sink-rankings"], by["sink-metrics"]; sc.Emitted != r.In+m.In {
		problems = append(problems, fmt.Sprintf("%s emitted %d != sink-rankings in %d + sink-metrics in %d", scorer, sc.Emitted, r.In, m.In))
	}
	return problems
}

// InSampleNote is the label of a table on dataset d for a model trained on the datasets trainedOn: empty
// when d is not among them.
func InSampleNote(trainedOn []string, d string) string {
	if !slices.Contains(trainedOn, d) {
		return ""
	}
	return "  (IN-SAMPLE: the model was trained on " + d + " questions; these scores are not out-of-sample)"
}
