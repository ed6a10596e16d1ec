#!/usr/bin/env bash
# ratios.sh FILE: the medians of the latency benchmarks in FILE (raw
# `go test -bench` output, several -count runs) and the ratios README.md's
# "Evaluation latency" table reports, each against the target where
# it has one; then the imported-flag pairs of BenchmarkImported.
#
#   go test -run '^$' -bench 'Latency|Peer|Client|Direct|Parallel|Imported' -benchmem -count 10 ./bench/ | tee bench/results/latency.txt
#   bench/ratios.sh bench/results/latency.txt
#
# A median is benchstat's: the middle value, or the mean of the two middle
# values for an even count.
set -euo pipefail
file=${1:?usage: bench/ratios.sh FILE}

awk '
function median(list,   n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) {
		t = v[i] + 0
		for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
		v[j + 1] = t
	}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^Benchmark(Latency|Peer|Client|Direct|Parallel)\// {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name)
	if (!(name in ns)) order[++count] = name
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "ns/op") ns[name] = ns[name] " " $i
		if ($(i + 1) == "B/op") bytes[name] = bytes[name] " " $i
		if ($(i + 1) == "allocs/op") allocs[name] = allocs[name] " " $i
	}
}
function ratio(label, a, b, op, target,   r, ok) {
	if (!(a in m) || !(b in m)) {
		printf "%-58s missing (%s or %s not in the file)\n", label, a, b
		return
	}
	r = m[a] / m[b]
	if (op == "") {
		printf "%-58s %6.2f   (no target)\n", label, r
		return
	}
	ok = (op == "<=") ? r <= target : r >= target
	printf "%-58s %6.2f   target %s %.2f   %s\n", label, r, op, target, ok ? "met" : "MISSED"
}
END {
	if (count == 0) { print "no latency benchmarks in the file" > "/dev/stderr"; exit 1 }
	printf "%-44s %14s %10s %10s %4s\n", "case", "median ns/op", "B/op", "allocs/op", "n"
	for (k = 1; k <= count; k++) {
		name = order[k]
		m[name] = median(ns[name])
		printf "%-44s %14.1f %10s %10s %4d\n", name, m[name], median(bytes[name]), median(allocs[name]), split(ns[name], tmp, " ")
	}
	print ""
	ratio("client path: redisflags / memprovider-shaped", "Client/provider=redisflags", "Client/provider=memprovider-shaped", "<=", 1.15)
	ratio("client path: redisflags / memprovider-static (floor)", "Client/provider=redisflags", "Client/provider=memprovider-static")
	ratio("LaunchDarkly BoolVariation / redisflags snapshot", "Peer/launchdarkly-BoolVariation", "Latency/SnapshotBooleanNoAlloc", ">=", 3)
	ratio("LaunchDarkly BoolVariationDetail / redisflags snapshot", "Peer/launchdarkly-BoolVariationDetail", "Latency/SnapshotBooleanNoAlloc")
	ratio("LaunchDarkly evaluator / redisflags evaluator", "Peer/launchdarkly-evaluator", "Latency/EvaluatorNoAlloc")
	ratio("GrowthBook EvalFeature / redisflags snapshot", "Peer/growthbook-EvalFeature", "Latency/SnapshotBooleanNoAlloc")
	ratio("LaunchDarkly BoolVariation / redisflags client path", "Peer/launchdarkly-BoolVariation", "Client/provider=redisflags")
	ratio("client path: LaunchDarkly-shaped provider / redisflags", "Client/provider=launchdarkly-shaped", "Client/provider=redisflags")
	ratio("direct reads / PING, redis-server", "Direct/server=redis-server/op=Boolean", "Direct/server=redis-server/op=Ping", "<=", 1.5)
	ratio("direct reads / PING, miniredis", "Direct/server=miniredis/op=Boolean", "Direct/server=miniredis/op=Ping")
	ratio("parallel / serial snapshot (2 cores: 0.5 is perfect)", "Parallel/SnapshotBooleanNoAlloc", "Latency/SnapshotBooleanNoAlloc")
}
' "$file"

# The imported-flag pairs (BenchmarkImported): LaunchDarkly's SDK over ours,
# per flag.
awk '
function median(list,   n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) {
		t = v[i] + 0
		for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
		v[j + 1] = t
	}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^BenchmarkImported\// {
	split($1, part, "/")
	flag = part[2]; sdk = part[3]
	sub(/-[0-9]+$/, "", sdk)
	if (!(flag in seen)) { seen[flag] = 1; order[++count] = flag }
	for (i = 3; i < NF; i++) if ($(i + 1) == "ns/op") ns[flag, sdk] = ns[flag, sdk] " " $i
}
END {
	if (count == 0) exit
	print ""
	printf "%-28s %16s %18s %8s\n", "imported flag", "redisflags ns/op", "launchdarkly ns/op", "LD/ours"
	for (k = 1; k <= count; k++) {
		f = order[k]
		a = median(ns[f, "sdk=redisflags"]); b = median(ns[f, "sdk=launchdarkly"])
		printf "%-28s %16.1f %18.1f %8.2f\n", f, a, b, b / a
	}
}
' "$file"
