package report

import (
	"fmt"
	"math"
	"slices"

	"xling/domain"
)

// The view types hold what the template draws: every coordinate computed here, every string escaped there.

type view struct {
	Title       string
	LowResource []string
	HeldOut     []string
	Rounds      int
	Datasets    []datasetView
}

type datasetView struct {
	Name       string
	Models     []string
	Heatmaps   []heatmap
	Summary    chart
	RankDist   chart
	DegrMulti  chart
	DegrCross  chart
	Tables     []langTable
	SideBySide []sideRow
	Tests      []testRow
}

type heatmap struct {
	Model, Dataset string
	Runs           int
	N              int
	Width, Height  int
	Max            float64
	Cols, Rows     []label
	Cells          []cell
}

type label struct {
	X, Y float64
	Text string
}

type cell struct {
	X, Y, Size   float64
	Fill, Ink    string
	Query, Cand  string
	Setting      domain.Setting
	Value        string
	TextX, TextY float64
	Missing      bool
}

type chart struct {
	Title, Note   string
	Width, Height int
	Left, Right   float64
	ZeroY         float64
	Ticks         []label
	Groups        []label
	Marks         []label // low-resource / held-out under a language
	Legend        []legendItem
	Bars          []bar
}

type legendItem struct {
	X, Y float64
	Fill string
	Name string
}

type bar struct {
	X, Y, W, H   float64
	Fill         string
	Title        string
	Whisker      bool
	WX, WLo, WHi float64
	CapL, CapR   float64
}

type langTable struct {
	Model   string
	Headers []string
	Rows    []langRow
}

type langRow struct {
	Lang      string
	Low, Held bool
	Cells     []string
}

type sideRow struct {
	Measure string
	Cells   []string
}

type testRow struct {
	Test
	Diff        float64
	Significant bool
}

// palette is Tableau 10, one colour per model.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

func build(in Input, opts Options) (view, error) {
	v := view{Title: opts.Title, LowResource: opts.LowResource, HeldOut: opts.HeldOut, Rounds: opts.Rounds}
	var sums []*summary
	seen := map[[2]string]int{}
	for _, s := range in.Sets {
		seen[[2]string{s.Model, s.Dataset}]++
	}
	for _, s := range in.Sets {
		sum := newSummary(s)
		if seen[[2]string{s.Model, s.Dataset}] > 1 {
			sum.Label = s.Model + " (" + s.Run + ")"
		}
		sums = append(sums, sum)
	}
	tests, err := pairedTests(sums, opts)
	if err != nil {
		return v, err
	}
	tests = append(slices.Clone(in.Tests), tests...)

	var names []string
	for _, s := range sums {
		if !slices.Contains(names, s.set.Dataset) {
			names = append(names, s.set.Dataset)
		}
	}
	slices.Sort(names)
	low, held := setOf(opts.LowResource), setOf(opts.HeldOut)
	for _, ds := range names {
		var group []*summary
		var langs []string
		for _, s := range sums {
			if s.set.Dataset == ds {
				group = append(group, s)
				for _, l := range s.langs {
					if !slices.Contains(langs, l) {
						langs = append(langs, l)
					}
				}
			}
		}
		slices.Sort(langs)
		d := datasetView{Name: ds}
		for _, s := range group {
			d.Models = append(d.Models, s.Label)
			d.Heatmaps = append(d.Heatmaps, newHeatmap(s))
			d.Tables = append(d.Tables, newLangTable(s, langs, low, held))
		}
		var marks []string
		for _, l := range langs {
			switch {
			case held[l] && low[l]:
				marks = append(marks, "low, held")
			case held[l]:
				marks = append(marks, "held")
			case low[l]:
				marks = append(marks, "low")
			default:
				marks = append(marks, "")
			}
		}

		// Mo./Cr./Mul. mAP per model, with whiskers.
		var sv [][]barValue
		for _, m := range measures {
			var row []barValue
			for _, s := range group {
				mean, _, ok := s.get(m.summary, domain.Pool, domain.Pool, "map")
				half, hok := s.interval(m.summary, m.perQuery)
				row = append(row, barValue{mean, half, ok, ok && hok})
			}
			sv = append(sv, row)
		}
		note := "Whiskers: 95% confidence interval over queries (normal approximation, stratified by query language)."
		if len(group) > 0 && len(group[0].set.Runs) > 1 {
			note = "Whiskers: ± one standard deviation over seeds."
		}
		d.Summary = newChart("Mo., Cr. and Mul. mAP per model", note, []string{"Mo.", "Cr.", "Mul."}, nil, d.Models, sv, "%.3f")
		perLang := func(setting domain.Setting, name string) [][]barValue {
			var out [][]barValue
			for _, l := range langs {
				var row []barValue
				for _, s := range group {
					mean, _, ok := s.get(setting, l, domain.Pool, name)
					row = append(row, barValue{mean: mean, ok: ok})
				}
				out = append(out, row)
			}
			return out
		}
		d.RankDist = newChart("Mean rank distance per language (Mul.; lower is less biased)", "", langs, marks, d.Models, perLang(domain.Multi, "rank_distance"), "%.1f")
		d.DegrMulti = newChart("Degradation from English per language, Mul. mAP: 1 − mAP(lang)/mAP(en)", "", langs, marks, d.Models, perLang(domain.DegrMulti, "map"), "%.3f")
		d.DegrCross = newChart("Degradation from English per language, Cr. mAP", "", langs, marks, d.Models, perLang(domain.DegrCross, "map"), "%.3f")

		for _, m := range []struct {
			label   string
			setting domain.Setting
			name    string
			format  string
		}{
			{"Mo. mAP", domain.MonoMean, "map", "%.3f"}, {"Cr. mAP", domain.CrossMean, "map", "%.3f"},
			{"Mul. mAP", domain.MultiMean, "map", "%.3f"}, {"Mul. F1@10", domain.MultiMean, "f1@10", "%.3f"},
			{"mean rank distance", domain.MultiMean, "rank_distance", "%.1f"},
		} {
			row := sideRow{Measure: m.label}
			for _, s := range group {
				mean, sd, ok := s.get(m.setting, domain.Pool, domain.Pool, m.name)
				row.Cells = append(row.Cells, format(m.format, mean, sd, ok))
			}
			d.SideBySide = append(d.SideBySide, row)
		}
		for _, t := range tests {
			if t.Dataset == ds {
				d.Tests = append(d.Tests, testRow{Test: t, Diff: t.MeanA - t.MeanB, Significant: t.P < 0.05})
			}
		}
		v.Datasets = append(v.Datasets, d)
	}
	return v, nil
}

