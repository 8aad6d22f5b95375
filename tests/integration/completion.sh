#!/usr/bin/env bash
# Shell completion, short and full help, and did-you-mean, all generated from the live command tree:
# the bash script completes partial words at every level, the zsh one parses, every command's
# --help has examples, --help-all shows every flag, and mistyped commands, flags and flag values
# get the nearest known one and the corrected command line.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bf" completion bash >"$tmp/bf.bash" || fail "completion bash exited $?"
bash -n "$tmp/bf.bash" && pass || fail "the bash completion script does not parse"

# complete LINE: the candidates bash offers for the last word of LINE (ending in a space: a new word).
complete_line() {
  bash -c '
    source "$1"
    line=$2
    read -r -a COMP_WORDS <<<"$line"
    [[ "$line" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _butterfly
    printf "%s\n" "${COMPREPLY[@]}"
  ' _ "$tmp/bf.bash" "$1"
}
expect_completion() { # line want-word
  local got; got=$(complete_line "$1")
  if grep -qx -- "$2" <<<"$got"; then pass; else fail "completing '$1': no '$2' among: $(echo $got)"; fi
}
expect_no_completion() { # line unwanted-word
  local got; got=$(complete_line "$1")
  if grep -qx -- "$2" <<<"$got"; then fail "completing '$1' offered '$2'"; else pass; fi
}
expect_completion "butterfly clu" cluster
expect_completion "butterfly q" quorum
expect_completion "butterfly q" query
expect_no_completion "butterfly q" prove
expect_completion "butterfly cluster st" start
expect_completion "butterfly cluster st" status
expect_completion "butterfly cluster start --by" --byzantine
expect_completion "butterfly query ask --mo" --mode
expect_completion "butterfly query ask --mode " vote
expect_completion "butterfly query ask --mode de" debate
expect_no_completion "butterfly query ask --mode de" vote
expect_completion "butterfly --screen-reader quorum t" table
expect_completion "butterfly status --dir /tmp/c --j" --json  # a flag's value is skipped
expect_completion "butterfly --no-color --screen-reader cluster start --workers 4 --k" --kind
expect_completion "butterfly completion " zsh
expect_completion "butterfly --" --screen-reader
# Every command the tree has is offered at its level (the script cannot go stale).
while read -r -a words; do
  ((${#words[@]} < 2)) && continue
  last=${words[${#words[@]}-1]}
  parent="${words[*]:0:${#words[@]}-1}"
  expect_completion "$parent ${last:0:2}" "$last"
done < <("$bf" completion commands)

if command -v zsh >/dev/null; then
  "$bf" completion zsh >"$tmp/_butterfly" || fail "completion zsh exited $?"
  zsh -n "$tmp/_butterfly" && pass || fail "the zsh completion script does not parse"
  # Load it for real and ask the word generator directly (zle is not available in a script).
  got=$(zsh -c 'autoload -U compinit && compinit -u -D; source "$1"; _butterfly_words "" "--mode" butterfly query ask --mode; _butterfly_words "st" "cluster" butterfly cluster' _ "$tmp/_butterfly" 2>&1)
  expect_contains "zsh values of --mode" "$got" "vote attention sctt debate"
  expect_contains "zsh words after cluster" "$got" "start"
else
  echo "zsh not installed: skipping the zsh completion checks"
fi

# Every command's --help has examples; --help-all has every flag of every command below.
all=$("$bf" --help-all)
while read -r line; do
  # shellcheck disable=SC2086
  out=$($line --help 2>&1 | sed "s|^|  |")
  expect_contains "'$line --help'" "$out" "Examples:"
done < <("$bf" completion commands | sed "s|^butterfly|$bf|")
for flag in --byzantine --round-timeout-ms --agreement --max-tokens --seeds --screen-reader; do
  expect_contains "--help-all" "$all" "$flag"
done
expect_contains "--help-all names each command" "$all" "butterfly cluster start"
# The short help of a command with many flags keeps to the ones its examples use and says how to see the rest.
short=$("$bf" cluster start --help)
expect_contains "cluster start --help" "$short" "--byzantine"
expect_contains "cluster start --help" "$short" "--help-all' to see them"
grep -q '^ *--heartbeat-ms' <<<"$short" && fail "cluster start --help lists --heartbeat-ms (only --help-all should)" || pass
full=$("$bf" cluster start --help-all)
expect_contains "cluster start --help-all" "$full" "--heartbeat-ms"

# Did-you-mean with the corrected command line, for commands, flags and flag values, at every level.
out=$("$bf" clustr status 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "'butterfly clustr status' exit $rc, want 2"
expect_contains "command" "$out" "Did you mean 'cluster'?"
expect_contains "command fix" "$out" "Corrected: butterfly cluster status"
out=$("$bf" cluster stauts --dir /tmp/x 2>&1)
expect_contains "subcommand" "$out" "Corrected: butterfly cluster status --dir /tmp/x"
out=$("$bf" query ask "2+2?" --mode vot 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "--mode vot exit $rc, want 2"
expect_contains "value" "$out" "Did you mean 'vote'?"
expect_contains "value fix" "$out" "Corrected: butterfly query ask '2+2?' --mode vote"
out=$("$bf" query ask "2+2?" --mode=debat 2>&1)
expect_contains "value with =" "$out" "Corrected: butterfly query ask '2+2?' --mode=debate"
out=$("$bf" cluster start --workrs 4 2>&1)
expect_contains "flag" "$out" "Corrected: butterfly cluster start --workers 4"
out=$("$bf" --screen-reder quorum table 2>&1)
expect_contains "root flag" "$out" "Did you mean '--screen-reader'?"
# A parse error CLI11 finds (a missing argument) names the command's own help.
out=$("$bf" query ask 2>&1)
expect_contains "missing argument" "$out" "butterfly query ask --help"

out=$("$bf" cluster 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "'butterfly cluster' exit $rc, want 2"
expect_contains "group without a command" "$out" "needs one of its commands: start, stop, status."
# status of a directory without a cluster: what is wrong and the command that fixes it.
out=$("$bf" status --dir "$tmp/none" 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "status of an empty directory exit $rc, want 2"
expect_contains "status without a cluster" "$out" "butterfly cluster start --dir $tmp/none"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
