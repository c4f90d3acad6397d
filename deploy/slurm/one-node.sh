#!/bin/sh
# A one-node Slurm cluster on this machine (Debian bookworm, as root, no systemd):
# the cluster the HPC tests and benchmarks run on. Idempotent: packages are
# installed when missing, the daemons started when not running.
#
#   sh deploy/slurm/one-node.sh            # MinJobAge 300 s, Slurm's default
#   MIN_JOB_AGE=10 sh deploy/slurm/one-node.sh
#
# MIN_JOB_AGE is how long a finished job stays in squeue; a short one lets the
# tests see a job leave squeue. Changing it restarts the controller.
set -eu
MIN_JOB_AGE=${MIN_JOB_AGE:-300}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v pgrep >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge procps
fi

# munge authenticates every Slurm call.
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if ! pgrep -x munged >/dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
fi
for _ in $(seq 1 50); do
    [ -S /run/munge/munge.socket.2 ] && break
    sleep 0.2
done
munge -n | unmunge >/dev/null

mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm
NCPU=$(nproc)
MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))
CONF=$(mktemp)
cat > "$CONF" <<CONF
ClusterName=localcluster
SlurmctldHost=localhost
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=slurm
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
NodeName=localhost CPUs=$NCPU RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$CONF" /etc/slurm/slurm.conf; then
    # Readable by the slurm user the controller runs as (mktemp made it 0600).
    install -m 0644 "$CONF" /etc/slurm/slurm.conf
    pkill -x slurmctld 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    sleep 1
fi
rm -f "$CONF"
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
# Ready when the node takes a job.
for _ in $(seq 1 30); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
        break
    fi
    sleep 1
done
scontrol update nodename=localhost state=resume 2>/dev/null || true
sinfo
