#!/bin/bash
# tests/integration/cgroup-lib.sh - sourced after lib.sh by test files that read cgroup files: finds a
# container's cgroup directories on cgroup v1, hybrid and pure v2 hosts alike.

# cg_mount TYPE CONTROLLER: "ROOT MOUNTPOINT" of the first mount of fstype TYPE (cgroup, cgroup2)
# whose super options name CONTROLLER ("" for any).
cg_mount() {
        awk -v t="$1" -v c="$2" '{
                for (i = 7; i <= NF && $i != "-"; i++) ;
                if ($(i + 1) != t) next
                if (c != "") {
                        n = split($(i + 3), a, ",")
                        f = 0
                        for (k = 1; k <= n; k++) if (a[k] == c) f = 1
                        if (!f) next
                }
                print $4, $5
                exit
        }' /proc/self/mountinfo
}

# cg_join ROOT MOUNTPOINT PATH: the host directory of the hierarchy path PATH on that mount.
cg_join() {
        local root=$1 mp=$2 path=$3
        if [ "$root" != / ]; then
                case $path in
                "$root" | "$root"/*) path=${path#"$root"} ;;
                esac
        fi
        [ "$path" != / ] || path=""
        echo "$mp$path"
}

# cg_dir PID CONTROLLER: the host directory of PID's cgroup that controls CONTROLLER: in the v1
# hierarchy that has it, else in the cgroup2 hierarchy if CONTROLLER is enabled there. Empty if
# neither.
cg_dir() {
        local pid=$1 c=$2 hid ctrls path m dir
        while IFS=: read -r hid ctrls path; do
                [ -n "$ctrls" ] || continue
                [[ ",$ctrls," == *",$c,"* ]] || continue
                m=$(cg_mount cgroup "$c")
                [ -n "$m" ] || continue
                cg_join ${m% *} "${m#* }" "$path"
                return 0
        done <"/proc/$pid/cgroup"
        path=$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$pid/cgroup")
        m=$(cg_mount cgroup2 "")
        [ -n "$path" ] && [ -n "$m" ] || return 0
        dir=$(cg_join ${m% *} "${m#* }" "$path")
        grep -qw -- "$c" "$dir/cgroup.controllers" 2>/dev/null && echo "$dir"
        return 0
}

# is_v2 DIR: is DIR a cgroup2 directory?
is_v2() {
        [ -e "$1/cgroup.controllers" ]
}

# need_ctrl CONTROLLER...: skips unless this shell's cgroup has every CONTROLLER (v1 or v2).
need_ctrl() {
        local c
        for c in "$@"; do
                [ -n "$(cg_dir "$BASHPID" "$c")" ] || skip "no cgroup $c controller here (neither a v1 hierarchy nor enabled on cgroup2)"
        done
}

# ctr_cg_dir ID CONTROLLER: the container's directory for CONTROLLER, from its init's /proc entry.
ctr_cg_dir() {
        local pid d
        pid=$(state_of "$1" pid)
        [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != null ] || fail "no pid for $1 (state: $(state_of "$1"))"
        d=$(cg_dir "$pid" "$2")
        [ -n "$d" ] && [ -d "$d" ] || fail "no $2 cgroup directory for $1 (pid $pid): $(tr '\n' ' ' <"/proc/$pid/cgroup")"
        echo "$d"
}

# key_of FILE KEY: the value of "KEY VALUE" in a flat keyed cgroup file (memory.events, cpu.stat).
key_of() {
        awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "" }' "$1"
}

# oom_kills DIR: how many processes the kernel's OOM killer killed in the memory cgroup DIR.
oom_kills() {
        if is_v2 "$1"; then
                key_of "$1/memory.events" oom_kill
        else
                key_of "$1/memory.oom_control" oom_kill
        fi
}

# cg_read ID CONTROLLER FILE: the content of a container's cgroup file.
cg_read() {
        cat "$(ctr_cg_dir "$1" "$2")/$3"
}

# cg2_dir PID: PID's directory in the cgroup2 hierarchy (where cgroup.freeze and cgroup.events are).
cg2_dir() {
        local path m
        path=$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$1/cgroup")
        m=$(cg_mount cgroup2 "")
        [ -n "$path" ] && [ -n "$m" ] || return 0
        cg_join ${m% *} "${m#* }" "$path"
}
