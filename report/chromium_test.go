package report_test

import (
	"bufio"
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"xling/dataset"
	"xling/domain"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/report"
)

// chromium loads a page in headless Chromium and returns its DOM after load and the console lines it
// logged; with shot set it also saves a screenshot there. Every run has its own profile directory, so
// concurrent test runs do not share one.
func chromium(t *testing.T, page, shot string) (dom string, console []string) {
	t.Helper()
	bin := testenv.RequireTool(t, "chromium")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--window-size=1400,1900"}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	cmd := exec.Command(bin, append(args, "file://"+page)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", page, err, stderr.String())
	}
	// With --enable-logging=stderr Chromium logs every console message, errors included, as
	// "...:INFO:CONSOLE:<line>] "<message>", source: ...".
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), ":CONSOLE") {
			console = append(console, sc.Text())
		}
	}
	return stdout.String(), console
}

// load writes the report of in to page, loads it in Chromium, fails the test on any console message, and
// returns the DOM after load, parsed and as text.
func load(t *testing.T, page string, in report.Input, opts report.Options) (*html.Node, string) {
	t.Helper()
	var b bytes.Buffer
	if err := report.Write(&b, in, opts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// No address outside the page: the policy would block it, and this keeps the page honest without it.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:|//)`).FindString(b.String()); m != "" {
		t.Errorf("page refers to the network: %s", m)
	}
	dom, console := chromium(t, page, "")
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	return doc, dom
}

// The console check itself: a page that breaks the report's policy by fetching from the network, and a
// page whose script fails, must both show up in the console lines.
func TestChromiumConsoleCheckSeesErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"fetch.html":  `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><img src="http://127.0.0.1:9/x.png"></body></html>`,
		"script.html": `<!DOCTYPE html><html><body><script>undefinedFunction()</script></body></html>`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, console := chromium(t, path, ""); len(console) == 0 {
			t.Errorf("%s: no console line caught", name)
		}
	}
}

func TestReportOfARealRunLoadsInChromium(t *testing.T) {
	out := t.TempDir()
	langs := []string{"de", "en", "th"}
	runs := []testrun.Spec{
		{Model: "random-a", Seed: 7, Dataset: dataset.XQuADR, Langs: langs},
		{Model: "random-b", Seed: 8, Dataset: dataset.XQuADR, Langs: langs},
	}
	want := map[string]string{} // model query>cand -> mAP as the run itself reported it
	var in report.Input
	for _, spec := range runs {
		res := testrun.Run(t, out, spec)
		for _, m := range res.Metrics {
			if m.QueryID == "" && m.Name == "map" && (m.Setting == domain.Mono || m.Setting == domain.Cross && m.CandLang != domain.Pool) {
				want[spec.Model+" "+m.QueryLang+">"+m.CandLang] = fmt.Sprintf("%.3f", m.Value)
			}
		}
		sets, err := report.ReadRun(res.Dir, report.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		in.Sets = append(in.Sets, sets...)
	}
	page := filepath.Join(out, "report.html")
	doc, dom := load(t, page, in, report.Options{Title: "xling report: two random encoders on XQuAD-R", LowResource: []string{"th"}, HeldOut: []string{"th"}})
	heatmaps := 0
	for svg := range doc.Descendants() {
		if svg.Data != "svg" || attr(svg, "class") != "heatmap" {
			continue
		}
		heatmaps++
		model := attr(svg, "data-model")
		cells := map[string]int{}
		for n := range svg.Descendants() {
			if n.Data != "rect" || !strings.HasPrefix(attr(n, "class"), "cell") {
				continue
			}
			setting := attr(n, "data-query-lang") + ">" + attr(n, "data-cand-lang")
			cells[setting]++
			if attr(n, "class") != "cell" {
				t.Errorf("%s %s: cell is %q", model, setting, attr(n, "class"))
			}
			// The value drawn beside the rect is the run's own mAP for that setting.
			if got := textOf(n.NextSibling); got != want[model+" "+setting] {
				t.Errorf("%s %s: cell shows %q, the run reported %q", model, setting, got, want[model+" "+setting])
			}
		}
		if len(cells) != len(langs)*len(langs) {
			t.Errorf("%s: %d distinct cells, want %d x %d", model, len(cells), len(langs), len(langs))
		}
		for s, n := range cells {
			if n != 1 {
				t.Errorf("%s %s: %d cells", model, s, n)
			}
		}
	}
	if heatmaps != len(runs) {
		t.Errorf("%d heatmaps, want one per model (%d)", heatmaps, len(runs))
	}
	// Two single runs with per-query rows: Mo., Cr. and Mul. tests between them.
	if n := strings.Count(dom, "<td>Mul.</td>"); n != 1 {
		t.Errorf("%d Mul. significance rows, want 1", n)
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	if dst := os.Getenv("XLING_REPORT_SCREENSHOT"); dst != "" {
		shot = dst // how docs/report.png was made
	}
	if _, console := chromium(t, page, shot); len(console) > 0 {
		t.Errorf("console messages while taking the screenshot:\n%s", strings.Join(console, "\n"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1900 {
		t.Errorf("screenshot is %v, want 1400x1900", b)
	}
}

// A name from the data that holds markup is text on the page: the DOM has no script element, and the
// name reads back character for character.
func TestMarkupInNamesRendersAsText(t *testing.T) {
	evil := `<script>document.title="pwned"</script>`
	dir := t.TempDir()
	// A run directory whose metrics name that dataset and model, written the way the sinks write them.
	res := testrun.Run(t, dir, testrun.Spec{Model: "random-a", Seed: 7, Dataset: dataset.XQuADR, Langs: []string{"en", "de"}})
	sets, err := report.ReadRun(res.Dir, report.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range sets {
		sets[i].Dataset, sets[i].Model = evil, evil
	}
	doc, _ := load(t, filepath.Join(dir, "evil.html"), report.Input{Sets: sets}, report.Options{Title: evil})
	var h1 string
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "script" {
			t.Error("the page has a script element")
		}
		if n.Data == "h1" {
			h1 = textOf(n)
		}
		if n.Data == "title" && n.Parent.Data == "head" && textOf(n) != evil {
			t.Errorf("title %q, want the name as text", textOf(n))
		}
	}
	if h1 != evil {
		t.Errorf("heading %q, want %q", h1, evil)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
