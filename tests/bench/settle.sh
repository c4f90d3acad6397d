# Sourced by the benchmarks that make and remove thousands of files (one folder per
# job): `settle` before measuring, `remove_tree` to clean up.
#
# This machine's ext4 has no journal, and such an ext4 does not reuse an inode for
# 60 s after it was freed, 6 min while its inode table block is dirty (not written
# back; new files in the same block make it dirty again): each new file or folder
# then skips the recently freed ones, one inode read each (`recently_deleted` in
# the kernel's ialloc.c). Right after two runs' data folders (142,483 folders) were
# removed, the next server spent half its CPU time there (perf: 51 % of the samples
# in `recently_deleted`, 1,460 req/s instead of 3,000-4,500): the cost of an earlier
# run's clean-up, not of the server. So a removal leaves a mark, and `settle` waits
# until the mark is 6 min 5 s old (65 s were not enough: the next server's new files
# dirtied the blocks again, and a third of its CPU time still went there).
removed_mark="${XDG_CACHE_HOME:-$HOME/.cache}/hysope/bench-removed"

remove_tree() {
    rm -rf "$@"
    mkdir -p "$(dirname "$removed_mark")"
    touch "$removed_mark"
}

settle() {
    sync
    [ -e "$removed_mark" ] || return 0
    local age=$(($(date +%s) - $(stat -c %Y "$removed_mark")))
    if [ "$age" -lt 365 ]; then
        echo "settle: files were removed ${age} s ago; waiting $((365 - age)) s (see tests/bench/settle.sh)" >&2
        sleep $((365 - age))
    fi
}
