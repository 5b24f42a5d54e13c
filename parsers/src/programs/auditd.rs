//! Linux audit records: `[node=HOST ]type=TYPE msg=audit(EPOCH.MS:SERIAL): key=value ...`, as
//! auditd writes them to `audit.log`, as audisp/rsyslog forward them in syslog, and as the
//! kernel logs them (`audit: type=1400 audit(EPOCH.MS:SERIAL): ...`).
//!
//! Every `key=value` becomes a field under its own name (Sigma's auditd rules use them as they
//! are: `type`, `syscall`, `exe`, `comm`, `key`, `a0`...), without its quotes. `SYSCALL` is the
//! system call's name: from the record when it is in the ENRICHED format, otherwise from the
//! x86_64 table for `arch=c000003e`. EXECVE arguments and `proctitle` that auditd wrote in hex
//! (because they hold spaces, quotes or control characters) are decoded. The `key=value` pairs
//! of a `msg='...'` part (USER_AUTH, SERVICE_STOP, ...) are fields as well.

use chrono::{DateTime, Utc};

use crate::event::Event;

/// An audit record: the text from `type=` (or `node=`) on, and whether the type is numeric
/// (the kernel's form).
#[derive(Clone, Copy, Debug)]
pub(super) struct Record<'a> {
    text: &'a str,
}

/// A raw `audit.log` line.
pub(super) fn raw(line: &str) -> Option<Record<'_>> {
    let rest = match line.strip_prefix("node=") {
        Some(r) => r.split_once(' ')?.1,
        None => line,
    };
    (rest.starts_with("type=") && rest.contains("audit(")).then_some(Record { text: line })
}

/// An audit record carried in a syslog message body: the `audit.log` form (audisp-syslog,
/// rsyslog imfile), or the kernel's `audit: type=NNNN audit(...)` (after its uptime stamp).
pub(super) fn in_syslog(body: &str) -> Option<Record<'_>> {
    if body.starts_with("type=") || body.starts_with("node=") {
        return raw(body);
    }
    let mut b = body;
    if let Some(r) = b.strip_prefix('[')
        && let Some((stamp, rest)) = r.split_once(']')
        && stamp.trim().bytes().all(|c| c.is_ascii_digit() || c == b'.')
    {
        b = rest.trim_start();
    }
    let rest = b.strip_prefix("audit: ")?;
    (rest.starts_with("type=") && rest.contains("audit(")).then_some(Record { text: rest })
}

/// journald's form, under the tag `audit`: `SYSCALL arch=c000003e syscall=59 ...` (the time is
/// the syslog header's).
pub(super) fn journald<'a>(app: &str, body: &'a str) -> Option<Record<'a>> {
    let (kind, rest) = body.split_once(' ')?;
    let is_type = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    (app == "audit" && is_type && rest.contains('=')).then_some(Record { text: body })
}

/// A value as written: in double quotes, single quotes, or bare.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Raw<'a> {
    Quoted(&'a str),
    Single(&'a str),
    Bare(&'a str),
}

fn separator(c: char) -> bool {
    c == ' ' || c == '\u{1d}' || c == '\t'
}

/// `key=value` pairs; words without `=` are given with an empty key.
fn pairs(s: &str) -> impl Iterator<Item = (&str, Raw<'_>)> {
    let mut rest = s;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(separator);
        if rest.is_empty() {
            return None;
        }
        let key_end = rest.find(|c: char| c == '=' || separator(c)).unwrap_or(rest.len());
        if !rest[key_end..].starts_with('=') {
            let word = &rest[..key_end];
            rest = &rest[key_end..];
            return Some(("", Raw::Bare(word)));
        }
        let key = &rest[..key_end];
        let after = &rest[key_end + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (Raw::Quoted(&q[..end]), q.get(end + 1..).unwrap_or(""))
        } else if let Some(q) = after.strip_prefix('\'') {
            let end = q.find('\'').unwrap_or(q.len());
            (Raw::Single(&q[..end]), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(separator).unwrap_or(after.len());
            (Raw::Bare(&after[..end]), &after[end..])
        };
        rest = next;
        Some((key, value))
    })
}

/// Record type names of the numeric types the kernel logs.
fn type_name(n: &str) -> Option<&'static str> {
    Some(match n {
        "1100" => "USER_AUTH",
        "1101" => "USER_ACCT",
        "1103" => "CRED_ACQ",
        "1104" => "CRED_DISP",
        "1105" => "USER_START",
        "1106" => "USER_END",
        "1112" => "USER_LOGIN",
        "1130" => "SERVICE_START",
        "1131" => "SERVICE_STOP",
        "1300" => "SYSCALL",
        "1302" => "PATH",
        "1307" => "CWD",
        "1309" => "EXECVE",
        "1320" => "EOE",
        "1326" => "SECCOMP",
        "1327" => "PROCTITLE",
        "1400" => "AVC",
        "1401" => "SELINUX_ERR",
        "1701" => "ANOM_ABEND",
        "1702" => "ANOM_LINK",
        _ => return None,
    })
}

