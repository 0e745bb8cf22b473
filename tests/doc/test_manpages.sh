#!/usr/bin/env bash
# The man pages in doc/ render without a single groff warning.
#
#   tests/doc/test_manpages.sh
#
# Runs `groff -ww -mandoc -Tutf8 -z` (every warning enabled) on each page and
# `man -l` when man is there (what a reader sees; it must not complain
# either).  Prints PASS/FAIL/SKIP lines and 'N passed, N failed, N skipped';
# exit status 1 when anything failed, 77 (automake's skip) when groff is
# missing.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
pages="amid.8 amid.conf.5 amictl.1"
pass=0 fail=0 skip=0
tmp="$(mktemp -d "${TMPDIR:-/tmp}/amid-man.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; sed 's/^/    /' "$2" | head -n 30; }
sk() { skip=$((skip + 1)); echo "SKIP $1: $2"; }
finish() {
  echo "$pass passed, $fail failed, $skip skipped"
  if [ "$fail" -gt 0 ]; then exit 1; fi
  if [ "$pass" -eq 0 ]; then exit 77; fi
  exit 0
}

if ! command -v groff >/dev/null 2>&1; then
  sk "man pages" "groff not installed (apt-get install groff-base)"
  finish
fi

for page in $pages; do
  f="$src/doc/$page"
  if [ ! -f "$f" ]; then
    echo "missing" >"$tmp/err"
    ko "doc/$page exists" "$tmp/err"
    continue
  fi
  # LC_ALL=C.UTF-8: -Tutf8 output, and no locale warnings on stderr.
  if LC_ALL=C.UTF-8 groff -ww -mandoc -Tutf8 -z "$f" >"$tmp/err" 2>&1 && [ ! -s "$tmp/err" ]; then
    ok "groff -ww -mandoc renders doc/$page without warnings"
  else
    ko "groff -ww -mandoc renders doc/$page without warnings" "$tmp/err"
  fi
  name="${page%.*}" section="${page##*.}"
  if head -n 5 "$f" | grep -q "^\.TH $(echo "$name" | tr 'a-z' 'A-Z') $section "; then
    ok "doc/$page: .TH names ${name}($section)"
  else
    echo "no '.TH $(echo "$name" | tr 'a-z' 'A-Z') $section' line" >"$tmp/err"
    ko "doc/$page: .TH names ${name}($section)" "$tmp/err"
  fi
  if command -v man >/dev/null 2>&1; then
    # man -l: the page as a reader gets it (preprocessors, the pager's
    # formatter); MAN_KEEP_FORMATTING off, warnings on via MANROFFOPT.
    if LC_ALL=C.UTF-8 MANROFFOPT=-ww MANWIDTH=80 man -l "$f" >"$tmp/out" 2>"$tmp/err" \
      && [ ! -s "$tmp/err" ] && grep -q "NAME" "$tmp/out"; then
      ok "man -l doc/$page"
    else
      ko "man -l doc/$page" "$tmp/err"
    fi
  else
    sk "man -l doc/$page" "man not installed"
  fi
done
finish
