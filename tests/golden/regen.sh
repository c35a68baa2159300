#!/bin/sh
# tests/golden/regen.sh: rewrite tests/golden/expected/ from the current
# capd, on purpose (review the diff before committing it).
top=$(cd "$(dirname "$0")/../.." && pwd)
GOLDEN_REGEN=1 TOP=$top O=${O:-build/default} exec sh "$top/tests/golden/run.sh"
