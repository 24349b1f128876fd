package ort_test

import (
	"fmt"

	"xling/encoder/ort"
)

// Plan batches rows of similar length: here at most 12 padded tokens and 3 rows per call.
func ExamplePlan() {
	lengths := []int{2, 6, 3, 2, 5, 2, 2}
	for _, call := range ort.Plan(lengths, 12, 3) {
		fmt.Println(call)
	}
	// Output:
	// [1 4]
	// [2 0 3]
	// [5 6]
}
