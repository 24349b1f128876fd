package confine_test

import (
	"fmt"

	"xling/internal/confine"
)

func ExamplePath() {
	// xling.json names its model file; a name that climbs out of the model directory is refused before
	// anything is opened.
	_, err := confine.Path("models/e5", "../../../etc/passwd")
	fmt.Println(err)
	// Output: "../../../etc/passwd" is not a path inside models/e5
}
