#!/usr/bin/env bash
# compare.sh OLD_REV [NEW_REV] [-- go test args]
#
# Runs the benchmarks of two revisions of this repository and compares them
# with benchstat. Each revision is checked out with `git worktree add
# --detach` in a temporary directory (removed on exit), so the working tree
# you are in is never touched.
#
#   OLD_REV   any commit-ish: a sha, a branch, HEAD~1, a tag
#   NEW_REV   default HEAD; "." means this working tree as it is, uncommitted
#             changes included
#   -- ARGS   more `go test` flags for both sides, e.g. -- -benchtime 200ms -cpu 1
#
# Environment:
#   BENCH       benchmark regexp (default ".")
#   COUNT       runs of each benchmark per side (default 10; benchstat wants >= 6
#               for a confidence interval at 0.95)
#   PKGS        package patterns (default "./bench/ ./evaluator/")
#   INTERLEAVE  1 (default): COUNT rounds of `go test -count 1`, old then new, so
#               that drift in the machine (other load, thermal state) spreads
#               over both sides instead of biasing one; 0: one `go test -count
#               COUNT` per side
#   OUT_DIR     when set, old.txt and new.txt are copied there
#
# A package pattern that matches nothing in a revision (the old revision may
# predate bench/) is skipped for that side with a note; benchstat then shows
# the benchmarks only one side has without a comparison. The exit status is
# non-zero when a `go test` run failed; the comparison is printed anyway.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
old_rev=$1
shift
new_rev=HEAD
if [ $# -ge 1 ] && [ "$1" != "--" ]; then
	new_rev=$1
	shift
fi
if [ $# -ge 1 ]; then
	[ "$1" = "--" ] || usage
	shift
fi
extra_args=("$@")

bench=${BENCH:-.}
count=${COUNT:-10}
interleave=${INTERLEAVE:-1}
read -r -a pkgs <<<"${PKGS:-./bench/ ./evaluator/}"
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: COUNT must be a positive integer, got '$count'" >&2; exit 2; }

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"

resolve() {
	git rev-parse --verify --quiet "$1^{commit}" || { echo "compare.sh: unknown revision '$1'" >&2; exit 2; }
}
describe() { git log -1 --format='%h %s' "$1" | cut -c1-72; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/redisflags-compare.XXXXXX")
worktrees=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for wt in "${worktrees[@]}"; do
		git worktree remove --force "$wt" >/dev/null 2>&1 || true
	done
	git worktree prune >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# checkout REV DIR: a detached worktree of REV at DIR.
checkout() {
	git worktree add --quiet --detach "$2" "$1"
	worktrees+=("$2")
}

old_sha=$(resolve "$old_rev")
checkout "$old_sha" "$tmp/old"
old_dir=$tmp/old
old_label="$old_rev ($(describe "$old_sha"))"
if [ "$new_rev" = "." ]; then
	new_dir=$root
	new_label="working tree of $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with uncommitted changes')"
else
	new_sha=$(resolve "$new_rev")
	checkout "$new_sha" "$tmp/new"
	new_dir=$tmp/new
	new_label="$new_rev ($(describe "$new_sha"))"
fi

# present_pkgs DIR SIDE: the patterns of PKGS that match a package in DIR,
# one per line; a note on stderr for each that does not.
present_pkgs() {
	local p
	for p in "${pkgs[@]}"; do
		if [ -n "$(go -C "$1" list "$p" 2>/dev/null)" ]; then
			echo "$p"
		else
			echo "compare.sh: $2 has no package $p: skipping its benchmarks there" >&2
		fi
	done
}
mapfile -t old_pkgs < <(present_pkgs "$old_dir" old)
mapfile -t new_pkgs < <(present_pkgs "$new_dir" new)

failed=0
# bench_run DIR OUT COUNT PKG…: run the benchmarks, appending to OUT.
bench_run() {
	local dir=$1 out=$2 n=$3
	shift 3
	[ $# -gt 0 ] || return 0
	if ! go -C "$dir" test -run '^$' -bench "$bench" -benchmem -count "$n" "$@" ${extra_args[@]+"${extra_args[@]}"} >>"$out" 2>"$tmp/stderr"; then
		echo "compare.sh: go test failed in $dir:" >&2
		tail -n 20 "$tmp/stderr" >&2
		failed=1
	fi
}

echo "old: $old_label" >&2
echo "new: $new_label" >&2
echo "go test -run '^\$' -bench '$bench' -benchmem${extra_args[*]+ ${extra_args[*]}}: $count runs per side$([ "$interleave" = 1 ] && echo ', interleaved')" >&2
: >"$tmp/old.txt"
: >"$tmp/new.txt"
if [ "$interleave" = 1 ]; then
	for ((i = 1; i <= count; i++)); do
		echo "  round $i/$count" >&2
		bench_run "$old_dir" "$tmp/old.txt" 1 ${old_pkgs[@]+"${old_pkgs[@]}"}
		bench_run "$new_dir" "$tmp/new.txt" 1 ${new_pkgs[@]+"${new_pkgs[@]}"}
	done
else
	bench_run "$old_dir" "$tmp/old.txt" "$count" ${old_pkgs[@]+"${old_pkgs[@]}"}
	bench_run "$new_dir" "$tmp/new.txt" "$count" ${new_pkgs[@]+"${new_pkgs[@]}"}
fi

if [ -n "${OUT_DIR:-}" ]; then
	mkdir -p "$OUT_DIR"
	cp "$tmp/old.txt" "$tmp/new.txt" "$OUT_DIR/"
	echo "results kept in $OUT_DIR/old.txt and $OUT_DIR/new.txt" >&2
fi

echo
echo "old: $old_label"
echo "new: $new_label"
echo
# benchstat runs from this checkout, whose go.mod has it as a tool.
go -C "$root" tool benchstat "old=$tmp/old.txt" "new=$tmp/new.txt"
exit "$failed"
