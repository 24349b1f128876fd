// Command manifestmain writes a run manifest to the path given, so that a test can see the build info of a
// real binary (test binaries record no module dependencies).
package main

import (
	"log"
	"os"
	"time"

	"xling/sinks"
)

func main() {
	if err := sinks.WriteManifest(os.Args[1], sinks.NewManifest("built", os.Args, nil, time.Now())); err != nil {
		log.Fatal(err)
	}
}
