#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine (Debian or Ubuntu), for tests/test_slurm.py and
# CI: installs munge and SLURM from the distribution's packages, writes a one-node slurm.conf,
# starts munged, slurmctld and slurmd, and waits until the node is idle. A cluster that already
# answers with a usable node is left as it is, so running this twice costs nothing.
#
# Exit status: 0 the cluster is up; 3 it cannot be set up on this machine (not root and no
# passwordless sudo, no apt-get, or the packages failed to install), with the reason on stderr;
# 1 anything else (a daemon that does not come up: its log is printed).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by .ci/slurm/start-single-node.sh: a one-node test cluster."
LOGDIR=/var/log/slurm
# Every finished job gets a line here (job id, state, work directory): the evidence that a
# workflow's jobs really ran under SLURM, since this cluster keeps no accounting database.
JOBCOMP_LOG=$LOGDIR/jobcomp.log

say() { echo "start-single-node: $*" >&2; }
cannot() { say "cannot set up SLURM here: $*"; exit 3; }

node_ready() {
    # idle, mixed or allocated: the node takes jobs (a trailing * or ~ flags a state change).
    local state
    state=$(timeout 10 sinfo --noheader --Node --format=%t 2>/dev/null | head -n 1) || return 1
    [[ $state =~ ^(idle|mix|alloc|comp) ]]
}

if command -v sinfo >/dev/null && node_ready; then
    say "a SLURM cluster is already running: $(sinfo --noheader --format='%P %D %t' | head -n 1)"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root() { sudo -n "$@"; }
else
    cannot "installing and starting the daemons needs root or passwordless sudo"
fi

# --- packages -------------------------------------------------------------------------------
needed=(munged munge unmunge slurmctld slurmd sinfo sbatch squeue scontrol)
missing=()
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || cannot "no apt-get to install ${missing[*]}"
    say "installing munge and SLURM (missing: ${missing[*]})"
    apt_log=$(mktemp)
    install() {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends munge slurmctld slurmd slurm-client >"$apt_log" 2>&1
    }
    # A fresh container has no package lists yet: update only when the first try fails.
    if ! install && ! { as_root apt-get update -q >>"$apt_log" 2>&1 && install; }; then
        tail -n 20 "$apt_log" >&2
        cannot "apt-get could not install munge slurmctld slurmd slurm-client (log above)"
    fi
    rm -f "$apt_log"
fi
export PATH=$PATH:/usr/sbin

# --- munge: SLURM's daemons and clients authenticate through it ------------------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if ! as_root test -s /etc/munge/munge.key; then
        as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    as_root mkdir -p /run/munge /var/log/munge /var/lib/munge
    as_root chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
    as_root chmod 0400 /etc/munge/munge.key
    as_root runuser -u munge -- munged
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null || { say "munged does not answer"; exit 1; }
fi

# --- slurm.conf: one node with this machine's CPUs and memory -------------------------------
host=$(hostname -s)
# The memory slurmd itself measures: a RealMemory above it would drain the node, and without
# one (default 1 MB) no job asking for memory (the profile's mem_mb) could ever start.
memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
if as_root test -e "$CONF" && ! as_root grep -qxF "$MARK" "$CONF"; then
    say "$CONF exists and was not written by this script: not touching a site's configuration"
    exit 1
fi
as_root mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGDIR"
as_root tee "$CONF" >/dev/null <<EOF
$MARK
ClusterName=single
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
# No cgroups: plain process tracking and no CPU binding work in any container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# CPUs and memory are both consumed by jobs, as on a real cluster.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# No slurmdbd: sacct has nothing to report, so clients must ask squeue for job states
# (snakemake: --slurm-status-command squeue); squeue remembers finished jobs MinJobAge seconds.
AccountingStorageType=accounting_storage/none
MinJobAge=600
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ReturnToService=2
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# --- daemons ---------------------------------------------------------------------------------
if ! timeout 10 scontrol ping 2>/dev/null | grep -q "is UP"; then
    as_root slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
    as_root slurmd
fi
for _ in $(seq 60); do
    node_ready && break
    # A node left down or drained by an earlier start comes back once slurmd answers.
    if timeout 10 sinfo --noheader --Node --format=%t 2>/dev/null | grep -qE "^(down|drain)"; then
        as_root scontrol update nodename="$host" state=resume 2>/dev/null || true
    fi
    sleep 0.5
done
if ! node_ready; then
    say "the node did not become idle: $(sinfo --noheader --Node --format='%N %t %E' 2>&1)"
    as_root tail -n 20 "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log" >&2 || true
    exit 1
fi
say "ready: $(sinfo --noheader --format='partition %P, %D node, %c CPUs, %m MB, %t')"
