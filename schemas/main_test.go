package schemas

import (
	"flag"
	"os"
	"testing"
)

// TestMain lowers the fuzzer's minimization budget from 60 s to 1 s unless the command line sets one:
// an execution here decodes a message as every schema, about a millisecond, and minimizing a
// few-hundred-byte input takes tens of thousands of them, so at the default each new input stops the
// exploration for a minute (a 30 s run made 52 executions).
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "1s"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
