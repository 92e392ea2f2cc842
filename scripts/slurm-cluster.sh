#!/usr/bin/env bash
# scripts/slurm-cluster.sh -- a real, single-node SLURM cluster on this machine, for the
# test suite and CI.  Debian 12 (or similar), run as root; systemd is not needed.
#
#   scripts/slurm-cluster.sh start    install what is missing, (re)start the daemons, wait
#                                     until the node takes jobs; the LAST line on stdout is the
#                                     default partition's name (everything else goes to stderr)
#   scripts/slurm-cluster.sh stop     cancel the jobs left, then stop the daemons this script
#                                     started (by their pid files, never by process name)
#   scripts/slurm-cluster.sh status   what runs; exit status 0 only if the whole cluster is up
#
# Typical use (what .ci/run does):
#
#   trap 'scripts/slurm-cluster.sh stop' EXIT
#   export BIOGANS_SLURM_PARTITION=$(scripts/slurm-cluster.sh start | tail -n 1)
#   .venv/bin/python -m pytest -q -m slurm        # the cluster tests; skipped without a cluster
#
# What it runs, all from Debian's packages and all listening on 127.0.0.1 only:
#   munged      (only if no munged answers yet; left alone otherwise)
#   mariadbd    a private MariaDB (own data dir, port 16819) that only slurmdbd uses
#   slurmdbd    accounting, always on: `sacct` works, so submitit notices jobs that die
#               without writing a result instead of waiting for them forever
#   slurmctld, slurmd   one node, named after `hostname -s`, no cgroups
#                       (proctrack/linuxproc, task/none)
# Partitions:
#   debug       the default; PriorityTier=1, PreemptMode=REQUEUE, GraceTime=30: when preempted
#               a job first gets the signal it asked for with --signal (e.g. USR2 from
#               submitit), is killed 30 s later and requeued (SLURM_RESTART_COUNT goes up)
#   debug-high  PriorityTier=10: its jobs preempt those of `debug` (preempt/partition_prio)
# EnforcePartLimits=ALL: a request no node can meet (too many CPUs, too much memory, a GPU, an
# unknown partition) fails at sbatch instead of pending forever.  MinJobAge=600: `scontrol show
# job` still sees a job 10 minutes after it ended.  The node advertises every CPU this process
# may use (nproc), so a job asking for all of them fills the node and a debug-high job with the
# same request must preempt it.
#
# Environment (optional):
#   BIOGANS_SLURM_CPUS   CPUs the node advertises (default: nproc); more than the real count
#                        oversubscribes the machine (SlurmdParameters=config_overrides)
#   BIOGANS_SLURM_WAIT   seconds `start` waits for the node to take jobs (default 60)
#
# Files: /etc/slurm/slurm.conf and /etc/slurm/slurmdbd.conf (written by this script; a
# foreign slurm.conf is kept once as slurm.conf.before-biogans), state and the database in
# /var/lib/biogans-slurm, pid files in /run/biogans-slurm, logs in /var/log/biogans-slurm.
# Running `start` again does nothing when all is up; it restarts the daemons whose config
# changed (e.g. another BIOGANS_SLURM_CPUS).  Removing /var/lib/biogans-slurm (while stopped)
# forgets every job and the accounting records together.
set -euo pipefail
shopt -s inherit_errexit

PARTITION=debug
HIGH_PARTITION=debug-high
CLUSTER_NAME=biogans
STATE_DIR=/var/lib/biogans-slurm
PID_DIR=/run/biogans-slurm
LOG_DIR=/var/log/biogans-slurm
SLURM_CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
CTLD_PORT=6817
SLURMD_PORT=6818
DBD_PORT=6819
DB_PORT=16819
DB_RUN=$PID_DIR/mariadb   # owned by mysql: mariadbd writes its pid file and socket there
DB_SOCKET=$DB_RUN/mariadbd.sock
HEADER="# written by biogans scripts/slurm-cluster.sh; edits are overwritten"
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core)

