package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	htmlreport "xling/report" // report is taken: experiment.go has a func report
)

func cmdReport(_ context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xling report RUN_DIR... --out report.html [--results results.json]")
		fs.PrintDefaults()
	}
	out := fs.String("out", "report.html", "the HTML file to write")
	results := fs.String("results", "", "an experiment's results.json (or .json.gz) to report instead of, or beside, run directories")
	title := fs.String("title", "xling report", "the page's title")
	low := fs.String("low-resource", "el,hi,th,tr,vi", "comma-separated languages to mark low-resource")
	held := fs.String("held-out", "", "comma-separated languages to mark held out of training (default: the experiment's, with --results)")
	rounds := fs.Int("rounds", 10000, "sign-flip rounds of the paired tests over more than 20 queries")
	seed := fs.Uint64("seed", 1, "seed of those rounds")
	// Flags may follow the run directories: parse what is left after each positional argument.
	var dirs []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) == 0 && *results == "" {
		return errors.New("report: give one or more run directories, or --results")
	}
	var in htmlreport.Input
	heldOut := split(*held)
	if *results != "" {
		res, err := htmlreport.ReadResults(*results, htmlreport.Limits{})
		if err != nil {
			return err
		}
		in = htmlreport.FromResults(res)
		if heldOut == nil {
			heldOut = res.Config.Holdout
		}
	}
	for _, d := range dirs {
		sets, err := htmlreport.ReadRun(d, htmlreport.Limits{})
		if err != nil {
			return err
		}
		in.Sets = append(in.Sets, sets...)
	}
	opts := htmlreport.Options{Title: *title, LowResource: split(*low), HeldOut: heldOut, Rounds: *rounds, Seed: *seed}
	if err := htmlreport.WriteFile(*out, in, opts); err != nil {
		return err
	}
	log.Info("report written", "path", *out, "models", len(in.Sets))
	return nil
}