func setOf(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func format(f string, mean, sd float64, ok bool) string {
	if !ok {
		return "–"
	}
	if sd == 0 {
		return fmt.Sprintf(f, mean)
	}
	return fmt.Sprintf(f+" ± "+f, mean, sd)
}

const cellSize = 46

// newHeatmap lays out the query-language × candidate-language mAP grid of one model: one cell per setting,
// monolingual on the diagonal, coloured on a scale from 0 to the grid's largest value.
func newHeatmap(s *summary) heatmap {
	n := len(s.langs)
	const left, top = 56.0, 40.0
	h := heatmap{Model: s.Label, Dataset: s.set.Dataset, Runs: len(s.set.Runs), N: n,
		Width: int(left) + n*cellSize + 10, Height: int(top) + n*cellSize + 10}
	vals := make([]float64, n*n)
	oks := make([]bool, n*n)
	for i, q := range s.langs {
		for j, c := range s.langs {
			setting := domain.Cross
			if q == c {
				setting = domain.Mono
			}
			vals[i*n+j], _, oks[i*n+j] = s.get(setting, q, c, "map")
			if oks[i*n+j] {
				h.Max = math.Max(h.Max, vals[i*n+j])
			}
		}
	}
	for i, l := range s.langs {
		h.Cols = append(h.Cols, label{X: left + (float64(i)+0.5)*cellSize, Y: top - 8, Text: l})
		h.Rows = append(h.Rows, label{X: left - 8, Y: top + (float64(i)+0.5)*cellSize + 4, Text: l})
	}
	for i, q := range s.langs {
		for j, c := range s.langs {
			x, y := left+float64(j)*cellSize, top+float64(i)*cellSize
			setting := domain.Cross
			if q == c {
				setting = domain.Mono
			}
			cl := cell{X: x, Y: y, Size: cellSize - 2, Query: q, Cand: c, Setting: setting, TextX: x + cellSize/2 - 1, TextY: y + cellSize/2 + 3}
			if !oks[i*n+j] {
				cl.Missing, cl.Fill, cl.Ink, cl.Value = true, "#dddddd", "#555555", "–"
			} else {
				t := 0.0
				if h.Max > 0 {
					t = vals[i*n+j] / h.Max
				}
				cl.Fill, cl.Ink, cl.Value = blue(t), "#111111", fmt.Sprintf("%.3f", vals[i*n+j])
				if t > 0.55 {
					cl.Ink = "#ffffff"
				}
			}
			h.Cells = append(h.Cells, cl)
		}
	}
	return h
}

// blue maps t in [0, 1] from a pale to a dark blue.
func blue(t float64) string {
	t = math.Max(0, math.Min(1, t))
	lo, hi := [3]float64{0xf7, 0xfb, 0xff}, [3]float64{0x08, 0x30, 0x6b}
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(lo[i] + t*(hi[i]-lo[i])))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

type barValue struct {
	mean, half  float64
	ok, whisker bool
}

// newChart lays out a grouped bar chart: one group per category, one bar per series, a zero line that
// negative values (a language better than English) hang below.
func newChart(title, note string, categories, marks, series []string, vals [][]barValue, valueFormat string) chart {
	const left, top, plotH, bottom = 64.0, 26.0, 180.0, 70.0
	const minWidth = 480.0
	barW := 18.0
	groupW := max(barW*float64(len(series))+16, (minWidth-left-20)/float64(max(1, len(categories))))
	c := chart{Title: title, Note: note, Left: left}
	c.Width = int(left + groupW*float64(len(categories)) + 20)
	lo, hi := 0.0, 0.0
	for _, row := range vals {
		for _, v := range row {
			if v.ok {
				lo = math.Min(lo, v.mean-v.half)
				hi = math.Max(hi, v.mean+v.half)
			}
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	y := func(v float64) float64 { return top + (hi-v)/(hi-lo)*plotH }
	c.ZeroY = y(0)
	c.Right = float64(c.Width) - 10
	for k := 0; k <= 4; k++ {
		v := lo + float64(k)*(hi-lo)/4
		c.Ticks = append(c.Ticks, label{X: left - 6, Y: y(v) + 4, Text: fmt.Sprintf(valueFormat, v)})
	}
	for i, cat := range categories {
		gx := left + float64(i)*groupW + (groupW-barW*float64(len(series)))/2
		c.Groups = append(c.Groups, label{X: gx + barW*float64(len(series))/2, Y: top + plotH + 16, Text: cat})
		if i < len(marks) && marks[i] != "" {
			c.Marks = append(c.Marks, label{X: gx + barW*float64(len(series))/2, Y: top + plotH + 28, Text: marks[i]})
		}
		for j, v := range vals[i] {
			if !v.ok {
				continue
			}
			b := bar{X: gx + float64(j)*barW, W: barW - 2, Fill: palette[j%len(palette)],
				Title: fmt.Sprintf("%s, %s: "+valueFormat, isolate(series[j]), cat, v.mean)}
			b.Y, b.H = math.Min(y(v.mean), c.ZeroY), math.Abs(y(v.mean)-c.ZeroY)
			if v.whisker {
				b.Whisker, b.WX, b.WLo, b.WHi = true, b.X+b.W/2, y(v.mean-v.half), y(v.mean+v.half)
				b.CapL, b.CapR = b.WX-4, b.WX+4
				b.Title += fmt.Sprintf(" ± "+valueFormat, v.half)
			}
			c.Bars = append(c.Bars, b)
		}
	}
	ly := top + plotH + 40
	x := left
	for j, s := range series {
		c.Legend = append(c.Legend, legendItem{X: x, Y: ly, Fill: palette[j%len(palette)], Name: isolate(s)})
		x += 24 + 7*float64(len([]rune(s)))
		if x > float64(c.Width)-80 {
			x, ly = left, ly+16
		}
	}
	c.Height = int(ly + bottom - 40)
	return c
}

func newLangTable(s *summary, langs []string, low, held map[string]bool) langTable {
	t := langTable{Model: s.Label, Headers: []string{"mono mAP", "cross mAP", "multi mAP", "multi F1@10", "rank dist", "degr. mAP", "degr. F1@10", "degr. cross mAP"}}
	cols := []struct {
		setting            domain.Setting
		cand, name, format string
	}{
		{domain.Mono, "", "map", "%.3f"}, {domain.LangCross, domain.Pool, "map", "%.3f"},
		{domain.Multi, domain.Pool, "map", "%.3f"}, {domain.Multi, domain.Pool, "f1@10", "%.3f"},
		{domain.Multi, domain.Pool, "rank_distance", "%.1f"}, {domain.DegrMulti, domain.Pool, "map", "%.3f"},
		{domain.DegrMulti, domain.Pool, "f1@10", "%.3f"}, {domain.DegrCross, domain.Pool, "map", "%.3f"},
	}
	for _, l := range langs {
		r := langRow{Lang: l, Low: low[l], Held: held[l]}
		for _, c := range cols {
			cand := c.cand
			if cand == "" {
				cand = l
			}
			mean, sd, ok := s.get(c.setting, l, cand, c.name)
			r.Cells = append(r.Cells, format(c.format, mean, sd, ok))
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}
