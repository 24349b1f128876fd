package retrieval_test

import (
	"context"
	"fmt"

	"xling/retrieval"
)

// A pool split across two shards, each searched on its own (as separate score workers would), merges
// into the same top hits and ranks as one search of the whole pool. Candidate 3, relevant to the query,
// lives in the second shard; the first shard counts its candidates above it from its score alone.
func ExampleMerge() {
	const dim, k = 2, 2
	query := []float32{1, 0}
	pool := []float32{0.9, 0, 0.1, 0, 1, 0, 0.5, 0, 0.7, 0} // scores 0.9, 0.1, 1, 0.5, 0.7
	relevant := 3
	targets := func(int) []retrieval.Target {
		return []retrieval.Target{{Index: relevant, Score: retrieval.Score(query, pool[relevant*dim:(relevant+1)*dim])}}
	}
	ctx := context.Background()
	first, err := retrieval.SearchShard(ctx, query, retrieval.Shard{Cands: pool[:2*dim], Offset: 0}, dim, k, targets, 1)
	if err != nil {
		panic(err)
	}
	second, err := retrieval.SearchShard(ctx, query, retrieval.Shard{Cands: pool[2*dim:], Offset: 2}, dim, k, targets, 1)
	if err != nil {
		panic(err)
	}
	merged, err := retrieval.Merge(k, first, second)
	if err != nil {
		panic(err)
	}
	whole, err := retrieval.Search(ctx, query, pool, dim, k, func(int) []int { return []int{relevant} }, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(merged[0].Top, merged[0].RelevantRanks)
	fmt.Println(whole[0].Top, whole[0].RelevantRanks)
	// Output:
	// [{2 1} {0 0.9}] [4]
	// [{2 1} {0 0.9}] [4]
}
