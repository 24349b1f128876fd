# Exact two-sided sign-flip randomization test, written independently of xling's Go code.
# Input (stdin): JSON list of [a, b] cases; output: JSON list of p-values.
import itertools, json, sys

def exact_p(a, b):
    d = [x - y for x, y in zip(a, b) if x - y != 0]
    if not d:
        return 1.0
    obs = abs(sum(d))
    count = 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        if abs(sum(s * x for s, x in zip(signs, d))) >= obs - 1e-12 * (1 + obs):
            count += 1
    return count / 2 ** len(d)

cases = json.load(sys.stdin)
json.dump([exact_p(a, b) for a, b in cases], sys.stdout)