/// `audit(EPOCH.MS:SERIAL):` -> the time and `EPOCH.MS:SERIAL`.
fn stamp(s: &str) -> Option<(DateTime<Utc>, &str)> {
    let inner = s.strip_prefix("audit(")?;
    let id = &inner[..inner.find(')')?];
    let (epoch, _serial) = id.split_once(':')?;
    let (secs, frac) = epoch.split_once('.').unwrap_or((epoch, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    for d in frac.bytes().take(9) {
        if !d.is_ascii_digit() {
            return None;
        }
        nanos += u32::from(d - b'0') * scale;
        scale /= 10;
    }
    Some((DateTime::from_timestamp(secs, nanos)?, id))
}

/// Hex text (as auditd writes arguments with special characters) decoded; NULs (between
/// proctitle's arguments) become spaces. `None` when `s` is not even-length hex.
fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .map(|b| b.map(|b| if b == 0 { b' ' } else { b }))
        .collect();
    let text = String::from_utf8_lossy(&bytes?).trim_end().to_owned();
    Some(text)
}

/// Whether `key` is an EXECVE argument (`a0`, `a12`).
fn is_arg(key: &str) -> bool {
    key.strip_prefix('a').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Sets the record's fields on the event and its time (from `msg=audit(...)`).
pub(super) fn apply(record: Record<'_>, event: &mut Event) {
    let mut kind = "";
    let mut arch = "";
    let mut syscall = "";
    for (key, value) in pairs(record.text) {
        match (key, value) {
            ("", Raw::Bare(word)) | ("msg", Raw::Bare(word)) if word.starts_with("audit(") => {
                if let Some((time, id)) = stamp(word) {
                    event.time = time;
                    event.set("audit_id", id);
                }
            }
            ("", Raw::Bare(word)) if kind.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                // journald's `SYSCALL arch=...`: the type without `type=`.
                kind = word;
                event.set("type", kind);
            }
            ("", _) => {}
            ("msg", Raw::Single(inner) | Raw::Quoted(inner)) => {
                for (k, v) in pairs(inner) {
                    match v {
                        _ if k.is_empty() => {}
                        Raw::Quoted(v) | Raw::Single(v) | Raw::Bare(v) => event.set(k.to_string(), v),
                    }
                }
            }
            ("type", Raw::Bare(t)) => {
                kind = type_name(t).unwrap_or(t);
                event.set("type", kind);
            }
            (key, Raw::Bare(v)) => {
                let decoded = match key {
                    "proctitle" => unhex(v),
                    k if kind == "EXECVE" && is_arg(k) => unhex(v),
                    _ => None,
                };
                match decoded {
                    Some(text) => event.set(key.to_string(), text),
                    None => event.set(key.to_string(), v),
                }
                match key {
                    "arch" => arch = v,
                    "syscall" => syscall = v,
                    _ => {}
                }
            }
            (key, Raw::Quoted(v) | Raw::Single(v)) => event.set(key.to_owned(), v),
        }
    }
    if !syscall.is_empty()
        && event.field("SYSCALL").is_none()
        && arch.eq_ignore_ascii_case("c000003e")
        && let Some(name) = syscall.parse::<usize>().ok().and_then(x86_64_syscall)
    {
        event.set("SYSCALL", name);
    }
}

/// The name of an x86_64 system call (audit's `arch=c000003e`).
pub(super) fn x86_64_syscall(n: usize) -> Option<&'static str> {
    match n {
        0..=334 => X86_64.get(n).copied(),
        424.. => X86_64_FROM_424.get(n - 424).copied(),
        _ => None,
    }
}