say() { printf 'slurm-cluster: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# --- processes, always through our pid files ------------------------------------------------

# print the pid in FILE if that process is alive and is a COMM (its /proc/PID/comm)
pid_of() {
    local file=$1 comm=$2 pid
    [[ -r $file ]] || return 1
    pid=$(tr -cd '0-9' <"$file")
    [[ -n $pid && -d /proc/$pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    echo "$pid"
}

# SIGTERM every listed "pidfile:comm" at once, wait up to 30 s, then SIGKILL what is left
terminate() {
    local spec pids=() pid i
    for spec in "$@"; do
        if pid=$(pid_of "${spec%%:*}" "${spec##*:}"); then
            say "stopping ${spec##*:} (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < 300 && ${#pids[@]}; i++)); do
        local still=()
        for pid in "${pids[@]}"; do [[ -d /proc/$pid ]] && still+=("$pid"); done
        pids=("${still[@]+"${still[@]}"}")
        [[ ${#pids[@]} -eq 0 ]] || sleep 0.1
    done
    for pid in "${pids[@]+"${pids[@]}"}"; do
        say "pid $pid did not exit after 30 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    for spec in "$@"; do rm -f "${spec%%:*}"; done
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# poll CMD... every 0.2 s for at most SECONDS; 0 once it succeeds
retry_for() {
    local seconds=$1 deadline
    shift
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

show_logs() { local f; for f in "$@"; do [[ -f $f ]] && { say "--- tail of $f"; tail -n 15 "$f" >&2; }; done; return 0; }

# --- installation ---------------------------------------------------------------------------

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || fail "missing packages (${missing[*]}) and no apt-get to install them"
    say "installing ${missing[*]}"
    # Package scripts must not start Debian's own daemons: this script runs its own.
    local blocker=/usr/sbin/policy-rc.d added=no
    if [[ ! -e $blocker ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$blocker" && chmod 755 "$blocker" && added=yes
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0
        install --no-install-recommends "${missing[@]}")
    # the package lists on hand are tried first; a refresh only when they are missing or stale
    local ok=yes
    "${apt[@]}" >&2 2>"$LOG_DIR/apt.log" || {
        say "refreshing the package lists (apt-get update)"
        { apt-get -q update && "${apt[@]}"; } >&2 || ok=no
    }
    [[ $added == no ]] || rm -f "$blocker"
    [[ $ok == yes ]] || fail "apt-get could not install ${missing[*]}"
}

# --- configuration --------------------------------------------------------------------------

node_cpus() {
    local n=${BIOGANS_SLURM_CPUS:-$(nproc)}
    [[ $n =~ ^[1-9][0-9]*$ ]] || fail "BIOGANS_SLURM_CPUS must be a positive integer, not '$n'"
    echo "$n"
}

# 90 % of the memory this machine (or its cgroup) allows, in MiB
node_memory_mb() {
    local kb limit
    kb=$(awk '$1 == "MemTotal:" {print $2}' /proc/meminfo)
    limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || true)
    if [[ $limit =~ ^[0-9]+$ ]] && ((limit / 1024 < kb)); then kb=$((limit / 1024)); fi
    echo $((kb * 9 / 10240))
}

# The node is named after `hostname -s`.  slurmctld and slurmd bind to 127.0.0.1 (SlurmctldHost
# and NodeAddr below, with NoInAddrAny) whatever that name resolves to, but it must resolve, and
# srun binds its own ports to that name's address.
check_hostname() {
    NODE=$(hostname -s)
    local addr
    addr=$(getent ahostsv4 "$NODE" | awk 'NR == 1 {print $1}')
    if [[ -z $addr ]]; then
        say "$NODE does not resolve: adding '127.0.0.1 $NODE' to /etc/hosts"
        printf '127.0.0.1 %s  # added by biogans scripts/slurm-cluster.sh\n' "$NODE" >>/etc/hosts
    elif [[ $addr != 127.* ]]; then
        say "note: $NODE resolves to $addr: the daemons listen on 127.0.0.1, srun's own ports on $addr"
    fi
}

# uses CPUS and MEM_MB
slurm_conf_text() {
    local cpus=$CPUS mem=$MEM_MB
    cat <<EOF
$HEADER
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits cred_expire + 1 s before it may start again (default 120 s)
AuthInfo=cred_expire=20
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$PID_DIR/slurmctld.pid
SlurmdPidFile=$PID_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
# accounting through slurmdbd (sacct)
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# scheduling
SchedulerType=sched/backfill
# look at pending jobs every 5 s (defaults: 60 s and 30 s), e.g. a requeued job becoming eligible
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus))
EnforcePartLimits=ALL
JobRequeue=1
MinJobAge=600
KillWait=10
ReturnToService=2
# preemption: debug-high jobs requeue debug jobs, which first get their --signal
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
# the node: the CPUs as configured here, whatever the hardware says
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=30
PartitionName=$HIGH_PARTITION Nodes=ALL Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
}

slurmdbd_conf_text() {
    cat <<EOF
$HEADER
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
# keeps slurmdbd on 127.0.0.1 (absent from slurmdbd.conf(5), but honoured)
CommunicationParameters=NoInAddrAny
SlurmUser=root
PidFile=$PID_DIR/slurmdbd.pid
LogFile=$LOG_DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$STATE_DIR/db-password")
StorageLoc=slurm_acct_db
EOF
}

# write TEXT to FILE with MODE; 0 if the file changed, 1 if it already held TEXT
update_file() {
    local file=$1 mode=$2 text=$3
    if [[ -f $file ]] && [[ $(cat "$file") == "$text" ]]; then return 1; fi
    if [[ -f $file ]] && ! grep -qxF "$HEADER" "$file" && [[ ! -e $file.before-biogans ]]; then
        say "keeping the existing $file as $file.before-biogans"
        cp -p "$file" "$file.before-biogans"
    fi
    install -d -m 755 "$(dirname "$file")"
    (umask 077 && printf '%s\n' "$text" >"$file.new")
    chmod "$mode" "$file.new"
    mv -f "$file.new" "$file"
    say "wrote $file"
}

# --- daemons --------------------------------------------------------------------------------

MUNGE_PIDFILE=$PID_DIR/munged.pid   # exists only if this script started munged

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munged() {
    if munge_works; then return 0; fi
    [[ -s /etc/munge/munge.key ]] || {
        say "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 700 /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    }
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
    # as the munge user: munged refuses root's log files; --force only clears a stale socket
    runuser -u munge -- /usr/sbin/munged --force
    retry_for 10 munge_works || { show_logs /var/log/munge/munged.log; fail "munged did not start"; }
    cp /run/munge/munged.pid "$MUNGE_PIDFILE"
    say "munged started (pid $(cat "$MUNGE_PIDFILE"))"
}

db_sql() { mariadb --no-defaults --protocol=socket -S "$DB_SOCKET" -u root -N -e "$1"; }

start_mariadb() {
    local data=$STATE_DIR/mariadb
    id mysql >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --user-group mysql
    if [[ ! -d $data/mysql ]]; then
        say "creating the accounting database in $data"
        install -d -o mysql -g mysql -m 700 "$data"
        mariadb-install-db --no-defaults --user=mysql --datadir="$data" --skip-test-db \
            --auth-root-authentication-method=socket >"$LOG_DIR/mariadb-install.log" 2>&1 \
            || { show_logs "$LOG_DIR/mariadb-install.log"; fail "mariadb-install-db failed"; }
    fi
    if ! pid_of "$DB_RUN/mariadbd.pid" mariadbd >/dev/null; then
        port_taken "$DB_PORT" && fail "127.0.0.1:$DB_PORT is taken by a process this script did not start"
        install -d -o mysql -g mysql -m 755 "$DB_RUN"
        touch "$LOG_DIR/mariadbd.log" && chown mysql:mysql "$LOG_DIR/mariadbd.log"
        setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$data" \
            --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$DB_SOCKET" \
            --pid-file="$DB_RUN/mariadbd.pid" --log-error="$LOG_DIR/mariadbd.log" \
            --skip-name-resolve --innodb-buffer-pool-size=128M --innodb-log-file-size=64M \
            --innodb-lock-wait-timeout=900 </dev/null >>"$LOG_DIR/mariadbd.out" 2>&1 &
        retry_for 30 db_sql 'SELECT 1' || { show_logs "$LOG_DIR/mariadbd.log"; fail "mariadbd did not start"; }
        chmod a+r "$DB_RUN/mariadbd.pid"   # for `status` run by any user
        say "mariadbd started (pid $(pid_of "$DB_RUN/mariadbd.pid" mariadbd))"
    fi
    db_sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1';
            ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$(cat "$STATE_DIR/db-password")';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || fail "cannot set up the database user"
}

# start /usr/sbin/NAME (it daemonizes and writes $PID_DIR/NAME.pid) unless ours runs already
start_daemon() {
    local name=$1 port=$2
    pid_of "$PID_DIR/$name.pid" "$name" >/dev/null && return 0
    port_taken "$port" && fail "127.0.0.1:$port is taken by a process this script did not start"
    rm -f "$PID_DIR/$name.pid"
    "/usr/sbin/$name" </dev/null >>"$LOG_DIR/$name.out" 2>&1 \
        || { show_logs "$LOG_DIR/$name.log" "$LOG_DIR/$name.out"; fail "$name did not start"; }
    retry_for 15 pid_of "$PID_DIR/$name.pid" "$name" \
        || { show_logs "$LOG_DIR/$name.log" "$LOG_DIR/$name.out"; fail "$name did not start"; }
    say "$name started (pid $(pid_of "$PID_DIR/$name.pid" "$name"))"
}

cluster_registered() { sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER_NAME"; }

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1; }

wait_for_node() {
    local limit=${BIOGANS_SLURM_WAIT:-60} state deadline resumed=no
    deadline=$((SECONDS + limit))
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
            idle | mixed | allocated | completing)
                say "node $NODE is $state; partitions $PARTITION (default) and $HIGH_PARTITION"
                return 0 ;;
            down* | drain* | fail*)
                # e.g. left drained by a job that could not be killed in an earlier run
                if [[ $resumed == no ]]; then
                    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
                    resumed=yes
                fi ;;
        esac
        sleep 0.3
    done
    sinfo -N -l >&2 || true
    show_logs "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"
    fail "node $NODE does not take jobs after ${limit} s (state: ${state:-unknown})"
}

no_jobs_left() { [[ -z $(timeout 10 squeue -h -o %A 2>/dev/null) ]]; }

cancel_all_jobs() {
    pid_of "$PID_DIR/slurmctld.pid" slurmctld >/dev/null || return 0
    local jobs
    jobs=$(timeout 20 squeue -h -o %A 2>/dev/null | tr '\n' ' ' || true)
    [[ -n ${jobs// /} ]] || return 0
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 20 scancel $jobs 2>/dev/null || true
    retry_for 30 no_jobs_left || say "jobs still listed: $(squeue -h -o %A | tr '\n' ' ')"
}

# --- actions --------------------------------------------------------------------------------

do_start() {
    [[ $(id -u) == 0 ]] || fail "start needs root"
    local began=$SECONDS
    CPUS=$(node_cpus)
    MEM_MB=$(node_memory_mb)
    install -d -m 755 "$PID_DIR" "$LOG_DIR" "$STATE_DIR"
    install -d -m 700 "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
    install_packages
    check_hostname
    [[ -s $STATE_DIR/db-password ]] ||
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '+/=\n' >"$STATE_DIR/db-password")

    # new config: restart whichever of our daemons ran with the old one
    local dbd_conf slurm_conf
    dbd_conf=$(slurmdbd_conf_text)
    slurm_conf=$(slurm_conf_text)
    if update_file "$DBD_CONF" 600 "$dbd_conf"; then
        terminate "$PID_DIR/slurmdbd.pid:slurmdbd"
    fi
    if update_file "$SLURM_CONF" 644 "$slurm_conf"; then
        terminate "$PID_DIR/slurmd.pid:slurmd" "$PID_DIR/slurmctld.pid:slurmctld"
    fi

    start_munged
    start_mariadb
    start_daemon slurmdbd "$DBD_PORT"
    retry_for 30 sacctmgr -n list cluster || { show_logs "$LOG_DIR/slurmdbd.log"; fail "slurmdbd does not answer"; }
    cluster_registered || sacctmgr -i add cluster "$CLUSTER_NAME" >&2 || fail "cannot register cluster $CLUSTER_NAME"
    start_daemon slurmctld "$CTLD_PORT"
    start_daemon slurmd "$SLURMD_PORT"
    wait_for_node
    say "cluster up in $((SECONDS - began)) s; logs in $LOG_DIR"
    echo "$PARTITION"
}

do_stop() {
    [[ $(id -u) == 0 ]] || fail "stop needs root"
    cancel_all_jobs
    terminate "$PID_DIR/slurmd.pid:slurmd" "$PID_DIR/slurmctld.pid:slurmctld"
    terminate "$PID_DIR/slurmdbd.pid:slurmdbd"
    terminate "$DB_RUN/mariadbd.pid:mariadbd"
    terminate "$MUNGE_PIDFILE:munged"   # a no-op unless this script started munged
    local steps
    steps=$(ps -eo pid=,comm= | awk '$2 == "slurmstepd" {printf "%s ", $1}')
    [[ -z $steps ]] || say "note: slurmstepd processes still alive: $steps"
    say "stopped"
}

do_status() {
    local up=yes entry pid
    for entry in munged:"$MUNGE_PIDFILE" mariadbd:"$DB_RUN/mariadbd.pid" slurmdbd:"$PID_DIR/slurmdbd.pid" \
        slurmctld:"$PID_DIR/slurmctld.pid" slurmd:"$PID_DIR/slurmd.pid"; do
        if pid=$(pid_of "${entry#*:}" "${entry%%:*}"); then
            echo "${entry%%:*}: running (pid $pid)"
        elif [[ ${entry%%:*} == munged ]] && munge_works; then
            echo "munged: running (not started by this script)"
        else
            echo "${entry%%:*}: not running"
            up=no
        fi
    done
    if [[ $up == yes ]]; then
        sinfo
        squeue
        echo "running; default partition: $PARTITION"
        return 0
    fi
    echo "not running"
    return 3
}

case ${1:-} in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
