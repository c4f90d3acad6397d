//! The process's own metrics under Prometheus' standard names
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), read from
//! Linux's `/proc` at each scrape. Elsewhere they stay at zero.

use prometheus::{Counter, IntGauge, Registry};

/// Clock ticks per second of `/proc/self/stat`'s times: the kernel's USER_HZ,
/// 100 on every architecture Linux exports to user space with a fixed value.
const USER_HZ: f64 = 100.0;

/// The process metrics.
pub struct ProcessMetrics {
    cpu: Counter,
    resident: IntGauge,
    virtual_memory: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: IntGauge,
}

impl ProcessMetrics {
    /// The metrics, not registered yet.
    pub fn new() -> prometheus::Result<Self> {
        let gauge = IntGauge::new;
        Ok(Self {
            cpu: Counter::new(
                "process_cpu_seconds_total",
                "User and system CPU time spent in seconds",
            )?,
            resident: gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
            )?,
            virtual_memory: gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
            )?,
            open_fds: gauge("process_open_fds", "Number of open file descriptors")?,
            max_fds: gauge("process_max_fds", "Maximum number of open file descriptors")?,
            threads: gauge("process_threads", "Number of OS threads in the process")?,
            start_time: gauge(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
            )?,
        })
    }

    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.cpu.clone()))?;
        for gauge in [
            &self.resident,
            &self.virtual_memory,
            &self.open_fds,
            &self.max_fds,
            &self.threads,
            &self.start_time,
        ] {
            registry.register(Box::new(gauge.clone()))?;
        }
        Ok(())
    }

    /// Reads `/proc` again (what cannot be read is left as it was).
    pub fn update(&self) {
        if let Some(stat) = read("/proc/self/stat").as_deref().and_then(Stat::parse) {
            let cpu = (stat.utime + stat.stime) as f64 / USER_HZ;
            let delta = cpu - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
            self.threads.set(stat.threads);
            self.virtual_memory.set(stat.vsize);
            if let Some(boot) = read("/proc/stat").as_deref().and_then(boot_time) {
                self.start_time
                    .set(boot + (stat.starttime as f64 / USER_HZ) as i64);
            }
        }
        if let Some(kib) = read("/proc/self/status")
            .as_deref()
            .and_then(|s| field(s, "VmRSS:"))
        {
            self.resident.set(kib * 1024);
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as i64);
        }
        if let Some(max) = read("/proc/self/limits")
            .as_deref()
            .and_then(max_open_files)
        {
            self.max_fds.set(max);
        }
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields of `/proc/self/stat` used here (see proc(5)).
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    threads: i64,
    starttime: u64,
    vsize: i64,
}

impl Stat {
    fn parse(text: &str) -> Option<Self> {
        // The command name (field 2) is in parentheses and may hold spaces or
        // parentheses: the fields start after the last `)`, at field 3.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let at = |n: usize| fields.get(n - 3).copied();
        Some(Self {
            utime: at(14)?.parse().ok()?,
            stime: at(15)?.parse().ok()?,
            threads: at(20)?.parse().ok()?,
            starttime: at(22)?.parse().ok()?,
            vsize: at(23)?.parse().ok()?,
        })
    }
}

/// The boot time (`btime` of `/proc/stat`), seconds since the epoch.
fn boot_time(text: &str) -> Option<i64> {
    field(text, "btime")
}

/// The first number after `key` on its line.
fn field(text: &str, key: &str) -> Option<i64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit of open files in `/proc/self/limits`.
fn max_open_files(text: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_fields_are_read_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 7 0 12345 104857600 2000 18446744073709551615";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                utime: 250,
                stime: 75,
                threads: 7,
                starttime: 12345,
                vsize: 104_857_600,
            })
        );
        assert_eq!(Stat::parse("4242 (truncated"), None);
    }

    #[test]
    fn limits_status_and_boot_time_are_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            field("Name:\thysope\nVmRSS:\t  5120 kB\n", "VmRSS:"),
            Some(5120)
        );
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1764892800\n"),
            Some(1_764_892_800)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_memory_threads_and_a_start_time() {
        let m = ProcessMetrics::new().unwrap();
        m.update();
        assert!(m.resident.get() > 1 << 20, "{}", m.resident.get());
        assert!(m.threads.get() >= 1);
        assert!(m.open_fds.get() >= 3);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let started = m.start_time.get();
        assert!(
            started <= now && started > now - 86_400 * 30,
            "{started} against {now}"
        );
    }
}
