package ort

import "sort"

// The encode stage's batching defaults: padded tokens per call (rows x longest row) and rows per call.
const (
	DefaultTokenBudget = 16384
	DefaultMaxRows     = 256
)

// Plan groups rows into calls by token budget: rows sorted by length, so each call pads little, and each
// call holds at most budget padded tokens (a row longer than the budget gets a call to itself) and maxRows
// rows. It returns the row indexes of each call.
func Plan(lengths []int, budget, maxRows int) [][]int {
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lengths[order[a]] > lengths[order[b]] })
	var calls [][]int
	for start := 0; start < len(order); {
		longest := max(lengths[order[start]], 1)
		end := start + 1
		for end < len(order) && end-start < maxRows && (end-start+1)*longest <= budget {
			end++
		}
		calls = append(calls, order[start:end])
		start = end
	}
	return calls
}
