# Shell helpers shared by the test and benchmark scripts (source it).

# server_url DATA_DIR PID: waits (up to 30 s) until the `hysope serve` of process
# PID has written DATA_DIR/server.json (after it bound its address) and prints the
# URL it holds. A file left by another process (a killed server) is not taken.
server_url() {
    local file="$1/server.json" pid="$2" url
    for _ in $(seq 300); do
        if [ -s "$file" ]; then
            url="$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["url"] if d.get("pid") == int(sys.argv[2]) else "")' "$file" "$pid" 2>/dev/null || true)"
            if [ -n "$url" ]; then
                echo "$url"
                return 0
            fi
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "hysope serve (pid $pid) exited before it listened" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "hysope serve (pid $pid) wrote no $file in 30 s" >&2
    return 1
}

# token DATA_DIR USER ROLE: makes a personal token with `hysope admin token create`
# (through the server when one holds the folder) and prints it.
token() {
    "${HYSOPE_BIN:-$(dirname "${BASH_SOURCE[0]}")/../target/debug/hysope}" admin token create \
        --user "$2" --role "$3" --data-dir "$1" 2>/dev/null | tail -n 1
}

# bench_scratch: a scratch folder $work (with an empty $work/none, a processes
# folder without processes) and a list $pids of the servers a script starts; at
# exit the servers are stopped and the folder removed.
bench_scratch() {
    work="$(mktemp -d)"
    mkdir -p "$work/none"
    pids=()
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# rustac_of PYTHON: the rustac command installed beside PYTHON (pip install rustac).
rustac_of() {
    echo "$(dirname "$(command -v "$1")")/rustac"
}
