package download

import (
	"fmt"
	"slices"
	"strings"
)

// MIRACL is distributed by its authors as two Hugging Face dataset repositories: miracl/miracl holds the
// topics (qid TAB query) and TREC qrels (qid Q0 docid relevance) per language and split, and
// miracl/miracl-corpus the passages as gzipped JSON lines ({"docid", "title", "text"}) in shards.
// beir.FromMIRACL turns those files into the BEIR layout that dataset/beir reads.
//
// Pins, and how they were found (offline, from stored copies of Hugging Face pages):
//   - miracl/miracl-corpus at a7362f0b9d54dce8a8af3cd42a8cf2a5ef570475, the commit "init" that added the
//     corpus shards of the 16 languages below; the shard counts are those of the repository's own loading
//     script (miracl-corpus.py, languages2filesize).
//   - miracl/miracl at aca2e2507a3fcbce12c33e56167072b6574a2f15, whose dataset card describes the
//     miracl-v1.0-<lang>/{topics,qrels}/ files; that each file exists at that commit could not be checked
//     offline, and a missing one fails the download with its HTTP status.
//
// No SHA-256 is pinned: none of these files' digests could be obtained without network access. The caller
// must supply one per file (Hugging Face shows the SHA-256 of every LFS file on its page and in its API;
// the small TSV files must be hashed from a copy the caller trusts). MIRACLFiles refuses a file without
// one, and Fetch refuses content that does not match, so unchecked data is never accepted.
const (
	miraclCorpusRepo   = "miracl/miracl-corpus"
	miraclCorpusCommit = "a7362f0b9d54dce8a8af3cd42a8cf2a5ef570475"
	miraclTopicsRepo   = "miracl/miracl"
	miraclTopicsCommit = "aca2e2507a3fcbce12c33e56167072b6574a2f15"
)

// miraclShards is the number of corpus shards per language.
var miraclShards = map[string]int{
	"ar": 5, "bn": 1, "en": 66, "es": 21, "fa": 5, "fi": 4, "fr": 30, "hi": 2,
	"id": 3, "ja": 14, "ko": 3, "ru": 20, "sw": 1, "te": 2, "th": 2, "zh": 10,
}

// MIRACLLangs are the languages MIRACLFiles knows.
func MIRACLLangs() []string {
	var ls []string
	for l := range miraclShards {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	return ls
}

// MIRACLFiles lists the files of one language and split ("dev" or "train"), laid out under the
// destination as they are in the repositories, with the digests from sums (keyed by File.Path). It fails,
// naming them, if any file has no digest in sums.
func MIRACLFiles(lang, split string, sums map[string]string) ([]File, error) {
	n, ok := miraclShards[lang]
	if !ok {
		return nil, fmt.Errorf("miracl: no language %q (have %s)", lang, strings.Join(MIRACLLangs(), ", "))
	}
	if split != "dev" && split != "train" {
		return nil, fmt.Errorf("miracl: split %q: want dev or train", split)
	}
	topics := fmt.Sprintf("miracl-v1.0-%s/topics/topics.miracl-v1.0-%s-%s.tsv", lang, lang, split)
	qrels := fmt.Sprintf("miracl-v1.0-%s/qrels/qrels.miracl-v1.0-%s-%s.tsv", lang, lang, split)
	files := []File{
		{Path: topics, Host: HuggingFace, Repo: miraclTopicsRepo, Commit: miraclTopicsCommit, Source: topics},
		{Path: qrels, Host: HuggingFace, Repo: miraclTopicsRepo, Commit: miraclTopicsCommit, Source: qrels},
	}
	for i := range n {
		p := fmt.Sprintf("miracl-corpus-v1.0-%s/docs-%d.jsonl.gz", lang, i)
		files = append(files, File{Path: p, Host: HuggingFace, Repo: miraclCorpusRepo, Commit: miraclCorpusCommit, Source: p})
	}
	var missing []string
	for i := range files {
		files[i].SHA256 = sums[files[i].Path]
		if len(files[i].SHA256) != 64 {
			missing = append(missing, files[i].Path)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("miracl: no SHA-256 for %s: xling pins none it could not verify, so give each file's digest", strings.Join(missing, ", "))
	}
	return files, nil
}
