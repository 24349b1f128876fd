package ort

import (
	"reflect"
	"testing"
)

func TestPlanBucketsByLengthWithinBudget(t *testing.T) {
	tests := []struct {
		name    string
		lengths []int
		budget  int
		maxRows int
		want    [][]int
	}{
		// Sorted longest first: 9 (row 1), 5 (row 3), 4 (row 0), 2 (row 2); budget 10 padded tokens.
		{"budget splits", []int{4, 9, 2, 5}, 10, 8, [][]int{{1}, {3, 0}, {2}}},
		{"row cap splits", []int{1, 1, 1, 1, 1}, 100, 2, [][]int{{0, 1}, {2, 3}, {4}}},
		{"row longer than budget gets its own call", []int{50, 1}, 10, 8, [][]int{{0}, {1}}},
		{"empty rows still form a call", []int{0, 0}, 10, 8, [][]int{{0, 1}}},
		{"equal lengths keep arrival order", []int{3, 7, 3, 7, 3}, 14, 8, [][]int{{1, 3}, {0, 2, 4}}},
		{"no rows", nil, 10, 8, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Plan(tc.lengths, tc.budget, tc.maxRows); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan = %v, want %v", got, tc.want)
			}
		})
	}
}
