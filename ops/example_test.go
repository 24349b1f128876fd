package ops_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"xling/ops"
	"xling/pipeline"
)

func ExampleHandler() {
	h, err := ops.Handler(ops.Report{Status: func() ops.Status {
		return ops.Status{RunID: "r1", State: ops.Running, Started: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			Stages: []ops.Stage{{Name: "encode", Running: true, Counts: pipeline.Snapshot{In: 3, Out: 3, Emitted: 3}}}}
	}})
	if err != nil {
		panic(err)
	}
	// A caller serves h with its own http.Server; a recorder stands in for one here.
	for _, path := range []string{"/healthz", "/status"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Output:
	// 200 ok
	// 200 {
	//   "run_id": "r1",
	//   "state": "running",
	//   "started": "2026-12-01T09:00:00Z",
	//   "stages": [
	//     {
	//       "name": "encode",
	//       "running": true,
	//       "in": 3,
	//       "out": 3,
	//       "dead": 0,
	//       "dead_messages": 0,
	//       "emitted": 3,
	//       "truncated": 0
	//     }
	//   ]
	// }
}