/// x86_64 system call names, by number: 0 to 334 ...
const X86_64: [&str; 335] = [
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "shmget",
    "shmat",
    "shmctl",
    "dup",
    "dup2",
    "pause",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "sendfile",
    "socket",
    "connect",
    "accept",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "semget",
    "semop",
    "semctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "truncate",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "mkdir",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "ptrace",
    "getuid",
    "syslog",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "setfsuid",
    "setfsgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "sigaltstack",
    "utime",
    "mknod",
    "uselib",
    "personality",
    "ustat",
    "statfs",
    "fstatfs",
    "sysfs",
    "getpriority",
    "setpriority",
    "sched_setparam",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "vhangup",
    "modify_ldt",
    "pivot_root",
    "_sysctl",
    "prctl",
    "arch_prctl",
    "adjtimex",
    "setrlimit",
    "chroot",
    "sync",
    "acct",
    "settimeofday",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "create_module",
    "init_module",
    "delete_module",
    "get_kernel_syms",
    "query_module",
    "quotactl",
    "nfsservctl",
    "getpmsg",
    "putpmsg",
    "afs_syscall",
    "tuxcall",
    "security",
    "gettid",
    "readahead",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "tkill",
    "time",
    "futex",
    "sched_setaffinity",
    "sched_getaffinity",
    "set_thread_area",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_submit",
    "io_cancel",
    "get_thread_area",
    "lookup_dcookie",
    "epoll_create",
    "epoll_ctl_old",
    "epoll_wait_old",
    "remap_file_pages",
    "getdents64",
    "set_tid_address",
    "restart_syscall",
    "semtimedop",
    "fadvise64",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "exit_group",
    "epoll_wait",
    "epoll_ctl",
    "tgkill",
    "utimes",
    "vserver",
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "kexec_load",
    "waitid",
    "add_key",
    "request_key",
    "keyctl",
    "ioprio_set",
    "ioprio_get",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "migrate_pages",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "unshare",
    "set_robust_list",
    "get_robust_list",
    "splice",
    "tee",
    "sync_file_range",
    "vmsplice",
    "move_pages",
    "utimensat",
    "epoll_pwait",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "fallocate",
    "timerfd_settime",
    "timerfd_gettime",
    "accept4",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "perf_event_open",
    "recvmmsg",
    "fanotify_init",
    "fanotify_mark",
    "prlimit64",
    "name_to_handle_at",
    "open_by_handle_at",
    "clock_adjtime",
    "syncfs",
    "sendmmsg",
    "setns",
    "getcpu",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "finit_module",
    "sched_setattr",
    "sched_getattr",
    "renameat2",
    "seccomp",
    "getrandom",
    "memfd_create",
    "kexec_file_load",
    "bpf",
    "execveat",
    "userfaultfd",
    "membarrier",
    "mlock2",
    "copy_file_range",
    "preadv2",
    "pwritev2",
    "pkey_mprotect",
    "pkey_alloc",
    "pkey_free",
    "statx",
    "io_pgetevents",
    "rseq",
];

/// ... and 424 onwards.
const X86_64_FROM_424: [&str; 44] = [
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "clone3",
    "close_range",
    "openat2",
    "pidfd_getfd",
    "faccessat2",
    "process_madvise",
    "epoll_pwait2",
    "mount_setattr",
    "quotactl_fd",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_mrelease",
    "futex_waitv",
    "set_mempolicy_home_node",
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "uretprobe",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_table_spot_checks() {
        let want = [
            (0, "read"),
            (41, "socket"),
            (59, "execve"),
            (99, "sysinfo"),
            (103, "syslog"),
            (133, "mknod"),
            (135, "personality"),
            (156, "_sysctl"),
            (319, "memfd_create"),
            (322, "execveat"),
            (334, "rseq"),
            (424, "pidfd_send_signal"),
            (435, "clone3"),
            (462, "mseal"),
        ];
        for (n, name) in want {
            assert_eq!(x86_64_syscall(n), Some(name), "{n}");
        }
        assert_eq!(x86_64_syscall(400), None);
        assert_eq!(x86_64_syscall(9999), None);
    }

    #[test]
    fn pairs_and_hex() {
        let got: Vec<_> = pairs("a=1 b=\"x y\" c='k=v w=\"z\"' word d=").collect();
        assert_eq!(
            got,
            vec![
                ("a", Raw::Bare("1")),
                ("b", Raw::Quoted("x y")),
                ("c", Raw::Single("k=v w=\"z\"")),
                ("", Raw::Bare("word")),
                ("d", Raw::Bare(""))
            ]
        );
        assert_eq!(unhex("64640069663D2F6465762F7A65726F").as_deref(), Some("dd if=/dev/zero"));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        // Unterminated quotes do not panic.
        assert_eq!(pairs("a=\"open b='x").count(), 1);
    }
}
